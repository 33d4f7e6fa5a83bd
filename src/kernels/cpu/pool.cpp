// Pooling kernels. MaxPool/AveragePool reduce each window in two passes: over its in-input rows (element-wise along the
// whole input row, vectorized, no bounds checks, no shuffles) into a row buffer padded with the lowest float (max) or
// zeros (average), then along that row (vectorized for strides 1 and 2, a deinterleaving load per tap for stride 2;
// scalar taps for larger strides). MaxPool checks each plane's window rows for NaN and infinities while it reduces
// them, since vector max instructions do not propagate NaN the way the definition does; such planes take the exact
// scalar loop. Global pools reduce each plane with several vector accumulators. Depends on conv_params.h,
// core/thread_pool.h and Highway (per-target code, run-time pick).
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/pool.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/cpu/lane_shift-inl.h"
#include "kernels/cpu/partial_vec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <bool kAvg, class V>
HWY_INLINE V combine(V a, V b) {
  if constexpr (kAvg) {
    return hn::Add(a, b);
  } else {
    return hn::Max(a, b);
  }
}

template <int S, class D>
HWY_INLINE hn::Vec<D> load_strided(D d, const float* p) {
#if HWY_TARGET == HWY_SCALAR
  return hn::LoadU(d, p);
#else
  if constexpr (S == 1) {
    return hn::LoadU(d, p);
  } else {
    return hn::ConcatEven(d, hn::LoadU(d, p + hn::Lanes(d)), hn::LoadU(d, p));
  }
#endif
}

// Exact definition for planes holding NaN or infinity: the first NaN met wins.
void max_plane_exact(const Conv2dParams& p, const float* x_plane, float* y_plane) {
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const int64_t start_h = oh * p.stride_h - p.pad_top;
    const TapRange rows = valid_taps(start_h, p.H, p.kh, p.dilation_h);
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const int64_t start_w = ow * p.stride_w - p.pad_left;
      const TapRange cols = valid_taps(start_w, p.W, p.kw, p.dilation_w);
      float best = std::numeric_limits<float>::lowest();
      bool any = false;
      for (int64_t i = rows.first; i < rows.last; ++i) {
        const float* r = x_plane + (start_h + i * p.dilation_h) * p.W;
        for (int64_t t = cols.first; t < cols.last; ++t) {
          const float v = r[start_w + t * p.dilation_w];
          if (!any || v > best || (std::isnan(v) && !std::isnan(best))) best = v;
          any = true;
        }
      }
      y_plane[oh * p.OW + ow] = best;
    }
  }
}

// x - x is +0 for finite x and NaN for NaN and infinities, so OR-ing those bit patterns leaves a nonzero lane
// exactly when a non-finite value passed (and OR, unlike an add, is no latency chain).
template <class D>
HWY_INLINE bool any_non_finite(D d, hn::Vec<D> acc) {
  return !hn::AllTrue(d, hn::Eq(acc, hn::Zero(d)));
}

// True when the plane holds a NaN or an infinity.
bool has_non_finite(const float* x, int64_t count) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  auto acc = hn::Zero(d);
  int64_t i = 0;
  for (; i + n <= count; i += n) {
    const auto v = hn::LoadU(d, x + i);
    acc = hn::Or(acc, hn::Sub(v, v));
  }
  bool tail = false;
  for (; i < count; ++i) tail = tail || !std::isfinite(x[i]);
  return tail || any_non_finite(d, acc);
}

