// Packing of SGEMM operands into the micro-kernel's panel layout (see sgemm_kernel.h): used per cache block for
// operands packed on the fly and once for the whole matrix by pack_a / pack_b. Plain C++: the loops are copies
// and gathers the compiler vectorizes well enough next to the O(M N K) product.
// Depends on the standard library and kernels/cpu/sgemm_kernel.h.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/sgemm_kernel.h"

namespace ef::cpu::detail {
namespace {

// One panel of `width` lanes over kc steps, lanes past `valid` zero. Element (k, x) is at src[k * ks + x * xs].
void pack_panel(const float* src, int64_t ks, int64_t xs, int64_t kc, int width, int64_t valid, float* dst) {
  const size_t pad = static_cast<size_t>(width - valid) * sizeof(float);
  if (xs == 1) {
    for (int64_t k = 0; k < kc; ++k, dst += width) {
      std::memcpy(dst, src + k * ks, static_cast<size_t>(valid) * sizeof(float));
      if (pad) std::memset(dst + valid, 0, pad);
    }
    return;
  }
  if (ks == 1) {
    // Sources are rows of the stored matrix: read each one contiguously, write with stride `width`.
    for (int64_t x = 0; x < valid; ++x) {
      const float* s = src + x * xs;
      for (int64_t k = 0; k < kc; ++k) dst[k * width + x] = s[k];
    }
    if (pad) {
      for (int64_t k = 0; k < kc; ++k) std::memset(dst + k * width + valid, 0, pad);
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k, dst += width) {
    for (int64_t x = 0; x < valid; ++x) dst[x] = src[k * ks + x * xs];
    if (pad) std::memset(dst + valid, 0, pad);
  }
}

}  // namespace

void pack_a_panels(bool trans_a, const float* A, int64_t lda, int64_t i0, int64_t rows, int64_t p0, int64_t kc,
                   int mr, float* dst) {
  // op(A)(i, k) is A[i * lda + k], or A[k * lda + i] when A is stored transposed.
  const int64_t ks = trans_a ? lda : 1, is = trans_a ? 1 : lda;
  for (int64_t i = 0; i < rows; i += mr, dst += mr * kc) {
    pack_panel(A + (i0 + i) * is + p0 * ks, ks, is, kc, mr, std::min<int64_t>(mr, rows - i), dst);
  }
}

void pack_b_panels(bool trans_b, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t cols,
                   int nr, float* dst) {
  // op(B)(k, j) is B[k * ldb + j], or B[j * ldb + k] when B is stored transposed.
  const int64_t ks = trans_b ? 1 : ldb, js = trans_b ? ldb : 1;
  for (int64_t j = 0; j < cols; j += nr, dst += nr * kc) {
    pack_panel(B + (j0 + j) * js + p0 * ks, ks, js, kc, nr, std::min<int64_t>(nr, cols - j), dst);
  }
}

}  // namespace ef::cpu::detail
