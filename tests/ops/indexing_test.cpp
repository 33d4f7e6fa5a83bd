#include <cmath>

#include "core/dispatch.h"
#include "ops/op_test_util.h"

namespace ef::test {
namespace indexing_test {

Tensor i32(Shape shape, std::vector<int32_t> v) { return Tensor::from_vector(DType::kInt32, std::move(shape), v); }
Tensor boolean(Shape shape, std::vector<uint8_t> v) { return Tensor::from_vector(DType::kBool, std::move(shape), v); }
OpCall op(std::string type, int version, std::map<std::string, Attribute> attrs = {}) {
  return OpCall{std::move(type), version, std::move(attrs), ""};
}

// Runs the op expecting an ef::Error with `code` whose message names the test node.
void expect_error(const OpCall& call, const std::vector<Tensor>& inputs, ErrorCode code, size_t num_outputs = 1) {
  try {
    run_op(call, inputs, num_outputs);
    FAIL() << "expected an error from " << call.op_type;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find("test_" + call.op_type), std::string::npos) << e.what();
  }
}

TEST(IndexingGather, Axis0WithMatrixIndices) {
  auto out = run_op(op("Gather", 13), {f32({3, 2}, {1, 2, 3, 4, 5, 6}), i64({2, 2}, {0, 1, 1, 2})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 3, 4, 3, 4, 5, 6}));
}

TEST(IndexingGather, NegativeAxisAndNegativeIndices) {
  auto out = run_op(op("Gather", 11, {{"axis", attr_int(-1)}}),
                    {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i32({2}, {-1, 0})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 1, 6, 4}));
}

TEST(IndexingGather, ScalarIndexDropsTheAxisAndCopiesAnyDtype) {
  Tensor data = Tensor::from_vector<uint16_t>(DType::kFloat16, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = run_op(op("Gather", 1, {{"axis", attr_int(1)}}), {data, Tensor::scalar<int64_t>(DType::kInt64, 2)});
  EXPECT_EQ(out[0].shape(), (Shape{2}));
  EXPECT_EQ(values<uint16_t>(out[0]), (std::vector<uint16_t>{3, 6}));
}

TEST(IndexingGather, OutOfRangeIndexIsAnError) {
  expect_error(op("Gather", 13), {f32({3}, {1, 2, 3}), i64({1}, {3})}, ErrorCode::kInvalidArgument);
  expect_error(op("Gather", 13), {f32({3}, {1, 2, 3}), i64({1}, {-4})}, ErrorCode::kInvalidArgument);
  // Negative indices only count from the end since opset 11.
  expect_error(op("Gather", 1), {f32({3}, {1, 2, 3}), i64({1}, {-1})}, ErrorCode::kInvalidArgument);
}

TEST(IndexingGatherElements, SpecExamples) {
  auto a = run_op(op("GatherElements", 13, {{"axis", attr_int(1)}}),
                  {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 0, 1, 0})});
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{1, 1, 4, 3}));
  auto b = run_op(op("GatherElements", 11),
                  {f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), i32({2, 3}, {1, 2, 0, 2, 0, -3})});
  EXPECT_EQ(b[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(b[0]), (std::vector<float>{4, 8, 3, 7, 2, 3}));
  expect_error(op("GatherElements", 13), {f32({2, 2}, {1, 2, 3, 4}), i64({1, 2}, {0, 2})},
               ErrorCode::kInvalidArgument);
}

TEST(IndexingGatherND, SlicesAndBatchDims) {
  auto a = run_op(op("GatherND", 11), {f32({2, 2}, {0, 1, 2, 3}), i64({2, 1}, {1, 0})});
  EXPECT_EQ(a[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{2, 3, 0, 1}));
  auto b = run_op(op("GatherND", 12, {{"batch_dims", attr_int(1)}}),
                  {f32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}), i64({2, 1}, {1, 0})});
  EXPECT_EQ(b[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(b[0]), (std::vector<float>{2, 3, 4, 5}));
  auto c = run_op(op("GatherND", 13), {f32({2, 2}, {0, 1, 2, 3}), i64({2, 2}, {-1, -1, 0, 1})});
  EXPECT_EQ(values<float>(c[0]), (std::vector<float>{3, 1}));
  expect_error(op("GatherND", 13), {f32({2, 2}, {0, 1, 2, 3}), i64({1, 2}, {0, 2})}, ErrorCode::kInvalidArgument);
  expect_error(op("GatherND", 13), {f32({2, 2}, {0, 1, 2, 3}), i64({1, 3}, {0, 0, 0})}, ErrorCode::kInvalidModel);
}