// Floats of one row buffer. A window is reduced in two passes: first over its rows (vertical: the in-input rows
// combined element by element into one row, vectorized along the full input width, no shuffles), then along that
// row (horizontal: kw taps at stride S). A row buffer holds the vertical result at [pad_left, pad_left + W), with
// the lowest float (max) or 0 (average) on both sides, so the horizontal pass needs no bounds checks; it is this
// long so that whole vectors over [0, max(OW, lanes)) stay inside (stride 2 loads one column past its last tap).
// Each input row is loaded once per window row it belongs to (1.5 times per output for 3x3 stride 2) instead of kw
// times with a deinterleave per tap.
//
// 3 x 3 windows at stride 2 on 512-bit x86 (aligned_rows) read their row buffer as aligned vectors instead: each
// buffer starts on a vector, and reaches one vector past the last output vector's pair (horizontal_vec).
HWY_INLINE bool aligned_rows(const Conv2dParams& p) {
  return kAlignedTargets && p.stride_w == 2 && p.kw == 3 && p.dilation_w == 1;
}

HWY_INLINE int64_t row_len(const Conv2dParams& p) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  if (aligned_rows(p)) {
    const int64_t ow_v = (p.OW + n - 1) / n * n;
    return (std::max(p.W + p.pad_left, 2 * ow_v + n) + n - 1) / n * n;
  }
  const bool vec = p.stride_w == 1 || p.stride_w == 2;
  const int64_t ow_v = vec ? std::max(p.OW, n) : p.OW;  // outputs the vector pass computes per row
  const int64_t reach = (ow_v - 1) * p.stride_w + (p.kw - 1) * p.dilation_w + (vec ? p.stride_w : 1);
  return std::max(p.W + p.pad_left, reach);
}

// row[0, W) = combine of the `nrows` rows at `in`, `step` floats apart. MaxPool also tracks whether any of those
// rows holds a NaN or an infinity: the rows' sum is then NaN or infinite, and s - s is NaN exactly for those (a
// finite sum that overflows only sends the plane to the exact loop too). It is OR-ed into `bad` (vector lanes)
// and `tail_bad` (columns of rows narrower than a vector), which the caller tests once per plane. Checking here,
// on values already in registers, costs a few adds; a separate scan of the plane was 40% of the kernel (first
// touch of a plane that the previous node left in L3), a test per row 17% on 27x27 planes.
template <bool kAvg, class V>
HWY_INLINE void vertical_pass(const float* in, int64_t step, int64_t nrows, int64_t W, float* row, V& bad,
                              bool& tail_bad) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  auto check = [&](auto sum) {
    if constexpr (!kAvg) bad = hn::Or(bad, hn::Sub(sum, sum));
  };
  // Columns [c, c + n); the last vector overlaps the one before when W is not a multiple of the lanes (the
  // overlapped columns get the same values again).
  auto columns = [&](int64_t c) {
    if (nrows == 3) {  // 3x3 windows: the common case, unrolled
      const auto a = hn::LoadU(d, in + c), b = hn::LoadU(d, in + step + c), e = hn::LoadU(d, in + 2 * step + c);
      hn::StoreU(combine<kAvg>(combine<kAvg>(a, b), e), d, row + c);
      check(hn::Add(hn::Add(a, b), e));
      return;
    }
    auto acc = hn::LoadU(d, in + c), sum = acc;
    for (int64_t i = 1; i < nrows; ++i) {
      const auto v = hn::LoadU(d, in + i * step + c);
      acc = combine<kAvg>(acc, v);
      if constexpr (!kAvg) sum = hn::Add(sum, v);
    }
    hn::StoreU(acc, d, row + c);
    check(sum);
  };
  int64_t c = 0;
  if (W >= n) {
    for (; c + n <= W; c += n) columns(c);
    if (c < W) columns(W - n);
    c = W;
  }
  for (; c < W; ++c) {  // rows narrower than a vector
    float acc = in[c];
    tail_bad = tail_bad || !std::isfinite(in[c]);
    for (int64_t i = 1; i < nrows; ++i) {
      const float v = in[i * step + c];
      acc = kAvg ? acc + v : (acc < v ? v : acc);
      tail_bad = tail_bad || !std::isfinite(v);
    }
    row[c] = acc;
  }
}

