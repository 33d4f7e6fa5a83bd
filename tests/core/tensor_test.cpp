#include <gtest/gtest.h>

#include <cmath>

#include "core/half.h"
#include "edgeforge/tensor.h"

namespace ef {
namespace tensor_test {

TEST(Tensor, ZerosHasShapeAndZeroedData) {
  Tensor t = Tensor::zeros(DType::kFloat32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
}

TEST(Tensor, RejectsNegativeAndOverflowingDims) {
  EXPECT_THROW(Tensor::zeros(DType::kFloat32, {-1, 3}), Error);
  EXPECT_THROW(Tensor::zeros(DType::kFloat32, {int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(Tensor::zeros(DType::kFloat32, {int64_t{1} << 39}), Error);  // 2 TiB
}

TEST(Tensor, ValueAccessConvertsTypes) {
  Tensor t = Tensor::from_vector<int32_t>(DType::kInt32, {3}, {4, -2, 7});
  EXPECT_EQ(t.to_int64_vector(), (std::vector<int64_t>{4, -2, 7}));
  EXPECT_DOUBLE_EQ(t.value_as_double(1), -2.0);
}

TEST(Half, RoundTripsRepresentableValues) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f}) {
    EXPECT_EQ(half_to_float(float_to_half(f)), f) << f;
  }
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(1e6f))));
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.5f)), 1.5f);
}

}  // namespace
}  // namespace ef
