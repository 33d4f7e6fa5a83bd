// Direct convolution over padded planes (see conv_direct_planes.h for the algorithm). The register tile is
// kMR output channels x 2 vectors of padded-grid positions: per tap 2 unaligned loads and kMR weight broadcasts
// for 2 kMR FMAs (12 x 2 on AVX-512 and NEON, 6 x 2 with 16 registers), as in the SGEMM's tiles, but the whole K
// stays in registers (no C reloads between K blocks) and the B operand is read where it lies.
#include "kernels/cpu/conv_direct_planes.h"

#include <algorithm>
#include <atomic>
#include <array>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "kernels/cpu/conv_layout.h"
#include "kernels/cpu/winograd.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/conv_direct_planes.cpp"
// Arrays of accumulator vectors need sized vectors (as in sgemm_kernel.cpp).
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/cpu/activation-inl.h"
#include "kernels/cpu/partial_vec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using Geometry = DirectPlanesConv::Geometry;
constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(DF()));
constexpr int kV = 2;                     // vectors of positions per register tile (at most)
static_assert(kV == 2, "AccumulateTable lists the 1- and 2-vector tiles");
constexpr int64_t kTile = kV * kLanes;  // positions per register tile
constexpr int64_t kPanel = DirectPlanesConv::kRowTile;

// Rows per register tile: kMR x 2 accumulators + 2 input vectors + 1 broadcast must fit the register file.
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || (HWY_ARCH_ARM && HWY_TARGET == HWY_NEON)
constexpr int kMR = 12;
#else
constexpr int kMR = 6;
#endif
static_assert(kPanel % kMR == 0 && kTile <= DirectPlanesConv::kMaxTile);

// Where one accumulator vector of a column tile goes: its lanes that are real outputs (below the band's last
// position, ow < OW) in `valid`, `count` of them. Real outputs of a band are consecutive in y (oh OW + ow), so the
// valid lanes, packed down in order, are `count` consecutive outputs from index `out`.
struct VectorDest {
  uint8_t valid[(kLanes + 7) / 8];
  int64_t count, out;
};

// The destinations of the vectors of band positions [n0, n0 + kTile); `first` is the output index of the band's
// position 0.
void Destinations(const Geometry& g, int64_t n0, int64_t positions, int64_t first, VectorDest* dest) {
  int64_t oh = n0 / g.Wp, ow = n0 % g.Wp, out = -1;
  for (int v = 0; v < kV; ++v) {
    VectorDest& vd = dest[v];
    uint32_t bits = 0;
    vd.count = 0;
    for (int64_t l = 0, n = n0 + v * kLanes; l < kLanes; ++l, ++n) {
      if (n < positions && ow < g.p.OW) {
        if (out < 0) out = first + oh * g.p.OW + ow;
        bits |= 1u << l;
        ++vd.count;
      }
      if (++ow == g.Wp) ow = 0, ++oh;
    }
    for (size_t b = 0; b < sizeof(vd.valid); ++b) vd.valid[b] = static_cast<uint8_t>(bits >> (8 * b));
    vd.out = out;
    if (out >= 0) out += vd.count;
  }
}

// Floats ahead of the weight stream that the first column tile of a band prefetches (64 k steps of a panel).
constexpr int64_t kPrefetchAheadW = 64 * kPanel;

// acc = bias + sum over k of w[k][r] * x[offset[k] + lane] for R rows and V * lanes lanes, stored to
// tile[r][lane] (rows kTile apart). kPrefetchW: the panel is read here for the first time in this run (the band's
// first column tile): inside a model the weights come from L3 or DRAM, so fetch the stream ahead (as the SGEMM's
// first row pass does with its A panels).
template <int R, int V, bool kPrefetchW>
HWY_NOINLINE void Accumulate(DF d, const float* HWY_RESTRICT x, const int64_t* HWY_RESTRICT offset, int64_t K,
                             const float* HWY_RESTRICT w, const float* HWY_RESTRICT bias, float* HWY_RESTRICT tile) {
  VF acc[R][V];
  HWY_UNROLL(12) for (int r = 0; r < R; ++r) {
    HWY_UNROLL(2) for (int v = 0; v < V; ++v) acc[r][v] = hn::Set(d, bias[r]);
  }
  for (int64_t k = 0; k < K; ++k, w += kPanel) {
    if constexpr (kPrefetchW) hwy::Prefetch(w + kPrefetchAheadW);
    const float* p = x + offset[k];
    VF b[V];
    HWY_UNROLL(2) for (int v = 0; v < V; ++v) b[v] = hn::LoadU(d, p + v * kLanes);
    HWY_UNROLL(12) for (int r = 0; r < R; ++r) {
      const VF a = hn::Set(d, w[r]);
      HWY_UNROLL(2) for (int v = 0; v < V; ++v) acc[r][v] = hn::MulAdd(a, b[v], acc[r][v]);
    }
  }
  HWY_UNROLL(12) for (int r = 0; r < R; ++r) {
    HWY_UNROLL(2) for (int v = 0; v < V; ++v) hn::Store(acc[r][v], d, tile + r * kTile + v * kLanes);
  }
}

