// Depthwise convolution, one output plane at a time. For stride 1 and 2 the input plane is copied (row by row,
// just ahead of the output rows that read it, so they are still in L1) into a zero-padded buffer (reused across
// planes, so its padding is zeroed once; at stride 2 with 5x5 or wide rows, even and odd columns apart so every
// tap is one contiguous load), after which every output column is an interior column: vectorized along
// the output width, no bounds checks, 3x3 and 5x5 unrolled with weights in registers and two output rows per step
// sharing input-row loads (on AVX-512, 3x3 rows start on a vector and the taps are lane shifts of aligned loads:
// RowTaps). An earlier version kept the padding implicit
// and computed border columns with clipped scalar taps; those short FMA chains are latency-bound and took more
// time than the whole vectorized interior (47% vs 36% of a [1,144,56,56] 3x3 run), while the copy costs about one
// extra pass over the input. Larger strides use the scalar border/interior split. Depends on conv_params.h,
// activation.h, core/thread_pool.h and Highway (compiled once per target by foreach_target.h, picked at run time).
#include "kernels/cpu/depthwise_conv.h"

#include "kernels/cpu/depthwise_packed.h"

#include <algorithm>
#include <array>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/depthwise_conv.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/cpu/activation-inl.h"
#include "kernels/cpu/lane_shift-inl.h"
#include "kernels/cpu/partial_vec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One output row's inputs after clipping to the vertical padding: `nrows` kernel rows starting at input row
// pointer `in` (column 0), `row_step` floats apart, with their weights starting at `w` (kw per row).
struct RowJob {
  const float* in;
  int64_t row_step;
  int64_t nrows;
  const float* w;
  int64_t kw;
  int64_t dw;
  int64_t sw;
  int64_t col0;  // input column of tap 0 for output column 0 (= -pad_left)
  float bias;
  int64_t half;  // padded stride-2 rows: offset of the odd columns (see load_tap); else 0
  float act_alpha, act_beta;  // the activation's parameters, for kernels that apply it in registers
};

// Sum over taps [t0, t1) of every row for the window starting at input column `start`. Callers guarantee the
// taps are inside the row, so the border and the scalar interior share it.
HWY_INLINE float window_sum(const RowJob& j, int64_t start, int64_t t0, int64_t t1) {
  float acc = j.bias;
  const float* r = j.in;
  const float* wr = j.w;
  for (int64_t i = 0; i < j.nrows; ++i, r += j.row_step, wr += j.kw) {
    for (int64_t t = t0; t < t1; ++t) acc += r[start + t * j.dw] * wr[t];
  }
  return acc;
}

HWY_INLINE void border_column(const RowJob& j, int64_t in_width, int64_t ow, float* out) {
  const int64_t start = ow * j.sw + j.col0;
  const TapRange taps = valid_taps(start, in_width, j.kw, j.dw);
  out[ow] = window_sum(j, start, taps.first, taps.last);
}

// Tap column c of output columns ow, ow + 1, ... of one padded row. kSplit (stride 2 only): the row is stored
// deinterleaved, even columns first and the odd ones from `half` on, so every tap is one contiguous load instead
// of two loads and a two-shuffle ConcatEven; the copy deinterleaves each input float once, where the taps read it
// about 4.5 (3x3) or 12.5 (5x5) times. Otherwise stride 2 loads 2 * Lanes floats (one past the last lane's).
template <int S, bool kSplit, class D>
HWY_INLINE hn::Vec<D> load_tap(D d, const float* row, int64_t ow, int64_t c, int64_t half) {
  if constexpr (S == 1) {
    return hn::LoadU(d, row + ow + c);
  } else if constexpr (kSplit) {
    return hn::LoadU(d, row + (c & 1) * half + ow + (c >> 1));
  } else {
#if HWY_TARGET == HWY_SCALAR
    return hn::LoadU(d, row + 2 * ow + c);  // one lane: nothing to deinterleave
#else
    const float* p = row + 2 * ow + c;
    return hn::ConcatEven(d, hn::LoadU(d, p + hn::Lanes(d)), hn::LoadU(d, p));
#endif
  }
}

