#include "kernels/reference/gemm.h"

namespace ef {
namespace {

template <typename T>
void gemm_impl(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
               const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      T acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        T a = trans_a ? A[k * lda + m] : A[m * lda + k];
        T b = trans_b ? B[n * ldb + k] : B[k * ldb + n];
        acc += a * b;
      }
      T& c = C[m * ldc + n];
      c = beta == 0 ? alpha * acc : alpha * acc + beta * c;
    }
  }
}

int32_t load_int8(const void* data, bool is_signed, int64_t index) {
  return is_signed ? static_cast<const int8_t*>(data)[index] : static_cast<const uint8_t*>(data)[index];
}

}  // namespace

void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl<float>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                     int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_impl<double>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void igemm_reference(int64_t M, int64_t N, int64_t K, const Int8Operand& A, const Int8Operand& B, int32_t* C,
                     int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    int32_t zp_a = A.zero_points ? A.zero_points[m * A.zero_point_stride] : 0;
    for (int64_t n = 0; n < N; ++n) {
      int32_t zp_b = B.zero_points ? B.zero_points[n * B.zero_point_stride] : 0;
      uint32_t acc = 0;  // unsigned: wraps modulo 2^32 without undefined behaviour
      for (int64_t k = 0; k < K; ++k) {
        int32_t a = load_int8(A.data, A.is_signed, m * A.ld + k) - zp_a;
        int32_t b = load_int8(B.data, B.is_signed, k * B.ld + n) - zp_b;
        acc += static_cast<uint32_t>(a * b);
      }
      C[m * ldc + n] = static_cast<int32_t>(acc);
    }
  }
}

}  // namespace ef
