// The SGEMM micro-kernels, compiled once per SIMD target by Highway's foreach_target, and the run-time choice
// among them (HWY_DYNAMIC_DISPATCH for the best, set_max_isa for a lower one). A tile keeps mr x 2 vectors of C
// in registers for a whole K block, fed by one broadcast of A and two vector loads of B per k, and applies the
// epilogue before the tile leaves registers (building blocks in sgemm_tile-inl.h). Also the per-target transposing
// pack and single-column kernel. Depends on Highway, kernels/cpu/sgemm.h (the target selection it declares),
// sgemm_kernel.h, sgemm_tile-inl.h and activation-inl.h.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/sgemm_kernel.cpp"
// The accumulators live in arrays of vectors, which sizeless SVE / RVV vectors cannot do; such CPUs run the NEON
// (or portable) kernel instead.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/cache_control.h"
#include "kernels/cpu/partial_vec-inl.h"
#include "kernels/cpu/activation-inl.h"
#include "kernels/cpu/sgemm.h"
#include "kernels/cpu/sgemm_kernel.h"
#include "kernels/cpu/sgemm_tile-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using ef::cpu::HWY_NAMESPACE::VecActivate;

// R rows (<= kMR) by V vectors of C. kPrefetchA: see TileProduct (GemmKernel::tile_stream_a).
template <int R, int V, bool kPrefetchA = false>
HWY_NOINLINE void Tile(int64_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, float* HWY_RESTRICT c,
                       int64_t ldc, int64_t cols, bool accumulate, const TileEpilogue* epi) {
  const DF d;
  VF acc[R][V];
  PrefetchTileC<R, V>(c, ldc, epi, 0);
  TileProduct<R, V, false, kPrefetchA>(d, kc, a, b, acc);
  if (cols == V * kLanes) return StoreFullTile<R, V>(d, acc, c, ldc, accumulate, epi, 0);
  // Edge columns go through Finish, which does the same arithmetic.
  HWY_ALIGN float tile[R * 2 * kLanes];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) hn::Store(acc[r][v], d, tile + r * 2 * kLanes + v * kLanes);
  }
  Finish(tile, R, V, c, ldc, cols, accumulate, epi);
}

// R rows by `cols` columns of consecutive B panels (GemmKernel::sweep): Tile<R, 2> for each full panel in one
// call, then the last partial panel, if any, by Tile itself. With short K (1x1 convolutions with few input
// channels) a tile's K loop is only 16-160 steps, and a call per tile (frame, epilogue set-up, prefetch address
// arithmetic) was ~30% of Tile's samples beside the K loop on blazeface's 24 -> 24 layers. Same arithmetic per
// element as Tile.
// The first panel reads the row tile's A panel for the first time (the driver's row-tile-outer order) and fetches
// its stream ahead, as Tile does for the usual order's first column panel (tile_stream_a): inside a model the
// weights come from L3. conv_bench, 1 thread, weights cycled through 32 copies: 160 -> 960 on 7x7 0.100-0.104 ->
// 0.081 ms, 96 -> 576 on 14x14 0.102-0.105 -> 0.098-0.100; mobilenet_v2 0.95x, efficientnet_b0 0.98x.
template <int R>
HWY_NOINLINE void Sweep(int64_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, float* HWY_RESTRICT c,
                        int64_t ldc, int64_t cols, bool accumulate, const TileEpilogue* epi) {
  const DF d;
  constexpr int64_t kPanel = 2 * kLanes;
  int64_t j = 0;
  for (; j + kPanel <= cols; j += kPanel, b += kPanel * kc) {
    VF acc[R][2];
    if (j == 0) {
      PrefetchTileC<R, 2>(c, ldc, epi, j);
    } else {
      PrefetchTileC<R, 2, true>(c, ldc, epi, j);
    }
    if (j == 0) {
      TileProduct<R, 2, false, true>(d, kc, a, b, acc);
    } else {
      TileProduct<R, 2>(d, kc, a, b, acc);
    }
    StoreFullTile<R, 2>(d, acc, c, ldc, accumulate, epi, j);
  }
  if (j == cols) return;
  const int64_t rest = cols - j;
  const TileEpilogue shifted = epi ? ShiftColumns(*epi, j) : TileEpilogue{};
  (rest > kLanes ? &Tile<R, 2> : &Tile<R, 1>)(kc, a, b, c + j, ldc, rest, accumulate, epi ? &shifted : nullptr);
}

