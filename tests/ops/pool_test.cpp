// Pooling ops on small hand-checked cases.
#include <cmath>

#include "core/dispatch.h"

#include "ops/op_test_util.h"

namespace ef::test {
namespace ops_pool_test {

std::vector<float> iota(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return v;
}

Attribute k(std::vector<int64_t> v) { return attr_ints(std::move(v)); }

TEST(MaxPool, StridedWindowsWithIndices) {
  auto out = run_op({"MaxPool", 12, {{"kernel_shape", k({2, 2})}, {"strides", k({2, 2})}}},
                    {f32({1, 1, 4, 4}, iota(16))}, 2);
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{5, 7, 13, 15}));
  EXPECT_EQ(out[1].dtype(), DType::kInt64);
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{5, 7, 13, 15}));
}

TEST(MaxPool, ColumnMajorIndices) {
  auto out = run_op({"MaxPool", 8, {{"kernel_shape", k({2, 2})}, {"strides", k({2, 2})}, {"storage_order", attr_int(1)}}},
                    {f32({1, 1, 4, 4}, iota(16))}, 2);
  // (row, col) of each maximum -> col * 4 + row.
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{5, 13, 7, 15}));
}

TEST(MaxPool, IndicesIncludeBatchAndChannelOffset) {
  auto out = run_op({"MaxPool", 12, {{"kernel_shape", k({2})}}}, {f32({1, 2, 2}, {1, 3, 4, 2})}, 2);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 4}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{1, 2}));
}

TEST(MaxPool, CeilModeKeepsPartialWindowButNotOneStartingInPadding) {
  auto partial = run_op({"MaxPool", 10, {{"kernel_shape", k({2})}, {"strides", k({2})}, {"ceil_mode", attr_int(1)}}},
                        {f32({1, 1, 5}, {1, 2, 3, 4, 5})});
  EXPECT_EQ(values<float>(partial[0]), (std::vector<float>{2, 4, 5}));
  // ceil((4 + 1 - 2) / 2) + 1 = 3 windows, but the third would start at position 4, in the end padding.
  auto dropped = run_op({"MaxPool", 10,
                         {{"kernel_shape", k({2})}, {"strides", k({2})}, {"pads", k({0, 1})}, {"ceil_mode", attr_int(1)}}},
                        {f32({1, 1, 4}, {1, 2, 3, 4})});
  EXPECT_EQ(values<float>(dropped[0]), (std::vector<float>{2, 4}));
}

TEST(MaxPool, DilationAndPaddingNeverWins) {
  auto dil = run_op({"MaxPool", 10, {{"kernel_shape", k({2})}, {"dilations", k({2})}}},
                    {f32({1, 1, 5}, {1, 5, 2, 4, 3})});
  EXPECT_EQ(values<float>(dil[0]), (std::vector<float>{2, 5, 3}));
  auto pad = run_op({"MaxPool", 1, {{"kernel_shape", k({3})}, {"pads", k({1, 1})}}}, {f32({1, 1, 3}, {-1, -2, -3})});
  EXPECT_EQ(values<float>(pad[0]), (std::vector<float>{-1, -1, -2}));
}

TEST(MaxPool, SameLowerPadsAtTheBeginning) {
  auto out = run_op({"MaxPool", 11, {{"kernel_shape", k({2})}, {"auto_pad", attr_string("SAME_LOWER")}}},
                    {f32({1, 1, 3}, {-1, -2, -3})}, 2);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{-1, -1, -2}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{0, 0, 1}));
}

TEST(MaxPool, IntegerFloat16AndNaN) {
  auto i8 = run_op({"MaxPool", 12, {{"kernel_shape", k({2})}, {"strides", k({2})}}},
                   {Tensor::from_vector<int8_t>(DType::kInt8, {1, 1, 4}, {-5, -3, -7, 2})});
  EXPECT_EQ(values<int8_t>(i8[0]), (std::vector<int8_t>{-3, 2}));
  auto u8 = run_op({"MaxPool", 12, {{"kernel_shape", k({2})}, {"strides", k({2})}}},
                   {Tensor::from_vector<uint8_t>(DType::kUInt8, {1, 1, 4}, {200, 10, 255, 0})});
  EXPECT_EQ(values<uint8_t>(u8[0]), (std::vector<uint8_t>{200, 255}));
  auto h = run_op({"MaxPool", 12, {{"kernel_shape", k({2})}}},
                  {Tensor::from_vector(DType::kFloat16, {1, 1, 3}, std::vector<Float16>{Float16(1), Float16(2.5f), Float16(-3)})});
  EXPECT_EQ(static_cast<float>(h[0].data<Float16>()[0]), 2.5f);
  EXPECT_EQ(static_cast<float>(h[0].data<Float16>()[1]), 2.5f);
  auto nan = run_op({"MaxPool", 12, {{"kernel_shape", k({2})}}}, {f32({1, 1, 3}, {1, NAN, 3})});
  EXPECT_TRUE(std::isnan(values<float>(nan[0])[0]));
  EXPECT_TRUE(std::isnan(values<float>(nan[0])[1]));
}

