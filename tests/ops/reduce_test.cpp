#include <cmath>
#include <limits>

#include "core/dispatch.h"
#include "ops/op_test_util.h"

namespace ef::test {
namespace reduce_test {

const Tensor kMatrix = f32({2, 3}, {1, 2, 3, 4, 5, 6});

TEST(Reduce, SumOverAxesInputKeepsDims) {
  auto out = run_op({"ReduceSum", 13, {}}, {kMatrix, i64({1}, {1})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{6, 15}));
  auto dropped = run_op({"ReduceSum", 13, {{"keepdims", attr_int(0)}}}, {kMatrix, i64({1}, {-2})});
  EXPECT_EQ(dropped[0].shape(), (Shape{3}));
  EXPECT_EQ(values<float>(dropped[0]), (std::vector<float>{5, 7, 9}));
}

TEST(Reduce, SumWithoutAxesReducesAllUnlessNoop) {
  auto all = run_op({"ReduceSum", 13, {}}, {kMatrix});
  EXPECT_EQ(all[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(values<float>(all[0]), (std::vector<float>{21}));
  auto empty_axes = run_op({"ReduceSum", 13, {{"keepdims", attr_int(0)}}}, {kMatrix, i64({0}, {})});
  EXPECT_EQ(empty_axes[0].shape(), (Shape{}));
  EXPECT_EQ(values<float>(empty_axes[0]), (std::vector<float>{21}));
  auto noop = run_op({"ReduceSum", 13, {{"noop_with_empty_axes", attr_int(1)}, {"keepdims", attr_int(0)}}},
                     {kMatrix, i64({0}, {})});
  EXPECT_EQ(noop[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(noop[0]), values<float>(kMatrix));
}

TEST(Reduce, LegacyAttributeAxesOnRank3) {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  auto out = run_op({"ReduceSum", 1, {{"axes", attr_ints({2, 0})}, {"keepdims", attr_int(0)}}}, {f32({2, 3, 4}, v)});
  EXPECT_EQ(out[0].shape(), (Shape{3}));
  // Row j sums elements 4j..4j+3 and 12+4j..12+4j+3.
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{60, 92, 124}));
}

TEST(Reduce, MeanWithNegativeAxis) {
  auto out = run_op({"ReduceMean", 13, {{"axes", attr_ints({-1})}}}, {kMatrix});
  EXPECT_EQ(out[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 5}));
}

TEST(Reduce, IntegerMeanTruncatesAndSumWraps) {
  Tensor x = Tensor::from_vector<int32_t>(DType::kInt32, {2, 2}, {-7, 0, 2147483647, 1});
  auto mean = run_op({"ReduceMean", 13, {{"axes", attr_ints({1})}, {"keepdims", attr_int(0)}}}, {x});
  EXPECT_EQ(values<int32_t>(mean[0]), (std::vector<int32_t>{-3, 1073741824}));
  auto sum = run_op({"ReduceSum", 11, {{"axes", attr_ints({1})}, {"keepdims", attr_int(0)}}}, {x});
  EXPECT_EQ(values<int32_t>(sum[0]), (std::vector<int32_t>{-7, std::numeric_limits<int32_t>::min()}));
}

TEST(Reduce, Int64MaxMinAreExact) {
  // Values above 2^53 would collide if compared through double.
  int64_t big = (int64_t{1} << 60) + 1;
  auto mx = run_op({"ReduceMax", 13, {{"keepdims", attr_int(0)}}}, {i64({3}, {big - 1, big, -5})});
  EXPECT_EQ(values<int64_t>(mx[0]), (std::vector<int64_t>{big}));
  auto mn = run_op({"ReduceMin", 13, {{"keepdims", attr_int(0)}}}, {i64({3}, {big - 1, big, -5})});
  EXPECT_EQ(values<int64_t>(mn[0]), (std::vector<int64_t>{-5}));
}

TEST(Reduce, MaxMinPropagateNaNAndHandleInt8) {
  auto mx = run_op({"ReduceMax", 13, {{"axes", attr_ints({1})}}}, {f32({2, 2}, {1, NAN, -3, -2})});
  auto v = values<float>(mx[0]);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], -2);
  Tensor i8 = Tensor::from_vector<int8_t>(DType::kInt8, {4}, {-128, 5, 127, -1});
  auto mn = run_op({"ReduceMin", 12, {}}, {i8});
  EXPECT_EQ(mn[0].dtype(), DType::kInt8);
  EXPECT_EQ(values<int8_t>(mn[0]), (std::vector<int8_t>{-128}));
}