// R rows by `cols` (a multiple of nr) columns of a B that is read where it is stored, row k of the block at
// b + k * ldb (GemmKernel::sweep_in_place): a 1x1 convolution's input needs no packing copy, which was ~30% of the
// time of the layers with few output channels (M = 16..32: each B element feeds only M multiply-adds). Same
// arithmetic per element as Tile / Sweep, and Sweep's A prefetch on the first panel.
template <int R>
HWY_NOINLINE void SweepInPlace(int64_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, int64_t ldb,
                               float* HWY_RESTRICT c, int64_t ldc, int64_t cols, bool accumulate,
                               const TileEpilogue* epi) {
  const DF d;
  constexpr int64_t kPanel = 2 * kLanes;
  for (int64_t j = 0; j + kPanel <= cols; j += kPanel, b += kPanel) {
    VF acc[R][2];
    if (j == 0) {
      PrefetchTileC<R, 2>(c, ldc, epi, j);
    } else {
      PrefetchTileC<R, 2, true>(c, ldc, epi, j);
    }
    if (j == 0) {
      TileProduct<R, 2, true, true>(d, kc, a, b, acc, ldb);
    } else {
      TileProduct<R, 2, true>(d, kc, a, b, acc, ldb);
    }
    StoreFullTile<R, 2>(d, acc, c, ldc, accumulate, epi, j);
  }
}

// One row by kRowPanels full column panels (GemmKernel::row_panels): a C of a single row (Gemm / MatMul at batch 1,
// a convolution with one output channel) ran Tile<1, 2> per panel, whose 2 accumulators leave the FMA pipes idle
// for most of each FMA's latency; kRowPanels panels give 2 kRowPanels independent accumulators. Each panel's
// elements see Tile<1, 2>'s operations in its order.
template <int kPanels>
HWY_NOINLINE void TileRow(int64_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, float* HWY_RESTRICT c,
                          int64_t ldc, int64_t /*cols*/, bool accumulate, const TileEpilogue* epi) {
  const DF d;
  constexpr int64_t kPanel = 2 * kLanes;
  VF acc[kPanels][1][2];
#pragma GCC unroll 8
  for (int q = 0; q < kPanels; ++q) {
    acc[q][0][0] = acc[q][0][1] = hn::Zero(d);
    PrefetchTileC<1, 2>(c, ldc, epi, q * kPanel);
  }
  const int64_t stride = kPanel * kc;  // between consecutive B panels
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const VF ar = hn::Set(d, a[k * kMR]);
#pragma GCC unroll 8
    for (int q = 0; q < kPanels; ++q) {
      acc[q][0][0] = hn::MulAdd(ar, hn::Load(d, b + q * stride + k * kPanel), acc[q][0][0]);
      acc[q][0][1] = hn::MulAdd(ar, hn::Load(d, b + q * stride + k * kPanel + kLanes), acc[q][0][1]);
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < kPanels; ++q) StoreFullTile<1, 2>(d, acc[q], c, ldc, accumulate, epi, q * kPanel);
}

// Two full row tiles by one vector (GemmKernel::tile_pair): 2 * kMR accumulators, one B load per k. Finishes
// through Finish, as Tile's edge columns do, so each element sees Tile<kMR, 1>'s operations in its order.
HWY_NOINLINE void TilePair(int64_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                           float* HWY_RESTRICT c, int64_t ldc, int64_t cols, bool accumulate,
                           const TileEpilogue* epi) {
  const DF d;
  constexpr int R = 2 * kMR;
  VF acc[R];
#pragma GCC unroll 24
  for (int r = 0; r < R; ++r) acc[r] = hn::Zero(d);
  const float* HWY_RESTRICT a2 = a + kMR * kc;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) hwy::Prefetch(c + r * ldc);
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const VF b0 = hn::Load(d, b);
#pragma GCC unroll 12
    for (int r = 0; r < kMR; ++r) {
      acc[r] = hn::MulAdd(hn::Set(d, a[r]), b0, acc[r]);
      acc[kMR + r] = hn::MulAdd(hn::Set(d, a2[r]), b0, acc[kMR + r]);
    }
    a += kMR;
    a2 += kMR;
    b += 2 * kLanes;
  }
  HWY_ALIGN float tile[R * 2 * kLanes];
