// Resize / Upsample: hand-checked values for each interpolation, coordinate and rounding mode.
#include <cmath>

#include "ops/op_test_util.h"

namespace ef::test {
namespace resize_test {

OpCall op(std::string type, int version, std::map<std::string, Attribute> attrs = {}) {
  return OpCall{std::move(type), version, std::move(attrs), ""};
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

Tensor none() { return Tensor(); }

TEST(Resize, NearestUpsampleRepeatsPixels) {
  auto out = run_op(op("Resize", 13), {f32({1, 1, 2, 2}, {1, 2, 3, 4}), none(), f32({4}, {1, 1, 2, 2})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(Resize, NearestModesRoundDifferently) {
  // asymmetric, scale 2: source coordinates 0, .5, 1, 1.5, 2, 2.5
  auto run = [](const char* mode) {
    auto out = run_op(op("Resize", 13, {{"coordinate_transformation_mode", attr_string("asymmetric")},
                                        {"nearest_mode", attr_string(mode)}}),
                      {f32({3}, {1, 2, 3}), none(), f32({1}, {2})});
    return values<float>(out[0]);
  };
  EXPECT_EQ(run("round_prefer_floor"), (std::vector<float>{1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(run("round_prefer_ceil"), (std::vector<float>{1, 2, 2, 3, 3, 3}));
  EXPECT_EQ(run("floor"), (std::vector<float>{1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(run("ceil"), (std::vector<float>{1, 2, 2, 3, 3, 3}));
}

TEST(Resize, LinearHalfPixelClampsAtEdges) {
  auto out = run_op(op("Resize", 13, {{"mode", attr_string("linear")}}), {f32({1, 2}, {1, 2}), none(), none(),
                                                                          i64({2}, {1, 4})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 4}));
  expect_near_all(values<float>(out[0]), {1, 1.25f, 1.75f, 2});
}

TEST(Resize, LinearAlignCornersUsesRealValuedLength) {
  auto out = run_op(op("Resize", 13, {{"mode", attr_string("linear")},
                                      {"coordinate_transformation_mode", attr_string("align_corners")}}),
                    {f32({1, 2}, {1, 2}), none(), none(), i64({2}, {1, 3})});
  expect_near_all(values<float>(out[0]), {1, 1.5f, 2});
  // Scale 0.6 on length 4: output length floor(2.4) = 2, but the coordinates divide by 2.4 - 1 (as ONNX's reference).
  auto down = run_op(op("Resize", 13, {{"mode", attr_string("linear")},
                                       {"coordinate_transformation_mode", attr_string("align_corners")}}),
                     {f32({4}, {1, 2, 3, 4}), none(), f32({1}, {0.6f})});
  expect_near_all(values<float>(down[0]), {1, 1 + 3 / 1.4f});
}

TEST(Resize, BilinearTwoDimensions) {
  // align_corners 2x2 -> 3x3: the centre is the mean of the four corners.
  auto out = run_op(op("Resize", 11, {{"mode", attr_string("linear")},
                                      {"coordinate_transformation_mode", attr_string("align_corners")}}),
                    {f32({2, 2}, {1, 2, 3, 4}), f32({0}, {}), f32({0}, {}), i64({2}, {3, 3})});
  expect_near_all(values<float>(out[0]), {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4});
}

TEST(Resize, CubicReproducesLinearRampInside) {
  auto out = run_op(op("Resize", 13, {{"mode", attr_string("cubic")},
                                      {"coordinate_transformation_mode", attr_string("asymmetric")}}),
                    {f32({4}, {0, 1, 2, 3}), none(), f32({1}, {2})});
  auto v = values<float>(out[0]);
  ASSERT_EQ(v.size(), 8u);
  EXPECT_NEAR(v[2], 1.0f, 1e-6);
  EXPECT_NEAR(v[3], 1.5f, 1e-6);
  EXPECT_NEAR(v[4], 2.0f, 1e-6);
}

TEST(Resize, CubicExcludeOutsideRenormalizes) {
  // a = -0.5, sample at 0.5: weights -0.0625, 0.5625, 0.5625, -0.0625 on taps -1..2.
  std::map<std::string, Attribute> attrs{{"mode", attr_string("cubic")}, {"cubic_coeff_a", attr_float(-0.5f)},
                                         {"coordinate_transformation_mode", attr_string("asymmetric")}};
  Tensor x = f32({4}, {1, 2, 4, 8});
  auto edge = run_op(op("Resize", 13, attrs), {x, none(), f32({1}, {2})});
  EXPECT_NEAR(values<float>(edge[0])[1], 1.375f, 1e-5);
  attrs["exclude_outside"] = attr_int(1);
  auto excl = run_op(op("Resize", 13, attrs), {x, none(), f32({1}, {2})});
  EXPECT_NEAR(values<float>(excl[0])[1], 1.4375f / 1.0625f, 1e-5);
}

TEST(Resize, TfCropAndResizeExtrapolates) {
  // roi [0.5, 1.5] on length 4: source coordinates 1.5, 3, 4.5 (outside -> extrapolation_value).
  auto out = run_op(op("Resize", 13, {{"mode", attr_string("linear")},
                                      {"coordinate_transformation_mode", attr_string("tf_crop_and_resize")},
                                      {"extrapolation_value", attr_float(10)}}),
                    {f32({4}, {1, 2, 3, 4}), f32({2}, {0.5f, 1.5f}), none(), i64({1}, {3})});
  expect_near_all(values<float>(out[0]), {2.5f, 4, 10});
}

TEST(Resize, Uint8LinearRoundsToNearest) {
  auto out = run_op(op("Resize", 13, {{"mode", attr_string("linear")}}),
                    {Tensor::from_vector<uint8_t>(DType::kUInt8, {2}, {0, 255}), none(), f32({1}, {2})});
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{0, 64, 191, 255}));
}

TEST(Resize, NearestCopiesAnyDtype) {
  auto i = run_op(op("Resize", 13), {i64({2}, {7, -9}), none(), f32({1}, {2})});
  EXPECT_EQ(values<int64_t>(i[0]), (std::vector<int64_t>{7, 7, -9, -9}));
  auto b = run_op(op("Resize", 13), {Tensor::from_vector<uint8_t>(DType::kBool, {2}, {1, 0}), none(), none(),
                                     i64({1}, {3})});
  EXPECT_EQ(b[0].dtype(), DType::kBool);
  // half_pixel, scale 1.5: source coordinates -0.17, 0.5 (rounds down), 1.17
  EXPECT_EQ(values<uint8_t>(b[0]), (std::vector<uint8_t>{1, 1, 0}));
}

TEST(Resize, Opset10DownsampleNearestRoundsUp) {
  // asymmetric: source 0 and 1/0.6 = 1.67 -> index 2 (ceil when downsampling)
  auto out = run_op(op("Resize", 10), {f32({4}, {1, 2, 3, 4}), f32({1}, {0.6f})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 3}));
}

TEST(Resize, InferenceKeepsSymbolicBatch) {
  Node node;
  node.name = "r";
  node.op_type = "Resize";
  node.version = 13;
  node.inputs = {0, kNoValue, 2};
  node.outputs = {3};
  ValueType x{DType::kFloat32, Dims{Dim::symbol("N"), Dim(3), Dim(4), Dim(5)}};
  ValueType scales{DType::kFloat32, Dims{Dim(4)}};
  Tensor scale_values = f32({4}, {1, 1, 2, 0.5f});
  std::vector<Tensor> known;
  auto types = infer_node(OpRegistry::global().resolve(node), node, {&x, nullptr, &scales},
                          {nullptr, nullptr, &scale_values}, known);
  ASSERT_TRUE(types[0].dims.has_value());
  EXPECT_EQ(*types[0].dims, (Dims{Dim::symbol("N"), Dim(3), Dim(8), Dim(2)}));
}

TEST(Resize, RejectsBadScalesAndSizes) {
  Tensor x = f32({1, 2}, {1, 2});
  EXPECT_THROW(run_op(op("Resize", 13), {x, none(), f32({2}, {1, 2}), i64({2}, {1, 4})}), Error);
  EXPECT_THROW(run_op(op("Resize", 13), {x, none(), f32({3}, {1, 2, 2})}), Error);
  EXPECT_THROW(run_op(op("Resize", 13), {x, none(), f32({2}, {1, -2})}), Error);
  EXPECT_THROW(run_op(op("Resize", 13), {x, none(), f32({2}, {1, INFINITY})}), Error);
  EXPECT_THROW(run_op(op("Resize", 13), {x, none(), f32({2}, {1, 1e30f})}), Error);
  EXPECT_THROW(run_op(op("Resize", 13, {{"mode", attr_string("area")}}), {x, none(), f32({2}, {1, 2})}), Error);
}

TEST(Upsample, AttributeAndInputScales) {
  auto v7 = run_op(op("Upsample", 7, {{"scales", attr_floats({1, 2})}}), {f32({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(values<float>(v7[0]), (std::vector<float>{1, 1, 2, 2, 3, 3, 4, 4}));
  // Linear with asymmetric coordinates: 0, .5, 1, 1.5 (clamped to the last element).
  auto v9 = run_op(op("Upsample", 9, {{"mode", attr_string("linear")}}), {f32({2}, {1, 2}), f32({1}, {2})});
  expect_near_all(values<float>(v9[0]), {1, 1.5f, 2, 2});
  auto v1 = run_op(op("Upsample", 1, {{"height_scale", attr_float(2)}, {"width_scale", attr_float(1)}}),
                   {f32({1, 1, 2, 1}, {5, 6})});
  EXPECT_EQ(values<float>(v1[0]), (std::vector<float>{5, 5, 6, 6}));
  EXPECT_THROW(run_op(op("Upsample", 7), {f32({2}, {1, 2})}), Error);  // scales attribute missing
}

}  // namespace
}  // namespace ef::test