TEST(IndexingScatter, ElementsSpecExampleAndNegativeAxis) {
  auto a = run_op(op("ScatterElements", 11),
                  {f32({3, 3}, std::vector<float>(9, 0)), i64({2, 3}, {1, 0, 2, 0, 2, 1}),
                   f32({2, 3}, {1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f})});
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{2.0f, 1.1f, 0, 1.0f, 0, 2.2f, 0, 2.1f, 1.2f}));
  auto b = run_op(op("Scatter", 9, {{"axis", attr_int(-1)}}),
                  {f32({1, 5}, {1, 2, 3, 4, 5}), i64({1, 2}, {1, 3}), f32({1, 2}, {1.1f, 2.1f})});
  EXPECT_EQ(values<float>(b[0]), (std::vector<float>{1, 1.1f, 3, 2.1f, 5}));
}

TEST(IndexingScatter, ElementsReductionWithDuplicates) {
  auto add = run_op(op("ScatterElements", 16, {{"axis", attr_int(1)}, {"reduction", attr_string("add")}}),
                    {i64({1, 3}, {1, 2, 3}), i64({1, 3}, {1, 1, -1}), i64({1, 3}, {10, 20, 30})});
  EXPECT_EQ(values<int64_t>(add[0]), (std::vector<int64_t>{1, 32, 33}));
  auto mul = run_op(op("ScatterElements", 16, {{"reduction", attr_string("mul")}}),
                    {f32({2}, {2, 3}), i64({3}, {0, 0, 1}), f32({3}, {4, 5, 6})});
  EXPECT_EQ(values<float>(mul[0]), (std::vector<float>{40, 18}));
  expect_error(op("ScatterElements", 16), {f32({2}, {1, 2}), i64({1}, {2}), f32({1}, {1})},
               ErrorCode::kInvalidArgument);
  expect_error(op("Scatter", 9), {f32({2}, {1, 2}), i64({1}, {-1}), f32({1}, {1})}, ErrorCode::kInvalidArgument);
}

TEST(IndexingScatter, NDSlicesAndReductions) {
  auto a = run_op(op("ScatterND", 11), {f32({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), i64({2, 1}, {0, -1}),
                                        f32({2, 2}, {10, 20, 30, 40})});
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{10, 20, 3, 4, 5, 6, 30, 40}));
  auto add = run_op(op("ScatterND", 16, {{"reduction", attr_string("add")}}),
                    {f32({4}, {1, 2, 3, 4}), i64({3, 1}, {1, 1, 3}), f32({3}, {10, 20, 30})});
  EXPECT_EQ(values<float>(add[0]), (std::vector<float>{1, 32, 3, 34}));
  auto mul = run_op(op("ScatterND", 16, {{"reduction", attr_string("mul")}}),
                    {i32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 1, 0, 1}), i32({2}, {5, 6})});
  EXPECT_EQ(values<int32_t>(mul[0]), (std::vector<int32_t>{1, 60, 3, 4}));
  expect_error(op("ScatterND", 13), {f32({4}, {1, 2, 3, 4}), i64({1, 1}, {4}), f32({1}, {0})},
               ErrorCode::kInvalidArgument);
  expect_error(op("ScatterND", 13), {f32({4}, {1, 2, 3, 4}), i64({1, 1}, {0}), f32({2}, {0, 0})},
               ErrorCode::kInvalidArgument);
}