#pragma GCC unroll 24
  for (int r = 0; r < R; ++r) hn::Store(acc[r], d, tile + r * 2 * kLanes);
  Finish(tile, R, 1, c, ldc, cols, accumulate, epi);
}

// B panels from rows of the stored matrix: two vectors per k. A per-element loop for a partial last panel and
// 16-byte copies (this file's baseline build for the rest) took a quarter of small-M GEMMs such as squeezenet's
// squeeze convs (gemm_bench 32 x 729 x 256), whose B is packed per call and read by few A rows.
void CopyPanelRows(const float* HWY_RESTRICT src, int64_t ks, int64_t kc, int64_t valid, float* HWY_RESTRICT dst) {
  const DF d;
  if (valid == 2 * kLanes) {
    for (int64_t k = 0; k < kc; ++k, dst += 2 * kLanes) {
      // Each k is a short run in a different row, and panels are packed left to right: prefetch the same rows a
      // few panels ahead, as the hardware prefetchers cannot follow this many streams.
      hwy::Prefetch(src + k * ks + 4 * kLanes);
      hn::StoreU(hn::LoadU(d, src + k * ks), d, dst);
      hn::StoreU(hn::LoadU(d, src + k * ks + kLanes), d, dst + kLanes);
    }
    return;
  }
  const int64_t first = std::min<int64_t>(valid, kLanes), second = valid - first;
  for (int64_t k = 0; k < kc; ++k, dst += 2 * kLanes) {
    const float* row = src + k * ks;
    hn::StoreU(ef::cpu::HWY_NAMESPACE::LoadPartial(d, row, first), d, dst);
    hn::StoreU(second > 0 ? ef::cpu::HWY_NAMESPACE::LoadPartial(d, row + kLanes, second) : hn::Zero(d), d,
              dst + kLanes);
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Transposing pack through 8 x 8 register transposes: 8 rows x 8 k in, 8 k x 8 rows out. Row groups are stored
// last to first and k first to last, so each 8-lane store that runs past its W-lane slot (W = 6 or 12) is
// overwritten by a later store; only the panel's very last one spills, into the next panel or the slack.
template <int kW>
void GatherPanel(const float* HWY_RESTRICT src, int64_t xs, int64_t kc, int64_t valid, float* HWY_RESTRICT dst) {
  const hn::FixedTag<float, 8> d;
  const hn::Repartition<double, decltype(d)> dd;
  using V8 = hn::Vec<decltype(d)>;
  constexpr int kGroups = (kW + 7) / 8;
  // 64-bit interleaves: pairs of floats move together.
  const auto lo64 = [&](V8 a, V8 b) {
    return hn::BitCast(d, hn::InterleaveLower(dd, hn::BitCast(dd, a), hn::BitCast(dd, b)));
  };
  const auto hi64 = [&](V8 a, V8 b) {
    return hn::BitCast(d, hn::InterleaveUpper(dd, hn::BitCast(dd, a), hn::BitCast(dd, b)));
  };
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (int g = kGroups - 1; g >= 0; --g) {
      V8 r[8];
#pragma GCC unroll 8
      for (int x = 0; x < 8; ++x) {
        const int64_t row = 8 * g + x;
        if (row < valid) {
          hwy::Prefetch(src + row * xs + k + 64);  // rows are separate streams; keep 4 lines in flight each
          r[x] = hn::LoadU(d, src + row * xs + k);
        } else {
          r[x] = hn::Zero(d);
        }
      }
      V8 t[8], u[8];
#pragma GCC unroll 4
      for (int x = 0; x < 8; x += 2) {
        t[x] = hn::InterleaveLower(d, r[x], r[x + 1]);
        t[x + 1] = hn::InterleaveUpper(d, r[x], r[x + 1]);
      }
#pragma GCC unroll 2
      for (int x = 0; x < 8; x += 4) {
        u[x] = lo64(t[x], t[x + 2]);
        u[x + 1] = hi64(t[x], t[x + 2]);
        u[x + 2] = lo64(t[x + 1], t[x + 3]);
        u[x + 3] = hi64(t[x + 1], t[x + 3]);
      }
      float* o = dst + k * kW + 8 * g;
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        hn::StoreU(hn::ConcatLowerLower(d, u[4 + j], u[j]), d, o + j * kW);
      }
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        hn::StoreU(hn::ConcatUpperUpper(d, u[4 + j], u[j]), d, o + (4 + j) * kW);
      }
    }
  }
  for (; k < kc; ++k) {
    for (int64_t x = 0; x < kW; ++x) dst[k * kW + x] = x < valid ? src[x * xs + k] : 0.0f;
  }
}
#endif

