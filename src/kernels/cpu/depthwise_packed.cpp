// Depthwise convolution with one channel per vector lane, for small planes (7x7..28x28). The plane-at-a-time
// kernels of depthwise_conv.cpp vectorize along the output row: on a 7x7 plane each row is one vector with a lane
// wasted, and the per-plane work (padded copy, weight broadcasts, row set-up, calls) dwarfs the ~55 FMAs of a 3x3
// plane (960 x 7x7 ran at ~2 GMAC/s). Here a block of kN channels is transposed into a zero-padded buffer whose
// every position holds kN channels, the weights likewise (one vector per tap), so each output position is a plain
// FMA chain over the taps with no lane wasted and no border case, for any kernel size, stride and dilation. Eight
// output positions per step keep eight independent chains (two FMA pipes x four cycles of latency); 3x3 and 5x5
// layers without dilation go row by row instead (compute_rows), each input row's vectors loaded once per chunk.
// The outputs are transposed back with the residual and activation applied while in registers. Depends on
// conv_params.h, activation-inl.h, core/thread_pool.h and Highway (compiled once per target by foreach_target.h).
#include "kernels/cpu/depthwise_packed.h"

#include "kernels/cpu/depthwise_conv.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/depthwise_packed.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/cpu/activation-inl.h"

namespace ef::cpu {
// This thread's table of at least `count` int32 offsets (defined below, shared by every target's code).
int32_t* packed_offsets(size_t count);
}  // namespace ef::cpu

HWY_BEFORE_NAMESPACE();
namespace ef::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 8 lanes: with AVX-512 a 16-channel block would need 16 vectors for each transpose and 16 channels per
// layer block (most layers have multiples of 8); 256-bit vectors keep both halves of the FMA rate on Zen-class cores.
using DP = hn::CappedTag<float, 8>;
using VP = hn::Vec<DP>;
constexpr size_t kN = hn::MaxLanes(DP());
constexpr int kTile = 8;  // output positions per step: independent FMA chains (planes of fewer never come here)

// 4 or 8 lanes (and Lanes == MaxLanes, i.e. not a scalable vector): the transposes below are written for those.
int64_t PackedLanes() {
  if constexpr (kN == 4 || kN == 8) {
    return hn::Lanes(DP()) == kN ? static_cast<int64_t>(kN) : 0;
  } else {
    return 0;
  }
}

// v[i] lane j -> v[j] lane i, for kN x kN floats: 32-bit then 64-bit interleaves transpose 4x4 blocks (per 128-bit
// half), and with 8 lanes the halves are then exchanged.
HWY_INLINE void transpose_lanes(VP* v) {
#if HWY_TARGET == HWY_SCALAR
  (void)v;  // one lane: PackedLanes() keeps this target off the packed path
#else
  if constexpr (kN == 4 || kN == 8) {
    const DP d;
    const hn::Repartition<uint64_t, DP> d64;
    HWY_UNROLL(2) for (size_t g = 0; g < kN; g += 4) {
      const auto t0 = hn::BitCast(d64, hn::InterleaveLower(d, v[g], v[g + 1]));  // a0 b0 a1 b1
      const auto t1 = hn::BitCast(d64, hn::InterleaveLower(d, v[g + 2], v[g + 3]));  // c0 d0 c1 d1
      const auto t2 = hn::BitCast(d64, hn::InterleaveUpper(d, v[g], v[g + 1]));  // a2 b2 a3 b3
      const auto t3 = hn::BitCast(d64, hn::InterleaveUpper(d, v[g + 2], v[g + 3]));  // c2 d2 c3 d3
      v[g] = hn::BitCast(d, hn::InterleaveLower(d64, t0, t1));
      v[g + 1] = hn::BitCast(d, hn::InterleaveUpper(d64, t0, t1));
      v[g + 2] = hn::BitCast(d, hn::InterleaveLower(d64, t2, t3));
      v[g + 3] = hn::BitCast(d, hn::InterleaveUpper(d64, t2, t3));
    }
    if constexpr (kN == 8) {
      HWY_UNROLL(4) for (size_t q = 0; q < 4; ++q) {
        const VP lo = v[q], hi = v[q + 4];
        v[q] = hn::ConcatLowerLower(d, hi, lo);
        v[q + 4] = hn::ConcatUpperUpper(d, hi, lo);
      }
    }
  }
#endif
}

