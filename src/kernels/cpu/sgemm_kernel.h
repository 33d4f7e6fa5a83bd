// Internal contract between the SGEMM driver (sgemm.cpp, sgemm_pack.cpp) and the per-target register-blocked
// micro-kernels (sgemm_kernel.cpp): the packed panel layout, the tile function and the kernel descriptor that
// binds a tile shape to its cache blocking. Only kernels/cpu/sgemm*.cpp include it.
// Depends on the standard library and kernels/cpu/activation.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/activation.h"

namespace ef::cpu::detail {

inline constexpr int kMaxMR = 12;
inline constexpr int kRowPanels = 4;  // GemmKernel::row_panels

// What a tile does after its last K block, with pointers already offset to the tile's first row / column.
struct TileEpilogue {
  float alpha = 1.0f;
  const float* row_bias = nullptr;  // one per tile row
  const float* col_bias = nullptr;  // one per tile column
  const float* residual = nullptr;  // tile-shaped, row stride ldr
  int64_t ldr = 0;
  Activation act;
};

// Packed panels: an A panel holds mr rows of op(A) for kc consecutive k, stored k-major (a[k * mr + r]); a B
// panel holds nr columns of op(B), also k-major (b[k * nr + j]). Rows / columns past the matrix edge are zero.
// A tile computes rows x cols of C (rows <= mr, cols <= nr, C row stride ldc): C = (accumulate ? C : 0) + a * b,
// then, when epi is not null, C = act(alpha * C + bias + residual). Every element goes through the same
// operations in the same order whatever the tile's size, which is what makes edge tiles agree with full ones.
using TileFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t cols,
                        bool accumulate, const TileEpilogue* epi);

// Packs one panel of W lanes (W = the kernel's mr or nr) from rows src + x * xs, x < valid <= W, each row
// contiguous along k: the transposing case of packing. May write up to kPackSlack floats past the panel, which
// callers either overwrite later (the next panel) or allocate as slack.
using GatherFn = void (*)(const float* src, int64_t xs, int64_t kc, int64_t valid, float* dst);
inline constexpr int64_t kPackSlack = 16;

// Packs one B panel (W = nr lanes) from kc rows src + k * ks of the stored matrix, `valid` <= W contiguous floats
// each: the common, non-transposing case, with a partial last panel zero-filled in registers.
using RowCopyFn = void (*)(const float* src, int64_t ks, int64_t kc, int64_t valid, float* dst);

// A tile function for a C of one column, from an A panel and the column expanded to the A panel layout
// (xe[k * mr + r] = op(B)(k, 0)); the K order differs from the tile's but is fixed.
using ColumnFn = void (*)(int64_t kc, const float* a, const float* xe, float* c, int64_t ldc, int rows,
                          bool accumulate, const TileEpilogue* epi);

// GemmKernel::sweep_in_place: as a sweep, but with B read in place, row k at b + k * ldb, cols a multiple of nr.
using SweepInPlaceFn = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                int64_t cols, bool accumulate, const TileEpilogue* epi);

struct GemmKernel {
  int64_t target;    // Highway target bit (hwy::TargetName gives its name)
  int mr, nr;        // register tile; nr is two vectors
  int kc, mc, nc;    // cache blocks: K per pass (B panel in L1), A rows per pass (L2), B columns per pass (L3)
  TileFn tile[kMaxMR][2];  // [rows - 1][vectors - 1]
  // [rows - 1]: rows x cols of C from one A panel and ceil(cols / nr) consecutive B panels (b + q * nr * kc), one
  // call per row tile of a block (the short-K order in sgemm.cpp); the same arithmetic per element as tile.
  TileFn sweep[kMaxMR];
  SweepInPlaceFn sweep_in_place[kMaxMR];  // [rows - 1]
  // 2 * mr rows by one vector, from the two consecutive A panels at a and a + mr * kc, for the narrow last column
  // panel of N = 49 / 196 (7x7, 14x14 planes): mr one-vector accumulators are too few to cover the FMA latency,
  // 2 * mr are not. Same arithmetic per element as tile[mr - 1][0].
  TileFn tile_pair;
  // tile[mr - 1][1] that also prefetches its A panel's stream ahead: for the first column panel of a block in the
  // usual order, where a pre-packed A (the weights) is read for the first time, from L3 or DRAM in a model run
  // (gemm_bench cold rows: 1.1-1.3x faster); later panels find it in L2. Same arithmetic per element.
  TileFn tile_stream_a;
  // One row by kRowPanels full column panels (cols = kRowPanels * nr) from consecutive B panels, for C of a single
  // row; the same arithmetic per element as tile[0][1].
  TileFn row_panels;
  ColumnFn column;         // for N == 1
  GatherFn gather_a;       // W = mr; null: the portable scalar loop
  GatherFn gather_b;       // W = nr; null: the portable scalar loop
  RowCopyFn copy_b;        // W = nr
};

// Packs rows [i0, i0 + rows) x columns [p0, p0 + kc) of op(A) into ceil(rows / mr) consecutive A panels at dst
// (panel p at dst + p * mr * kc), zero-padding the last one; dst needs kPackSlack floats of slack.
void pack_a_panels(const GemmKernel& k, bool trans_a, const float* A, int64_t lda, int64_t i0, int64_t rows,
                   int64_t p0, int64_t kc, float* dst);
// Packs rows [p0, p0 + kc) x columns [j0, j0 + cols) of op(B) into ceil(cols / nr) consecutive B panels at dst.
void pack_b_panels(const GemmKernel& k, bool trans_b, const float* B, int64_t ldb, int64_t p0, int64_t kc,
                   int64_t j0, int64_t cols, float* dst);

// The kernel sgemm uses now (the best one, or the one set_max_isa chose).
const GemmKernel& active_kernel();

}  // namespace ef::cpu::detail