// C has a single column (a 1x1 convolution on one pixel, a classifier as a convolution): one A panel times the
// column, computed along the panel's memory order instead of across 2 vectors of which 1 lane would be used.
// xe is the column expanded to the panel layout (xe[k * kMR + r] = x[k]), so the panel and xe are multiplied
// element-wise with full vectors; lane i of the period lcm(kMR, lanes) always belongs to row i % kMR.
constexpr int64_t Gcd(int64_t a, int64_t b) { return b == 0 ? a : Gcd(b, a % b); }
constexpr int64_t kPeriod = kMR / Gcd(kMR, kLanes) * kLanes;
constexpr int kPeriodVecs = static_cast<int>(kPeriod / kLanes);

HWY_NOINLINE void Column(int64_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT xe, float* HWY_RESTRICT c,
                         int64_t ldc, int rows, bool accumulate, const TileEpilogue* epi) {
  const DF d;
  VF acc0[kPeriodVecs], acc1[kPeriodVecs];
  // Unrolled, or GCC keeps the accumulators in a stack array cleared by `rep stos` (~20% of a 6 x 256 column).
#pragma GCC unroll 8
  for (int v = 0; v < kPeriodVecs; ++v) acc0[v] = acc1[v] = hn::Zero(d);
  const int64_t n = kc * kMR;  // floats in the panel
  int64_t i = 0;
  // Two sets of accumulators to cover FMA latency; the pairing is fixed, so the sum order is too.
  for (; i + 2 * kPeriod <= n; i += 2 * kPeriod) {
#pragma GCC unroll 8
    for (int v = 0; v < kPeriodVecs; ++v) {
      acc0[v] = hn::MulAdd(hn::LoadU(d, a + i + v * kLanes), hn::LoadU(d, xe + i + v * kLanes), acc0[v]);
      acc1[v] = hn::MulAdd(hn::LoadU(d, a + i + kPeriod + v * kLanes), hn::LoadU(d, xe + i + kPeriod + v * kLanes),
                           acc1[v]);
    }
  }
  HWY_ALIGN float lanes[kPeriod];
#pragma GCC unroll 8
  for (int v = 0; v < kPeriodVecs; ++v) hn::Store(hn::Add(acc0[v], acc1[v]), d, lanes + v * kLanes);
  // One value per row: finish in scalar code, the vector Finish would spend longer on partial loads and stores.
  // The piecewise-linear activations are inlined below; the others run on the column's values as vectors (the
  // formulas of apply_activation, so the same bits), not through one apply_activation call per value: those
  // calls were most of the time of the squeeze-excitation convs (N = 1) and of the 7x7 layers' last column.
  const bool scalar_act = epi == nullptr || epi->act.kind == ActKind::kNone || epi->act.kind == ActKind::kRelu ||
                          epi->act.kind == ActKind::kClip || epi->act.kind == ActKind::kLeakyRelu;
  constexpr int64_t kValues = (kMR + kLanes - 1) / kLanes * kLanes;
  HWY_ALIGN float values[kValues] = {};
  for (int r = 0; r < rows; ++r) {
    float x = 0.0f;
    for (int64_t j = r; j < kPeriod; j += kMR) x += lanes[j];
    for (int64_t j = i + r; j < n; j += kMR) x += a[j] * xe[j];
    if (accumulate) x = c[r * ldc] + x;
    if (epi) {
      const TileEpilogue& e = *epi;
      if (e.alpha != 1.0f) x *= e.alpha;
      if (e.row_bias) x += e.row_bias[r];
      if (e.col_bias) x += e.col_bias[0];
      if (e.residual) x += e.residual[r * e.ldr];
      switch (e.act.kind) {
        case ActKind::kRelu: x = x > 0.0f ? x : 0.0f; break;
        case ActKind::kClip: x = std::min(std::max(x, e.act.alpha), e.act.beta); break;
        case ActKind::kLeakyRelu: x = x >= 0.0f ? x : x * e.act.alpha; break;
        default: break;
      }
    }
    values[r] = x;
  }
  if (!scalar_act) {
    const DF d;
    for (int64_t r = 0; r < rows; r += kLanes) hn::Store(VecActivate(d, hn::Load(d, values + r), epi->act), d, values + r);
  }
  for (int r = 0; r < rows; ++r) c[r * ldc] = values[r];
}

