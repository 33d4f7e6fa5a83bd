// Image family beyond Resize: NonMaxSuppression, RoiAlign, GridSample and the opset-17 signal ops.
#include <cmath>
#include <numbers>

#include "ops/op_test_util.h"

namespace ef::test {
namespace ops_image_test {

OpCall op(std::string type, int version, std::map<std::string, Attribute> attrs = {}) {
  return OpCall{std::move(type), version, std::move(attrs), ""};
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

Tensor none() { return Tensor(); }

// ---- NonMaxSuppression ----

// Three boxes: 0 and 1 overlap with IoU 0.818, box 2 is far away.
Tensor three_boxes() { return f32({1, 3, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 10, 1, 11}); }

TEST(NonMaxSuppression, SuppressesOverlapsByScoreOrder) {
  auto out = run_op(op("NonMaxSuppression", 11),
                    {three_boxes(), f32({1, 1, 3}, {0.8f, 0.9f, 0.7f}), i64({1}, {3}), f32({1}, {0.5f})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 0, 1, 0, 0, 2}));
}

TEST(NonMaxSuppression, ThresholdsAndLimits) {
  Tensor scores = f32({1, 1, 3}, {0.9f, 0.8f, 0.7f});
  // IoU 0.818 is not above 0.9: nothing suppressed; the limit keeps the top two.
  auto limited = run_op(op("NonMaxSuppression", 10), {three_boxes(), scores, i64({1}, {2}), f32({1}, {0.9f})});
  EXPECT_EQ(values<int64_t>(limited[0]), (std::vector<int64_t>{0, 0, 0, 0, 0, 1}));
  // Scores must be strictly above score_threshold.
  auto scored = run_op(op("NonMaxSuppression", 11),
                       {three_boxes(), scores, i64({1}, {3}), f32({1}, {0.5f}), f32({1}, {0.7f})});
  EXPECT_EQ(values<int64_t>(scored[0]), (std::vector<int64_t>{0, 0, 0}));
  // Without max_output_boxes_per_class nothing is selected.
  auto empty = run_op(op("NonMaxSuppression", 11), {three_boxes(), scores});
  EXPECT_EQ(empty[0].shape(), (Shape{0, 3}));
}

TEST(NonMaxSuppression, CenterPointBoxesAndClasses) {
  // Same boxes as three_boxes() as [x_center, y_center, width, height]; two classes with opposite preferences.
  Tensor boxes = f32({1, 3, 4}, {0.5f, 0.5f, 1, 1, 0.6f, 0.5f, 1, 1, 10.5f, 0.5f, 1, 1});
  Tensor scores = f32({1, 2, 3}, {0.9f, 0.8f, 0.7f, 0.1f, 0.2f, 0.3f});
  auto out = run_op(op("NonMaxSuppression", 11, {{"center_point_box", attr_int(1)}}),
                    {boxes, scores, i64({1}, {5}), f32({1}, {0.5f})});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 0, 0, 0, 0, 2, 0, 1, 2, 0, 1, 1}));
}

TEST(NonMaxSuppression, NaNScoresAreNeverSelected) {
  auto out = run_op(op("NonMaxSuppression", 11),
                    {three_boxes(), f32({1, 1, 3}, {NAN, 0.5f, NAN}), i64({1}, {3}), f32({1}, {0.5f})});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 0, 1}));
}

TEST(NonMaxSuppression, RejectsMismatchedScores) {
  EXPECT_THROW(run_op(op("NonMaxSuppression", 11), {three_boxes(), f32({1, 1, 2}, {1, 2}), i64({1}, {3})}), Error);
}

// ---- RoiAlign ----

Tensor ramp_4x4() {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  return f32({1, 1, 4, 4}, v);
}

TEST(RoiAlign, HalfPixelShiftsInputCoordinates) {
  std::map<std::string, Attribute> attrs{{"sampling_ratio", attr_int(1)}};
  Tensor rois = f32({1, 4}, {0, 0, 3, 3});
  // Legacy (opset 10): the bin centre is (1.5, 1.5) -> 4 * 1.5 + 1.5.
  auto legacy = run_op(op("RoiAlign", 10, attrs), {ramp_4x4(), rois, i64({1}, {0})});
  EXPECT_EQ(legacy[0].shape(), (Shape{1, 1, 1, 1}));
  EXPECT_NEAR(values<float>(legacy[0])[0], 7.5f, 1e-5);
  // Opset 16 default half_pixel: centre (1, 1).
  auto half = run_op(op("RoiAlign", 16, attrs), {ramp_4x4(), rois, i64({1}, {0})});
  EXPECT_NEAR(values<float>(half[0])[0], 5.0f, 1e-5);
}