// Output columns [ow, ow + Lanes) of one padded row (col0 == 0). Each kernel row accumulates on its own chain
// before the rows are added, so the dependent FMA chain is kw long rather than kh * kw. KH/KW = 0: taken from
// the job at run time; a nonzero KW implies dilation 1 so the tap offsets are compile-time constants.
template <int KH, int KW, int S, bool kSplit, class D>
HWY_INLINE hn::Vec<D> window_vec(D d, const RowJob& j, int64_t ow) {
  const int64_t nrows = KH ? KH : j.nrows;
  const int64_t kw = KW ? KW : j.kw;
  const int64_t dw = KW ? 1 : j.dw;
  auto acc = hn::Set(d, j.bias);
  const float* r = j.in;
  const float* wr = j.w;
  for (int64_t i = 0; i < nrows; ++i, r += j.row_step, wr += kw) {
    auto row = hn::Mul(load_tap<S, kSplit>(d, r, ow, 0, j.half), hn::Set(d, wr[0]));
    for (int64_t t = 1; t < kw; ++t) {
      row = hn::MulAdd(load_tap<S, kSplit>(d, r, ow, t * dw, j.half), hn::Set(d, wr[t]), row);
    }
    acc = hn::Add(acc, row);
  }
  return acc;
}

// Padded rows only; needs end - begin >= Lanes (padded_shape makes rows at least a vector wide). Two vectors
// per step keep two independent FMA chains in flight. When the range is not a multiple of the vector, the last
// vector is shifted back to end at `end`, recomputing a few columns with the same arithmetic.
template <int KH, int KW, int S, bool kSplit>
void interior_row(const RowJob& j, int64_t begin, int64_t end, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  int64_t ow = begin;
  for (; ow + 2 * n <= end; ow += 2 * n) {
    const auto a = window_vec<KH, KW, S, kSplit>(d, j, ow);
    const auto b = window_vec<KH, KW, S, kSplit>(d, j, ow + n);
    hn::StoreU(a, d, out + ow);
    hn::StoreU(b, d, out + ow + n);
  }
  if (ow + n <= end) {
    hn::StoreU(window_vec<KH, KW, S, kSplit>(d, j, ow), d, out + ow);
    ow += n;
  }
  if (ow < end) hn::StoreU(window_vec<KH, KW, S, kSplit>(d, j, end - n), d, out + end - n);
}

// 512-bit x86 (lane_shift-inl.h): the fixed kernels load each padded row's aligned vectors once and form the
// shifted taps with valignd (a 3x3 plane in L1: 50 -> 70 GMAC/s in a stand-alone loop). Padded rows then start on
// a vector boundary (padded_shape); stride 2 needs the deinterleaved rows (kSplit), whose taps are shifts of the
// even / odd halves.
// 3x3 only: a 5x5 row's 25 weight registers leave too few for the loaded vectors (spills: 5-9% slower).
template <int K, int S, bool kSplit>
constexpr bool kAlignedTaps = kAlignedTargets && K == 3 && (S == 1 || kSplit);

// The K taps of one padded input row for NV output vectors from column ow on. Aligned (kAlignedTaps): the row's
// NV + 1 vectors of each phase (stride 2: even and odd halves) are loaded once and every tap is a shift of two
// of them. Otherwise each tap is its own unaligned load.
template <int K, int S, bool kSplit, int NV, class D>
struct RowTaps {
  using V = hn::Vec<D>;
  static constexpr bool kAligned = kAlignedTaps<K, S, kSplit>;
  static constexpr int kPhases = kAligned ? S : 1;
  static constexpr int kLoads = kAligned ? NV + 1 : 1;
  V a[kPhases][kLoads];
  const float* row;
  int64_t ow, half;

