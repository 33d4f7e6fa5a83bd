// Pooling kernels. MaxPool/AveragePool with stride 1 or 2 copy each input plane into a buffer padded with the
// lowest float (max) or zeros (average), so every output is computed by interior loops vectorized along the
// output width with no bounds checks; the copy also scans for NaN and infinities, since vector max instructions
// do not propagate NaN the way the definition does, and such planes take the exact scalar loop. Larger strides
// use a scalar border/interior split. Global pools reduce each plane with several vector accumulators. Depends on
// conv_params.h, core/thread_pool.h and Highway (per-target code, run-time pick).
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

// One output row after clipping to the vertical padding: `nrows` (>= 1) input rows from `in` (column 0),
// `row_step` floats apart.
struct PoolRow {
  const float* in;
  int64_t row_step;
  int64_t nrows;
  int64_t kw, dw, sw;
  int64_t col0;  // input column of tap 0 for output column 0 (= -pad_left)
};

// Max or sum over taps [t0, t1) (non-empty) of every row, for the window starting at input column `start`.
template <bool kAvg>
HWY_INLINE float window_scalar(const PoolRow& j, int64_t start, int64_t t0, int64_t t1) {
  const float* r = j.in;
  float acc = kAvg ? 0.0f : r[start + t0 * j.dw];
  for (int64_t i = 0; i < j.nrows; ++i, r += j.row_step) {
    for (int64_t t = t0; t < t1; ++t) {
      const float v = r[start + t * j.dw];
      acc = kAvg ? acc + v : (acc < v ? v : acc);
    }
  }
  return acc;
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

template <bool kAvg, class V>
HWY_INLINE V combine(V a, V b) {
  if constexpr (kAvg) {
    return hn::Add(a, b);
  } else {
    return hn::Max(a, b);
  }
}

// One vector of outputs: each kernel row reduces on its own, then the rows combine, so the dependency chain is
// about kw + kh long instead of kw * kh. KH/KW = 0: from the job at run time; a nonzero KW implies dilation 1.
template <bool kAvg, int KH, int KW, int S, class D>
HWY_INLINE hn::Vec<D> window_vec(D d, const PoolRow& j, int64_t ow) {
  const int64_t nrows = KH ? KH : j.nrows;
  const int64_t kw = KW ? KW : j.kw;
  const int64_t dw = KW ? 1 : j.dw;
  const float* r = j.in + (ow * S + j.col0);
  hn::Vec<D> acc;
  HWY_UNROLL(8) for (int64_t i = 0; i < nrows; ++i, r += j.row_step) {
    auto row = load_strided<S>(d, r);
    HWY_UNROLL(8) for (int64_t t = 1; t < kw; ++t) row = combine<kAvg>(row, load_strided<S>(d, r + t * dw));
    acc = i == 0 ? row : combine<kAvg>(acc, row);
  }
  return acc;
}

template <bool kAvg, class V>
HWY_INLINE V finish(V v, V scale) {
  if constexpr (kAvg) {
    return hn::Mul(v, scale);
  } else {
    return v;
  }
}

// Interior columns [begin, end); averages are scaled by `scale` (1 / divisor, the same for every interior
// column of a row). Overlapping last vector as in the depthwise kernel.
template <bool kAvg, int KH, int KW, int S>
void interior_row(const PoolRow& j, int64_t begin, int64_t end, float scale, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  if (end - begin < n) {
    for (int64_t ow = begin; ow < end; ++ow) {
      const float v = window_scalar<kAvg>(j, ow * S + j.col0, 0, j.kw);
      out[ow] = kAvg ? v * scale : v;
    }
    return;
  }
  const auto vscale = hn::Set(d, scale);
  int64_t ow = begin;
  for (; ow + 2 * n <= end; ow += 2 * n) {
    const auto a = window_vec<kAvg, KH, KW, S>(d, j, ow);
    const auto b = window_vec<kAvg, KH, KW, S>(d, j, ow + n);
    hn::StoreU(finish<kAvg>(a, vscale), d, out + ow);
    hn::StoreU(finish<kAvg>(b, vscale), d, out + ow + n);
  }
  if (ow + n <= end) {
    hn::StoreU(finish<kAvg>(window_vec<kAvg, KH, KW, S>(d, j, ow), vscale), d, out + ow);
    ow += n;
  }
  if (ow < end) hn::StoreU(finish<kAvg>(window_vec<kAvg, KH, KW, S>(d, j, end - n), vscale), d, out + end - n);
}

template <bool kAvg, int K, int S>
void interior_row_fixed(const PoolRow& j, int64_t begin, int64_t end, float scale, float* out) {
  if (j.nrows == K) {
    interior_row<kAvg, K, K, S>(j, begin, end, scale, out);
  } else {
    interior_row<kAvg, 0, K, S>(j, begin, end, scale, out);
  }
}

using RowFn = void (*)(const PoolRow&, int64_t, int64_t, float, float*);

template <bool kAvg, int S>
RowFn pick_row_fn(int64_t kh, int64_t kw, int64_t dw) {
  if (dw == 1 && kh == 2 && kw == 2) return &interior_row_fixed<kAvg, 2, S>;
  if (dw == 1 && kh == 3 && kw == 3) return &interior_row_fixed<kAvg, 3, S>;
  return &interior_row<kAvg, 0, 0, S>;
}

// Taps of a window inside the padded extent [-pad_begin, in + pad_end): AveragePool's count_include_pad divisor.
HWY_INLINE int64_t padded_taps(int64_t start, int64_t in, int64_t kernel, int64_t dilation, int64_t pad_begin,
                               int64_t pad_end) {
  const TapRange r = valid_taps(start + pad_begin, in + pad_begin + pad_end, kernel, dilation);
  return r.last - r.first;
}

// A column whose window overlaps the left/right padding; `row_count` is the row's share of the divisor.
template <bool kAvg>
HWY_INLINE float border_column(const Conv2dParams& p, const PoolRow& j, bool count_include_pad, int64_t row_count,
                               int64_t ow) {
  const int64_t start = ow * p.stride_w + j.col0;
  const TapRange taps = valid_taps(start, p.W, p.kw, p.dilation_w);
  if (taps.last == taps.first) return kAvg ? 0.0f : std::numeric_limits<float>::lowest();
  const float v = window_scalar<kAvg>(j, start, taps.first, taps.last);
  if (!kAvg) return v;
  const int64_t col_count = count_include_pad ? padded_taps(start, p.W, p.kw, p.dilation_w, p.pad_left, p.pad_right)
                                              : taps.last - taps.first;
  return v / static_cast<float>(row_count * col_count);
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

// Copies `count` floats; returns whether any of them is NaN or infinite (checked only when `check`).
HWY_INLINE bool copy_row(const float* src, float* dst, int64_t count, bool check) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  auto acc = hn::Zero(d);
  int64_t i = 0;
  for (; i + n <= count; i += n) {
    const auto v = hn::LoadU(d, src + i);
    if (check) acc = hn::Or(acc, hn::Sub(v, v));
    hn::StoreU(v, d, dst + i);
  }
  bool tail = false;
  for (; i < count; ++i) {
    dst[i] = src[i];
    tail = tail || (check && !std::isfinite(src[i]));
  }
  return check && (tail || any_non_finite(d, acc));
}

// Strides of 3 and more: no vector loads; border columns clip their taps, interior columns run unchecked.
template <bool kAvg>
void strided_plane(const Conv2dParams& p, bool count_include_pad, const float* x_plane, float* y_plane) {
  if (!kAvg && has_non_finite(x_plane, p.H * p.W)) {
    max_plane_exact(p, x_plane, y_plane);
    return;
  }
  const OutRange cols = interior_range(p.W, p.OW, p.kw, p.stride_w, p.dilation_w, p.pad_left);
  const float empty = kAvg ? 0.0f : std::numeric_limits<float>::lowest();

  for (int64_t oh = 0; oh < p.OH; ++oh) {
    float* out = y_plane + oh * p.OW;
    const int64_t start_h = oh * p.stride_h - p.pad_top;
    const TapRange rows = valid_taps(start_h, p.H, p.kh, p.dilation_h);
    const int64_t nrows = rows.last - rows.first;
    if (nrows == 0) {
      std::fill(out, out + p.OW, empty);
      continue;
    }
    const PoolRow j{x_plane + (start_h + rows.first * p.dilation_h) * p.W,
                    p.dilation_h * p.W,
                    nrows,
                    p.kw,
                    p.dilation_w,
                    p.stride_w,
                    -p.pad_left};
    const int64_t row_count =
        count_include_pad ? padded_taps(start_h, p.H, p.kh, p.dilation_h, p.pad_top, p.pad_bottom) : nrows;

    const float scale = 1.0f / static_cast<float>(row_count * p.kw);

    for (int64_t ow = 0; ow < cols.begin; ++ow) out[ow] = border_column<kAvg>(p, j, count_include_pad, row_count, ow);
    for (int64_t ow = cols.begin; ow < cols.end; ++ow) {
      const float v = window_scalar<kAvg>(j, ow * p.stride_w + j.col0, 0, p.kw);
      out[ow] = kAvg ? v * scale : v;
    }
    for (int64_t ow = cols.end; ow < p.OW; ++ow) out[ow] = border_column<kAvg>(p, j, count_include_pad, row_count, ow);
  }
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

// Padded-buffer geometry shared by every plane of one call: rows x cols of the padded input copy, wide enough
// that whole vectors over [0, max(OW, lanes)) never leave it (stride 2 reads one column past its last tap).
struct PaddedShape {
  int64_t rows, cols, ow_v;
};

HWY_INLINE PaddedShape padded_shape(const Conv2dParams& p) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  const int64_t ow_v = std::max(p.OW, n);
  return {std::max(p.H + p.pad_top, (p.OH - 1) * p.stride_h + (p.kh - 1) * p.dilation_h + 1),
          std::max(p.W + p.pad_left, (ow_v - 1) * p.stride_w + (p.kw - 1) * p.dilation_w + p.stride_w), ow_v};
}

// Stride 1 or 2: the plane is copied into a buffer padded with the lowest float (max) or zeros (average) and
// every output row goes through the interior kernels; scalar border columns would cost about as much as the
// whole vectorized interior. The copy doubles as MaxPool's NaN/infinity scan. `padded` has its padding already
// filled (only the input region is ever written); `tmp` holds ow_v floats. Average divisors factor into a row
// count times a column count and are applied after the sums as reciprocals (`inv_col_count` per output column,
// 0 where no tap counts: such windows sum to exactly 0).
template <bool kAvg>
void padded_pool_plane(const Conv2dParams& p, const PaddedShape& ps, bool count_include_pad,
                       const float* inv_col_count, const float* x_plane, float* y_plane, float* padded,
                       float* tmp) {
  bool non_finite = false;
  for (int64_t ih = 0; ih < p.H; ++ih) {
    non_finite |= copy_row(x_plane + ih * p.W, padded + (ih + p.pad_top) * ps.cols + p.pad_left, p.W, !kAvg);
  }
  if (non_finite) {
    max_plane_exact(p, x_plane, y_plane);
    return;
  }
  const RowFn vec_fn = p.stride_w == 1 ? pick_row_fn<kAvg, 1>(p.kh, p.kw, p.dilation_w)
                                       : pick_row_fn<kAvg, 2>(p.kh, p.kw, p.dilation_w);
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    float* out = y_plane + oh * p.OW;
    float* dst = ps.ow_v == p.OW ? out : tmp;
    const PoolRow j{padded + oh * p.stride_h * ps.cols, p.dilation_h * ps.cols, p.kh, p.kw, p.dilation_w,
                    p.stride_w, 0};
    vec_fn(j, 0, ps.ow_v, 1.0f, dst);
    if (kAvg) {
      const int64_t start = oh * p.stride_h - p.pad_top;
      const TapRange rows = valid_taps(start, p.H, p.kh, p.dilation_h);
      const int64_t row_count = count_include_pad
                                    ? padded_taps(start, p.H, p.kh, p.dilation_h, p.pad_top, p.pad_bottom)
                                    : rows.last - rows.first;
      scale_row(dst, inv_col_count, row_count == 0 ? 0.0f : 1.0f / static_cast<float>(row_count), p.OW, out);
    } else if (dst != out) {
      std::copy(dst, dst + p.OW, out);
    }
  }
}

