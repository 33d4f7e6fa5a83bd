// Metrics of analysis/compare against values worked out by hand.
#include "analysis/compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ef {
namespace analysis_compare_test {

Tensor floats(Shape shape, std::vector<float> v) { return Tensor::from_vector(DType::kFloat32, std::move(shape), v); }

TEST(CompareTest, ExactMatchIsInfiniteSqnr) {
  Tensor a = floats({2, 2}, {1, -2, 3, 4});
  TensorDiff d = compare_tensors(a, a.clone());
  EXPECT_EQ(d.elements, 4);
  EXPECT_TRUE(std::isinf(d.sqnr_db) && d.sqnr_db > 0);
  EXPECT_DOUBLE_EQ(d.cosine, 1.0);
  EXPECT_EQ(d.max_abs_error, 0);
  EXPECT_EQ(d.within_tolerance, 1.0);
  EXPECT_EQ(d.top1_rows, 2);
  EXPECT_EQ(d.top1_agree, 2);
}

TEST(CompareTest, KnownErrors) {
  Tensor ref = floats({4}, {3, 4, 0, 0});
  Tensor cand = floats({4}, {3, 4, 0.5f, 0});
  TensorDiff d = compare_tensors(ref, cand, 0.25);
  // signal 25, noise 0.25 -> 20 dB.
  EXPECT_NEAR(d.sqnr_db, 20.0, 1e-9);
  EXPECT_DOUBLE_EQ(d.max_abs_error, 0.5);
  EXPECT_DOUBLE_EQ(d.mean_abs_error, 0.125);
  EXPECT_DOUBLE_EQ(d.within_tolerance, 0.75);
  EXPECT_NEAR(d.cosine, 25.0 / (5.0 * std::sqrt(25.25)), 1e-12);
}

TEST(CompareTest, ZeroSignal) {
  Tensor zero = floats({3}, {0, 0, 0});
  EXPECT_TRUE(std::isinf(compare_tensors(zero, zero.clone()).sqnr_db));
  TensorDiff d = compare_tensors(zero, floats({3}, {0, 1, 0}));
  EXPECT_TRUE(std::isinf(d.sqnr_db) && d.sqnr_db < 0);
  EXPECT_EQ(d.cosine, 0);
  EXPECT_EQ(compare_tensors(zero, zero.clone()).cosine, 1);
}

TEST(CompareTest, WithinOneQuantizationStep) {
  const float step = 0.1f;
  // Dequantized values k * step: one step apart counts as within despite float rounding, two steps does not.
  Tensor ref = floats({3}, {37 * step, -5 * step, 120 * step});
  Tensor cand = floats({3}, {38 * step, -6 * step, 122 * step});
  EXPECT_NEAR(compare_tensors(ref, cand, step).within_tolerance, 2.0 / 3.0, 1e-12);
}

TEST(CompareTest, Top1PerRowOfLastAxis) {
  Tensor ref = floats({3, 3}, {0, 1, 2, 5, 1, 0, 1, 1, 0});
  Tensor cand = floats({3, 3}, {0, 3, 2, 9, 1, 0, 0.5f, 1, 0});
  TensorDiff d = compare_tensors(ref, cand);
  EXPECT_EQ(d.top1_rows, 3);
  EXPECT_EQ(d.top1_agree, 1);  // row 2: tie in ref resolves to the first index (0), cand picks 1
  EXPECT_EQ(argmax_last_axis(ref), (std::vector<int64_t>{2, 0, 0}));
}

TEST(CompareTest, NanHandling) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  TensorDiff d = compare_tensors(floats({3}, {nan, 1, nan}), floats({3}, {nan, 1, 2}));
  EXPECT_EQ(d.nan_mismatches, 1);
  EXPECT_NEAR(d.within_tolerance, 2.0 / 3.0, 1e-12);
  EXPECT_EQ(argmax_last_axis(floats({3}, {nan, 1, 0}))[0], 1);
}

TEST(CompareTest, AccumulatesOverSamples) {
  DiffAccumulator acc;
  acc.add(floats({2}, {3, 0}), floats({2}, {3, 1}));  // signal 9, noise 1
  acc.add(floats({2}, {0, 9}), floats({2}, {0, 9}));  // signal 81, noise 0
  TensorDiff d = acc.result();
  EXPECT_EQ(d.elements, 4);
  EXPECT_NEAR(d.sqnr_db, 10 * std::log10(90.0), 1e-9);
  EXPECT_EQ(d.top1_rows, 2);
  EXPECT_EQ(d.top1_agree, 2);  // one row per sample, argmax 0 then 1 on both sides
}

TEST(CompareTest, OtherDtypes) {
  Tensor a = Tensor::from_vector(DType::kInt8, {3}, std::vector<int8_t>{1, -2, 3});
  Tensor b = Tensor::from_vector(DType::kInt8, {3}, std::vector<int8_t>{1, -2, 4});
  TensorDiff d = compare_tensors(a, b, 1.0);
  EXPECT_EQ(d.max_abs_error, 1.0);
  EXPECT_EQ(d.within_tolerance, 1.0);
}

TEST(CompareTest, RejectsMismatchedShapes) {
  DiffAccumulator acc;
  try {
    acc.add(floats({2}, {1, 2}), floats({1, 2}, {1, 2}), "output 'y'");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("output 'y'"), std::string::npos);
  }
}

}  // namespace
}  // namespace ef
