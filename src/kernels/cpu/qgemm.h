// Quantized GEMM for the int8 CPU kernels: C[M, N] = W[M, K] (int8 weights, packed once at plan time) x
// X[K, N] (uint8 activations, packed per 16-column panel at run time), accumulated exactly in int32 and
// requantized to 8 bits in the tile epilogue (per-row scale, offset, output zero point, saturation). Int8
// activations enter as uint8 by flipping the sign bit (x + 128); the caller folds the +128 into the offset.
//
// Kernels (chosen when the weights are packed, best the CPU has under the --isa cap; all exact):
//   avx512_vnni  vpdpbusd on 512 bits, 16 rows x 16 columns per tile
//   avx_vnni     vpdpbusd on 256 bits (AVX-VNNI), 4 x 16
//   avx512bw     int16 vpmaddwd on 512 bits (activations zero-extended while loading), 8 x 16
//   avx2         vpmaddubsw + vpmaddwd, 4 x 16. vpmaddubsw saturates its int16 pair sums u0*w0 + u1*w1, so
//                packing proves it cannot: a k-adjacent weight pair with |w0| + |w1| > 128 has its smaller weight
//                clamped so the pair fits and the remainder goes to a sparse residual list, applied exactly to
//                the tile's accumulators before its epilogue (7-bit weights never need one)
//   avx2_acc16   the same instructions, but the int16 products of two k quads are added in int16 before one
//                vpmaddwd widens them (3 multiply-port instructions per 8 k instead of 4). Exact where each
//                int16 lane's four weights have |w| summing to at most 128; packing clamps the rare groups
//                that do not (trained 7-bit weights: 0.1-1% of weights) into residuals, as for avx2
//   avx2_int16   int16 vpmaddwd, 4 x 8 twice, when residuals would be too many (about half as fast)
//   scalar       portable, --isa SSE4 and non-x86
// Results never depend on the kernel or the thread count. Depends on core/thread_pool.h only.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace ef::cpu {

constexpr int64_t kQgemmMR = 4;   // weight rows per packed tile (kernels run 1, 2 or 4 tiles at once)
constexpr int64_t kQgemmNR = 16;  // columns per packed activation panel

enum class QKernel : uint8_t { kScalar, kAvx2, kAvx2Acc16, kAvx2Int16, kAvx512Bw, kAvxVnni, kAvx512Vnni };
const char* qkernel_name(QKernel k);
// The kernels this CPU runs under the current --isa cap, best first (kScalar always last).
std::vector<QKernel> qgemm_kernels_available();

// Weights packed for one kernel, with the per-row sums the zero-point correction needs. Rows are padded with
// zero weights to a multiple of 16 so every kernel reads whole tiles.
struct QPackedWeights {
  int64_t M = 0, K = 0;
  int64_t Kq = 0;  // K rounded up to a multiple of 4, divided by 4 (k quads)
  QKernel kernel = QKernel::kScalar;
  std::vector<int8_t> data;       // int8 kernels: [tiles][Kq][MR][4]
  std::vector<int16_t> data16;    // int16 kernels: the same layout in int16
  std::vector<int32_t> row_sums;  // sum over k of W[m, k]
  struct Residual {
    int32_t row, k, r;  // W[m, k] = packed value + r, row = m % kQgemmMR
  };
  std::vector<Residual> residuals;  // kAvx2 / kAvx2Acc16 only, sorted by m
  std::vector<int64_t> residual_begin;  // kAvx2 / kAvx2Acc16: per tile, its first residual (tiles + 1 entries)
  const char* kernel_name() const;
};

// Packs W [M, K] (row stride ldw) for `kernel` when given and available, else for the best available kernel
// (on AVX2: kAvx2Acc16 unless its residuals cost more than it saves, then kAvx2; kAvx2Int16 instead of kAvx2
// where residuals would be too many).
QPackedWeights qpack_weights(int64_t M, int64_t K, const int8_t* w, int64_t ldw);
QPackedWeights qpack_weights(int64_t M, int64_t K, const int8_t* w, int64_t ldw, QKernel kernel);

// Fills one activation panel: dst[q][j][i] = X[4q + i, j0 + j] for q < Kq, j < kQgemmNR (columns j >= j1 - j0 and
// rows k >= K may hold any byte: their weights are zero or their results are discarded). Must be thread-safe.
class QPanelPacker {
 public:
  virtual ~QPanelPacker() = default;
  virtual void pack(int64_t j0, int64_t j1, uint8_t* dst) const = 0;
  // The panels of columns [j0, j1) (j0 a multiple of kQgemmNR), panel i at dst + i * panel_bytes; by default
  // one pack() each. A packer may fill them in another order (all panels' first quad, then the second, ...).
  virtual void pack_panels(int64_t j0, int64_t j1, uint8_t* dst, int64_t panel_bytes) const {
    for (int64_t j = j0; j < j1; j += kQgemmNR, dst += panel_bytes) pack(j, j + kQgemmNR < j1 ? j + kQgemmNR : j1, dst);
  }
};

