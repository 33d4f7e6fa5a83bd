// Building blocks of the SGEMM register tiles, per SIMD target: the vector type and tile height, partial loads and
// stores, the K loop, the C / residual prefetch, and the epilogue on accumulators (full tiles) or through a stack
// buffer (edge tiles, Finish). Shared by the tile kernels of sgemm_kernel.cpp (Tile, Sweep, TileRow, TilePair),
// so that every kernel applies the same operations to each element; included by that file only (Finish is not
// inline). Depends on Highway, kernels/cpu/activation-inl.h and sgemm_kernel.h.
//
// Per-target include guard (the Highway -inl.h convention): this file is re-included once per target.
#if defined(EF_KERNELS_CPU_SGEMM_TILE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EF_KERNELS_CPU_SGEMM_TILE_INL_H_
#undef EF_KERNELS_CPU_SGEMM_TILE_INL_H_
#else
#define EF_KERNELS_CPU_SGEMM_TILE_INL_H_
#endif

#include <algorithm>
#include <cstring>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/cpu/activation-inl.h"
#include "kernels/cpu/partial_vec-inl.h"
#include "kernels/cpu/sgemm_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using ef::cpu::HWY_NAMESPACE::DispatchActKind;
using ef::cpu::HWY_NAMESPACE::VecActivate;
using ef::cpu::HWY_NAMESPACE::VecActivateK;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(DF()));

// Rows per tile from the register file: mr x 2 accumulators + 2 B vectors + 1 broadcast must fit, or the K loop
// spills. 32 registers (AVX-512, NEON) give 12 x 2; 16 (AVX2, SSE) give 6 x 2.
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || (HWY_ARCH_ARM && HWY_TARGET == HWY_NEON)
constexpr int kMR = 12;
#else
constexpr int kMR = 6;
#endif
static_assert(kMR <= kMaxMR);

// Partial vectors (edge columns): masked loads and stores where the target has fault-safe ones (partial_vec-inl.h),
// a stack buffer elsewhere. The buffer's variable-length memcpy calls were 6% of a Winograd layer (16 -> 64 on
// 55x55, whose GEMMs have an edge panel per block of tiles).
HWY_INLINE VF LoadN(DF d, const float* HWY_RESTRICT p, int64_t n) {
  return ef::cpu::HWY_NAMESPACE::LoadPartial(d, p, n);
}

HWY_INLINE void StoreN(VF v, DF d, float* HWY_RESTRICT p, int64_t n) {
  ef::cpu::HWY_NAMESPACE::StorePartial(v, d, p, n);
}

// One vector of the epilogue for Finish: n valid lanes at column col of tile row r.
HWY_INLINE VF Epilogue(DF d, VF x, const TileEpilogue& e, int64_t r, int64_t col, int64_t n) {
  if (e.alpha != 1.0f) x = hn::Mul(x, hn::Set(d, e.alpha));
  if (e.row_bias) x = hn::Add(x, hn::Set(d, e.row_bias[r]));
  if (e.col_bias) x = hn::Add(x, LoadN(d, e.col_bias + col, n));
  if (e.residual) x = hn::Add(x, LoadN(d, e.residual + r * e.ldr + col, n));
  return VecActivate(d, x, e.act);
}

template <int R, int V, class F>
HWY_INLINE void ForTile(const F& f) {
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) f(r, v);
  }
}

// The activation on every accumulator, with the kind switched once per tile rather than once per vector.
template <int R, int V>
HWY_INLINE void ActivateTile(DF d, VF (&acc)[R][V], const Activation& act) {
  if (act.kind == ActKind::kNone) return;
  DispatchActKind(act.kind, [&](auto k) HWY_ATTR {
    ForTile<R, V>([&](int r, int v) { acc[r][v] = VecActivateK<decltype(k)::value>(d, acc[r][v], act.alpha, act.beta); });
  });
}

// Adds the tile (rows x vecs vectors, row stride 2 vectors) to C or stores it, then the epilogue: the edge tiles'
// path, kept out of the tile functions so that their K loops stay small.
HWY_NOINLINE void Finish(const float* HWY_RESTRICT tile, int rows, int vecs, float* HWY_RESTRICT c, int64_t ldc,
                         int64_t cols, bool accumulate, const TileEpilogue* epi) {
  const DF d;
  for (int r = 0; r < rows; ++r) {
    float* HWY_RESTRICT row = c + r * ldc;
    for (int v = 0; v < vecs; ++v) {
      const int64_t n = std::min<int64_t>(kLanes, cols - v * kLanes);
      VF x = hn::Load(d, tile + r * 2 * kLanes + v * kLanes);
      if (accumulate) x = hn::Add(LoadN(d, row + v * kLanes, n), x);
      if (epi) x = Epilogue(d, x, *epi, r, v * kLanes, n);
      StoreN(x, d, row + v * kLanes, n);
    }
  }
}