TEST(MaxPool, ThreeDimensional) {
  auto out = run_op({"MaxPool", 12, {{"kernel_shape", k({2, 2, 2})}}}, {f32({1, 1, 2, 2, 3}, iota(12))}, 2);
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 1, 1, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{10, 11}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{10, 11}));
}

TEST(MaxPool, RejectsBadModels) {
  Tensor x = f32({1, 1, 4}, {1, 2, 3, 4});
  EXPECT_THROW(run_op({"MaxPool", 12, {}}, {x}), Error);                                   // no kernel_shape
  EXPECT_THROW(run_op({"MaxPool", 12, {{"kernel_shape", k({2, 2})}}}, {x}), Error);        // rank mismatch
  EXPECT_THROW(run_op({"MaxPool", 12, {{"kernel_shape", k({5})}}}, {x}), Error);           // window too large
  EXPECT_THROW(run_op({"MaxPool", 12, {{"kernel_shape", k({2})}, {"pads", k({1})}}}, {x}), Error);
  EXPECT_THROW(run_op({"MaxPool", 12, {{"kernel_shape", k({2})}, {"storage_order", attr_int(2)}}}, {x}), Error);
  EXPECT_THROW(run_op({"MaxPool", 12, {{"kernel_shape", k({2})}}}, {i64({1, 1, 2}, {1, 2})}), Error);
}

TEST(AveragePool, CountIncludePad) {
  Tensor x = f32({1, 1, 3}, {1, 2, 3});
  auto excl = run_op({"AveragePool", 11, {{"kernel_shape", k({3})}, {"pads", k({1, 1})}}}, {x});
  EXPECT_EQ(values<float>(excl[0]), (std::vector<float>{1.5f, 2, 2.5f}));
  auto incl = run_op({"AveragePool", 7, {{"kernel_shape", k({3})}, {"pads", k({1, 1})}, {"count_include_pad", attr_int(1)}}},
                     {x});
  auto v = values<float>(incl[0]);
  EXPECT_FLOAT_EQ(v[0], 1);
  EXPECT_FLOAT_EQ(v[1], 2);
  EXPECT_FLOAT_EQ(v[2], 5.0f / 3.0f);
}

TEST(AveragePool, CeilModeWindowPastThePaddedEnd) {
  // Windows start at -1, 1, 3, 5; the last covers input 5 (value 6), end pad 6 and position 7 beyond all padding.
  Tensor x = f32({1, 1, 6}, {1, 2, 3, 4, 5, 6});
  std::map<std::string, Attribute> attrs{
      {"kernel_shape", k({3})}, {"strides", k({2})}, {"pads", k({1, 1})}, {"ceil_mode", attr_int(1)}};
  auto excl = run_op({"AveragePool", 10, attrs}, {x});
  EXPECT_EQ(values<float>(excl[0]), (std::vector<float>{1.5f, 3, 5, 6}));
  attrs["count_include_pad"] = attr_int(1);
  auto incl = run_op({"AveragePool", 11, attrs}, {x});
  EXPECT_EQ(values<float>(incl[0]), (std::vector<float>{1, 3, 5, 3}));
}

TEST(AveragePool, SameUpperAndLowerExcludePadding) {
  Tensor x = f32({1, 1, 4}, {1, 2, 3, 4});
  auto upper = run_op({"AveragePool", 11, {{"kernel_shape", k({2})}, {"auto_pad", attr_string("SAME_UPPER")}}}, {x});
  EXPECT_EQ(values<float>(upper[0]), (std::vector<float>{1.5f, 2.5f, 3.5f, 4}));
  auto lower = run_op({"AveragePool", 11, {{"kernel_shape", k({2})}, {"auto_pad", attr_string("SAME_LOWER")}}}, {x});
  EXPECT_EQ(values<float>(lower[0]), (std::vector<float>{1, 1.5f, 2.5f, 3.5f}));
}

TEST(AveragePool, TwoDimensionalOddSizeAndFloat64) {
  auto out = run_op({"AveragePool", 1, {{"kernel_shape", k({2, 2})}, {"strides", k({2, 2})}}},
                    {f32({1, 1, 3, 3}, iota(9))});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 1, 1}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2}));
  auto d = run_op({"AveragePool", 11, {{"kernel_shape", k({2})}}},
                  {Tensor::from_vector(DType::kFloat64, {1, 1, 2}, std::vector<double>{0.1, 0.2})});
  EXPECT_DOUBLE_EQ(values<double>(d[0])[0], 0.15);
  EXPECT_THROW(run_op({"AveragePool", 11, {{"kernel_shape", k({2})}}},
                      {Tensor::from_vector<int8_t>(DType::kInt8, {1, 1, 2}, {1, 2})}),
               Error);
}