// The epilogue: y[m, n] = saturate(round_half_even(float(acc[m, n] + offset[m]) * scale[m]) + zero_point), to int8
// when out_signed, else uint8; the result is additionally clamped to [lo, hi] (a fused Relu / Clip).
// out_int32 instead stores acc[m, n] + offset[m] as int32 (MatMulInteger); scale and the rest are unused then.
struct QRequant {
  const int32_t* offset = nullptr;  // M values (bias - activation zero point * row sum)
  const float* scale = nullptr;     // M values (x_scale * w_scale[m] / y_scale)
  int32_t zero_point = 0;
  int32_t lo = 0, hi = 255;
  bool out_signed = false;
  bool out_int32 = false;
};

// Work on finished outputs (a fused residual add): apply(j0, j1) runs once the results of columns [j0, j1) are
// final in every row, on the thread that computed them, while they are still in its cache. Must be thread-safe.
class QColumnsDone {
 public:
  virtual ~QColumnsDone() = default;
  virtual void apply(int64_t j0, int64_t j1) const = 0;
};

// Runs the GEMM over N columns; y[m * y_row + n * y_col] (elements of 1 byte, or 4 with out_int32) receives the
// results. Parallel over column panels. `done`, when given, sees every column exactly once.
void qgemm(const QPackedWeights& w, int64_t N, const QPanelPacker& packer, const QRequant& rq, void* y,
           int64_t y_row, int64_t y_col, ThreadPool& pool, const QColumnsDone* done = nullptr);

// Requantizes dense int32 rows: y[m * cols + j] per the epilogue formula with offset[m], scale[m] (rows x cols).
void requantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const int32_t* offset, const float* scale,
                     const QRequant& rq, void* y);

namespace detail {
// One call of a micro-kernel: `rows` (its tile height) x 16 columns over all quads. With `acc` set it stores the
// raw accumulators there ([rows][16]); otherwise it requantizes rows [0, valid_rows) and columns [0, cols) into
// y (row stride y_row, contiguous columns).
struct QTile {
  const void* w;          // the first packed tile (int8 or int16 per kernel)
  int64_t tile_stride;    // elements between consecutive 4-row tiles
  const uint8_t* x;       // the packed panel
  int64_t quads;
  int64_t valid_rows, cols;
  const int32_t* offset;  // at the first row
  const float* scale;
  const QRequant* rq;
  uint8_t* y;
  int64_t y_row;
  int32_t* acc;
  const QPackedWeights::Residual* res;  // kAvx2 / kAvx2Acc16: this tile's residuals (rows relative to the tile)
  int64_t res_count;
  // kAvx2 / kAvx2Acc16 with a fused epilogue sweep `panels` consecutive panels (panel_stride bytes apart; cols
  // counts from the first, y advances 16 columns per panel) in one call; every other kernel takes panels = 1.
  int64_t panels;
  int64_t panel_stride;
};
using QMicro = void (*)(const QTile&);
void qgemm_micro_avx2(const QTile& t);         // 4 rows
void qgemm_micro_avx2_acc16(const QTile& t);   // 4 rows
void qgemm_micro_avx2_int16(const QTile& t);   // 4 rows
void qgemm_micro_avx_vnni(const QTile& t);     // 4 rows
void qgemm_micro_avx512bw(const QTile& t);     // 8 rows
void qgemm_micro_avx512_vnni(const QTile& t);  // 16 rows
// The avx512_vnni micro-kernel computing only the first 4, 8, 12 or 16 rows of its tile (the least >= rows), or
// 24 rows (fused epilogue only: the raw accumulator block holds 16).
QMicro qgemm_micro_avx512_vnni_rows(int64_t rows);
// The avx512_vnni fused tile for two full panels (t.x, t.x + t.panel_stride) x 16 full rows: outputs at t.y and
// t.y + 16; t.quads >= 1.
void qgemm_pair_avx512_vnni(const QTile& t);
// The avx512_vnni fused tile for t.cols single columns with the rows in the lanes: t.x holds the columns as
// qgemm_arrange_columns lays them out, t.y their first output; rows [0, valid_rows), valid_rows <= 24.
void qgemm_columns_avx512_vnni(const QTile& t);
// The first `cols` columns of a packed panel for qgemm_columns_avx512_vnni: per column, per group of 4 quads, 64
// bytes in which quad qq's 4 bytes fill dwords 4 qq .. 4 qq + 3 (zeros past Kq).
void qgemm_arrange_columns(const uint8_t* panel, int64_t Kq, int64_t cols, uint8_t* out);
// Requantizes `count` (<= 16) contiguous accumulators of one row into 8-bit values at y.
void requant_row_avx2(const int32_t* acc, int64_t count, int32_t offset, float scale, const QRequant& rq, void* y);
bool cpu_has_avx2();
bool cpu_has_avx_vnni();
bool cpu_has_avx512bw();
bool cpu_has_avx512_vnni();
bool cpu_has_avx512_vbmi();  // and VNNI
}  // namespace detail

}  // namespace ef::cpu