TEST(Reduce, EmptyReductionsGiveIdentities) {
  Tensor empty = f32({2, 0}, {});
  auto attrs = std::map<std::string, Attribute>{{"axes", attr_ints({1})}, {"keepdims", attr_int(0)}};
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(values<float>(run_op({"ReduceMax", 13, attrs}, {empty})[0]), (std::vector<float>{-inf, -inf}));
  EXPECT_EQ(values<float>(run_op({"ReduceMin", 13, attrs}, {empty})[0]), (std::vector<float>{inf, inf}));
  EXPECT_EQ(values<float>(run_op({"ReduceProd", 13, attrs}, {empty})[0]), (std::vector<float>{1, 1}));
  EXPECT_EQ(values<float>(run_op({"ReduceSumSquare", 13, attrs}, {empty})[0]), (std::vector<float>{0, 0}));
  EXPECT_EQ(values<float>(run_op({"ReduceLogSumExp", 13, attrs}, {empty})[0]), (std::vector<float>{-inf, -inf}));
  EXPECT_EQ(values<float>(run_op({"ReduceLogSum", 13, attrs}, {empty})[0]), (std::vector<float>{-inf, -inf}));
  EXPECT_TRUE(std::isnan(values<float>(run_op({"ReduceMean", 13, attrs}, {empty})[0])[0]));
  // Reducing a non-empty axis of an empty tensor gives an empty result.
  auto none = run_op({"ReduceSum", 13, {}}, {empty, i64({1}, {0})});
  EXPECT_EQ(none[0].shape(), (Shape{1, 0}));
}

TEST(Reduce, NormsAndLogarithms) {
  Tensor x = f32({4}, {1, -2, 3, -4});
  auto kd0 = std::map<std::string, Attribute>{{"keepdims", attr_int(0)}};
  EXPECT_EQ(values<float>(run_op({"ReduceL1", 13, kd0}, {x})[0]), (std::vector<float>{10}));
  EXPECT_FLOAT_EQ(values<float>(run_op({"ReduceL2", 13, kd0}, {x})[0])[0], 5.4772256f);
  EXPECT_EQ(values<float>(run_op({"ReduceSumSquare", 13, kd0}, {x})[0]), (std::vector<float>{30}));
  EXPECT_EQ(values<float>(run_op({"ReduceProd", 13, kd0}, {x})[0]), (std::vector<float>{24}));
  EXPECT_FLOAT_EQ(values<float>(run_op({"ReduceLogSum", 13, kd0}, {f32({4}, {1, 2, 3, 4})})[0])[0], 2.3025851f);
  EXPECT_FLOAT_EQ(values<float>(run_op({"ReduceLogSumExp", 13, kd0}, {f32({3}, {1, 2, 3})})[0])[0], 3.4076059f);
}

TEST(Reduce, LogSumExpIsStableForLargeInputs) {
  auto out = run_op({"ReduceLogSumExp", 13, {{"axes", attr_ints({1})}}}, {f32({2, 2}, {1000, 1000, -1000, -1000})});
  auto v = values<float>(out[0]);
  EXPECT_FLOAT_EQ(v[0], 1000 + std::log(2.0f));
  EXPECT_FLOAT_EQ(v[1], -1000 + std::log(2.0f));
}