using AccumulateFn = void (*)(DF, const float*, const int64_t*, int64_t, const float*, const float*, float*);

// [V - 1][R - 1]: a band's last tile, when at most one vector of positions is left, computes one vector (13x13
// planes have 193 positions: 6 tiles of 32 and one of 1).
template <bool kPrefetchW, int... R>
constexpr std::array<std::array<AccumulateFn, sizeof...(R)>, kV> AccumulateTable(std::integer_sequence<int, R...>) {
  return {{{&Accumulate<R + 1, 1, kPrefetchW>...}, {&Accumulate<R + 1, 2, kPrefetchW>...}}};
}
constexpr auto kAccumulate = AccumulateTable<false>(std::make_integer_sequence<int, kMR>());
constexpr auto kAccumulatePrefetch = AccumulateTable<true>(std::make_integer_sequence<int, kMR>());

// One output channel's row of a register tile (in `tile`, vectors stored aligned) through residual and activation
// into y. Each vector is reloaded whole from where it was stored (the store buffer forwards it); garbage lanes
// (padding columns, positions past the band) are squeezed out with Compress, so a vector takes one partial store
// however its lanes straddle rows (conv_bench, 1 thread: 1-2% faster than cutting vectors into per-row pieces).
template <ActKind A>
HWY_INLINE void StoreTileRow(DF d, const float* HWY_RESTRICT tile, size_t vectors, const VectorDest* dest,
                             const float* residual, const Activation& act, float* y) {
  for (size_t v = 0; v < vectors; ++v) {
    const VectorDest& vd = dest[v];
    if (vd.count == 0) continue;
    VF x = hn::Load(d, tile + v * kLanes);
    if (vd.count < kLanes) x = hn::Compress(x, hn::LoadMaskBits(d, vd.valid));
    if (residual) x = hn::Add(x, LoadPartial(d, residual + vd.out, vd.count));
    StorePartial(VecActivateK<A>(d, x, act.alpha, act.beta), d, y + vd.out, vd.count);
  }
}

// Output rows [oh0, oh1) (one band) x output channels of row tiles [rt0, rt1) of one image. buf: the band's padded
// rows (channel stride g.stride, position 0 at its first row); residual, y: the image's output planes.
void Band(const Geometry& g, const float* buf, int64_t oh0, int64_t oh1, const float* w, const float* bias,
          const int64_t* offset, const float* residual, const Activation& act, float* y, int64_t rt0, int64_t rt1) {
  const DF d;
  const Conv2dParams& p = g.p;
  const int64_t out_plane = p.OH * p.OW;
  const int64_t positions = (oh1 - oh0 - 1) * g.Wp + p.OW, first = oh0 * p.OW;
  HWY_ALIGN float tile[kMR * kTile];
  VectorDest dest[kV];
  DispatchActKind(act.kind, [&](auto kind) HWY_ATTR {
    constexpr ActKind A = decltype(kind)::value;
    // Column tiles outer: the tile's input window (C kh rows of ~kTile + kw floats) stays in L1 across the row
    // tiles, whose weight panels stream from L2.
    for (int64_t n0 = 0; n0 < positions; n0 += kTile) {
      Destinations(g, n0, positions, first, dest);
      const size_t vectors = positions - n0 <= kLanes ? 1 : kV;
      for (int64_t rt = rt0; rt < rt1; ++rt) {
        for (int64_t r0 = 0; r0 < kPanel; r0 += kMR) {
          const int64_t m0 = rt * kPanel + r0, rows = std::min<int64_t>(kMR, p.M - m0);
          if (rows <= 0) break;
          const auto& table = n0 == 0 ? kAccumulatePrefetch : kAccumulate;
          table[vectors - 1][static_cast<size_t>(rows - 1)](d, buf + n0, offset, g.K, w + rt * g.K * kPanel + r0,
                                                            bias + m0, tile);
          for (int64_t r = 0; r < rows; ++r) {
            StoreTileRow<A>(d, tile + r * kTile, vectors, dest,
                            residual ? residual + (m0 + r) * out_plane : nullptr, act, y + (m0 + r) * out_plane);
          }
        }
      }
    }
  });
}

