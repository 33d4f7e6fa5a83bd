// Softmax / LogSoftmax kernels. inner == 1 (normalizing contiguous rows) runs three vector passes per row: max,
// exp-and-sum, scale. inner > 1 (axis not last) is vectorized across the inner dim instead: a strip of columns
// keeps per-column max and sum in stack arrays while the axis is walked with stride `inner`, so no transpose is
// needed. Work is split over rows (or strips of rows), each normalized slice by exactly one thread.
// Depends on the standard library, Highway (vec_math-inl.h) and core/thread_pool.h.
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/thread_pool.h"

#ifndef EF_KERNELS_CPU_SOFTMAX_CONSTANTS_
#define EF_KERNELS_CPU_SOFTMAX_CONSTANTS_
namespace ef::cpu::softmax_detail {
// Columns per strip of the strided form (axis not last); per-column state lives on the stack, in whole vectors of
// every target (a multiple of 16 lanes).
constexpr int64_t kStrip = 256;
// Rows this short (detection heads: [anchors, 2], [anchors, 21]) go through the blocked form: per-row vector
// passes would spend more on reductions and masks than on the row itself.
constexpr int64_t kShortRow = 16;
constexpr int64_t kShortBlockRows = 128;
}  // namespace ef::cpu::softmax_detail
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/softmax.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/cpu/vec_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

template <class D>
HWY_INLINE float row_max(D d, const float* HWY_RESTRICT x, size_t n) {
  const size_t lanes = hn::Lanes(d);
  auto m0 = hn::Set(d, kNegInf), m1 = m0;
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    m0 = hn::Max(m0, hn::LoadU(d, x + i));
    m1 = hn::Max(m1, hn::LoadU(d, x + i + lanes));
  }
  for (; i + lanes <= n; i += lanes) m0 = hn::Max(m0, hn::LoadU(d, x + i));
  if (i < n) m1 = hn::Max(m1, hn::IfThenElse(hn::FirstN(d, n - i), LoadTail(d, x + i, n - i), hn::Set(d, kNegInf)));
  return hn::GetLane(hn::MaxOfLanes(d, hn::Max(m0, m1)));
}

// Sum of exp(x - max); also stores the exponentials into y when `store` (softmax), not for log-softmax.
template <bool store, class D>
HWY_INLINE float row_exp_sum(D d, const float* x, float* y, size_t n, float max) {
  const size_t lanes = hn::Lanes(d);
  const auto vmax = hn::Set(d, max);
  auto s0 = hn::Zero(d), s1 = s0;
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    const auto e0 = VecExp(d, hn::Sub(hn::LoadU(d, x + i), vmax));
    const auto e1 = VecExp(d, hn::Sub(hn::LoadU(d, x + i + lanes), vmax));
    if constexpr (store) {
      hn::StoreU(e0, d, y + i);
      hn::StoreU(e1, d, y + i + lanes);
    }
    s0 = hn::Add(s0, e0);
    s1 = hn::Add(s1, e1);
  }
  for (; i + lanes <= n; i += lanes) {
    const auto e = VecExp(d, hn::Sub(hn::LoadU(d, x + i), vmax));
    if constexpr (store) hn::StoreU(e, d, y + i);
    s0 = hn::Add(s0, e);
  }
  if (i < n) {
    const auto e = hn::IfThenElseZero(hn::FirstN(d, n - i), VecExp(d, hn::Sub(LoadTail(d, x + i, n - i), vmax)));
    if constexpr (store) StoreTail(e, d, y + i, n - i);
    s1 = hn::Add(s1, e);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
}