TEST(Reduce, IntegerProductAndL1) {
  Tensor x = Tensor::from_vector<int32_t>(DType::kInt32, {2, 2}, {-3, 4, 5, -6});
  auto prod = run_op({"ReduceProd", 13, {{"axes", attr_ints({0})}}}, {x});
  EXPECT_EQ(values<int32_t>(prod[0]), (std::vector<int32_t>{-15, -24}));
  auto l1 = run_op({"ReduceL1", 13, {{"axes", attr_ints({0})}}}, {x});
  EXPECT_EQ(values<int32_t>(l1[0]), (std::vector<int32_t>{8, 10}));
  auto l2 = run_op({"ReduceL2", 13, {{"axes", attr_ints({1})}, {"keepdims", attr_int(0)}}}, {x});
  EXPECT_EQ(values<int32_t>(l2[0]), (std::vector<int32_t>{5, 7}));  // sqrt(61) = 7.81 truncates
}

TEST(Reduce, Float16AccumulatesWide) {
  // 2048 + 1 + 1 in float16 steps would stick at 2048; accumulating in double gives 2050 exactly.
  std::vector<Float16> v = {Float16(2048.0f), Float16(1.0f), Float16(1.0f)};
  Tensor x = Tensor::from_vector(DType::kFloat16, {3}, v);
  auto out = run_op({"ReduceSum", 13, {{"keepdims", attr_int(0)}}}, {x});
  EXPECT_EQ(out[0].dtype(), DType::kFloat16);
  EXPECT_EQ(static_cast<float>(out[0].data<Float16>()[0]), 2050.0f);
}

TEST(Reduce, ScalarInputReducesToItself) {
  auto out = run_op({"ReduceL2", 13, {}}, {f32({}, {-3})});
  EXPECT_EQ(out[0].shape(), (Shape{}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3}));
}

// Planning-time inference: symbolic dims survive on kept axes; unknown axes values still give the rank.
TEST(Reduce, InferenceKeepsSymbolicDims) {
  Node node;
  node.name = "r";
  node.op_type = "ReduceSum";
  node.version = 13;
  node.inputs = {0, 1};
  node.outputs = {2};
  node.attrs["keepdims"] = attr_int(0);
  const OpDef& def = OpRegistry::global().resolve(node);
  ValueType x{DType::kFloat32, Dims{Dim::symbol("batch"), Dim(3), Dim(4)}};
  ValueType axes{DType::kInt64, Dims{Dim(1)}};
  Tensor axes_value = i64({1}, {-1});
  std::vector<Tensor> known;
  auto types = infer_node(def, node, {&x, &axes}, {nullptr, &axes_value}, known);
  ASSERT_TRUE(types[0].has_rank());
  EXPECT_EQ(*types[0].dims, (Dims{Dim::symbol("batch"), Dim(3)}));
  auto unknown_axes = infer_node(def, node, {&x, &axes}, {nullptr, nullptr}, known);
  ASSERT_TRUE(unknown_axes[0].has_rank());
  EXPECT_EQ(unknown_axes[0].rank(), 2u);
  EXPECT_FALSE((*unknown_axes[0].dims)[0].known());
}

TEST(Reduce, BadAxesAreRejected) {
  EXPECT_THROW(run_op({"ReduceMax", 13, {{"axes", attr_ints({2})}}}, {kMatrix}), Error);
  EXPECT_THROW(run_op({"ReduceMean", 13, {{"axes", attr_ints({1, -1})}}}, {kMatrix}), Error);
  EXPECT_THROW(run_op({"ReduceSum", 13, {}}, {kMatrix, f32({1}, {0})}), Error);
  Tensor b = Tensor::from_vector<uint8_t>(DType::kBool, {2}, {1, 0});
  EXPECT_THROW(run_op({"ReduceSum", 13, {}}, {b}), Error);
}

}  // namespace
}  // namespace ef::test