// out[ow] = combine of row[ow S + t dw], t < kw, for ow in [0, OW) (vectors; the last one overlaps the one before
// when OW is not a multiple of the lanes, or is stored partially when OW is less than one vector). KW = 0: kw and
// dw from the arguments; a nonzero KW implies dw = 1.
template <bool kAvg, int KW, int S>
HWY_INLINE void horizontal_vec(const float* row, int64_t kw_rt, int64_t dw_rt, int64_t OW, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  const int64_t kw = KW ? KW : kw_rt, dw = KW ? 1 : dw_rt;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3  // kAlignedTargets
  if constexpr (KW == 3 && S == 2) {
    // Aligned rows (aligned_rows): taps 0 and 1 are the even and odd lanes of two aligned loads, tap 2 the even
    // lanes shifted by one, the last lane taken from lane 0 of the next aligned vector (the next even element);
    // the same combination order as the loads below. Three unaligned 512-bit load pairs per vector (each load two
    // cache lines) were the pass's cost.
    for (int64_t ow = 0; ow < OW; ow += n) {
      const auto lo = hn::Load(d, row + 2 * ow), hi = hn::Load(d, row + 2 * ow + n);
      const auto even = hn::ConcatEven(d, hi, lo);
      const auto next = hn::Load(d, row + 2 * ow + 2 * n);
      const auto acc = combine<kAvg>(combine<kAvg>(even, hn::ConcatOdd(d, hi, lo)), ShiftConcat(even, next, 1));
      if (ow + n <= OW) {
        hn::StoreU(acc, d, out + ow);
      } else {
        StorePartial(acc, d, out + ow, OW - ow);
      }
    }
    return;
  }
#endif
  auto window = [&](int64_t ow) {
    const float* r = row + ow * S;
    auto acc = load_strided<S>(d, r);
    HWY_UNROLL(4) for (int64_t t = 1; t < kw; ++t) acc = combine<kAvg>(acc, load_strided<S>(d, r + t * dw));
    return acc;
  };
  if (OW < n) return StorePartial(window(0), d, out, OW);
  int64_t ow = 0;
  for (; ow + n <= OW; ow += n) hn::StoreU(window(ow), d, out + ow);
  if (ow < OW) hn::StoreU(window(OW - n), d, out + OW - n);
}

// Strides of 3 and more: scalar taps (no cheap vector gather on these targets).
template <bool kAvg>
void horizontal_scalar(const float* row, const Conv2dParams& p, float* out) {
  for (int64_t ow = 0; ow < p.OW; ++ow) {
    const float* r = row + ow * p.stride_w;
    float acc = r[0];
    for (int64_t t = 1; t < p.kw; ++t) {
      const float v = r[t * p.dilation_w];
      acc = kAvg ? acc + v : (acc < v ? v : acc);
    }
    out[ow] = acc;
  }
}

// Calls fn(horizontal) with the horizontal pass for p as a callable (row, kw, dw, OW, out): fixed taps for the
// common 2- and 3-wide windows, so that the per-row calls inline.
template <bool kAvg, class Fn>
HWY_INLINE void with_horizontal(const Conv2dParams& p, const Fn& fn) {
  const bool fixed = p.dilation_w == 1 && (p.kw == 2 || p.kw == 3);
  auto vec = [&](auto kw, auto stride) {
    fn([](const float* row, int64_t kw_rt, int64_t dw, int64_t OW, float* out) {
      horizontal_vec<kAvg, decltype(kw)::value, decltype(stride)::value>(row, kw_rt, dw, OW, out);
    });
  };
  using I0 = std::integral_constant<int, 0>;
  using I1 = std::integral_constant<int, 1>;
  using I2 = std::integral_constant<int, 2>;
  using I3 = std::integral_constant<int, 3>;
  if (p.stride_w == 1 || p.stride_w == 2) {
    const bool s2 = p.stride_w == 2;
    if (fixed && p.kw == 2) return s2 ? vec(I2(), I2()) : vec(I2(), I1());
    if (fixed) return s2 ? vec(I3(), I2()) : vec(I3(), I1());
    return s2 ? vec(I0(), I2()) : vec(I0(), I1());
  }
  fn([&p](const float* row, int64_t, int64_t, int64_t, float* out) { horizontal_scalar<kAvg>(row, p, out); });
}