  HWY_INLINE RowTaps(D d, const float* row_, int64_t ow_, int64_t half_) : row(row_), ow(ow_), half(half_) {
    if constexpr (kAligned) {
      const int64_t n = static_cast<int64_t>(hn::Lanes(d));
      HWY_UNROLL(2) for (int ph = 0; ph < kPhases; ++ph) {
        HWY_UNROLL(4) for (int v = 0; v < kLoads; ++v) a[ph][v] = hn::Load(d, row + ph * half + ow + v * n);
      }
    }
  }
  HWY_INLINE V tap(D d, int v, int t) const {
    if constexpr (kAligned) {
      const int ph = S == 1 ? 0 : t & 1, shift = S == 1 ? t : t >> 1;
      return ShiftConcat(a[ph][v], a[ph][v + 1], shift);
    } else {
      return load_tap<S, kSplit>(d, row, ow + v * static_cast<int64_t>(hn::Lanes(d)), t, half);
    }
  }
};

// Fixed K x K windows (dilation 1) with every kernel row inside the input: weights live in registers and each
// step computes R output rows x NV vectors as independent FMA chains. Output row r starts r * S input rows lower
// (vertical stride == horizontal stride), so the K + (R - 1) * S input rows are loaded once and feed every
// row's accumulators. `in` holds those input row pointers, already offset by -pad_left. The last vector stores
// `last` lanes (a row end that is not a whole vector; only with aligned taps, whose loads cannot shift back).
template <int K, int S, bool kSplit, int R, int NV, ActKind A, class D, class V>
HWY_INLINE void fixed_block(D d, const float* const* in, int64_t half, const V* w, V bias, int64_t ow,
                            float* const* out, float alpha, float beta, int64_t last) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  V acc[R][NV];
  HWY_UNROLL(4) for (int r = 0; r < R; ++r) {
    HWY_UNROLL(4) for (int v = 0; v < NV; ++v) acc[r][v] = bias;
  }
  HWY_UNROLL(8) for (int row = 0; row < K + (R - 1) * S; ++row) {
    const RowTaps<K, S, kSplit, NV, D> taps(d, in[row], ow, half);
    HWY_UNROLL(8) for (int t = 0; t < K; ++t) {
      HWY_UNROLL(4) for (int v = 0; v < NV; ++v) {
        const V x = taps.tap(d, v, t);
        HWY_UNROLL(4) for (int r = 0; r < R; ++r) {
          if (row >= r * S && row - r * S < K) acc[r][v] = hn::MulAdd(x, w[(row - r * S) * K + t], acc[r][v]);
        }
      }
    }
  }
  HWY_UNROLL(4) for (int r = 0; r < R; ++r) {
    HWY_UNROLL(4) for (int v = 0; v < NV; ++v) {
      const V y = VecActivateK<A>(d, acc[r][v], alpha, beta);
      if (v == NV - 1 && last < n) {
        StorePartial(y, d, out[r] + ow + v * n, last);
      } else {
        hn::StoreU(y, d, out[r] + ow + v * n);
      }
    }
  }
}

// Interior columns [begin, end) of R rows (see fixed_block), activation A applied before the store (kNone: the
// caller applies it later); needs end - begin >= Lanes.
template <int K, int S, bool kSplit, int R, ActKind A>
void fixed_rows(const RowJob& j, int64_t begin, int64_t end, float* const* out) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  // 4 accumulators + 9 weights fit AVX2's 16 registers for 3x3; 32 registers hold 8 for 3x3.
  constexpr int kNV = (kAlignedTaps<K, S, kSplit> ? 8 : 4) / R;
  V w[K * K];
  for (int i = 0; i < K * K; ++i) w[i] = hn::Set(d, j.w[i]);
  const float* in[K + (R - 1) * S];
  for (int i = 0; i < K + (R - 1) * S; ++i) in[i] = j.in + (i * j.row_step + j.col0);
  const V bias = hn::Set(d, j.bias);
  int64_t ow = begin;
  const float a = j.act_alpha, b = j.act_beta;
  for (; ow + kNV * n <= end; ow += kNV * n) {
    fixed_block<K, S, kSplit, R, kNV, A>(d, in, j.half, w, bias, ow, out, a, b, n);
  }
  for (; ow + n <= end; ow += n) fixed_block<K, S, kSplit, R, 1, A>(d, in, j.half, w, bias, ow, out, a, b, n);
  if (ow == end) return;
  if constexpr (kAlignedTaps<K, S, kSplit>) {
    // The padded row is wide enough for a whole vector here (padded_shape); only `end - ow` lanes are stored.
    fixed_block<K, S, kSplit, R, 1, A>(d, in, j.half, w, bias, ow, out, a, b, end - ow);
  } else {
    // Shifted back: recomputes a few columns from the input, so applying A to them again is harmless.
    fixed_block<K, S, kSplit, R, 1, A>(d, in, j.half, w, bias, end - n, out, a, b, n);
  }
}