// y[i] = f(x[i]) for a vector function, partial tail (y may alias x).
template <class D, class Fn>
HWY_INLINE void row_map(D d, const float* x, float* y, size_t n, const Fn& fn) {
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(fn(hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StoreTail(fn(LoadTail(d, x + i, n - i)), d, y + i, n - i);
}

// Short rows, a block of rows at a time: per-row max and sums are scalar (a few elements each), while the exp
// over the whole contiguous block and the per-row reciprocal / log run as vectors.
template <class D>
HWY_INLINE void short_rows(D d, SoftmaxKind kind, const float* x, float* y, int64_t cols, int64_t r0, int64_t r1) {
  using V = hn::Vec<D>;
  using softmax_detail::kShortBlockRows;
  using softmax_detail::kShortRow;
  const size_t lanes = hn::Lanes(d);
  HWY_ALIGN float e[kShortBlockRows * kShortRow];
  HWY_ALIGN float stat[kShortBlockRows];
  for (int64_t b0 = r0; b0 < r1; b0 += kShortBlockRows) {
    const int64_t rows = std::min(kShortBlockRows, r1 - b0);
    const float* xb = x + b0 * cols;
    float* yb = y + b0 * cols;
    for (int64_t r = 0; r < rows; ++r) {  // y = x - max (each element read before it is written: y may be x)
      const float* xr = xb + r * cols;
      float m = xr[0];
      for (int64_t j = 1; j < cols; ++j) m = xr[j] > m ? xr[j] : m;
      for (int64_t j = 0; j < cols; ++j) yb[r * cols + j] = xr[j] - m;
    }
    const size_t n = static_cast<size_t>(rows * cols);
    row_map(d, yb, e, n, [&](V v) HWY_ATTR { return VecExp(d, v); });
    for (int64_t r = 0; r < rows; ++r) {
      float s = 0;
      for (int64_t j = 0; j < cols; ++j) s += e[r * cols + j];
      stat[r] = s;
    }
    for (int64_t r = rows; r % static_cast<int64_t>(lanes) != 0; ++r) stat[r] = 1.0f;  // whole vectors below
    for (size_t r = 0; r < static_cast<size_t>(rows); r += lanes) {
      const V v = hn::Load(d, stat + r);
      hn::Store(kind == SoftmaxKind::kSoftmax ? hn::Div(hn::Set(d, 1.0f), v) : hn::Log(d, v), d, stat + r);
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* yr = yb + r * cols;
      const float t = stat[r];
      if (kind == SoftmaxKind::kSoftmax) {
        for (int64_t j = 0; j < cols; ++j) yr[j] = e[r * cols + j] * t;
      } else {
        for (int64_t j = 0; j < cols; ++j) yr[j] -= t;
      }
    }
  }
}

void SoftmaxRows(SoftmaxKind kind, const float* x, float* y, int64_t cols, int64_t r0, int64_t r1) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  if (cols <= softmax_detail::kShortRow) return short_rows(d, kind, x, y, cols, r0, r1);
  const size_t n = static_cast<size_t>(cols);
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float max = row_max(d, xr, n);
    if (kind == SoftmaxKind::kSoftmax) {
      const float sum = row_exp_sum<true>(d, xr, yr, n, max);
      const V scale = hn::Set(d, 1.0f / sum);
      row_map(d, yr, yr, n, [&](V e) HWY_ATTR { return hn::Mul(e, scale); });
    } else {
      const float sum = row_exp_sum<false>(d, xr, yr, n, max);
      const V vmax = hn::Set(d, max), log_sum = hn::Set(d, std::log(sum));
      row_map(d, xr, yr, n, [&](V v) HWY_ATTR { return hn::Sub(hn::Sub(v, vmax), log_sum); });
    }
  }
}

using softmax_detail::kStrip;

// Partial vectors at the end of a strip go through LoadTail/StoreTail, full ones plain (masked stores are slow on
// some x86 cores).
template <class D>
HWY_INLINE hn::Vec<D> load_part(D d, const float* p, size_t count) {
  return count == hn::Lanes(d) ? hn::LoadU(d, p) : LoadTail(d, p, count);
}
template <class D>
HWY_INLINE void store_part(D d, hn::Vec<D> v, float* p, size_t count) {
  if (count == hn::Lanes(d)) {
    hn::StoreU(v, d, p);
  } else {
    StoreTail(v, d, p, count);
  }
}