// dst[pos(i) + lane] = src[lane][i] for i < count: kN planes (or weight sets) into one channel-interleaved
// layout, kN elements per transpose. The last chunk is shifted back to end at the last element, writing a few
// positions again with the same values.
template <class PosFn>
HWY_INLINE void pack_lanes(const float* const* src, int64_t count, float* dst, const PosFn& pos) {
  const int64_t n = static_cast<int64_t>(kN);
  if (count < n) {
    for (int64_t i = 0; i < count; ++i) {
      for (int64_t lane = 0; lane < n; ++lane) dst[pos(i) + lane] = src[lane][i];
    }
    return;
  }
  const DP d;
  for (int64_t k0 = 0; k0 < count; k0 += n) {
    const int64_t k = std::min(k0, count - n);
    VP v[kN];
    HWY_UNROLL(8) for (size_t lane = 0; lane < kN; ++lane) v[lane] = hn::LoadU(d, src[lane] + k);
    transpose_lanes(v);
    HWY_UNROLL(8) for (size_t j = 0; j < kN; ++j) hn::Store(v[j], d, dst + pos(k + static_cast<int64_t>(j)));
  }
}

// Block geometry: the padded plane is prows x pcols positions of kN floats, the input at (pad_top, pad_left).
struct PackedShape {
  int64_t prows, pcols, out_rows;  // out_rows: OH * OW rounded up to kN (whole transposes when unpacking)
};

HWY_INLINE PackedShape packed_shape(const Conv2dParams& p) {
  const int64_t n = static_cast<int64_t>(kN);
  const int64_t prows = std::max(p.H + p.pad_top, (p.OH - 1) * p.stride_h + (p.kh - 1) * p.dilation_h + 1);
  const int64_t pcols = std::max(p.W + p.pad_left, (p.OW - 1) * p.stride_w + (p.kw - 1) * p.dilation_w + 1);
  return {prows, pcols, (p.OH * p.OW + n - 1) / n * n};
}

// kTile output positions whose windows start at padded + off[j]: bias + the taps in order, one FMA chain per
// position, stored to out (kTile vectors). K = 3 or 5 unrolls the taps (K = 0: p.kh x p.kw at run time).
template <int K>
HWY_INLINE void tile(const Conv2dParams& p, int64_t row_step, int64_t col_step, const float* padded,
                     const int32_t* off, const float* wt, VP bias, float* out) {
  const DP d;
  const int64_t n = static_cast<int64_t>(kN);
  const float* base[kTile];
  HWY_UNROLL(8) for (int j = 0; j < kTile; ++j) base[j] = padded + off[j];
  VP acc[kTile];
  HWY_UNROLL(8) for (int j = 0; j < kTile; ++j) acc[j] = bias;
  const int64_t kh = K ? K : p.kh, kw = K ? K : p.kw;
  HWY_UNROLL(5) for (int64_t r = 0; r < kh; ++r) {
    HWY_UNROLL(5) for (int64_t c = 0; c < kw; ++c, wt += n) {
      const int64_t o = r * row_step + c * col_step;
      const VP w = hn::Load(d, wt);
      HWY_UNROLL(8) for (int j = 0; j < kTile; ++j) acc[j] = hn::MulAdd(hn::Load(d, base[j] + o), w, acc[j]);
    }
  }
  HWY_UNROLL(8) for (int j = 0; j < kTile; ++j) hn::Store(acc[j], d, out + j * n);
}

// Every output position of the block, kTile at a time in row-major order; the last step is shifted back
// (recomputes a few positions). out_off[i]: padded offset of output i's window.
template <int K>
void compute(const Conv2dParams& p, int64_t pcols, const float* padded, const int32_t* out_off, const float* wt,
             VP bias, float* obuf) {
  const int64_t n = static_cast<int64_t>(kN);
  const int64_t out_plane = p.OH * p.OW;
  const int64_t row_step = p.dilation_h * pcols * n, col_step = p.dilation_w * n;
  for (int64_t i0 = 0; i0 < out_plane; i0 += kTile) {
    const int64_t i = std::min<int64_t>(i0, out_plane - kTile);
    tile<K>(p, row_step, col_step, padded, out_off + i, wt, bias, obuf + i * n);
  }
}

// Output positions per row chunk of the row kernels below. 3x3 stride 1: its 9 weight vectors, kRowChunk
// accumulators and kRowChunk + 2 loaded vectors fit 32 registers; with 16 (AVX2) half as many.
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || (HWY_ARCH_ARM && HWY_TARGET == HWY_NEON)
constexpr int kRowChunk = 8;
#else
constexpr int kRowChunk = 4;
#endif