template <int K, int S, bool kSplit, ActKind A>
void interior_row_fixed(const RowJob& j, int64_t begin, int64_t end, float* out) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  if (j.nrows == K && (end - begin >= n || kAlignedTaps<K, S, kSplit>)) {
    fixed_rows<K, S, kSplit, 1, A>(j, begin, end, &out);
  } else {
    interior_row<0, K, S, kSplit>(j, begin, end, out);
    apply_activation(Activation{A, j.act_alpha, j.act_beta}, out + begin, static_cast<size_t>(end - begin));
  }
}

using RowFn = void (*)(const RowJob&, int64_t, int64_t, float*);
// Several rows at once: j describes the first (all K rows valid), each next one starts S input rows lower.
using PairFn = void (*)(const RowJob&, int64_t, int64_t, float* const*);

// A != kNone only where the fixed kernels run (pick_pair_fn found one): they apply it before the store.
template <int S, bool kSplit, ActKind A>
RowFn pick_row_fn(int64_t kh, int64_t kw, int64_t dw) {
  if (dw == 1 && kh == 3 && kw == 3) return &interior_row_fixed<3, S, kSplit, A>;
  if (dw == 1 && kh == 5 && kw == 5) return &interior_row_fixed<5, S, kSplit, A>;
  return &interior_row<0, 0, S, kSplit>;
}

// R = 2..4 output rows per call. Four rows share more input-row loads and cut the per-call overhead (weight
// broadcasts, pointers) that dominates small planes (7x7, 14x14); their single vector column still keeps four
// independent FMA chains. R = 3 ends planes of 4k + 3 rows (7x7: 4 + 3 rows, two calls instead of three).
template <int S, bool kSplit, int R, ActKind A>
PairFn pick_pair_fn(const Conv2dParams& p) {
  if (p.dilation_h != 1 || p.dilation_w != 1 || p.stride_h != S || p.kh != p.kw) return nullptr;
  if (p.kh == 3) return &fixed_rows<3, S, kSplit, R, A>;
  if (p.kh == 5) return &fixed_rows<5, S, kSplit, R, A>;
  return nullptr;
}

// The kernels of one plane's geometry: vec for single rows, block[r] for r = 2..4 rows at once (all null, or all
// set), with activation A applied in registers.
struct PlaneFns {
  RowFn vec;
  PairFn block[5];
};

template <int S, bool kSplit, ActKind A>
PlaneFns plane_fns_for(const Conv2dParams& p) {
  return {pick_row_fn<S, kSplit, A>(p.kh, p.kw, p.dilation_w),
          {nullptr, nullptr, pick_pair_fn<S, kSplit, 2, A>(p), pick_pair_fn<S, kSplit, 3, A>(p),
           pick_pair_fn<S, kSplit, 4, A>(p)}};
}

template <ActKind A>
PlaneFns plane_fns(const Conv2dParams& p, bool split) {
  if (p.stride_w == 1) return plane_fns_for<1, false, A>(p);
  return split ? plane_fns_for<2, true, A>(p) : plane_fns_for<2, false, A>(p);
}

