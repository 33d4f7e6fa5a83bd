// Packing of SGEMM operands into the micro-kernel's panel layout (see sgemm_kernel.h): used per cache block for
// operands packed on the fly and once for the whole matrix by pack_a / pack_b. Plain C++ copies and gathers,
// except B from stored rows (the kernel's vectorized copy_b) and the transposing case (its vectorized gather,
// where it has one).
// Depends on the standard library and kernels/cpu/sgemm_kernel.h.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/sgemm_kernel.h"

namespace ef::cpu::detail {
namespace {

// One panel of kWidth lanes over kc steps, lanes past `valid` zero. Element (k, x) is at src[k * ks + x * xs].
// The width is a template parameter so that full-width rows compile to fixed-size vector copies.
template <int kWidth>
void pack_panel(const float* src, int64_t ks, int64_t xs, int64_t kc, int64_t valid, GatherFn gather,
                RowCopyFn copy, float* dst) {
  if (xs == 1 && copy) return copy(src, ks, kc, valid, dst);
  if (xs == 1 && valid == kWidth) {
    // Each k is a short run in a different row, and panels are packed left to right: prefetch the same rows a
    // few panels ahead, as the hardware prefetchers cannot follow this many streams.
    for (int64_t k = 0; k < kc; ++k, dst += kWidth) {
      __builtin_prefetch(src + k * ks + 2 * kWidth);
      std::memcpy(dst, src + k * ks, kWidth * sizeof(float));
    }
    return;
  }
  if (xs == 1) {
    for (int64_t k = 0; k < kc; ++k, dst += kWidth) {
      for (int64_t x = 0; x < kWidth; ++x) dst[x] = x < valid ? src[k * ks + x] : 0.0f;
    }
    return;
  }
  if (ks == 1 && gather) return gather(src, xs, kc, valid, dst);
  if (ks == 1) {
    // Sources are rows of the stored matrix: read each one contiguously, write with stride kWidth.
    for (int64_t x = 0; x < valid; ++x) {
      const float* s = src + x * xs;
      for (int64_t k = 0; k < kc; ++k) dst[k * kWidth + x] = s[k];
    }
    for (int64_t x = valid; x < kWidth; ++x) {
      for (int64_t k = 0; k < kc; ++k) dst[k * kWidth + x] = 0.0f;
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k, dst += kWidth) {
    for (int64_t x = 0; x < kWidth; ++x) dst[x] = x < valid ? src[k * ks + x * xs] : 0.0f;
  }
}

using PanelFn = void (*)(const float*, int64_t, int64_t, int64_t, int64_t, GatherFn, RowCopyFn, float*);

// Every tile width a kernel has (mr in {6, 12}; nr = 2 vectors in {2, 8, 16, 32, ...}).
PanelFn panel_fn(int width) {
  switch (width) {
    case 2: return &pack_panel<2>;
    case 4: return &pack_panel<4>;
    case 6: return &pack_panel<6>;
    case 8: return &pack_panel<8>;
    case 12: return &pack_panel<12>;
    case 16: return &pack_panel<16>;
    case 32: return &pack_panel<32>;
    case 64: return &pack_panel<64>;
    default: std::abort();  // a kernel with a new tile width needs an entry here
  }
}

}  // namespace

void pack_a_panels(const GemmKernel& kernel, bool trans_a, const float* A, int64_t lda, int64_t i0, int64_t rows,
                   int64_t p0, int64_t kc, float* dst) {
  const int mr = kernel.mr;
  // op(A)(i, k) is A[i * lda + k], or A[k * lda + i] when A is stored transposed.
  const int64_t ks = trans_a ? lda : 1, is = trans_a ? 1 : lda;
  const PanelFn pack = panel_fn(mr);
  for (int64_t i = 0; i < rows; i += mr, dst += mr * kc) {
    pack(A + (i0 + i) * is + p0 * ks, ks, is, kc, std::min<int64_t>(mr, rows - i), kernel.gather_a, nullptr, dst);
  }
}

void pack_b_panels(const GemmKernel& kernel, bool trans_b, const float* B, int64_t ldb, int64_t p0, int64_t kc,
                   int64_t j0, int64_t cols, float* dst) {
  const int nr = kernel.nr;
  // op(B)(k, j) is B[k * ldb + j], or B[j * ldb + k] when B is stored transposed.
  const int64_t ks = trans_b ? 1 : ldb, js = trans_b ? ldb : 1;
  const PanelFn pack = panel_fn(nr);
  for (int64_t j = 0; j < cols; j += nr, dst += nr * kc) {
    pack(B + (j0 + j) * js + p0 * ks, ks, js, kc, std::min<int64_t>(nr, cols - j), kernel.gather_b, kernel.copy_b,
         dst);
  }
}

}  // namespace ef::cpu::detail
