#include <cmath>

#include "core/dispatch.h"
#include "kernels/reference/gemm.h"
#include "ops/op_test_util.h"

namespace ef::test {
namespace linalg_test {

Tensor f64(Shape shape, std::vector<double> v) { return Tensor::from_vector(DType::kFloat64, std::move(shape), v); }
Tensor i32(Shape shape, std::vector<int32_t> v) { return Tensor::from_vector(DType::kInt32, std::move(shape), v); }

void expect_error(ErrorCode code, const OpCall& call, const std::vector<Tensor>& inputs) {
  try {
    run_op(call, inputs);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find("test_" + call.op_type), std::string::npos) << e.what();
  }
}

TEST(LinalgGemmReference, HonoursLeadingDimsTransposesAndBeta) {
  // op(A) = [[1,2],[3,4]] stored [K, M] with lda 3 (the -9s are padding); op(B) = [[5,6],[7,8]] stored [N, K].
  std::vector<float> a = {1, 3, -9, 2, 4, -9};
  std::vector<float> b = {5, 7, 6, 8};
  std::vector<float> c = {1, 1, 99, 1, 1, 99};
  sgemm_reference(true, true, 2, 2, 2, 2.0f, a.data(), 3, b.data(), 2, 0.5f, c.data(), 3);
  EXPECT_EQ(c, (std::vector<float>{2 * 19 + 0.5f, 2 * 22 + 0.5f, 99, 2 * 43 + 0.5f, 2 * 50 + 0.5f, 99}));
  std::vector<float> nan_c = {NAN};
  float one = 3;
  sgemm_reference(false, false, 1, 1, 1, 1.0f, &one, 1, &one, 1, 0.0f, nan_c.data(), 1);
  EXPECT_EQ(nan_c[0], 9);  // beta 0: C is not read
}

TEST(LinalgGemmReference, IntegerGemmSubtractsPerRowAndPerColumnZeroPoints) {
  std::vector<uint8_t> a = {10, 20, 30, 40};  // [2,2]
  std::vector<int8_t> b = {-1, 2, 3, -4};     // [2,2]
  std::vector<int32_t> zp_a = {10, 20};
  std::vector<int32_t> zp_b = {1, -2};
  Int8Operand A{a.data(), false, 2, zp_a.data(), 1};
  Int8Operand B{b.data(), true, 2, zp_b.data(), 1};
  std::vector<int32_t> c(4);
  igemm_reference(2, 2, 2, A, B, c.data(), 2);
  // (a - [10;20]) = [[0,10],[10,20]]; (b - [1,-2]) = [[-2,4],[2,-2]]
  EXPECT_EQ(c, (std::vector<int32_t>{20, -20, 20, 0}));
}

TEST(LinalgMatMul, TwoByTwo) {
  auto out = run_op({"MatMul", 13, {}}, {f32({2, 2}, {1, 2, 3, 4}), f32({2, 2}, {5, 6, 7, 8})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{19, 22, 43, 50}));
}

TEST(LinalgMatMul, OneDimensionalOperandsDropTheirDim) {
  auto vm = run_op({"MatMul", 13, {}}, {f32({2}, {1, 2}), f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(vm[0].shape(), (Shape{3}));
  EXPECT_EQ(values<float>(vm[0]), (std::vector<float>{9, 12, 15}));
  auto mv = run_op({"MatMul", 9, {}}, {f32({2, 2}, {1, 2, 3, 4}), f32({2}, {1, 1})});
  EXPECT_EQ(mv[0].shape(), (Shape{2}));
  EXPECT_EQ(values<float>(mv[0]), (std::vector<float>{3, 7}));
  auto vv = run_op({"MatMul", 1, {}}, {f32({3}, {1, 2, 3}), f32({3}, {4, 5, 6})});
  EXPECT_EQ(vv[0].shape(), (Shape{}));
  EXPECT_EQ(values<float>(vv[0]), (std::vector<float>{32}));
  // batched matrix times a vector: [2,1,2] x [2] -> [2,1]
  auto bv = run_op({"MatMul", 13, {}}, {f32({2, 1, 2}, {1, 2, 3, 4}), f32({2}, {10, 1})});
  EXPECT_EQ(bv[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values<float>(bv[0]), (std::vector<float>{12, 34}));
}

TEST(LinalgMatMul, BatchDimsBroadcast) {
  // A [2,1,1,2] against B [3,2,1]: output [2,3,1,1]; out[i,j] = A[i] . B[j]
  auto out = run_op({"MatMul", 13, {}},
                    {f32({2, 1, 1, 2}, {1, 2, 3, 4}), f32({3, 2, 1}, {1, 0, 0, 1, 1, 1})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 3, 3, 4, 7}));
}

TEST(LinalgMatMul, IntegerHalfAndDoubleTypes) {
  auto i = run_op({"MatMul", 13, {}}, {i32({1, 2}, {-3, 4}), i32({2, 1}, {5, 6})});
  EXPECT_EQ(values<int32_t>(i[0]), (std::vector<int32_t>{9}));
  auto big = run_op({"MatMul", 13, {}}, {i64({1, 1}, {int64_t{1} << 40}), i64({1, 1}, {1 << 10})});
  EXPECT_EQ(values<int64_t>(big[0]), (std::vector<int64_t>{int64_t{1} << 50}));
  auto u = run_op({"MatMul", 13, {}}, {Tensor::from_vector<uint32_t>(DType::kUInt32, {1, 1}, {0x80000000u}),
                                       Tensor::from_vector<uint32_t>(DType::kUInt32, {1, 1}, {2})});
  EXPECT_EQ(values<uint32_t>(u[0]), (std::vector<uint32_t>{0}));  // wraps modulo 2^32
  std::vector<Float16> ha = {Float16(0.5f), Float16(1.5f)}, hb = {Float16(2.0f), Float16(-4.0f)};
  auto h = run_op({"MatMul", 13, {}}, {Tensor::from_vector(DType::kFloat16, {1, 2}, ha),
                                       Tensor::from_vector(DType::kFloat16, {2, 1}, hb)});
  EXPECT_EQ(h[0].dtype(), DType::kFloat16);
  EXPECT_EQ(static_cast<float>(h[0].data<Float16>()[0]), -5.0f);
  auto d = run_op({"MatMul", 13, {}}, {f64({1, 2}, {0.1, 0.2}), f64({2, 1}, {10, 10})});
  EXPECT_DOUBLE_EQ(d[0].data<double>()[0], 3.0);
}

TEST(LinalgMatMul, RejectsMismatchedInnerDims) {
  expect_error(ErrorCode::kInvalidModel, {"MatMul", 13, {}}, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2, 1}, {1, 2})});
  expect_error(ErrorCode::kInvalidModel, {"MatMul", 13, {}},
               {f32({2, 1, 1}, {1, 2}), f32({3, 1, 1}, {1, 2, 3})});  // batch 2 vs 3
}