// Taps of a window inside the padded extent [-pad_begin, in + pad_end): AveragePool's count_include_pad divisor.
HWY_INLINE int64_t padded_taps(int64_t start, int64_t in, int64_t kernel, int64_t dilation, int64_t pad_begin,
                               int64_t pad_end) {
  const TapRange r = valid_taps(start + pad_begin, in + pad_begin + pad_end, kernel, dilation);
  return r.last - r.first;
}

// out[i] = sums[i] * inv_col[i] * inv_row (in place allowed).
HWY_INLINE void scale_row(const float* sums, const float* inv_col, float inv_row, int64_t count, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  const auto vrow = hn::Set(d, inv_row);
  int64_t i = 0;
  for (; i + n <= count; i += n) {
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, sums + i), hn::LoadU(d, inv_col + i)), vrow), d, out + i);
  }
  for (; i < count; ++i) out[i] = sums[i] * inv_col[i] * inv_row;
}

// The in-input rows of output row oh's windows: `count` rows from input row `first`, dilation_h rows apart; and
// the reciprocal of its AveragePool row divisor (0 where no row counts).
struct WindowRows {
  int64_t first, count;
  float inv_divisor;
};

// How far ahead of its vertical pass a plane's input stream is prefetched, in floats (8 KiB). Inside a model a
// large pool's input has just been written by the layer before and left L2 (squeezenet's first MaxPool reads
// 3.1 MB): read at ~28 GB/s it took 0.115 ms per run, prefetched 0.093 ms (4 interleaved rounds).
constexpr int64_t kPrefetchAheadFloats = 2048;

// One plane, in two sweeps: the vertical pass of every output row into its own row buffer (rows + oh * len, the
// padding on both sides already filled; only [pad_left, pad_left + W) is written here), then the horizontal pass
// of every row. Reading a row buffer right after writing it cost a store-forwarding stall per load (the
// horizontal loads straddle the vertical stores): 45% of squeezenet's 27x27 MaxPool. MaxPool planes holding NaN
// or infinity take the exact loop, since vector max instructions do not propagate NaN the way the definition
// does. Average divisors factor into a row count times a column count and are applied after the sums as
// reciprocals (`inv_col` per output column, 0 where no tap counts: such windows sum to exactly 0).
template <bool kAvg, class H>
void pool_plane(const Conv2dParams& p, int64_t len, const H& horizontal, const WindowRows* wr,
                const float* inv_col, const float* x_plane, float* y_plane, float* rows) {
  const float empty = kAvg ? 0.0f : std::numeric_limits<float>::lowest();
  const hn::ScalableTag<float> d;
  auto bad = hn::Zero(d);
  bool tail_bad = false;
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    float* row = rows + oh * len + p.pad_left;
    if (wr[oh].count == 0) {  // the window lies wholly in the vertical padding
      std::fill(row, row + p.W, empty);
      continue;
    }
    // The rows this output row moves on by, kPrefetchAheadFloats further on (into the next plane at the end).
    const float* ahead = x_plane + wr[oh].first * p.W + kPrefetchAheadFloats;
    for (int64_t i = 0; i < p.stride_h * p.W; i += 16) hwy::Prefetch(ahead + i);
    vertical_pass<kAvg>(x_plane + wr[oh].first * p.W, p.dilation_h * p.W, wr[oh].count, p.W, row, bad, tail_bad);
  }
  if (!kAvg && (tail_bad || any_non_finite(d, bad))) {
    max_plane_exact(p, x_plane, y_plane);  // NaN or infinity among this plane's window rows
    return;
  }
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    float* out = y_plane + oh * p.OW;
    horizontal(rows + oh * len, p.kw, p.dilation_w, p.OW, out);
    if (kAvg) scale_row(out, inv_col, wr[oh].inv_divisor, p.OW, out);
  }
}

