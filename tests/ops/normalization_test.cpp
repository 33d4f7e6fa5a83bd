#include <cmath>

#include "core/dispatch.h"
#include "ops/op_test_util.h"

namespace ef::test {
namespace normalization_test {

void expect_near(const Tensor& t, const std::vector<float>& expected, float tol = 1e-5f) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(t.value_as_double(static_cast<int64_t>(i)), expected[i], tol) << "element " << i;
  }
}

// x [2, 2, 2, 2] with per-channel parameters; expected values computed with NumPy in double precision.
const Tensor kBnX = f32({2, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 9, -1, 0, 2, 3, 8, 1, 0, 2});
const Tensor kBnScale = f32({2}, {1, 0.5f});
const Tensor kBnBias = f32({2}, {0, 1});
const Tensor kBnMean = f32({2}, {0.5f, -1});
const Tensor kBnVar = f32({2}, {2, 1});
const std::vector<float> kBnInference = {0.353553f, 1.060658f, 1.767763f, 2.474868f, 3.999985f, 4.499983f,
                                         4.99998f,  5.999975f, -1.060658f, -0.353553f, 1.060658f, 1.767763f,
                                         5.499978f, 1.999995f, 1.499998f, 2.499993f};

TEST(Normalization, BatchNormInferenceAcrossVersions) {
  auto v15 = run_op({"BatchNormalization", 15, {}}, {kBnX, kBnScale, kBnBias, kBnMean, kBnVar});
  expect_near(v15[0], kBnInference);
  auto v6 = run_op({"BatchNormalization", 6, {{"is_test", attr_int(1)}}}, {kBnX, kBnScale, kBnBias, kBnMean, kBnVar});
  expect_near(v6[0], kBnInference);
  auto v9 = run_op({"BatchNormalization", 9, {}}, {kBnX, kBnScale, kBnBias, kBnMean, kBnVar});
  expect_near(v9[0], kBnInference);
}

TEST(Normalization, BatchNormTrainingModeComputesBatchStatistics) {
  auto out = run_op({"BatchNormalization", 15, {{"training_mode", attr_int(1)}}},
                    {kBnX, kBnScale, kBnBias, kBnMean, kBnVar}, 3);
  expect_near(out[0], {-0.480383f, 0.160128f, 0.800639f, 1.44115f, 1.039653f, 1.198263f, 1.356873f, 1.674094f,
                       -1.761406f, -1.120895f, 0.160128f, 0.800639f, 1.515483f, 0.405212f, 0.246601f, 0.563822f});
  // running = input * momentum + batch * (1 - momentum); batch mean [1.75, 4.75], population var [2.4375, 9.9375].
  expect_near(out[1], {0.625f, -0.425f});
  expect_near(out[2], {2.04375f, 1.89375f});
}

TEST(Normalization, LegacyBatchNormTrainingOutputsSavedStatistics) {
  auto out = run_op({"BatchNormalization", 7, {{"momentum", attr_float(0.5f)}}},
                    {kBnX, kBnScale, kBnBias, kBnMean, kBnVar}, 5);
  expect_near(out[1], {1.125f, 1.875f});
  expect_near(out[2], {2.21875f, 5.46875f});
  expect_near(out[3], {1.75f, 4.75f});
  expect_near(out[4], {2.4375f, 9.9375f});
}

TEST(Normalization, NonSpatialBatchNormUsesPerFeatureParameters) {
  // spatial=0: parameters are [C, D]; feature (c, d) uses its own statistics.
  Tensor x = f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor ones = f32({2, 2}, {1, 1, 1, 1});
  Tensor zeros = f32({2, 2}, {0, 0, 0, 0});
  Tensor mean = f32({2, 2}, {1, 2, 3, 4});
  auto out = run_op({"BatchNormalization", 7, {{"spatial", attr_int(0)}, {"epsilon", attr_float(0)}}},
                    {x, ones, zeros, mean, ones});
  expect_near(out[0], {0, 0, 0, 0, 4, 4, 4, 4});
}

TEST(Normalization, BatchNormRejectsBadParameters) {
  EXPECT_THROW(run_op({"BatchNormalization", 15, {}}, {kBnX, f32({3}, {1, 1, 1}), kBnBias, kBnMean, kBnVar}), Error);
  // Running statistics are training outputs; asking for them in inference mode is a malformed model.
  EXPECT_THROW(run_op({"BatchNormalization", 15, {}}, {kBnX, kBnScale, kBnBias, kBnMean, kBnVar}, 3), Error);
}

TEST(Normalization, InstanceNormPerSampleAndChannel) {
  Tensor x = f32({2, 2, 3}, {1, 2, 3, 2, 2, 5, 0, -3, 3, 4, 4, 4});
  auto out = run_op({"InstanceNormalization", 6, {}}, {x, f32({2}, {2, 1}), f32({2}, {0.5f, -0.5f})});
  expect_near(out[0], {-1.949471f, 0.5f, 2.949471f, -1.207105f, -1.207105f, 0.91421f, 0.5f, -1.949488f, 2.949488f,
                       -0.5f, -0.5f, -0.5f});
}