// W consecutive outputs of one row of a K x K stride-S layer (dilation 1): each of the K input rows' (W - 1) S + K
// vectors is loaded once and meets its K column taps, where the generic tile loads every tap of every output (3x
// the loads for 3x3 stride 1, and 8 window pointers that did not fit the registers beside the accumulators). The
// same taps in the same order per output as tile<K>. wv: the K K weight vectors (in registers for 3x3; 5x5 reloads
// them from the block's packed weights, L1).
template <int K, int S, int W>
HWY_INLINE void row_chunk(const float* in, int64_t row_step, const VP* wv, const float* wt, VP bias, float* out) {
  const DP d;
  const int64_t n = static_cast<int64_t>(kN);
  constexpr int kSpan = (W - 1) * S + K;
  VP acc[W];
  HWY_UNROLL(8) for (int j = 0; j < W; ++j) acc[j] = bias;
  HWY_UNROLL(5) for (int r = 0; r < K; ++r) {
    VP x[kSpan];
    HWY_UNROLL(19) for (int i = 0; i < kSpan; ++i) x[i] = hn::Load(d, in + r * row_step + i * n);
    HWY_UNROLL(5) for (int c = 0; c < K; ++c) {
      const VP w = K == 3 ? wv[r * K + c] : hn::Load(d, wt + (r * K + c) * n);
      HWY_UNROLL(8) for (int j = 0; j < W; ++j) acc[j] = hn::MulAdd(x[j * S + c], w, acc[j]);
    }
  }
  HWY_UNROLL(8) for (int j = 0; j < W; ++j) hn::Store(acc[j], d, out + j * n);
}

// Every output of the block, row by row in chunks of min(OW, kRowChunk) (a row's last chunk shifted back).
template <int K, int S, int W>
HWY_NOINLINE void compute_rows(const Conv2dParams& p, int64_t pcols, const float* padded, const float* wt, VP bias,
                               float* obuf) {
  const DP d;
  const int64_t n = static_cast<int64_t>(kN);
  VP wv[9];
  if constexpr (K == 3) {
    HWY_UNROLL(9) for (int t = 0; t < 9; ++t) wv[t] = hn::Load(d, wt + t * n);
  }
  const int64_t row_step = pcols * n;
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    for (int64_t ow0 = 0; ow0 < p.OW; ow0 += W) {
      const int64_t ow = std::min<int64_t>(ow0, p.OW - W);
      row_chunk<K, S, W>(padded + (oh * S * pcols + ow * S) * n, row_step, wv, wt, bias,
                         obuf + (oh * p.OW + ow) * n);
    }
  }
}

using RowsFn = void (*)(const Conv2dParams&, int64_t, const float*, const float*, VP, float*);
template <int K, int S, int... R>
constexpr std::array<RowsFn, sizeof...(R)> RowsTable(std::integer_sequence<int, R...>) {
  return {&compute_rows<K, S, R + 1>...};
}

// The row kernel for p's output width, or null where p has none (kernels other than 3x3 and 5x5, strides other
// than 1 and 2, dilation).
HWY_INLINE RowsFn rows_kernel(const Conv2dParams& p) {
  if (p.kh != p.kw || p.stride_h != p.stride_w || p.dilation_h != 1 || p.dilation_w != 1) return nullptr;
  const size_t w = static_cast<size_t>(std::min<int64_t>(p.OW, kRowChunk) - 1);
  using Seq = std::make_integer_sequence<int, kRowChunk>;
  static constexpr auto k3s1 = RowsTable<3, 1>(Seq()), k3s2 = RowsTable<3, 2>(Seq());
  static constexpr auto k5s1 = RowsTable<5, 1>(Seq()), k5s2 = RowsTable<5, 2>(Seq());
  if (p.kh == 3 && p.stride_h == 1) return k3s1[w];
  if (p.kh == 3 && p.stride_h == 2) return k3s2[w];
  if (p.kh == 5 && p.stride_h == 1) return k5s1[w];
  if (p.kh == 5 && p.stride_h == 2) return k5s2[w];
  return nullptr;
}