// Planes [begin, end): plane c from x + c * in_plane to y + c * out_plane.
template <bool kAvg>
void pool_planes(const Conv2dParams& p, bool count_include_pad, const float* x, int64_t in_plane, float* y,
                 int64_t out_plane, int64_t begin, int64_t end) {
  const int64_t len = row_len(p);
  // Per-thread buffers, grown only when a larger geometry comes: no allocation per run once warm.
  thread_local std::vector<float> buf;
  thread_local std::vector<WindowRows> window_rows;
  const int64_t n = static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  const size_t need = static_cast<size_t>(p.OH * len + p.OW + n);  // + n: room to start on a vector
  if (buf.size() < need) buf.resize(need);
  if (window_rows.size() < static_cast<size_t>(p.OH)) window_rows.resize(static_cast<size_t>(p.OH));
  // Rows start on a vector when len is a multiple of one (aligned_rows); the offset is a whole number of floats.
  const uintptr_t bytes = static_cast<uintptr_t>(n) * sizeof(float);
  float* rows = buf.data() + (bytes - reinterpret_cast<uintptr_t>(buf.data()) % bytes) % bytes / sizeof(float);
  float* inv_col = rows + p.OH * len;
  const float empty = kAvg ? 0.0f : std::numeric_limits<float>::lowest();
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    float* row = rows + oh * len;
    std::fill(row, row + p.pad_left, empty);
    std::fill(row + p.pad_left + p.W, row + len, empty);
    const int64_t start = oh * p.stride_h - p.pad_top;
    const TapRange taps = valid_taps(start, p.H, p.kh, p.dilation_h);
    const int64_t divisor = count_include_pad ? padded_taps(start, p.H, p.kh, p.dilation_h, p.pad_top, p.pad_bottom)
                                              : taps.last - taps.first;
    window_rows[static_cast<size_t>(oh)] = {start + taps.first * p.dilation_h, taps.last - taps.first,
                                            divisor == 0 ? 0.0f : 1.0f / static_cast<float>(divisor)};
  }
  if (kAvg) {
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const int64_t start = ow * p.stride_w - p.pad_left;
      const TapRange taps = valid_taps(start, p.W, p.kw, p.dilation_w);
      const int64_t count = count_include_pad ? padded_taps(start, p.W, p.kw, p.dilation_w, p.pad_left, p.pad_right)
                                              : taps.last - taps.first;
      inv_col[ow] = count == 0 ? 0.0f : 1.0f / static_cast<float>(count);
    }
  }
  with_horizontal<kAvg>(p, [&](const auto& horizontal) {
    for (int64_t c = begin; c < end; ++c) {
      pool_plane<kAvg>(p, len, horizontal, window_rows.data(), inv_col, x + c * in_plane, y + c * out_plane, rows);
    }
  });
}

// Planes [begin, end) of the flattened (n, c) range.
void MaxPoolPlanes(const Conv2dParams& p, const float* x, int64_t in_plane, float* y, int64_t out_plane, int64_t begin,
                   int64_t end) {
  pool_planes<false>(p, false, x, in_plane, y, out_plane, begin, end);
}

void AveragePoolPlanes(const Conv2dParams& p, bool count_include_pad, const float* x, float* y, int64_t begin,
                       int64_t end) {
  pool_planes<true>(p, count_include_pad, x, p.H * p.W, y, p.OH * p.OW, begin, end);
}