TEST(LinalgGemm, TransposesScalesAndBroadcastsBias) {
  // A^T = [[1,2],[3,4]], B^T = [[1,0],[0,1]] -> A^T B^T = A^T
  auto out = run_op({"Gemm", 13, {{"transA", attr_int(1)}, {"transB", attr_int(1)}, {"alpha", attr_float(2)},
                                  {"beta", attr_float(0.5f)}}},
                    {f32({2, 2}, {1, 3, 2, 4}), f32({2, 2}, {1, 0, 0, 1}), f32({2}, {10, 20})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{7, 14, 11, 18}));
  auto col = run_op({"Gemm", 13, {}}, {f32({2, 1}, {1, 2}), f32({1, 3}, {1, 2, 3}), f32({2, 1}, {100, 200})});
  EXPECT_EQ(values<float>(col[0]), (std::vector<float>{101, 102, 103, 202, 204, 206}));
  auto scalar = run_op({"Gemm", 7, {}}, {f32({1, 1}, {2}), f32({1, 2}, {3, 4}), f32({}, {1})});
  EXPECT_EQ(values<float>(scalar[0]), (std::vector<float>{7, 9}));
}

TEST(LinalgGemm, OptionalBiasAndIntegerTypes) {
  auto out = run_op({"Gemm", 11, {}}, {f32({1, 2}, {1, 2}), f32({2, 1}, {3, 4})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{11}));
  auto i = run_op({"Gemm", 11, {{"beta", attr_float(2)}}}, {i64({1, 2}, {1, 2}), i64({2, 1}, {3, 4}), i64({1}, {5})});
  EXPECT_EQ(values<int64_t>(i[0]), (std::vector<int64_t>{21}));
}

TEST(LinalgGemm, LegacyBroadcastAttribute) {
  auto out = run_op({"Gemm", 6, {{"broadcast", attr_int(1)}}},
                    {f32({2, 1}, {1, 2}), f32({1, 2}, {1, 1}), f32({2}, {5, 6})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{6, 7, 7, 8}));
  // broadcast=0: C must already be [M, N]
  expect_error(ErrorCode::kInvalidModel, {"Gemm", 6, {}}, {f32({2, 1}, {1, 2}), f32({1, 2}, {1, 1}), f32({2}, {5, 6})});
  // before opset 11 C is required
  expect_error(ErrorCode::kInvalidModel, {"Gemm", 9, {}}, {f32({1, 1}, {1}), f32({1, 1}, {1})});
  expect_error(ErrorCode::kInvalidModel, {"Gemm", 13, {}},
               {f32({2, 2}, {1, 2, 3, 4}), f32({2, 2}, {1, 2, 3, 4}), f32({3}, {1, 2, 3})});
}