TEST(RoiAlign, AverageAndMaxPooling) {
  std::map<std::string, Attribute> attrs{{"output_height", attr_int(2)}, {"output_width", attr_int(2)},
                                         {"sampling_ratio", attr_int(2)}};
  Tensor rois = f32({1, 4}, {0.5f, 0.5f, 2.5f, 2.5f});  // [0, 2] after the half-pixel shift: 1x1 bins
  // Samples stay inside the map, which is linear, so each bin's average is the value at its centre.
  auto avg = run_op(op("RoiAlign", 16, attrs), {ramp_4x4(), rois, i64({1}, {0})});
  expect_near_all(values<float>(avg[0]), {2.5f, 3.5f, 6.5f, 7.5f});
  // Max pools the largest weighted corner (ONNX reference semantics): in bin (0,0) the sample at (.75, .75) has
  // corner 5 with weight .5625, giving 2.8125.
  attrs["mode"] = attr_string("max");
  auto max = run_op(op("RoiAlign", 16, attrs), {ramp_4x4(), rois, i64({1}, {0})});
  EXPECT_NEAR(values<float>(max[0])[0], 2.8125f, 1e-5);
}

TEST(RoiAlign, RejectsBadBatchIndex) {
  EXPECT_THROW(run_op(op("RoiAlign", 16), {ramp_4x4(), f32({1, 4}, {0, 0, 1, 1}), i64({1}, {1})}), Error);
}

// ---- GridSample ----

Tensor image_2x2() { return f32({1, 1, 2, 2}, {1, 2, 3, 4}); }
Tensor grid(std::vector<float> xy) {
  auto n = static_cast<int64_t>(xy.size() / 2);
  return f32({1, 1, n, 2}, std::move(xy));
}

TEST(GridSample, BilinearAlignCorners) {
  auto out = run_op(op("GridSample", 16, {{"align_corners", attr_int(1)}}),
                    {image_2x2(), grid({-1, -1, 1, 1, 0, 0, 1, -1})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 1, 4}));
  expect_near_all(values<float>(out[0]), {1, 4, 2.5f, 2});
}

TEST(GridSample, PaddingModes) {
  // Without align_corners (-1, -1) is the outer corner of pixel (0, 0): pixel coordinate (-0.5, -0.5).
  auto zeros = run_op(op("GridSample", 16), {image_2x2(), grid({-1, -1})});
  EXPECT_NEAR(values<float>(zeros[0])[0], 0.25f, 1e-6);
  auto border = run_op(op("GridSample", 16, {{"padding_mode", attr_string("border")}}), {image_2x2(), grid({-1, -1})});
  EXPECT_NEAR(values<float>(border[0])[0], 1.0f, 1e-6);
  // Reflection bounces repeatedly: normalized -3.5 -> 1.5 -> 0.5, i.e. pixel 1.5 of a width-3 row.
  auto refl = run_op(op("GridSample", 16,
                        {{"padding_mode", attr_string("reflection")}, {"align_corners", attr_int(1)}}),
                     {f32({1, 1, 1, 3}, {0, 10, 20}), grid({-3.5f, 0})});
  EXPECT_NEAR(values<float>(refl[0])[0], 15.0f, 1e-5);
}

TEST(GridSample, NearestAndBicubic) {
  auto nearest = run_op(op("GridSample", 16, {{"mode", attr_string("nearest")}}),
                        {image_2x2(), grid({-0.5f, -0.5f, 0.6f, 0.6f})});
  EXPECT_EQ(values<float>(nearest[0]), (std::vector<float>{1, 4}));
  // Bicubic at a pixel centre returns that pixel exactly.
  auto cubic = run_op(op("GridSample", 16, {{"mode", attr_string("bicubic")}, {"align_corners", attr_int(1)}}),
                      {image_2x2(), grid({1, -1})});
  EXPECT_NEAR(values<float>(cubic[0])[0], 2.0f, 1e-6);
}

TEST(GridSample, NonFiniteAndFarCoordinates) {
  auto zeros = run_op(op("GridSample", 16, {{"mode", attr_string("bicubic")}}),
                      {image_2x2(), grid({NAN, 0, INFINITY, 0, -1e30f, 0})});
  EXPECT_EQ(values<float>(zeros[0]), (std::vector<float>{0, 0, 0}));
  auto border = run_op(op("GridSample", 16, {{"padding_mode", attr_string("border")}, {"align_corners", attr_int(1)}}),
                       {image_2x2(), grid({INFINITY, -1, 1e30f, 1})});
  expect_near_all(values<float>(border[0]), {2, 4});
}

TEST(GridSample, RejectsBadGrid) {
  EXPECT_THROW(run_op(op("GridSample", 16), {image_2x2(), f32({1, 1, 1, 3}, {0, 0, 0})}), Error);
  EXPECT_THROW(run_op(op("GridSample", 16, {{"mode", attr_string("area")}}), {image_2x2(), grid({0, 0})}), Error);
}

// ---- Signal ops ----

TEST(Dft, RealForwardOnesidedAndInverse) {
  Tensor x = f32({1, 4, 1}, {1, 2, 3, 4});
  auto full = run_op(op("DFT", 17), {x});
  EXPECT_EQ(full[0].shape(), (Shape{1, 4, 2}));
  expect_near_all(values<float>(full[0]), {10, 0, -2, 2, -2, 0, -2, -2});
  auto half = run_op(op("DFT", 17, {{"onesided", attr_int(1)}}), {x});
  EXPECT_EQ(half[0].shape(), (Shape{1, 3, 2}));
  auto back = run_op(op("DFT", 17, {{"inverse", attr_int(1)}}), {full[0]});
  expect_near_all(values<float>(back[0]), {1, 0, 2, 0, 3, 0, 4, 0});
  // dft_length truncates (or zero-pads) the signal.
  auto cut = run_op(op("DFT", 17), {x, i64({}, {2})});
  expect_near_all(values<float>(cut[0]), {3, 0, -1, 0});
}