TEST(IndexingOneHot, AxesNegativeIndicesAndOutOfRange) {
  Tensor vals = f32({2}, {0, 5});
  auto a = run_op(op("OneHot", 11), {i64({3}, {0, 2, -1}), Tensor::scalar<float>(DType::kFloat32, 3.0f), vals});
  EXPECT_EQ(a[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{5, 0, 0, 0, 0, 5, 0, 0, 5}));
  auto b = run_op(op("OneHot", 11, {{"axis", attr_int(0)}}), {f32({2}, {1.9f, 7}), i64({1}, {3}), vals});
  EXPECT_EQ(b[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>(b[0]), (std::vector<float>{0, 0, 5, 0, 0, 0}));
  // Opset 9 has no negative wraparound: the row stays all off.
  auto c = run_op(op("OneHot", 9), {i64({2}, {-1, 1}), i64({1}, {2}), i64({2}, {-1, 1})});
  EXPECT_EQ(values<int64_t>(c[0]), (std::vector<int64_t>{-1, -1, -1, 1}));
  expect_error(op("OneHot", 11), {i64({1}, {0}), i64({1}, {2}), f32({3}, {0, 1, 2})}, ErrorCode::kInvalidArgument);
}

TEST(IndexingNonZero, MatrixAndScalar) {
  auto a = run_op(op("NonZero", 13), {f32({2, 3}, {0, 1, 0, -2, 0, NAN})});
  EXPECT_EQ(a[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(a[0]), (std::vector<int64_t>{0, 1, 1, 1, 0, 2}));
  auto b = run_op(op("NonZero", 9), {Tensor::scalar<uint8_t>(DType::kBool, 1)});
  EXPECT_EQ(b[0].shape(), (Shape{0, 1}));
}

TEST(IndexingCompress, AxisFlattenAndShortCondition) {
  Tensor x = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  auto a = run_op(op("Compress", 11, {{"axis", attr_int(0)}}), {x, boolean({2}, {0, 1})});
  EXPECT_EQ(a[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{3, 4}));
  auto b = run_op(op("Compress", 9, {{"axis", attr_int(-1)}}), {x, boolean({2}, {0, 1})});
  EXPECT_EQ(b[0].shape(), (Shape{3, 1}));
  EXPECT_EQ(values<float>(b[0]), (std::vector<float>{2, 4, 6}));
  auto c = run_op(op("Compress", 11), {x, boolean({5}, {0, 1, 1, 0, 1})});
  EXPECT_EQ(values<float>(c[0]), (std::vector<float>{2, 3, 5}));
  expect_error(op("Compress", 11, {{"axis", attr_int(0)}}), {x, boolean({4}, {0, 0, 0, 1})},
               ErrorCode::kInvalidArgument);
}

TEST(IndexingUnique, UnsortedFlat) {
  auto out = run_op(op("Unique", 11, {{"sorted", attr_int(0)}}), {i64({6}, {2, 1, 1, 3, 4, 3})}, 4);
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{2, 1, 3, 4}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(values<int64_t>(out[2]), (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
  EXPECT_EQ(values<int64_t>(out[3]), (std::vector<int64_t>{1, 2, 2, 1}));
}

TEST(IndexingUnique, SortedFlatAndAlongAxis) {
  auto a = run_op(op("Unique", 11), {f32({2, 2}, {1, 3, 2, 3})}, 4);
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(values<int64_t>(a[1]), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(values<int64_t>(a[2]), (std::vector<int64_t>{0, 2, 1, 2}));
  EXPECT_EQ(values<int64_t>(a[3]), (std::vector<int64_t>{1, 1, 2}));
  auto b = run_op(op("Unique", 11, {{"axis", attr_int(1)}}), {f32({2, 3}, {2, 1, 2, 0, 5, 0})}, 4);
  EXPECT_EQ(b[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(b[0]), (std::vector<float>{1, 2, 5, 0}));
  EXPECT_EQ(values<int64_t>(b[1]), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(values<int64_t>(b[2]), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(values<int64_t>(b[3]), (std::vector<int64_t>{1, 2}));
}

TEST(IndexingReverseSequence, TimeAndBatchMajor) {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i);
  auto a = run_op(op("ReverseSequence", 10, {{"time_axis", attr_int(0)}, {"batch_axis", attr_int(1)}}),
                  {f32({4, 4}, {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15}), i64({4}, {4, 3, 2, 1})});
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{3, 6, 9, 12, 2, 5, 8, 13, 1, 4, 10, 14, 0, 7, 11, 15}));
  auto b = run_op(op("ReverseSequence", 10, {{"time_axis", attr_int(1)}, {"batch_axis", attr_int(0)}}),
                  {f32({4, 4}, x), i64({4}, {1, 2, 3, 4})});
  EXPECT_EQ(values<float>(b[0]), (std::vector<float>{0, 1, 2, 3, 5, 4, 6, 7, 10, 9, 8, 11, 15, 14, 13, 12}));
  expect_error(op("ReverseSequence", 10), {f32({2, 2}, {0, 1, 2, 3}), i64({2}, {3, 1})}, ErrorCode::kInvalidArgument);
}

TEST(IndexingTopK, LargestWithTiesAndAttributeK) {
  auto a = run_op(op("TopK", 1, {{"k", attr_int(2)}}), {f32({2, 3}, {1, 3, 3, 5, 4, 6})}, 2);
  EXPECT_EQ(a[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{3, 3, 6, 5}));
  EXPECT_EQ(values<int64_t>(a[1]), (std::vector<int64_t>{1, 2, 2, 0}));
}

TEST(IndexingTopK, SmallestAlongAxis0WithNaN) {
  auto a = run_op(op("TopK", 11, {{"axis", attr_int(0)}, {"largest", attr_int(0)}}),
                  {f32({3, 2}, {NAN, 2, 1, 2, 0, 1}), i64({1}, {2})}, 2);
  EXPECT_EQ(a[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{0, 1, 1, 2}));
  EXPECT_EQ(values<int64_t>(a[1]), (std::vector<int64_t>{2, 2, 1, 0}));
  auto b = run_op(op("TopK", 10), {f32({3}, {1, NAN, 2}), i64({1}, {1})}, 2);
  EXPECT_TRUE(std::isnan(values<float>(b[0])[0]));
  EXPECT_EQ(values<int64_t>(b[1]), (std::vector<int64_t>{1}));
  expect_error(op("TopK", 11), {f32({3}, {1, 2, 3}), i64({1}, {4})}, ErrorCode::kInvalidArgument, 2);
}

TEST(IndexingArgMax, KeepdimsAndSelectLastIndex) {
  Tensor x = f32({2, 3}, {1, 5, 5, 7, 0, 7});
  auto a = run_op(op("ArgMax", 13, {{"axis", attr_int(1)}}), {x});
  EXPECT_EQ(a[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values<int64_t>(a[0]), (std::vector<int64_t>{1, 0}));
  auto b = run_op(
      op("ArgMax", 12, {{"axis", attr_int(-1)}, {"keepdims", attr_int(0)}, {"select_last_index", attr_int(1)}}), {x});
  EXPECT_EQ(b[0].shape(), (Shape{2}));
  EXPECT_EQ(values<int64_t>(b[0]), (std::vector<int64_t>{2, 2}));
  auto c = run_op(op("ArgMin", 1), {x});
  EXPECT_EQ(c[0].shape(), (Shape{1, 3}));
  EXPECT_EQ(values<int64_t>(c[0]), (std::vector<int64_t>{0, 1, 0}));
  auto d = run_op(op("ArgMin", 13, {{"keepdims", attr_int(0)}}), {f32({3}, {2, NAN, 1})});
  EXPECT_EQ(values<int64_t>(d[0]), (std::vector<int64_t>{1}));
  expect_error(op("ArgMax", 13, {{"axis", attr_int(2)}}), {x}, ErrorCode::kInvalidModel);
}

TEST(IndexingCumSum, ExclusiveReverseAndAxes) {
  Tensor x = f32({3}, {1, 2, 3});
  Tensor axis0 = Tensor::scalar<int32_t>(DType::kInt32, 0);
  EXPECT_EQ(values<float>(run_op(op("CumSum", 14), {x, axis0})[0]), (std::vector<float>{1, 3, 6}));
  EXPECT_EQ(values<float>(run_op(op("CumSum", 14, {{"exclusive", attr_int(1)}}), {x, axis0})[0]),
            (std::vector<float>{0, 1, 3}));
  EXPECT_EQ(values<float>(run_op(op("CumSum", 11, {{"reverse", attr_int(1)}}), {x, axis0})[0]),
            (std::vector<float>{6, 5, 3}));
  EXPECT_EQ(values<float>(run_op(op("CumSum", 11, {{"reverse", attr_int(1)}, {"exclusive", attr_int(1)}}),
                                 {x, axis0})[0]),
            (std::vector<float>{5, 3, 0}));
  auto m = run_op(op("CumSum", 14), {i32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({1}, {-1})});
  EXPECT_EQ(values<int32_t>(m[0]), (std::vector<int32_t>{1, 3, 6, 4, 9, 15}));
  expect_error(op("CumSum", 14), {x, i64({}, {1})}, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ef::test