TEST(LpPool, IntAndLegacyFloatP) {
  auto p2 = run_op({"LpPool", 11, {{"kernel_shape", k({2})}}}, {f32({1, 1, 2}, {3, 4})});
  EXPECT_FLOAT_EQ(values<float>(p2[0])[0], 5);
  auto p1 = run_op({"LpPool", 1, {{"kernel_shape", k({2})}, {"p", attr_float(1)}}}, {f32({1, 1, 2}, {-3, 4})});
  EXPECT_FLOAT_EQ(values<float>(p1[0])[0], 7);
  auto p3 = run_op({"LpPool", 2, {{"kernel_shape", k({2})}, {"p", attr_int(3)}, {"pads", k({1, 0})}}},
                   {f32({1, 1, 2}, {-2, 1})});
  auto v = values<float>(p3[0]);
  EXPECT_FLOAT_EQ(v[0], 2);                     // padding contributes 0
  EXPECT_FLOAT_EQ(v[1], std::cbrt(9.0f));
  EXPECT_THROW(run_op({"LpPool", 2, {{"kernel_shape", k({2})}, {"p", attr_int(0)}}}, {f32({1, 1, 2}, {1, 2})}), Error);
}

TEST(GlobalPool, AverageMaxAndLp) {
  Tensor x = f32({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto avg = run_op({"GlobalAveragePool", 1, {}}, {x});
  EXPECT_EQ(avg[0].shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(values<float>(avg[0]), (std::vector<float>{2.5f, 6.5f}));
  auto mx = run_op({"GlobalMaxPool", 1, {}}, {x});
  EXPECT_EQ(values<float>(mx[0]), (std::vector<float>{4, 8}));
  auto lp = run_op({"GlobalLpPool", 2, {}}, {x});
  EXPECT_FLOAT_EQ(values<float>(lp[0])[0], std::sqrt(30.0f));
  EXPECT_FLOAT_EQ(values<float>(lp[0])[1], std::sqrt(174.0f));
  auto lp1 = run_op({"GlobalLpPool", 1, {{"p", attr_float(1)}}}, {f32({1, 1, 3}, {-1, 2, -3})});
  EXPECT_EQ(lp1[0].shape(), (Shape{1, 1, 1}));
  EXPECT_FLOAT_EQ(values<float>(lp1[0])[0], 6);
  EXPECT_THROW(run_op({"GlobalMaxPool", 1, {}}, {f32({4}, {1, 2, 3, 4})}), Error);
}

TEST(MaxUnpool, ScattersToIndices) {
  Tensor x = f32({1, 1, 2, 2}, {5, 6, 7, 8});
  Tensor idx = i64({1, 1, 2, 2}, {5, 7, 13, 15});
  auto out = run_op({"MaxUnpool", 11, {{"kernel_shape", k({2, 2})}, {"strides", k({2, 2})}}}, {x, idx});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 7, 0, 8}));
}

TEST(MaxUnpool, OutputShapeEmbedsTheUnpooledTensorAtTheOrigin) {
  Tensor x = f32({1, 1, 2, 2}, {5, 6, 7, 8});
  Tensor idx = i64({1, 1, 2, 2}, {5, 7, 13, 15});
  auto out = run_op({"MaxUnpool", 9, {{"kernel_shape", k({2, 2})}, {"strides", k({2, 2})}}},
                    {x, idx, i64({4}, {1, 1, 5, 5})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 5, 5}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7, 0, 8, 0,
                                                       0, 0, 0, 0, 0}));
}

TEST(MaxUnpool, InvertsMaxPoolIndices) {
  Tensor x = f32({1, 2, 4}, {1, 9, 3, 2, 8, 0, 4, 6});
  auto pooled = run_op({"MaxPool", 12, {{"kernel_shape", k({2})}, {"strides", k({2})}}}, {x}, 2);
  auto out = run_op({"MaxUnpool", 11, {{"kernel_shape", k({2})}, {"strides", k({2})}}}, {pooled[0], pooled[1]});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 9, 3, 0, 8, 0, 0, 6}));
}

TEST(MaxUnpool, RejectsBadIndicesAndShapes) {
  Tensor x = f32({1, 1, 2}, {1, 2});
  std::map<std::string, Attribute> attrs{{"kernel_shape", k({2})}, {"strides", k({2})}};
  try {
    run_op({"MaxUnpool", 11, attrs}, {x, i64({1, 1, 2}, {0, 4})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_THROW(run_op({"MaxUnpool", 11, attrs}, {x, i64({1, 1, 2}, {0, 1}), i64({3}, {1, 1, 3})}), Error);
  EXPECT_THROW(run_op({"MaxUnpool", 11, attrs}, {x, i64({1, 1, 1}, {0})}), Error);
}

}  // namespace
}  // namespace ef::test