// The K loop of an R x V-vector tile: acc = a * b over kc steps. The A panel stride is always kMR and the B panel
// stride 2 vectors: edge tiles read the zero padding of full-size panels rather than having a layout of their own.
// kInPlaceB: B is not a panel but rows of the stored matrix, ldb floats apart (unaligned loads), and the row's
// line of the next panel is prefetched: as many streams as K, too many for the hardware prefetchers.
// kPrefetchA: the A panel is read once here (Tile in the usual order: first row pass of a block), from L3 or DRAM
// when the weights are large; fetch its stream kPrefetchAheadA floats ahead (the next panel's start included).
constexpr int64_t kPrefetchAheadA = 64 * kMR;
template <int R, int V, bool kInPlaceB = false, bool kPrefetchA = false>
HWY_INLINE void TileProduct(DF d, int64_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                            VF (&acc)[R][V], int64_t ldb = 0) {
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = hn::Zero(d);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    VF b0, b1;
    if constexpr (kPrefetchA) hwy::Prefetch(a + kPrefetchAheadA);
    if constexpr (kInPlaceB) {
      hwy::Prefetch(b + 2 * kLanes);
      b0 = hn::LoadU(d, b);
      b1 = hn::LoadU(d, b + kLanes);
    } else {
      b0 = hn::Load(d, b);
      b1 = hn::Load(d, b + kLanes);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const VF ar = hn::Set(d, a[r]);
      acc[r][0] = hn::MulAdd(ar, b0, acc[r][0]);
      if constexpr (V == 2) acc[r][1] = hn::MulAdd(ar, b1, acc[r][1]);
    }
    a += kMR;
    b += kInPlaceB ? ldb : 2 * kLanes;
  }
}

// C is touched right after the K loop; start fetching it now. With a short K loop (1x1 convs with few input
// channels) that is too late to hide a miss, so also fetch the lines of the next column panel of the same rows,
// which the driver reaches next (row-tile sweeps) or after the block's other row tiles: C's rows are too many
// streams for the hardware prefetchers. The residual (same layout, read at the same point) likewise. `col` is the
// tile's first column within c and the epilogue's residual.
// kNextOnly: only the next panel's lines (a sweep's later panels, whose own lines the previous panel fetched; its
// last line also covers the next panel's first one when rows are not 64-byte aligned).
template <int R, int V, bool kNextOnly = false>
HWY_INLINE void PrefetchTileC(const float* c, int64_t ldc, const TileEpilogue* epi, int64_t col) {
  const float* res = epi != nullptr ? epi->residual : nullptr;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    if constexpr (!kNextOnly) {
      hwy::Prefetch(c + r * ldc + col);
      hwy::Prefetch(c + r * ldc + col + V * kLanes - 1);
    }
    hwy::Prefetch(c + r * ldc + col + 2 * kLanes + V * kLanes - 1);
    if (res != nullptr) {
      if constexpr (!kNextOnly) {
        hwy::Prefetch(res + r * epi->ldr + col);
        hwy::Prefetch(res + r * epi->ldr + col + V * kLanes - 1);
      }
      hwy::Prefetch(res + r * epi->ldr + col + 2 * kLanes + V * kLanes - 1);
    }
  }
}

// A full tile leaves straight from the accumulators: C at c + col (added to when accumulating), then the epilogue
// with its column-indexed operands offset by col. Each stage is tested once per tile and applied to all
// accumulators, in Epilogue's order (which Finish uses for edge tiles, so both give the same bits).
template <int R, int V>
HWY_INLINE void StoreFullTile(DF d, VF (&acc)[R][V], float* HWY_RESTRICT c, int64_t ldc, bool accumulate,
                              const TileEpilogue* epi, int64_t col) {
  c += col;
  if (accumulate) {
    ForTile<R, V>([&](int r, int v) { acc[r][v] = hn::Add(hn::LoadU(d, c + r * ldc + v * kLanes), acc[r][v]); });
  }
  if (epi) {
    const TileEpilogue& e = *epi;
    if (e.alpha != 1.0f) {
      const VF alpha = hn::Set(d, e.alpha);
      ForTile<R, V>([&](int r, int v) { acc[r][v] = hn::Mul(acc[r][v], alpha); });
    }
    if (e.row_bias) ForTile<R, V>([&](int r, int v) { acc[r][v] = hn::Add(acc[r][v], hn::Set(d, e.row_bias[r])); });
    if (e.col_bias) {
      const VF b0 = hn::LoadU(d, e.col_bias + col), b1 = V == 2 ? hn::LoadU(d, e.col_bias + col + kLanes) : b0;
      ForTile<R, V>([&](int r, int v) { acc[r][v] = hn::Add(acc[r][v], v == 0 ? b0 : b1); });
    }
    if (e.residual) {
      const float* res = e.residual + col;
      ForTile<R, V>([&](int r, int v) { acc[r][v] = hn::Add(acc[r][v], hn::LoadU(d, res + r * e.ldr + v * kLanes)); });
    }
    ActivateTile<R, V>(d, acc, e.act);
  }
  ForTile<R, V>([&](int r, int v) { hn::StoreU(acc[r][v], d, c + r * ldc + v * kLanes); });
}

// The tile with epilogue operands offset by col, for Sweep's last, partial panel.
HWY_INLINE TileEpilogue ShiftColumns(const TileEpilogue& e, int64_t col) {
  TileEpilogue s = e;
  if (s.col_bias) s.col_bias += col;
  if (s.residual) s.residual += col;
  return s;
}

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu::detail
HWY_AFTER_NAMESPACE();

#endif  // EF_KERNELS_CPU_SGEMM_TILE_INL_H_