HWY_INLINE void add_rows(const float* a, const float* b, float* out, int64_t count) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + n <= count; i += n) hn::StoreU(hn::Add(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  for (; i < count; ++i) out[i] = a[i] + b[i];
}

// One output plane: x_plane [H, W] of the input channel, w_plane [kh, kw], residual_plane [OH, OW] or null.
HWY_INLINE RowJob make_job(const Conv2dParams& p, const float* x_plane, const float* w_plane, float bias,
                           int64_t oh) {
  const int64_t start_h = oh * p.stride_h - p.pad_top;
  const TapRange rows = valid_taps(start_h, p.H, p.kh, p.dilation_h);
  return RowJob{rows.last > rows.first ? x_plane + (start_h + rows.first * p.dilation_h) * p.W : x_plane,
                p.dilation_h * p.W,
                rows.last - rows.first,
                w_plane + rows.first * p.kw,
                p.kw,
                p.dilation_w,
                p.stride_w,
                -p.pad_left,
                bias,
                0,
                0.0f,
                0.0f};
}

// Strides of 3 and more (rare for depthwise layers) have no vector loads: border columns clip their taps and
// interior columns run unchecked. `scratch` holds OW floats (used only with a residual, which y may alias).
void strided_plane(const Conv2dParams& p, const float* x_plane, const float* w_plane, float bias,
                   const float* residual_plane, const Activation& act, float* y_plane, float* scratch) {
  const OutRange cols = interior_range(p.W, p.OW, p.kw, p.stride_w, p.dilation_w, p.pad_left);
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const RowJob j = make_job(p, x_plane, w_plane, bias, oh);
    float* out = y_plane + oh * p.OW;
    float* row = residual_plane ? scratch : out;
    for (int64_t ow = 0; ow < cols.begin; ++ow) border_column(j, p.W, ow, row);
    for (int64_t ow = cols.begin; ow < cols.end; ++ow) row[ow] = window_sum(j, ow * p.stride_w + j.col0, 0, p.kw);
    for (int64_t ow = cols.end; ow < p.OW; ++ow) border_column(j, p.W, ow, row);
    if (residual_plane) add_rows(row, residual_plane + oh * p.OW, out, p.OW);
    apply_activation(act, out, static_cast<size_t>(p.OW));
  }
}

HWY_INLINE void store_row(const float* row, const float* residual_row, int64_t count, float* out) {
  if (residual_row) {
    add_rows(row, residual_row, out, count);
  } else if (row != out) {
    std::copy(row, row + count, out);
  }
}

// Padded-buffer geometry shared by every plane of one call: rows x cols of the zero-padded input copy, wide enough
// that whole vectors over [0, max(OW, lanes)) never leave it (unsplit stride 2 reads one column past its last tap).
constexpr int kBlockRows = 4;  // output rows per padded_plane step at most

struct PaddedShape {
  int64_t rows, cols, ow_v;
  int64_t half;  // deinterleaved stride-2 rows (load_tap's kSplit): offset of the odd columns; else 0
  bool aligned;  // fixed kernels with aligned taps (RowTaps): rows start on a vector, row ends stored partially
};

// The planes whose row kernels take kAlignedTaps (3x3 with unit column dilation, column stride 1, or 2 with
// deinterleaved rows); must match the templates plane_fns picks. Row stride and dilation only move row pointers.
HWY_INLINE bool aligned_taps_for(const Conv2dParams& p) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  return kAlignedTargets && p.kh == 3 && p.kw == 3 && p.dilation_w == 1 &&
         (p.stride_w == 1 || (p.stride_w == 2 && p.OW >= 2 * n));
}

HWY_INLINE PaddedShape padded_shape(const Conv2dParams& p) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  const int64_t rows = std::max(p.H + p.pad_top, (p.OH - 1) * p.stride_h + (p.kh - 1) * p.dilation_h + 1);
  if (aligned_taps_for(p)) {
    // Whole vectors over [0, ow_v) read one vector further (RowTaps), and every row (stride 2: every half row)
    // starts on a vector. Stride 2 is always deinterleaved: the aligned taps are shifts within one phase.
    const int64_t ow_v = (p.OW + n - 1) / n * n;
    const int64_t span = p.stride_w == 1 ? p.W + p.pad_left : (p.W + p.pad_left + 1) / 2;
    const int64_t width = (std::max(span, ow_v + n) + n - 1) / n * n;
    return p.stride_w == 1 ? PaddedShape{rows, width, ow_v, 0, true} : PaddedShape{rows, 2 * width, ow_v, width, true};
  }
  const int64_t ow_v = std::max(p.OW, n);
  int64_t cols = std::max(p.W + p.pad_left, (ow_v - 1) * p.stride_w + (p.kw - 1) * p.dilation_w + p.stride_w);
  // Deinterleaving pays where a row feeds many taps: 5x5, or rows of at least two vectors of output. On
  // 28x28 -> 14x14 3x3 layers the extra copy work was measured to cost more (conv bench, ~+15%) than it saves.
  const bool split = p.stride_w == 2 && (p.kw >= 5 || p.OW >= 2 * n);
  if (split) cols += cols & 1;
  return {rows, cols, ow_v, split ? cols / 2 : 0, false};
}