// Units u in [u0, u1) are (outer index, strip) pairs of the [outer, n, inner] view, strips of kStrip columns.
// The per-column arrays are walked in whole vectors (kStrip is a multiple of every lane count); lanes past the
// strip's width hold values computed from zeros and are never stored.
void SoftmaxStrided(SoftmaxKind kind, const float* x, float* y, int64_t n, int64_t inner, int64_t u0, int64_t u1) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const int64_t strips = (inner + kStrip - 1) / kStrip;
  HWY_ALIGN float max[kStrip];
  HWY_ALIGN float sum[kStrip];
  for (int64_t u = u0; u < u1; ++u) {
    const int64_t o = u / strips, j0 = (u % strips) * kStrip;
    const size_t w = static_cast<size_t>(std::min(kStrip, inner - j0));
    const float* xs = x + o * n * inner + j0;
    float* ys = y + o * n * inner + j0;
    for (size_t j = 0; j < w; j += lanes) hn::Store(load_part(d, xs + j, std::min(lanes, w - j)), d, max + j);
    for (int64_t i = 1; i < n; ++i) {
      for (size_t j = 0; j < w; j += lanes) {
        const auto v = load_part(d, xs + i * inner + j, std::min(lanes, w - j));
        hn::Store(hn::Max(hn::Load(d, max + j), v), d, max + j);
      }
    }
    for (size_t j = 0; j < w; j += lanes) hn::Store(hn::Zero(d), d, sum + j);
    for (int64_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < w; j += lanes) {
        const size_t count = std::min(lanes, w - j);
        const auto e = VecExp(d, hn::Sub(load_part(d, xs + i * inner + j, count), hn::Load(d, max + j)));
        if (kind == SoftmaxKind::kSoftmax) store_part(d, e, ys + i * inner + j, count);
        hn::Store(hn::Add(hn::Load(d, sum + j), e), d, sum + j);
      }
    }
    if (kind == SoftmaxKind::kSoftmax) {
      for (size_t j = 0; j < w; j += lanes) hn::Store(hn::Div(hn::Set(d, 1.0f), hn::Load(d, sum + j)), d, sum + j);
      for (int64_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < w; j += lanes) {
          const size_t count = std::min(lanes, w - j);
          float* yi = ys + i * inner + j;
          store_part(d, hn::Mul(load_part(d, yi, count), hn::Load(d, sum + j)), yi, count);
        }
      }
    } else {
      // max + log(sum) per column, so the last pass is one subtraction from x.
      for (size_t j = 0; j < w; ++j) sum[j] = std::log(sum[j]);
      for (int64_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < w; j += lanes) {
          const size_t count = std::min(lanes, w - j);
          const auto shifted = hn::Sub(load_part(d, xs + i * inner + j, count), hn::Load(d, max + j));
          store_part(d, hn::Sub(shifted, hn::Load(d, sum + j)), ys + i * inner + j, count);
        }
      }
    }
  }
}

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(SoftmaxRows);
HWY_EXPORT(SoftmaxStrided);

namespace {
constexpr int64_t kParallelMinElems = int64_t{1} << 15;
constexpr int64_t kParallelGrainElems = int64_t{1} << 14;
}  // namespace

void softmax(SoftmaxKind kind, const float* x, float* y, int64_t outer, int64_t axis_len, int64_t inner,
             ThreadPool& pool) {
  if (outer <= 0 || axis_len <= 0 || inner <= 0) return;
  const int64_t total = outer * axis_len * inner;
  const bool parallel = total >= kParallelMinElems && pool.num_threads() > 1;
  if (inner == 1) {
    if (!parallel) return HWY_DYNAMIC_DISPATCH(SoftmaxRows)(kind, x, y, axis_len, 0, outer);
    const int64_t grain = std::max<int64_t>(1, kParallelGrainElems / axis_len);
    pool.parallel_for(outer, grain, [&](int64_t r0, int64_t r1) {
      HWY_DYNAMIC_DISPATCH(SoftmaxRows)(kind, x, y, axis_len, r0, r1);
    });
    return;
  }
  const int64_t units = outer * ((inner + softmax_detail::kStrip - 1) / softmax_detail::kStrip);
  if (!parallel) return HWY_DYNAMIC_DISPATCH(SoftmaxStrided)(kind, x, y, axis_len, inner, 0, units);
  const int64_t unit_elems = axis_len * std::min<int64_t>(inner, softmax_detail::kStrip);
  const int64_t grain = std::max<int64_t>(1, kParallelGrainElems / unit_elems);
  pool.parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
    HWY_DYNAMIC_DISPATCH(SoftmaxStrided)(kind, x, y, axis_len, inner, u0, u1);
  });
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
