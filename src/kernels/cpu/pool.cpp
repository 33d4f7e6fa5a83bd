// Pooling kernels. MaxPool/AveragePool reduce each window in two passes: over its in-input rows (element-wise
// along the whole input row, vectorized, no bounds checks, no shuffles) into a row buffer padded with the lowest
// float (max) or zeros (average), then along that row (vectorized for strides 1 and 2, a deinterleaving load per
// tap for stride 2; scalar taps for larger strides). MaxPool first scans each plane for NaN and infinities, since
// vector max instructions do not propagate NaN the way the definition does; such planes take the exact scalar
// loop. Global pools reduce each plane with several vector accumulators. Depends on conv_params.h,
// core/thread_pool.h and Highway (per-target code, run-time pick).
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/pool.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

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

// Row geometry shared by every plane of one call. A window is reduced in two passes: first over its rows
// (vertical: the `nrows` in-input rows combined element by element into one row, vectorized along the full
// input width, no shuffles), then along that row (horizontal: kw taps at stride S). The row buffer holds the
// vertical result at [pad_left, pad_left + W), with the lowest float (max) or 0 (average) on both sides, so the
// horizontal pass needs no bounds checks; it is `len` floats long so whole vectors over [0, ow_v) stay inside
// (stride 2 loads one column past its last tap). Each input row is loaded once per window row it belongs to
// (1.5 times per output for 3x3 stride 2) instead of kw times with a deinterleave per tap.
struct RowShape {
  int64_t len;   // row buffer floats
  int64_t ow_v;  // outputs computed per row by the vector pass: max(OW, lanes) (stride 1 or 2)
};

HWY_INLINE RowShape row_shape(const Conv2dParams& p) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  const bool vec = p.stride_w == 1 || p.stride_w == 2;
  const int64_t ow_v = vec ? std::max(p.OW, n) : p.OW;
  const int64_t reach = (ow_v - 1) * p.stride_w + (p.kw - 1) * p.dilation_w + (vec ? p.stride_w : 1);
  return {std::max(p.W + p.pad_left, reach), ow_v};
}

// row[0, W) = combine of the `nrows` rows at `in`, `step` floats apart. MaxPool also returns whether any of
// those rows holds a NaN or an infinity: the rows' sum is then NaN or infinite, and s - s is NaN exactly for
// those (a finite sum that overflows only sends the plane to the exact loop too). Checking here, on values
// already in registers, costs a few adds; a separate scan of the plane was 40% of the kernel (first touch of
// a plane that the previous node left in L3).
template <bool kAvg>
bool vertical_pass(const float* in, int64_t step, int64_t nrows, int64_t W, float* row) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  auto bad = hn::Zero(d);
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
  bool tail_bad = false;
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
  if constexpr (kAvg) {
    return false;
  } else {
    return tail_bad || any_non_finite(d, bad);
  }
}