TEST(Normalization, LayerNormOverTrailingAxesWithStatistics) {
  Tensor x = f32({2, 2, 3}, {1, 2, 3, 4, 5, 6, 0, 1, 0, 1, 0, 7});
  auto out = run_op({"LayerNormalization", 17, {{"axis", attr_int(1)}}}, {x, f32({3}, {1, 2, 3})}, 3);
  expect_near(out[0], {-1.463848f, -1.756617f, -0.878309f, 0.29277f, 1.756617f, 4.391543f, -0.6f, -0.4f,
                       -1.799999f, -0.2f, -1.199999f, 6.599995f});
  EXPECT_EQ(out[1].shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(out[1].dtype(), DType::kFloat32);
  expect_near(out[1], {3.5f, 1.5f});
  expect_near(out[2], {0.58553904f, 0.39999968f});
}

TEST(Normalization, LayerNormNegativeAxisWithBias) {
  // Row 0 normalizes to about [-1, 1]; row 1 has zero variance and normalizes to 0, leaving just the bias.
  Tensor x = f32({2, 2}, {1, 3, 10, 10});
  auto out = run_op({"LayerNormalization", 17, {{"axis", attr_int(-1)}}}, {x, f32({2}, {1, 1}), f32({2}, {5, 6})});
  expect_near(out[0], {4, 7, 5, 6}, 1e-4f);
}

TEST(Normalization, LayerNormRejectsBadAxisAndScale) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op({"LayerNormalization", 17, {{"axis", attr_int(3)}}}, {x, f32({2}, {1, 1})}), Error);
  EXPECT_THROW(run_op({"LayerNormalization", 17, {}}, {x, f32({3}, {1, 1, 1})}), Error);
}

TEST(Normalization, LrnOddAndEvenWindows) {
  Tensor x = f32({1, 4, 2}, {1, 2, 3, 4, 0.5f, -1, 2, 1});
  auto attrs = std::map<std::string, Attribute>{{"alpha", attr_float(0.1f)}, {"beta", attr_float(0.75f)},
                                                {"bias", attr_float(1)}, {"size", attr_int(3)}};
  expect_near(run_op({"LRN", 13, attrs}, {x})[0],
              {0.805927f, 1.363463f, 2.406511f, 2.686726f, 0.380033f, -0.702927f, 1.810821f, 0.952749f});
  // An even window reaches one channel further forward than back: [c, c + 1] for size 2.
  attrs["size"] = attr_int(2);
  expect_near(run_op({"LRN", 1, attrs}, {x})[0],
              {0.737788f, 1.189207f, 2.255794f, 2.521629f, 0.432722f, -0.931012f, 1.744392f, 0.964069f});
  EXPECT_THROW(run_op({"LRN", 13, {}}, {x}), Error);  // size is required
}

TEST(Normalization, MeanVarianceNormalizationDefaultAndCustomAxes) {
  Tensor x = f32({2, 2, 2, 2}, {1, 2, 3, 5, 4, 4, 0, 1, 2, 6, 1, 1, 0, 2, 0, 2});
  expect_near(run_op({"MeanVarianceNormalization", 13, {}}, {x})[0],
              {-0.903562f, -0.347524f, 0.208514f, 1.320591f, 1.506798f, 1.506798f, -1.030967f, -0.396526f,
               -0.347524f, 1.87663f, -0.903562f, -0.903562f, -1.030967f, 0.237915f, -1.030967f, 0.237915f});
  expect_near(run_op({"MeanVarianceNormalization", 9, {{"axes", attr_ints({1, -2, 3})}}}, {x})[0],
              {-0.904534f, -0.301511f, 0.301511f, 1.507557f, 0.904534f, 0.904534f, -1.507557f, -0.904534f,
               0.140028f, 2.380476f, -0.420084f, -0.420084f, -0.980196f, 0.140028f, -0.980196f, 0.140028f});
  EXPECT_THROW(run_op({"MeanVarianceNormalization", 13, {}}, {f32({2, 2}, {1, 2, 3, 4})}), Error);
}

TEST(Normalization, Float16InputsKeepTheirType) {
  std::vector<Float16> v = {Float16(1.0f), Float16(2.0f), Float16(3.0f), Float16(4.0f)};
  Tensor x = Tensor::from_vector(DType::kFloat16, {1, 1, 4}, v);
  auto out = run_op({"InstanceNormalization", 6, {}}, {x, f32({1}, {1}), f32({1}, {0})});
  EXPECT_EQ(out[0].dtype(), DType::kFloat16);
  expect_near(out[0], {-1.341635f, -0.447212f, 0.447212f, 1.341635f}, 2e-3f);
}

}  // namespace
}  // namespace ef::test