template <int R = 1>
constexpr void FillTiles(GemmKernel& k) {
  if constexpr (R <= kMR) {
    k.tile[R - 1][0] = &Tile<R, 1>;
    k.tile[R - 1][1] = &Tile<R, 2>;
    k.sweep[R - 1] = &Sweep<R>;
    k.sweep_in_place[R - 1] = &SweepInPlace<R>;
    FillTiles<R + 1>(k);
  }
}

constexpr GemmKernel MakeKernel() {
  GemmKernel k{};
  k.target = HWY_TARGET;
  k.mr = kMR;
  k.nr = static_cast<int>(2 * kLanes);
  // KC: a B panel (KC x nr) stays in L1 while every A panel of the block streams past it. MC: the packed A
  // block (MC x KC) stays in L2. NC: the packed B block (KC x NC) stays in L3.
  k.kc = 256;
  k.mc = kMR == 12 ? 144 : 168;
  k.nc = 4096;
  FillTiles(k);
  k.tile_pair = &TilePair;
  k.tile_stream_a = &Tile<kMR, 2, true>;
  k.row_panels = &TileRow<kRowPanels>;
  k.column = &Column;
  k.copy_b = &CopyPanelRows;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  k.gather_a = &GatherPanel<kMR>;
  k.gather_b = &GatherPanel<2 * kLanes>;
#endif
  return k;
}

constexpr GemmKernel kGemmKernel = MakeKernel();

const GemmKernel* GetGemmKernel() { return &kGemmKernel; }

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {
namespace detail {

HWY_EXPORT(GetGemmKernel);

namespace {

// Kernels of every compiled target this CPU runs, best (lowest target bit) first.
const std::vector<const GemmKernel*>& available_kernels() {
  static const std::vector<const GemmKernel*> kernels = [] {
    const GemmKernel* const all[] = {HWY_CHOOSE_TARGET_LIST(kGemmKernel), HWY_CHOOSE_FALLBACK(kGemmKernel)};
    const int64_t supported = hwy::SupportedTargets() | HWY_EMU128 | HWY_SCALAR;
    std::vector<const GemmKernel*> out;
    for (const GemmKernel* k : all) {
      if (k == nullptr || (k->target & supported) == 0) continue;
      if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    }
    std::sort(out.begin(), out.end(), [](const GemmKernel* x, const GemmKernel* y) { return x->target < y->target; });
    return out;
  }();
  return kernels;
}

const GemmKernel* best_kernel() { return HWY_DYNAMIC_DISPATCH(GetGemmKernel)(); }

std::atomic<const GemmKernel*> g_active{nullptr};

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

const GemmKernel& active_kernel() {
  const GemmKernel* k = g_active.load(std::memory_order_acquire);
  if (k == nullptr) {
    const GemmKernel* expected = nullptr;
    k = best_kernel();
    if (!g_active.compare_exchange_strong(expected, k, std::memory_order_acq_rel)) k = expected;
  }
  return *k;
}

}  // namespace detail

const char* sgemm_target_name() { return hwy::TargetName(detail::active_kernel().target); }

std::vector<std::string> sgemm_targets() {
  std::vector<std::string> names;
  for (const detail::GemmKernel* k : detail::available_kernels()) names.emplace_back(hwy::TargetName(k->target));
  return names;
}

bool set_max_isa(std::string_view target) {
  if (target.empty()) {
    detail::g_active.store(detail::best_kernel(), std::memory_order_release);
    return true;
  }
  int64_t bit = 0;
  for (int i = 0; i < 63 && bit == 0; ++i) {
    if (detail::same_name(hwy::TargetName(int64_t{1} << i), target)) bit = int64_t{1} << i;
  }
  if (bit == 0) return false;
  // Lower target bits are better targets, so "no better than" is "bit at least as high".
  for (const detail::GemmKernel* k : detail::available_kernels()) {
    if (k->target >= bit) {
      detail::g_active.store(k, std::memory_order_release);
      return true;
    }
  }
  return false;
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