// Copies one input row to padded column c0 on: as is, or deinterleaved when half != 0 (load_tap's kSplit layout).
HWY_INLINE void copy_row(const float* src, int64_t count, int64_t c0, int64_t half, float* dst) {
  if (half == 0) {
    // Inline vectors rather than std::copy: memmove's call and size dispatch cost as much as the copy itself on
    // rows of 7..128 floats (perf: memmove was ~20% of a [144, 56, 56] 3x3 layer).
#if HWY_TARGET != HWY_SCALAR
    const hn::ScalableTag<float> d;
    const int64_t n = static_cast<int64_t>(hn::Lanes(d));
    if (count >= n) {
      float* out = dst + c0;
      int64_t i = 0;
      for (; i + n <= count; i += n) hn::StoreU(hn::LoadU(d, src + i), d, out + i);
      if (i < count) hn::StoreU(hn::LoadU(d, src + count - n), d, out + count - n);  // shifted back, same values
      return;
    }
#endif
    std::copy(src, src + count, dst + c0);
    return;
  }
  int64_t i = 0;
  if (c0 & 1) {  // an odd first column: after it, pairs (even, odd) start at even columns
    dst[half + (c0 >> 1)] = src[0];
    i = 1;
  }
  float* even = dst + ((c0 + i) >> 1);
  float* odd = even + half;
#if HWY_TARGET != HWY_SCALAR
  const int64_t first = i;  // src[first] lands on an even column
  const hn::ScalableTag<float> d;
  const hn::Half<decltype(d)> dh;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  for (; i + 2 * n <= count; i += 2 * n, even += n, odd += n) {
    const auto lo = hn::LoadU(d, src + i), hi = hn::LoadU(d, src + i + n);
    hn::StoreU(hn::ConcatEven(d, hi, lo), d, even);
    hn::StoreU(hn::ConcatOdd(d, hi, lo), d, odd);
  }
  // Short rows (7x7..28x28 planes) would otherwise spend more on a scalar tail than the taps do: half-vector
  // steps, the last one shifted back by an even count so it rewrites a few columns with the same values.
  if (count - first >= n) {
    for (int64_t step = 0; step < 2; ++step) {
      if (i + n > count) {
        i = count - n - ((count - n - first) & 1);
        even = dst + ((c0 + i) >> 1);
        odd = even + half;
      }
      const auto v = hn::LoadU(d, src + i);
      hn::StoreU(hn::LowerHalf(dh, hn::ConcatEven(d, v, v)), dh, even);
      hn::StoreU(hn::LowerHalf(dh, hn::ConcatOdd(d, v, v)), dh, odd);
      i += n, even += n / 2, odd += n / 2;
      if (i + 1 >= count) break;
    }
  }
#endif
  for (; i + 1 < count; i += 2) {
    *even++ = src[i];
    *odd++ = src[i + 1];
  }
  if (i < count) *even = src[i];
}