// out[ow] = combine of row[ow S + t dw], t < kw, for ow in [0, ow_v) (vectors; the last one overlaps when
// ow_v is not a multiple of the lanes). KW = 0: kw and dw from the arguments; a nonzero KW implies dw = 1.
template <bool kAvg, int KW, int S>
void horizontal_vec(const float* row, int64_t kw_rt, int64_t dw_rt, int64_t ow_v, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  const int64_t kw = KW ? KW : kw_rt, dw = KW ? 1 : dw_rt;
  auto one = [&](int64_t ow) {
    const float* r = row + ow * S;
    auto acc = load_strided<S>(d, r);
    HWY_UNROLL(4) for (int64_t t = 1; t < kw; ++t) acc = combine<kAvg>(acc, load_strided<S>(d, r + t * dw));
    hn::StoreU(acc, d, out + ow);
  };
  int64_t ow = 0;
  for (; ow + n <= ow_v; ow += n) one(ow);
  if (ow < ow_v) one(ow_v - n);
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

using HorizontalFn = void (*)(const float*, int64_t, int64_t, int64_t, float*);

template <bool kAvg>
HorizontalFn pick_horizontal(const Conv2dParams& p) {
  const bool fixed = p.dilation_w == 1 && (p.kw == 2 || p.kw == 3);
  if (p.stride_w == 1) {
    if (fixed) return p.kw == 2 ? &horizontal_vec<kAvg, 2, 1> : &horizontal_vec<kAvg, 3, 1>;
    return &horizontal_vec<kAvg, 0, 1>;
  }
  if (p.stride_w == 2) {
    if (fixed) return p.kw == 2 ? &horizontal_vec<kAvg, 2, 2> : &horizontal_vec<kAvg, 3, 2>;
    return &horizontal_vec<kAvg, 0, 2>;
  }
  return nullptr;
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

// One plane. `row` is the RowShape buffer with its padding already filled (only [pad_left, pad_left + W) is
// written here), `tmp` holds ow_v floats. MaxPool planes holding NaN or infinity take the exact loop, since
// vector max instructions do not propagate NaN the way the definition does. Average divisors factor into a
// row count times a column count and are applied after the sums as reciprocals (`inv_col` per output column,
// 0 where no tap counts: such windows sum to exactly 0).
template <bool kAvg>
void pool_plane(const Conv2dParams& p, const RowShape& rs, HorizontalFn hfn, bool count_include_pad,
                const float* inv_col, const float* x_plane, float* y_plane, float* row, float* tmp) {
  const float empty = kAvg ? 0.0f : std::numeric_limits<float>::lowest();
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    float* out = y_plane + oh * p.OW;
    const int64_t start = oh * p.stride_h - p.pad_top;
    const TapRange rows = valid_taps(start, p.H, p.kh, p.dilation_h);
    const int64_t nrows = rows.last - rows.first;
    if (nrows == 0) {  // the window lies wholly in the vertical padding
      std::fill(out, out + p.OW, empty);
      continue;
    }
    if (vertical_pass<kAvg>(x_plane + (start + rows.first * p.dilation_h) * p.W, p.dilation_h * p.W, nrows, p.W,
                            row + p.pad_left)) {
      max_plane_exact(p, x_plane, y_plane);  // NaN or infinity among this plane's window rows
      return;
    }
    float* dst = hfn != nullptr && rs.ow_v != p.OW ? tmp : out;
    if (hfn != nullptr) {
      hfn(row, p.kw, p.dilation_w, rs.ow_v, dst);
    } else {
      horizontal_scalar<kAvg>(row, p, dst);
    }
    if (kAvg) {
      const int64_t row_count =
          count_include_pad ? padded_taps(start, p.H, p.kh, p.dilation_h, p.pad_top, p.pad_bottom) : nrows;
      scale_row(dst, inv_col, 1.0f / static_cast<float>(row_count), p.OW, out);
    } else if (dst != out) {
      std::copy(dst, dst + p.OW, out);
    }
  }
}

template <bool kAvg>
void pool_planes(const Conv2dParams& p, bool count_include_pad, const float* x, float* y, int64_t begin,
                 int64_t end) {
  const int64_t in_plane = p.H * p.W, out_plane = p.OH * p.OW;
  const RowShape rs = row_shape(p);
  // Per-thread buffer, grown only when a larger geometry comes: no allocation per run once warm.
  thread_local std::vector<float> buf;
  const size_t need = static_cast<size_t>(rs.len + rs.ow_v + p.OW);
  if (buf.size() < need) buf.resize(need);
  float* row = buf.data();
  float* tmp = row + rs.len;
  float* inv_col = tmp + rs.ow_v;
  const float empty = kAvg ? 0.0f : std::numeric_limits<float>::lowest();
  std::fill(row, row + p.pad_left, empty);
  std::fill(row + p.pad_left + p.W, row + rs.len, empty);
  if (kAvg) {
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const int64_t start = ow * p.stride_w - p.pad_left;
      const TapRange taps = valid_taps(start, p.W, p.kw, p.dilation_w);
      const int64_t count = count_include_pad ? padded_taps(start, p.W, p.kw, p.dilation_w, p.pad_left, p.pad_right)
                                              : taps.last - taps.first;
      inv_col[ow] = count == 0 ? 0.0f : 1.0f / static_cast<float>(count);
    }
  }
  const HorizontalFn hfn = pick_horizontal<kAvg>(p);
  for (int64_t c = begin; c < end; ++c) {
    pool_plane<kAvg>(p, rs, hfn, count_include_pad, inv_col, x + c * in_plane, y + c * out_plane, row, tmp);
  }
}

// Planes [begin, end) of the flattened (n, c) range.
void MaxPoolPlanes(const Conv2dParams& p, const float* x, float* y, int64_t begin, int64_t end) {
  pool_planes<false>(p, false, x, y, begin, end);
}

void AveragePoolPlanes(const Conv2dParams& p, bool count_include_pad, const float* x, float* y, int64_t begin,
                       int64_t end) {
  pool_planes<true>(p, count_include_pad, x, y, begin, end);
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
    HWY_DYNAMIC_DISPATCH(MaxPoolPlanes)(p, x, y, begin, end);
  });
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