// Transposes the block's outputs back to the `valid` planes of y, adding the residual (kRes; y may alias it: each
// element is read before it is written, once) and applying activation A in registers.
template <ActKind A, bool kRes>
void unpack(int64_t out_plane, const float* obuf, int64_t valid, const float* residual, const Activation& act,
            float* y) {
  const DP d;
  const int64_t n = static_cast<int64_t>(kN);
  for (int64_t k0 = 0; k0 < out_plane; k0 += n) {
    // Without a residual the last vector is shifted back to end at the plane's end (out_plane >= kTile >= kN),
    // storing a few outputs again with the same value; with one, y may alias it, so that vector goes partial.
    const int64_t k = kRes ? k0 : std::min(k0, out_plane - n);
    VP v[kN];
    HWY_UNROLL(8) for (size_t j = 0; j < kN; ++j) v[j] = hn::Load(d, obuf + (k + static_cast<int64_t>(j)) * n);
    transpose_lanes(v);
    const int64_t count = std::min(n, out_plane - k);
    if (count == n && valid == n) {
      HWY_UNROLL(8) for (size_t c = 0; c < kN; ++c) {
        const int64_t at = static_cast<int64_t>(c) * out_plane + k;
        const VP s = kRes ? hn::Add(v[c], hn::LoadU(d, residual + at)) : v[c];
        hn::StoreU(VecActivateK<A>(d, s, act.alpha, act.beta), d, y + at);
      }
      continue;
    }
    for (int64_t c = 0; c < valid; ++c) {  // the plane's last partial vector, or a layer's last channels
      const int64_t at = c * out_plane + k;
      HWY_ALIGN float tmp[kN] = {};
      if (kRes) std::copy(residual + at, residual + at + count, tmp);
      const VP s = kRes ? hn::Add(v[c], hn::Load(d, tmp)) : v[c];
      hn::Store(VecActivateK<A>(d, s, act.alpha, act.beta), d, tmp);
      std::copy(tmp, tmp + count, y + at);
    }
  }
}