// Stride 1 or 2: the plane is copied into a zero-padded buffer and every output goes through the interior
// kernels. Scalar border columns would otherwise cost more than the whole vectorized interior (their short FMA
// chains are latency-bound). `buf` holds the padded plane (its padding already zero: only the input region is
// ever written) followed by kBlockRows rows of ow_v floats.
void padded_plane(const Conv2dParams& p, const PaddedShape& ps, const float* x_plane, const float* w_plane,
                  float bias, const float* residual_plane, const Activation& act, float* y_plane, float* buf) {
  float* padded = buf;
  float* tmp[kBlockRows];
  for (int r = 0; r < kBlockRows; ++r) tmp[r] = buf + ps.rows * ps.cols + r * ps.ow_v;
  // Input rows are copied just before the first output row that reads them, so a large plane's rows are still
  // in L1 when the kernel loads them (copying the whole plane first evicts its top rows before they are used).
  int64_t copied = 0;  // input rows [0, copied) are in the padded buffer
  const bool split = ps.half != 0;
  // Rows go straight to y unless a residual must be read first (y may alias it) or the row is under a vector.
  const bool direct = !residual_plane && (ps.aligned || ps.ow_v == p.OW);
  // Rows the fixed kernels write straight to y get the cheap activations in registers: the separate pass over the
  // rows took ~13% of a 3x3 layer's time (perf, [24, 128, 128] + ReLU). Costlier kinds keep the pass, where their
  // per-element work dominates anyway; so do residual rows (the activation follows the residual add).
  PlaneFns fns = plane_fns<ActKind::kNone>(p, split);
  const bool fused_act =
      direct && fns.block[kBlockRows] != nullptr && (act.kind == ActKind::kRelu || act.kind == ActKind::kClip);
  if (fused_act) {
    fns = act.kind == ActKind::kRelu ? plane_fns<ActKind::kRelu>(p, split) : plane_fns<ActKind::kClip>(p, split);
  }
  const RowFn vec_fn = fns.vec;
  const PairFn* block_fn = fns.block;  // block_fn[r]: r output rows per call
  int64_t activated = 0;  // rows [0, activated) have had the activation applied
  for (int64_t oh = 0; oh < p.OH;) {
    const RowJob j{padded + oh * p.stride_h * ps.cols, p.dilation_h * ps.cols, p.kh, w_plane, p.kw, p.dilation_w,
                   p.stride_w, 0, bias, ps.half, act.alpha, act.beta};
    const int64_t nrows_out = block_fn[kBlockRows] ? std::min<int64_t>(kBlockRows, p.OH - oh) : 1;
    const int64_t last_row = (oh + nrows_out - 1) * p.stride_h + (p.kh - 1) * p.dilation_h - p.pad_top;
    for (const int64_t need = std::min(p.H, last_row + 1); copied < need; ++copied) {
      copy_row(x_plane + copied * p.W, p.W, p.pad_left, ps.half, padded + (copied + p.pad_top) * ps.cols);
    }
    float* rows[kBlockRows];
    for (int r = 0; r < kBlockRows; ++r) rows[r] = direct && oh + r < p.OH ? y_plane + (oh + r) * p.OW : tmp[r];
    // Aligned fixed kernels store exactly OW columns; the others write whole vectors up to ow_v.
    const int64_t end = ps.aligned ? p.OW : ps.ow_v;
    if (nrows_out > 1) {
      block_fn[nrows_out](j, 0, end, rows);
    } else {
      vec_fn(j, 0, end, rows[0]);
    }
    for (int64_t r = 0; r < nrows_out; ++r) {
      store_row(rows[r], residual_plane ? residual_plane + (oh + r) * p.OW : nullptr, p.OW, y_plane + (oh + r) * p.OW);
    }
    oh += nrows_out;
    // The activation runs over batches of finished rows: once per plane for small planes (a call per 7-wide
    // row costs more than the rows' arithmetic), every ~8 KiB for large ones while the rows are still in L1.
    if (fused_act) {
      activated = oh;
    } else if ((oh - activated) * p.OW >= 2048 || oh == p.OH) {
      apply_activation(act, y_plane + activated * p.OW, static_cast<size_t>((oh - activated) * p.OW));
      activated = oh;
    }
  }
}

// The padded-plane buffer of this thread (depthwise_scratch): its padding is zeroed only when the geometry changes,
// since planes of the same geometry write the same input region; a call (or chunk) neither allocates nor clears it.
float* padded_buffer(const Conv2dParams& p, const PaddedShape& ps) {
  // half is in the key: a stride-1 and a stride-2 layer of equal sizes write different positions.
  return depthwise_scratch({0, ps.rows, ps.cols, ps.ow_v, ps.half, p.pad_top, p.pad_left, p.H, p.W, 0, 0, 0},
                           static_cast<size_t>(ps.rows * ps.cols + kBlockRows * ps.ow_v));
}