TEST(LinalgEinsum, TransposeSumInnerProductAndBatchMatMul) {
  auto t = run_op({"Einsum", 12, {{"equation", attr_string("ij->ji")}}}, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(t[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>(t[0]), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  auto s = run_op({"Einsum", 12, {{"equation", attr_string("ij->i")}}}, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(values<float>(s[0]), (std::vector<float>{6, 15}));
  auto dot = run_op({"Einsum", 12, {{"equation", attr_string("i,i")}}}, {f32({3}, {1, 2, 3}), f32({3}, {4, 5, 6})});
  EXPECT_EQ(dot[0].shape(), (Shape{}));
  EXPECT_EQ(values<float>(dot[0]), (std::vector<float>{32}));
  auto bmm = run_op({"Einsum", 12, {{"equation", attr_string("bij, bjk -> bik")}}},
                    {f32({2, 1, 2}, {1, 2, 3, 4}), f32({2, 2, 1}, {1, 1, 2, -1})});
  EXPECT_EQ(bmm[0].shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(values<float>(bmm[0]), (std::vector<float>{3, 2}));
}

TEST(LinalgEinsum, ImplicitOutputIsSortedSingletons) {
  // "kj,ji" -> implicit output "ik" (sorted), summing j: out[i,k] = sum_j A[k,j] B[j,i]
  auto out = run_op({"Einsum", 12, {{"equation", attr_string("kj,ji")}}},
                    {f32({1, 2}, {1, 2}), f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(out[0].shape(), (Shape{3, 1}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{9, 12, 15}));
  auto trace = run_op({"Einsum", 12, {{"equation", attr_string("ii")}}}, {f32({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(trace[0].shape(), (Shape{}));
  EXPECT_EQ(values<float>(trace[0]), (std::vector<float>{5}));
}

TEST(LinalgEinsum, EllipsisDiagonalAndBroadcast) {
  auto diag = run_op({"Einsum", 12, {{"equation", attr_string("...ii ->...i")}}},
                     {f64({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})});
  EXPECT_EQ(diag[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<double>(diag[0]), (std::vector<double>{1, 4, 5, 8}));
  // "...i,...i->..." with [2,3] against [3]: the ellipses broadcast NumPy-style
  auto bc = run_op({"Einsum", 12, {{"equation", attr_string("...i,...i->...")}}},
                   {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {1, 0, 1})});
  EXPECT_EQ(bc[0].shape(), (Shape{2}));
  EXPECT_EQ(values<float>(bc[0]), (std::vector<float>{4, 10}));
  // implicit mode puts ellipsis dims first
  auto imp = run_op({"Einsum", 12, {{"equation", attr_string("i...")}}}, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(imp[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>(imp[0]), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  auto ints = run_op({"Einsum", 12, {{"equation", attr_string("ij,jk->ik")}}},
                     {i64({1, 2}, {2, 3}), i64({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(values<int64_t>(ints[0]), (std::vector<int64_t>{11, 16}));
}

TEST(LinalgEinsum, MalformedEquationsAreInvalidModels) {
  Tensor m = f32({2, 2}, {1, 2, 3, 4});
  for (const char* eq : {"ij->j1", "i.j->ij", "ij,jk->ik", "ij->ii", "ij->k", "ijk->i", "ij->i->j", "....ij"}) {
    SCOPED_TRACE(eq);
    expect_error(ErrorCode::kInvalidModel, {"Einsum", 12, {{"equation", attr_string(eq)}}}, {m});
  }
  expect_error(ErrorCode::kInvalidModel, {"Einsum", 12, {{"equation", attr_string("ij,jk")}}},
               {m, f32({3, 1}, {1, 2, 3})});
  expect_error(ErrorCode::kInvalidModel, {"Einsum", 12, {{"equation", attr_string("ii->i")}}},
               {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
}

TEST(LinalgDet, BatchedWithPivotingAndSingular) {
  auto out = run_op({"Det", 11, {}}, {f32({3, 2, 2}, {1, 2, 3, 4, 0, 1, 1, 0, 1, 2, 2, 4})});
  EXPECT_EQ(out[0].shape(), (Shape{3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{-2, -1, 0}));
  auto three = run_op({"Det", 11, {}}, {f64({3, 3}, {2, 0, 1, 1, 3, 2, 1, 1, 2})});
  EXPECT_EQ(three[0].shape(), (Shape{}));
  EXPECT_NEAR(three[0].data<double>()[0], 6.0, 1e-12);  // 2*(3*2 - 2*1) + 1*(1*1 - 3*1)
  expect_error(ErrorCode::kInvalidModel, {"Det", 11, {}}, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
}

}  // namespace
}  // namespace ef::test