// Four accumulators hide the add/max latency; the order of combination is fixed, so results are reproducible.
float GlobalPlane(bool is_max, const float* x, int64_t count) {
  if (count == 0) return is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  float result;
  if (is_max) {
    if (has_non_finite(x, count)) {
      float best = x[0];
      for (int64_t k = 1; k < count; ++k) {
        if (x[k] > best || (std::isnan(x[k]) && !std::isnan(best))) best = x[k];
      }
      return best;
    }
    auto m0 = hn::Set(d, x[0]), m1 = m0, m2 = m0, m3 = m0;
    for (; i + 4 * n <= count; i += 4 * n) {
      m0 = hn::Max(m0, hn::LoadU(d, x + i));
      m1 = hn::Max(m1, hn::LoadU(d, x + i + n));
      m2 = hn::Max(m2, hn::LoadU(d, x + i + 2 * n));
      m3 = hn::Max(m3, hn::LoadU(d, x + i + 3 * n));
    }
    for (; i + n <= count; i += n) m0 = hn::Max(m0, hn::LoadU(d, x + i));
    result = hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(m0, m1), hn::Max(m2, m3))));
    for (; i < count; ++i) result = std::max(result, x[i]);
    return result;
  }
  auto s0 = hn::Zero(d), s1 = s0, s2 = s0, s3 = s0;
  for (; i + 4 * n <= count; i += 4 * n) {
    s0 = hn::Add(s0, hn::LoadU(d, x + i));
    s1 = hn::Add(s1, hn::LoadU(d, x + i + n));
    s2 = hn::Add(s2, hn::LoadU(d, x + i + 2 * n));
    s3 = hn::Add(s3, hn::LoadU(d, x + i + 3 * n));
  }
  for (; i + n <= count; i += n) s0 = hn::Add(s0, hn::LoadU(d, x + i));
  result = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < count; ++i) result += x[i];
  return result / static_cast<float>(count);
}

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(MaxPoolPlanes);
HWY_EXPORT(AveragePoolPlanes);
HWY_EXPORT(GlobalPlane);

namespace {

// Planes per chunk so that a chunk is worth handing to a thread.
int64_t plane_grain(int64_t work_per_plane) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, work_per_plane));
}

}  // namespace

void max_pool2d(const Conv2dParams& p, const float* x, float* y, ThreadPool& pool) {
  if (p.OH <= 0 || p.OW <= 0) return;
  pool.parallel_for(p.N * p.C, plane_grain(p.OH * p.OW * p.kh * p.kw), [&](int64_t begin, int64_t end) {
    HWY_DYNAMIC_DISPATCH(MaxPoolPlanes)(p, x, p.H * p.W, y, p.OH * p.OW, begin, end);
  });
}

void max_pool2d_planes(const Conv2dParams& p, const float* x, int64_t x_plane_stride, float* y, int64_t y_plane_stride,
                       int64_t begin, int64_t end) {
  if (p.OH <= 0 || p.OW <= 0) return;
  HWY_DYNAMIC_DISPATCH(MaxPoolPlanes)(p, x, x_plane_stride, y, y_plane_stride, begin, end);
}

void average_pool2d(const Conv2dParams& p, bool count_include_pad, const float* x, float* y, ThreadPool& pool) {
  if (p.OH <= 0 || p.OW <= 0) return;
  pool.parallel_for(p.N * p.C, plane_grain(p.OH * p.OW * p.kh * p.kw), [&](int64_t begin, int64_t end) {
    HWY_DYNAMIC_DISPATCH(AveragePoolPlanes)(p, count_include_pad, x, y, begin, end);
  });
}

void global_average_pool(int64_t planes, int64_t plane_size, const float* x, float* y, ThreadPool& pool) {
  pool.parallel_for(planes, plane_grain(plane_size), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) y[c] = HWY_DYNAMIC_DISPATCH(GlobalPlane)(false, x + c * plane_size, plane_size);
  });
}

void global_max_pool(int64_t planes, int64_t plane_size, const float* x, float* y, ThreadPool& pool) {
  pool.parallel_for(planes, plane_grain(plane_size), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) y[c] = HWY_DYNAMIC_DISPATCH(GlobalPlane)(true, x + c * plane_size, plane_size);
  });
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