TEST(Dft, InnerAxis) {
  // [1, 2 rows, 2 cols, 1]: transform along the columns (axis 2).
  auto out = run_op(op("DFT", 17, {{"axis", attr_int(2)}}), {f32({1, 2, 2, 1}, {1, 2, 5, 7})});
  expect_near_all(values<float>(out[0]), {3, 0, -1, 0, 12, 0, -2, 0});
  EXPECT_THROW(run_op(op("DFT", 17, {{"axis", attr_int(3)}}), {f32({1, 2, 2, 1}, {1, 2, 5, 7})}), Error);
}

TEST(Stft, FramesWithAndWithoutWindow) {
  Tensor signal = f32({1, 8, 1}, {0, 1, 2, 3, 4, 5, 6, 7});
  auto plain = run_op(op("STFT", 17), {signal, i64({}, {4}), none(), i64({}, {4})});
  EXPECT_EQ(plain[0].shape(), (Shape{1, 2, 3, 2}));
  expect_near_all(values<float>(plain[0]), {6, 0, -2, 2, -2, 0, 22, 0, -2, 2, -2, 0});
  auto windowed = run_op(op("STFT", 17, {{"onesided", attr_int(0)}}), {signal, i64({}, {2}), f32({4}, {0, 1, 1, 0})});
  EXPECT_EQ(windowed[0].shape(), (Shape{1, 3, 4, 2}));
  // Frame 1 is [2, 3, 4, 5] windowed to [0, 3, 4, 0]: bin 0 = 7, bin 1 = -3i - 4 = (-4, -3).
  auto v = values<float>(windowed[0]);
  EXPECT_NEAR(v[8], 7, 1e-5);
  EXPECT_NEAR(v[10], -4, 1e-5);
  EXPECT_NEAR(v[11], -3, 1e-5);
  EXPECT_THROW(run_op(op("STFT", 17), {signal, i64({}, {2}), f32({4}, {1, 1, 1, 1}), i64({}, {3})}), Error);
}

TEST(Windows, HannHammingBlackman) {
  auto hann = run_op(op("HannWindow", 17), {Tensor::scalar<int64_t>(DType::kInt64, 4)});
  expect_near_all(values<float>(hann[0]), {0, 0.5f, 1, 0.5f});
  auto hann_sym =
      run_op(op("HannWindow", 17, {{"periodic", attr_int(0)}}), {Tensor::scalar<int32_t>(DType::kInt32, 3)});
  expect_near_all(values<float>(hann_sym[0]), {0, 1, 0});
  auto hamming = run_op(op("HammingWindow", 17), {Tensor::scalar<int64_t>(DType::kInt64, 2)});
  expect_near_all(values<float>(hamming[0]), {4.0f / 46, 1});
  auto blackman = run_op(op("BlackmanWindow", 17, {{"periodic", attr_int(0)}, {"output_datatype", attr_int(11)}}),
                         {Tensor::scalar<int64_t>(DType::kInt64, 3)});
  EXPECT_EQ(blackman[0].dtype(), DType::kFloat64);
  auto b = values<double>(blackman[0]);
  EXPECT_NEAR(b[0], 0, 1e-12);
  EXPECT_NEAR(b[1], 1, 1e-12);
  EXPECT_THROW(run_op(op("HannWindow", 17), {Tensor::scalar<int64_t>(DType::kInt64, -1)}), Error);
}

TEST(MelWeightMatrix, TriangularBands) {
  auto out = run_op(op("MelWeightMatrix", 17),
                    {Tensor::scalar<int32_t>(DType::kInt32, 8), Tensor::scalar<int32_t>(DType::kInt32, 16),
                     Tensor::scalar<int32_t>(DType::kInt32, 8192), Tensor::scalar<float>(DType::kFloat32, 0),
                     Tensor::scalar<float>(DType::kFloat32, 4096)});
  EXPECT_EQ(out[0].shape(), (Shape{9, 8}));
  // Band edges land on bins 0 0 0 1 1 2 3 4 5 6: narrow bands become single ones.
  auto v = values<float>(out[0]);
  std::vector<float> row0(v.begin(), v.begin() + 8), row2(v.begin() + 16, v.begin() + 24);
  EXPECT_EQ(row0, (std::vector<float>{1, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(row2, (std::vector<float>{0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_THROW(run_op(op("MelWeightMatrix", 17),
                      {Tensor::scalar<int32_t>(DType::kInt32, 8), Tensor::scalar<int32_t>(DType::kInt32, 16),
                       Tensor::scalar<int32_t>(DType::kInt32, 0), Tensor::scalar<float>(DType::kFloat32, 0),
                       Tensor::scalar<float>(DType::kFloat32, 4096)}),
               Error);
}

}  // namespace
}  // namespace ef::test
