// Quantized GEMM for the int8 CPU kernels: C[M, N] = W[M, K] (int8 weights, packed once at plan time) x
// X[K, N] (uint8 activations, packed per column panel at run time), accumulated exactly in int32 and requantized
// to 8 bits in the epilogue (per-row scale, offset, output zero point, saturation). Int8 activations enter as
// uint8 by flipping the sign bit (x + 128); the caller folds the +128 into the zero-point offset.
//
// Kernels: AVX2 (vpmaddubsw + vpmaddwd, also used on AVX-512 CPUs) and a portable scalar one, chosen when the
// weights are packed (the --isa cap applies). vpmaddubsw saturates a pair sum u0*w0 + u1*w1 to int16; packing
// proves it cannot, so results are always exact: a k-adjacent weight pair with |w0| + |w1| > 128 has its smaller
// weight clamped so the pair fits, and the clamped-off remainder goes to a sparse residual list applied to the
// accumulators after the main kernel (full-range int8 weights break a few percent of pairs). When residuals
// would be too many, the weights are stored split in two halves instead (w = w/2 + (w - w/2), each at most 64
// in magnitude) and the kernel runs both. Results never depend on the thread count.
// Depends on core/thread_pool.h only.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace ef::cpu {

constexpr int64_t kQgemmMR = 4;   // weight rows per micro-tile
constexpr int64_t kQgemmNR = 16;  // columns per packed activation panel

// Weights packed for the micro-kernel, with the per-row sums the zero-point correction needs.
struct QPackedWeights {
  int64_t M = 0, K = 0;
  int64_t Kq = 0;        // K rounded up to a multiple of 4, divided by 4 (k quads)
  bool split = false;    // two halves per weight (some pair could saturate vpmaddubsw)
  bool avx2 = false;     // packed for (and run by) the AVX2 kernel
  std::vector<int8_t> data;       // [M tiles][Kq][MR][4 bytes, or 8 when split]
  std::vector<int32_t> row_sums;  // sum over k of W[m, k]
  struct Residual {
    int32_t m, k, r;  // W[m, k] = packed value + r
  };
  std::vector<Residual> residuals;  // sorted by m
  const char* kernel_name() const;
};

// Packs W [M, K] (row stride ldw). `allow_avx2` false forces the portable kernel (tests); otherwise AVX2 is used
// when the CPU has it and the --isa cap allows it.
QPackedWeights qpack_weights(int64_t M, int64_t K, const int8_t* w, int64_t ldw, bool allow_avx2 = true);

// Fills one activation panel: dst[q][j][i] = X[4q + i, j0 + j] for q < Kq, j < kQgemmNR (columns j >= j1 - j0 and
// rows k >= K may hold any byte: their weights are zero or their results are discarded). Must be thread-safe.
class QPanelPacker {
 public:
  virtual ~QPanelPacker() = default;
  virtual void pack(int64_t j0, int64_t j1, uint8_t* dst) const = 0;
};

// The epilogue: y[m, n] = saturate(round_half_even(float(acc[m, n] + offset[m]) * scale[m]) + zero_point), to int8
// when out_signed, else uint8; the result is additionally clamped to [lo, hi] (a fused Relu / Clip).
struct QRequant {
  const int32_t* offset = nullptr;  // M values (bias - activation zero point * row sum)
  const float* scale = nullptr;     // M values (x_scale * w_scale[m] / y_scale)
  int32_t zero_point = 0;
  int32_t lo = 0, hi = 255;
  bool out_signed = false;
};

// Runs the GEMM over N columns; y[m * y_row + n * y_col] receives the 8-bit results. Parallel over column panels.
void qgemm(const QPackedWeights& w, int64_t N, const QPanelPacker& packer, const QRequant& rq, void* y,
           int64_t y_row, int64_t y_col, ThreadPool& pool);

// Requantizes dense int32 rows: y[m * cols + j] per the epilogue formula with offset[m], scale[m] (rows x cols).
void requantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const int32_t* offset, const float* scale,
                     const QRequant& rq, void* y);

namespace detail {
// The micro-kernels (qgemm.cpp portable, qgemm_avx2.cpp): acc[MR][NR] (+)= W tile x panel over `quads` k quads.
void qgemm_micro_scalar(const int8_t* w, const uint8_t* x, int64_t quads, bool split, bool accumulate, int32_t* acc);
void qgemm_micro_avx2(const int8_t* w, const uint8_t* x, int64_t quads, bool split, bool accumulate, int32_t* acc);
// Requantizes `count` contiguous accumulators of one row (count <= NR) into 8-bit values at y.
// acc[m][j] += r * x[k][j] for every residual (m, k, r); x is a packed panel.
void qgemm_residuals_scalar(const QPackedWeights::Residual* res, int64_t count, const uint8_t* x, int32_t* acc);
void qgemm_residuals_avx2(const QPackedWeights::Residual* res, int64_t count, const uint8_t* x, int32_t* acc);
void requant_row_avx2(const int32_t* acc, int64_t count, int32_t offset, float scale, const QRequant& rq, void* y);
bool cpu_has_avx2();
}  // namespace detail

}  // namespace ef::cpu