// Output planes [begin, end) of the flattened (n, m) range.
void DepthwisePlanes(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     const float* residual, const Activation& act, float* y, int64_t begin, int64_t end) {
  const int64_t multiplier = p.M / p.C;
  const int64_t in_plane = p.H * p.W, out_plane = p.OH * p.OW;
  const bool padded = p.stride_w == 1 || p.stride_w == 2;
  const PaddedShape ps = padded_shape(p);
  std::vector<float> row_buf(static_cast<size_t>(!padded && residual ? p.OW : 0));
  float* buf = padded ? padded_buffer(p, ps) : row_buf.data();
  for (int64_t plane = begin; plane < end; ++plane) {
    const int64_t img = plane / p.M, m = plane % p.M;
    const float* xp = x + (img * p.C + m / multiplier) * in_plane;
    const float* wp = w + m * p.kh * p.kw;
    const float b = bias ? bias[m] : 0.0f;
    const float* rp = residual ? residual + plane * out_plane : nullptr;
    if (padded) {
      padded_plane(p, ps, xp, wp, b, rp, act, y + plane * out_plane, buf);
    } else {
      strided_plane(p, xp, wp, b, rp, act, y + plane * out_plane, buf);
    }
  }
}

// Output planes [m0, m1) of one image with explicit plane strides (depthwise_conv2d_band).
void DepthwiseBand(const Conv2dParams& p, const float* x, int64_t x_plane, const float* w, const float* bias,
                   const Activation& act, float* y, int64_t y_plane, int64_t m0, int64_t m1) {
  const int64_t multiplier = p.M / p.C;
  const PaddedShape ps = padded_shape(p);
  float* buf = padded_buffer(p, ps);
  for (int64_t m = m0; m < m1; ++m) {
    padded_plane(p, ps, x + m / multiplier * x_plane, w + m * p.kh * p.kw, bias ? bias[m] : 0.0f, nullptr, act,
                 y + m * y_plane, buf);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(DepthwisePlanes);
HWY_EXPORT(DepthwiseBand);

bool is_depthwise(const Conv2dParams& p) { return p.group == p.C && p.C > 0 && p.M % p.C == 0 && p.M > 0; }

void depthwise_conv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                      const float* residual, const Activation& act, float* y, ThreadPool& pool) {
  if (p.N <= 0 || p.M <= 0 || p.OH <= 0 || p.OW <= 0) return;
  if (depthwise_packed_preferred(p)) return depthwise_packed(p, x, w, bias, residual, act, y, pool);
  // Small planes are batched so a chunk is worth waking a thread for.
  const int64_t work = std::max<int64_t>(1, p.OH * p.OW * p.kh * p.kw);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / work);
  pool.parallel_for(p.N * p.M, grain, [&](int64_t begin, int64_t end) {
    HWY_DYNAMIC_DISPATCH(DepthwisePlanes)(p, x, w, bias, residual, act, y, begin, end);
  });
}

bool depthwise_band_applicable(const Conv2dParams& p) {
  return is_depthwise(p) && (p.stride_w == 1 || p.stride_w == 2) && p.stride_h >= 1 && p.kh >= 1 && p.kw >= 1 &&
         p.dilation_h >= 1 && p.dilation_w >= 1 && p.pad_top >= 0 && p.pad_left >= 0 && p.H >= 0 && p.W >= 1 &&
         p.OH >= 1 && p.OW >= 1;
}

void depthwise_conv2d_band(const Conv2dParams& p, const float* x, int64_t x_plane_stride, const float* w,
                           const float* bias, const Activation& act, float* y, int64_t y_plane_stride, int64_t m0,
                           int64_t m1) {
  HWY_DYNAMIC_DISPATCH(DepthwiseBand)(p, x, x_plane_stride, w, bias, act, y, y_plane_stride, m0, m1);
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