// The padded rows that output rows [oh0, oh1) read, for every channel of one image, into buf (channel stride
// g.stride): padded row oh0 + r at buf + c * stride + r * Wp, as g.gap zeros then the input row (rows above and
// below the input all zeros). A row's right padding is the next row's gap, so the gap after the last row written
// is zeroed too (when it is not the next channel's first row, or the slack, which run() zeroes).
void PadBand(const Geometry& g, const float* x, int64_t oh0, int64_t oh1, float* buf) {
  const Conv2dParams& p = g.p;
  const int64_t rows = oh1 - oh0 + (p.kh - 1) * p.dilation_h;
  for (int64_t c = 0; c < p.C; ++c) {
    float* plane = buf + c * g.stride;
    pad_plane_rows(x + c * p.H * p.W, p.H, p.W, p.pad_top, g.gap, g.Wp, oh0, rows, plane);
    if (rows * g.Wp < g.stride) std::fill(plane + rows * g.Wp, plane + rows * g.Wp + g.gap, 0.0f);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(Band);
HWY_EXPORT(PadBand);

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up_16(int64_t a) { return (a + 15) / 16 * 16; }

// A band's padded input (C channels x its rows) is kept within this many bytes, so that it stays in L2 beside the
// weight panels while every row tile sweeps it.
constexpr int64_t kBandBytes = 192 << 10;
// The fewest output rows of a band that a split for threads makes (halo rows 3x3: 2 per band, 15% at 13 rows).
constexpr int64_t kMinSplitBandRows = 12;
int64_t gcd(int64_t a, int64_t b) { return b == 0 ? a : gcd(b, a % b); }
}  // namespace

bool direct_planes_applicable(const Conv2dParams& p) {
  return p.group == 1 && p.C >= 1 && p.M >= 1 && p.kh >= 1 && p.kw >= 1 && p.dilation_h >= 1 &&
         p.dilation_w >= 1 && p.OH >= 1 && p.OW >= 1 && p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 &&
         p.pad_right >= 0 && stride1_floor_output(p);
}

bool direct_planes_preferred(const Conv2dParams& p) {
  if (!direct_planes_applicable(p) || p.C < 8 || p.kh != 3 || p.kw != 3) return false;
  // Measured against Winograd F(4x4), the algorithm these 3x3 layers otherwise get, inside squeezenet1_1 and
  // resnet18 (bench/ort_profile per node, edgeforge bench A/B per model): one block of at most 16 Winograd tiles
  // (13x13 planes) with C <= 64: Winograd's transforms and 16-column GEMMs cost as much as the direct product at
  // one thread (48 -> 192: 0.19 vs 0.21 ms, 64 -> 256: 0.34 vs 0.35 ms) and it splits poorly over threads (one
  // block, three joins). Since sharing the padding gap between rows the 13x13 layers were another 12-14% faster.
  // Larger planes stay on Winograd at any thread count. Squeezenet's 55x55 / 27x27 expand convs (C <= 32) took
  // direct planes at two threads until the SGEMM's sweeps prefetched their weights (Winograd's U, re-read from
  // L3 by every block): then Winograd took them at 0.115 / 0.096 ms per node against direct's 0.133 / 0.126
  // (nodeab, 7 interleaved rounds; model 0.95x). F(2x2) layers (7x7-ish planes) were not measured: they stay on
  // Winograd.
  if (winograd_preferred_tile(p) != 4) return false;
  return winograd_tiles(p, 4) <= 16 && p.C <= 64;
}

DirectPlanesConv::DirectPlanesConv(const Conv2dParams& p, const float* w, const float* bias, int threads) {
  if (!direct_planes_applicable(p)) throw std::invalid_argument("DirectPlanesConv: unsupported geometry");
  Geometry& g = g_;
  g.p = p;
  // Rows of gap zeros then W inputs: the gap serves as one row's right padding and the next row's left padding,
  // so Wp - OW = (kw - 1) dw - pad_left - pad_right + gap garbage columns per row: 1 for 3x3 'same', not 2. Pads
  // wider than the kernel's reach need a wider gap, so that every output column still has a position (Wp >= OW).
  g.gap = std::max({p.pad_left, p.pad_right, p.pad_left + p.pad_right - (p.kw - 1) * p.dilation_w});
  g.Wp = g.gap + p.W;
  g.K = p.C * p.kh * p.kw;
  g.row_tiles = ceil_div(p.M, kRowTile);
  const int64_t halo = (p.kh - 1) * p.dilation_h;
  const int64_t row_bytes = p.C * g.Wp * static_cast<int64_t>(sizeof(float));
  g.band_rows = std::clamp<int64_t>(kBandBytes / std::max<int64_t>(1, row_bytes) - halo, 1, p.OH);
  g.bands = ceil_div(p.OH, g.band_rows);
  // Several threads: as many (image, band) units as make equal shares, when the bands stay tall enough for their
  // halo rows to be a small overhead (27x27 planes: two bands of 14 rows); channel groups split the rest (run()).
  // Equal shares, one per thread, beat the former ~4 tasks per thread of uneven channel groups: squeezenet's 55x55
  // layer 0.143 -> 0.126 ms at two threads (conv_bench), its 27x27 ones 0.129 -> 0.123.
  if (threads > 1) {
    int64_t even = g.bands;
    while ((p.N * even) % threads != 0) ++even;
    if (p.OH >= even * kMinSplitBandRows) g.bands = even;
  }
  g.band_rows = ceil_div(p.OH, g.bands);  // even bands: 56 rows as 7 x 8, not 6 x 9 + 2
  g.stride = (g.band_rows + halo) * g.Wp;
  // The last register tile of a band starts below band_rows * Wp and reads kMaxTile positions at each tap, up to
  // (kh - 1) dh Wp + (kw - 1) dw + gap - pad_left further: past the last channel's rows by at most kMaxTile +
  // (kw - 1) dw + gap.
  g.buffer = p.C * g.stride + kMaxTile + (p.kw - 1) * p.dilation_w + g.gap;
  slots_ = std::max<int64_t>(1, std::min<int64_t>(physical_core_count(), g.bands * g.row_tiles * p.N));
  pack_channel_panels(w, bias, p.M, g.K, kRowTile, w_, bias_);
  for (int64_t c = 0; c < p.C; ++c) {
    for (int64_t i = 0; i < p.kh; ++i) {
      for (int64_t j = 0; j < p.kw; ++j) {
        // Output column ow, tap j reads input column ow - pad_left + j dw, at gap + that within its row.
        offset_.push_back(c * g.stride + i * p.dilation_h * g.Wp + j * p.dilation_w + g.gap - p.pad_left);
      }
    }
  }
}

uint64_t DirectPlanesConv::scratch_bytes() const {
  return static_cast<uint64_t>(slots_ * round_up_16(g_.buffer)) * sizeof(float);
}

void DirectPlanesConv::run(const float* x, const float* residual, const Activation& act, float* y, void* scratch,
                           ThreadPool& pool) const {
  const Conv2dParams& p = g_.p;
  const int64_t out_image = p.M * p.OH * p.OW;
  // Tasks: (image, band, group of row tiles). One thread: whole bands. Several: the fewest tasks that share out
  // evenly, channel groups splitting what the bands cannot (a 13x13 plane is one band): lcm(units, threads).
  const int64_t threads = std::min<int64_t>(pool.num_threads(), slots_);
  const int64_t units = p.N * g_.bands;
  const int64_t groups = threads <= 1 ? 1 : std::clamp<int64_t>(threads / gcd(units, threads), 1, g_.row_tiles);
  const int64_t tasks = units * groups;
  const int64_t slot_floats = round_up_16(g_.buffer);
  std::atomic<int64_t> next{0};
  auto work = [&](int64_t slot) {
    float* buf = static_cast<float*>(scratch) + slot * slot_floats;
    // The slack past the last channel is only read into lanes that are never stored; zero it so that no stale
    // scratch (NaN, subnormals) goes through the FMAs.
    std::fill(buf + p.C * g_.stride, buf + g_.buffer, 0.0f);
    int64_t padded = -1;  // the (image, band) this slot's buffer holds
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      const int64_t image_band = t / groups, group = t % groups;
      const int64_t n = image_band / g_.bands, b = image_band % g_.bands;
      const int64_t oh0 = b * g_.band_rows, oh1 = std::min(p.OH, oh0 + g_.band_rows);
      if (image_band != padded) {
        HWY_DYNAMIC_DISPATCH(PadBand)(g_, x + n * p.C * p.H * p.W, oh0, oh1, buf);
        padded = image_band;
      }
      const int64_t rt0 = group * g_.row_tiles / groups, rt1 = (group + 1) * g_.row_tiles / groups;
      HWY_DYNAMIC_DISPATCH(Band)(g_, buf, oh0, oh1, w_.data(), bias_.data(), offset_.data(),
                                 residual ? residual + n * out_image : nullptr, act, y + n * out_image, rt0, rt1);
    }
  };
  if (threads <= 1) return work(0);
  pool.parallel_for(threads, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) work(s);
  });
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