template <bool kAvg>
void pool_planes(const Conv2dParams& p, bool count_include_pad, const float* x, float* y, int64_t begin,
                 int64_t end) {
  const int64_t in_plane = p.H * p.W, out_plane = p.OH * p.OW;
  if (p.stride_w != 1 && p.stride_w != 2) {
    for (int64_t c = begin; c < end; ++c) strided_plane<kAvg>(p, count_include_pad, x + c * in_plane, y + c * out_plane);
    return;
  }
  const PaddedShape ps = padded_shape(p);
  std::vector<float> buf(static_cast<size_t>(ps.rows * ps.cols + 2 * ps.ow_v),
                         kAvg ? 0.0f : std::numeric_limits<float>::lowest());
  float* tmp = buf.data() + ps.rows * ps.cols;
  float* inv_col_count = tmp + ps.ow_v;
  if (kAvg) {
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const int64_t start = ow * p.stride_w - p.pad_left;
      const TapRange taps = valid_taps(start, p.W, p.kw, p.dilation_w);
      const int64_t count = count_include_pad ? padded_taps(start, p.W, p.kw, p.dilation_w, p.pad_left, p.pad_right)
                                              : taps.last - taps.first;
      inv_col_count[ow] = count == 0 ? 0.0f : 1.0f / static_cast<float>(count);
    }
  }
  for (int64_t c = begin; c < end; ++c) {
    padded_pool_plane<kAvg>(p, ps, count_include_pad, inv_col_count, x + c * in_plane, y + c * out_plane, buf.data(),
                            tmp);
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
