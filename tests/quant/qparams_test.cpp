#include <gtest/gtest.h>

#include "quant/qparams.h"

namespace ef {
namespace qparams_test {

TEST(QuantParams, AsymmetricRangeIncludesZero) {
  QuantParams p = activation_params({0.5f, 2.55f}, DType::kUInt8, false);
  EXPECT_FLOAT_EQ(p.scale[0], 2.55f / 255);  // widened to [0, 2.55]
  EXPECT_EQ(p.zero_point[0], 0);
  QuantParams n = activation_params({-1.0f, 3.0f}, DType::kUInt8, false);
  EXPECT_FLOAT_EQ(n.scale[0], 4.0f / 255);
  EXPECT_EQ(n.zero_point[0], 64);  // round(255 / 4)
  QuantParams s8 = activation_params({-1.0f, 3.0f}, DType::kInt8, false);
  EXPECT_EQ(s8.zero_point[0], -64);
  TensorRange r = representable_range(n);
  EXPECT_NEAR(r.min, -1.0f, n.scale[0]);
  EXPECT_NEAR(r.max, 3.0f, n.scale[0]);
}

TEST(QuantParams, SymmetricAndDegenerateRanges) {
  QuantParams s = activation_params({-1.0f, 2.54f}, DType::kInt8, true);
  EXPECT_FLOAT_EQ(s.scale[0], 2.54f / 127);
  EXPECT_EQ(s.zero_point[0], 0);
  EXPECT_EQ(activation_params({-1.0f, 1.0f}, DType::kUInt8, true).zero_point[0], 128);
  QuantParams zero = activation_params({0.0f, 0.0f}, DType::kUInt8, false);
  EXPECT_EQ(zero.scale[0], 1.0f);  // never 0: QuantizeLinear divides by it
  EXPECT_THROW(activation_params({0, 1}, DType::kInt32, false), Error);
}

TEST(QuantParams, PerChannelInt8WeightsAreSymmetric) {
  Tensor w = Tensor::from_vector(DType::kFloat32, {2, 3}, std::vector<float>{1.0f, -0.5f, 0.25f, 0.0f, 0.0f, 0.0f});
  QuantizedTensor q = quantize_weight(w, DType::kInt8, 0);
  ASSERT_EQ(q.params.scale.size(), 2u);
  EXPECT_FLOAT_EQ(q.params.scale[0], 1.0f / 127);
  EXPECT_EQ(q.params.scale[1], 1.0f);  // all-zero channel
  const int8_t* v = q.values.data<int8_t>();
  EXPECT_EQ(v[0], 127);
  EXPECT_EQ(v[1], -64);  // -63.5 rounds half to even
  EXPECT_EQ(v[2], 32);   // 31.75
  QuantizedTensor t = quantize_weight(w, DType::kUInt8, -1);
  EXPECT_EQ(t.params.scale.size(), 1u);
  EXPECT_EQ(t.values.dtype(), DType::kUInt8);
  EXPECT_EQ(t.values.data<uint8_t>()[1], 0);    // -0.5 is the minimum
  EXPECT_EQ(t.values.data<uint8_t>()[0], 255);  // 1.0 the maximum
}

TEST(QuantParams, ReducedRangeWeightsUseSevenBits) {
  Tensor w = Tensor::from_vector(DType::kFloat32, {1, 3}, std::vector<float>{1.0f, -0.5f, -1.0f});
  QuantizedTensor q = quantize_weight(w, DType::kInt8, 0, true);
  EXPECT_FLOAT_EQ(q.params.scale[0], 1.0f / 64);
  EXPECT_EQ(q.values.data<int8_t>()[0], 64);
  EXPECT_EQ(q.values.data<int8_t>()[1], -32);
  EXPECT_EQ(q.values.data<int8_t>()[2], -64);
  QuantizedTensor u = quantize_weight(w, DType::kUInt8, -1, true);
  EXPECT_EQ(u.values.data<uint8_t>()[0], 127);
  EXPECT_EQ(u.values.data<uint8_t>()[2], 0);
}

TEST(QuantParams, BiasScaleIsInputTimesWeightScale) {
  Tensor b = Tensor::from_vector(DType::kFloat32, {2}, std::vector<float>{0.5f, -1.0f});
  std::vector<float> ws = {0.01f, 0.02f};
  QuantizedTensor q = quantize_bias(b, 0.1f, ws);
  EXPECT_EQ(q.values.dtype(), DType::kInt32);
  EXPECT_EQ(q.params.axis, 0);
  EXPECT_FLOAT_EQ(q.params.scale[0], 0.1f * 0.01f);
  EXPECT_EQ(q.values.data<int32_t>()[0], 500);
  EXPECT_EQ(q.values.data<int32_t>()[1], -500);
  // A bias int32 cannot hold at that scale widens the weight scale instead of saturating.
  Tensor big = Tensor::from_vector(DType::kFloat32, {1}, std::vector<float>{1e6f});
  std::vector<float> tiny = {1e-6f};
  QuantizedTensor w = quantize_bias(big, 1e-6f, tiny);
  EXPECT_GT(tiny[0], 1e-6f);
  EXPECT_LT(std::abs(static_cast<double>(w.values.data<int32_t>()[0]) * w.params.scale[0] - 1e6), 1e6 * 1e-3);
}

}  // namespace
}  // namespace ef
