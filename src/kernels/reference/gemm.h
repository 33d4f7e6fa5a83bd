// Reference GEMM kernels: the oracle that optimized GEMMs (blocked, packed, SIMD, threaded) are tested against.
// Pure functions over raw row-major pointers; they know nothing about tensors or the IR.
//
// Floating point: every C element is one accumulator of the compute type, summed over k = 0, 1, ..., K-1 in that
// order, starting from zero, and only then scaled: C = alpha * acc + beta * C. Optimized kernels reorder the sum,
// so compare against this with a relative tolerance (the conformance data is met within rtol 1e-3).
// As in BLAS, beta == 0 means C is write-only: whatever it held (even NaN) does not reach the result.
#pragma once
#include <cstdint>

namespace ef {

// C[M, N] = alpha * op(A) * op(B) + beta * C. op(A) is [M, K]: A is stored [M, K] with row stride lda, or
// [K, M] when trans_a. op(B) is [K, N]: B is stored [K, N] with row stride ldb, or [N, K] when trans_b.
// Accumulates in float32.
void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// The same in float64.
void dgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                     int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// One 8-bit integer GEMM operand: row-major elements (int8 when is_signed, else uint8) and zero points.
// For A the zero point of row m is zero_points[m * zero_point_stride]; for B the zero point of column n is
// zero_points[n * zero_point_stride]. Stride 0 is a per-tensor zero point; nullptr means zero point 0.
struct Int8Operand {
  const void* data = nullptr;
  bool is_signed = false;
  int64_t ld = 0;  // row stride in elements
  const int32_t* zero_points = nullptr;
  int64_t zero_point_stride = 0;
};

// C[M, N] (int32, row stride ldc) = sum over k of (A[m, k] - zp_a[m]) * (B[k, n] - zp_b[n]); A is [M, K], B is
// [K, N], no transposes. Each product is exact; the sum wraps modulo 2^32 like an int32 accumulator (ONNX allows
// accumulation, never products, to overflow), so the result does not depend on the summation order.
void igemm_reference(int64_t M, int64_t N, int64_t K, const Int8Operand& A, const Int8Operand& B, int32_t* C,
                     int64_t ldc);

}  // namespace ef