// Channel blocks [begin, end) of the flattened (image, block of kN output channels) range.
void PackedBlocks(const Conv2dParams& p, const float* x, const float* w, const float* bias, const float* residual,
                  const Activation& act, float* y, int64_t begin, int64_t end) {
  if constexpr (kN == 4 || kN == 8) {
    const DP d;
    const int64_t n = static_cast<int64_t>(kN);
    const PackedShape s = packed_shape(p);
    const int64_t taps = p.kh * p.kw, out_plane = p.OH * p.OW, in_plane = p.H * p.W;
    const int64_t padded_floats = s.prows * s.pcols * n;
    const std::array<int64_t, 12> key{1, s.prows, s.pcols, n, p.pad_top, p.pad_left, p.H, p.W,
                                      p.OH, p.OW, p.stride_h, p.stride_w};
    bool fresh = false;
    float* padded = depthwise_scratch(key, static_cast<size_t>(padded_floats + (s.out_rows + taps + 1) * n),
                                      &fresh);
    float* obuf = padded + padded_floats;
    float* wt = obuf + s.out_rows * n;
    float* bias_v = wt + taps * n;
    // Offsets (in floats) of each input element's padded position and of each output's window, computed once
    // per geometry: in_off [in_plane], then out_off [out_plane].
    int32_t* in_off = packed_offsets(static_cast<size_t>(in_plane + out_plane));
    int32_t* out_off = in_off + in_plane;
    if (fresh) {  // row by row, no division: layers of different geometry alternate, so this runs every run
      int32_t* o = in_off;
      for (int64_t r = 0; r < p.H; ++r) {
        for (int64_t c = 0; c < p.W; ++c) *o++ = static_cast<int32_t>(((r + p.pad_top) * s.pcols + c + p.pad_left) * n);
      }
      o = out_off;
      for (int64_t r = 0; r < p.OH; ++r) {
        for (int64_t c = 0; c < p.OW; ++c) *o++ = static_cast<int32_t>((r * p.stride_h * s.pcols + c * p.stride_w) * n);
      }
    }
    const int64_t blocks_per_image = (p.M + n - 1) / n, multiplier = p.M / p.C;
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t img = blk / blocks_per_image, m0 = blk % blocks_per_image * n;
      const int64_t valid = std::min(n, p.M - m0);
      // Lanes past the last channel repeat it: their results are computed and never stored.
      const float* wsrc[kN];
      const float* xsrc[kN];
      for (int64_t lane = 0; lane < n; ++lane) {
        const int64_t m = m0 + std::min(lane, valid - 1);
        wsrc[lane] = w + m * taps;
        xsrc[lane] = x + (img * p.C + m / multiplier) * in_plane;
        bias_v[lane] = bias ? bias[m] : 0.0f;
      }
      pack_lanes(wsrc, taps, wt, [n](int64_t i) { return i * n; });
      pack_lanes(xsrc, in_plane, padded, [in_off](int64_t i) { return in_off[i]; });
      const VP b = hn::Load(d, bias_v);
      if (const RowsFn rows = rows_kernel(p)) {
        rows(p, s.pcols, padded, wt, b, obuf);
      } else if (p.kh == 3 && p.kw == 3) {
        compute<3>(p, s.pcols, padded, out_off, wt, b, obuf);
      } else if (p.kh == 5 && p.kw == 5) {
        compute<5>(p, s.pcols, padded, out_off, wt, b, obuf);
      } else {
        compute<0>(p, s.pcols, padded, out_off, wt, b, obuf);
      }
      const int64_t plane0 = img * p.M + m0;
      float* yb = y + plane0 * out_plane;
      DispatchActKind(act.kind, [&](auto k) HWY_ATTR {
        constexpr ActKind kA = decltype(k)::value;
        if (residual) {
          unpack<kA, true>(out_plane, obuf, valid, residual + plane0 * out_plane, act, yb);
        } else {
          unpack<kA, false>(out_plane, obuf, valid, nullptr, act, yb);
        }
      });
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(PackedLanes);
HWY_EXPORT(PackedBlocks);

bool depthwise_packed_preferred(const Conv2dParams& p) {
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(PackedLanes)();
  if (lanes == 0 || p.OH * p.OW < 8 || p.M < lanes) return false;
  // The packed input block must stay in L2 while every tap reads it (up to 56x56 inputs).
  const int64_t prows = std::max(p.H + p.pad_top, (p.OH - 1) * p.stride_h + (p.kh - 1) * p.dilation_h + 1);
  const int64_t pcols = std::max(p.W + p.pad_left, (p.OW - 1) * p.stride_w + (p.kw - 1) * p.dilation_w + 1);
  if (prows * pcols * lanes * 4 > (int64_t{128} << 10)) return false;
  // Where the row kernels are fast (stride 1, up to 3x3, on planes over 16x16: whole vectors, input rows reused
  // from L1) they stay: the generic packed tiles were 1.3-2x slower there. For 3x3 without dilation the packed
  // block's row chunks (compute_rows) match or beat them up to 32x32 (192x28x28: 0.64-0.9x the time, 48x32x32
  // equal) and lose beyond (144x56x56: 1.15-1.35x); edgeforge_conv_bench, docs/performance.md.
  const bool rows3 = p.kh == 3 && p.kw == 3 && p.dilation_h == 1 && p.dilation_w == 1;  // compute_rows<3, 1>
  const bool row_kernel_fast =
      p.stride_h == 1 && p.stride_w == 1 && p.kh * p.kw <= 9 && p.OH * p.OW > (rows3 ? 1024 : 256);
  return !row_kernel_fast;
}

void depthwise_packed(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                      const float* residual, const Activation& act, float* y, ThreadPool& pool) {
  if (p.N <= 0 || p.M <= 0 || p.OH <= 0 || p.OW <= 0) return;
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(PackedLanes)();
  // Below 8 output positions (one step of the kernel) it is never preferred, so this does not come back here.
  if (lanes == 0 || p.OH * p.OW < 8) return depthwise_conv2d(p, x, w, bias, residual, act, y, pool);
  const int64_t blocks = p.N * ((p.M + lanes - 1) / lanes);
  const int64_t work = std::max<int64_t>(1, lanes * p.OH * p.OW * p.kh * p.kw);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / work);
  pool.parallel_for(blocks, grain, [&](int64_t begin, int64_t end) {
    HWY_DYNAMIC_DISPATCH(PackedBlocks)(p, x, w, bias, residual, act, y, begin, end);
  });
}

int32_t* packed_offsets(size_t count) {
  // Its contents follow the scratch key: the packed kernel refills it whenever depthwise_scratch reports fresh.
  thread_local std::vector<int32_t> table;
  if (table.size() < count) table.resize(count);
  return table.data();
}

float* depthwise_scratch(const std::array<int64_t, 12>& key, size_t floats, bool* fresh) {
  thread_local std::vector<float> buf;
  thread_local std::array<int64_t, 12> current{};
  thread_local bool any = false;
  constexpr size_t kAlign = 16;  // floats: 64 bytes
  const bool renew = !any || key != current || buf.size() < floats + kAlign;
  if (renew) {
    buf.assign(floats + kAlign, 0.0f);
    current = key;
    any = true;
  }
  if (fresh) *fresh = renew;
  const auto addr = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - addr % 64) % 64) / sizeof(float);
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
