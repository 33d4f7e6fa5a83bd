// Broadcasting binary element-wise kernels: planning (NumPy broadcasting, dimension coalescing) and the per-target
// vectorized engine. After coalescing, every broadcast form is an odometer over outer rows whose innermost row is
// vector-vector, vector-scalar or scalar-vector; rows are cut into segments so that one long row parallelizes too.
// Depends on the standard library, Highway, kernels/cpu/activation.h and core/thread_pool.h.
#include "kernels/cpu/binary.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/thread_pool.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/binary.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/cpu/vec_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

struct AddOp {
  template <class V> HWY_INLINE V operator()(V a, V b) const { return hn::Add(a, b); }
};
struct SubOp {
  template <class V> HWY_INLINE V operator()(V a, V b) const { return hn::Sub(a, b); }
};
struct MulOp {
  template <class V> HWY_INLINE V operator()(V a, V b) const { return hn::Mul(a, b); }
};
struct DivOp {
  template <class V> HWY_INLINE V operator()(V a, V b) const { return hn::Div(a, b); }
};
// Comparisons plus an explicit NaN pick: Highway leaves Max/Min of NaN to the target, NumPy propagates it.
struct MaxOp {
  template <class V> HWY_INLINE V operator()(V a, V b) const {
    return hn::IfThenElse(hn::IsNaN(b), b, hn::IfThenElse(hn::Lt(a, b), b, a));
  }
};
struct MinOp {
  template <class V> HWY_INLINE V operator()(V a, V b) const {
    return hn::IfThenElse(hn::IsNaN(b), b, hn::IfThenElse(hn::Lt(b, a), b, a));
  }
};

// The three row shapes. `A`/`B` load lane i of each operand; partial tails instead of an overlapping last vector,
// because `out` may alias an operand (hence no restrict on it).
template <class Op, class LoadA, class LoadB>
HWY_INLINE void row(float* out, size_t n, const LoadA& load_a, const LoadB& load_b) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const Op op;
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    const auto r0 = op(load_a(d, i), load_b(d, i));
    const auto r1 = op(load_a(d, i + lanes), load_b(d, i + lanes));
    const auto r2 = op(load_a(d, i + 2 * lanes), load_b(d, i + 2 * lanes));
    const auto r3 = op(load_a(d, i + 3 * lanes), load_b(d, i + 3 * lanes));
    hn::StoreU(r0, d, out + i);
    hn::StoreU(r1, d, out + i + lanes);
    hn::StoreU(r2, d, out + i + 2 * lanes);
    hn::StoreU(r3, d, out + i + 3 * lanes);
  }
  for (; i + lanes <= n; i += lanes) hn::StoreU(op(load_a(d, i), load_b(d, i)), d, out + i);
  if (i < n) {
    const size_t count = n - i;
    StoreTail(op(load_a.tail(d, i, count), load_b.tail(d, i, count)), d, out + i, count);
  }
}

struct Stream {
  const float* p;
  template <class D> HWY_INLINE hn::Vec<D> operator()(D d, size_t i) const { return hn::LoadU(d, p + i); }
  template <class D> HWY_INLINE hn::Vec<D> tail(D d, size_t i, size_t count) const {
    return LoadTail(d, p + i, count);
  }
};
struct Splat {
  float v;
  template <class D> HWY_INLINE hn::Vec<D> operator()(D d, size_t) const { return hn::Set(d, v); }
  template <class D> HWY_INLINE hn::Vec<D> tail(D d, size_t, size_t) const { return hn::Set(d, v); }
};

// Fused activations run over the output in pieces of at least this many elements: still in L1 from the op, and
// long enough that the activation's own call overhead does not show on short rows.
constexpr int64_t kActivationPiece = 1024;

template <class Op>
void run_units(const BinaryPlan& p, const float* a, const float* b, float* out, int64_t u0, int64_t u1) {
  const int r = p.rank;
  const int64_t inner = p.dims[r - 1];
  const int64_t seg_len = p.segment_len, nseg = p.num_segments;
  const bool a_row = p.a_strides[r - 1] != 0, b_row = p.b_strides[r - 1] != 0;
  const bool fused = p.act.kind != ActKind::kNone;

  int64_t row_index = u0 / nseg, seg = u0 % nseg;
  int64_t idx[kMaxBinaryRank] = {};
  int64_t a_off = 0, b_off = 0;
  {
    int64_t rem = row_index;
    for (int i = r - 2; i >= 0; --i) {
      idx[i] = rem % p.dims[i];
      rem /= p.dims[i];
      a_off += idx[i] * p.a_strides[i];
      b_off += idx[i] * p.b_strides[i];
    }
  }
  float* pending = out + row_index * inner + seg * seg_len;
  for (int64_t u = u0; u < u1; ++u) {
    const int64_t c0 = seg * seg_len;
    const size_t len = static_cast<size_t>(std::min(seg_len, inner - c0));
    float* o = out + row_index * inner + c0;
    const float* pa = a + a_off + (a_row ? c0 : 0);
    const float* pb = b + b_off + (b_row ? c0 : 0);
    if (a_row && b_row) {
      row<Op>(o, len, Stream{pa}, Stream{pb});
    } else if (a_row) {
      row<Op>(o, len, Stream{pa}, Splat{*pb});
    } else {
      row<Op>(o, len, Splat{*pa}, Stream{pb});
    }
    if (fused && o + len - pending >= kActivationPiece) {
      apply_activation(p.act, pending, static_cast<size_t>(o + len - pending));
      pending = o + len;
    }
    if (++seg == nseg) {
      seg = 0;
      ++row_index;
      for (int i = r - 2; i >= 0; --i) {  // odometer over the outer dims
        a_off += p.a_strides[i];
        b_off += p.b_strides[i];
        if (++idx[i] < p.dims[i]) break;
        a_off -= p.a_strides[i] * p.dims[i];
        b_off -= p.b_strides[i] * p.dims[i];
        idx[i] = 0;
      }
    }
  }
  float* end = out + row_index * inner + seg * seg_len;
  if (fused && end > pending) apply_activation(p.act, pending, static_cast<size_t>(end - pending));
}

void BinaryUnits(const BinaryPlan& p, const float* a, const float* b, float* out, int64_t u0, int64_t u1) {
  switch (p.op) {
    case BinaryOp::kAdd: return run_units<AddOp>(p, a, b, out, u0, u1);
    case BinaryOp::kSub: return run_units<SubOp>(p, a, b, out, u0, u1);
    case BinaryOp::kMul: return run_units<MulOp>(p, a, b, out, u0, u1);
    case BinaryOp::kDiv: return run_units<DivOp>(p, a, b, out, u0, u1);
    case BinaryOp::kMax: return run_units<MaxOp>(p, a, b, out, u0, u1);
    case BinaryOp::kMin: return run_units<MinOp>(p, a, b, out, u0, u1);
  }
}

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(BinaryUnits);

namespace {

// Rows longer than this are cut into segments (work units of the parallel split).
constexpr int64_t kMaxSegment = 8192;
// Below this many output elements, waking threads costs more than it saves.
constexpr int64_t kParallelMinElems = int64_t{1} << 16;
constexpr int64_t kParallelGrainElems = int64_t{1} << 15;

std::string shape_str(std::span<const int64_t> s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

BinaryForm classify(const BinaryPlan& p) {
  // Per coalesced dim: 'F' both operands walk it, 'A' only a does (b broadcast), 'B' only b does.
  char pat[kMaxBinaryRank + 1] = {};
  for (int i = 0; i < p.rank; ++i) pat[i] = p.a_strides[i] && p.b_strides[i] ? 'F' : (p.a_strides[i] ? 'A' : 'B');
  const std::string s(pat);
  if (s == "F") return BinaryForm::kSameShape;
  if (s == "A" || s == "B") return BinaryForm::kScalar;
  if (s == "AF" || s == "BF") return BinaryForm::kRow;
  if (s == "FA" || s == "FB") return BinaryForm::kPerRow;
  if (s == "AFA" || s == "BFB") return BinaryForm::kChannel;
  return BinaryForm::kGeneral;
}

}  // namespace

BinaryPlan plan_binary(BinaryOp op, std::span<const int64_t> a_shape, std::span<const int64_t> b_shape,
                       const Activation& act) {
  if (a_shape.size() > kMaxBinaryRank || b_shape.size() > kMaxBinaryRank) {
    throw std::invalid_argument("binary op: rank above " + std::to_string(kMaxBinaryRank));
  }
  BinaryPlan p;
  p.op = op;
  p.act = act;
  const int rank = static_cast<int>(std::max(a_shape.size(), b_shape.size()));
  int64_t a_dims[kMaxBinaryRank], b_dims[kMaxBinaryRank];
  for (int i = 0; i < rank; ++i) {  // right-aligned, missing leading dims are 1
    const int ai = i - (rank - static_cast<int>(a_shape.size())), bi = i - (rank - static_cast<int>(b_shape.size()));
    a_dims[i] = ai >= 0 ? a_shape[static_cast<size_t>(ai)] : 1;
    b_dims[i] = bi >= 0 ? b_shape[static_cast<size_t>(bi)] : 1;
    if (a_dims[i] < 0 || b_dims[i] < 0 || (a_dims[i] != b_dims[i] && a_dims[i] != 1 && b_dims[i] != 1)) {
      throw std::invalid_argument("binary op: shapes " + shape_str(a_shape) + " and " + shape_str(b_shape) +
                                  " do not broadcast");
    }
    p.out_shape[i] = a_dims[i] == 1 ? b_dims[i] : a_dims[i];
  }
  p.out_rank = rank;
  p.numel = 1;
  for (int i = 0; i < rank; ++i) p.numel *= p.out_shape[i];

  // Coalesce: drop size-1 output dims, merge neighbours with the same broadcast pattern.
  bool a_has[kMaxBinaryRank], b_has[kMaxBinaryRank];
  for (int i = 0; i < rank; ++i) {
    if (p.out_shape[i] == 1) continue;
    const bool ah = a_dims[i] != 1, bh = b_dims[i] != 1;
    if (p.rank > 0 && a_has[p.rank - 1] == ah && b_has[p.rank - 1] == bh) {
      p.dims[p.rank - 1] *= p.out_shape[i];
    } else {
      p.dims[p.rank] = p.out_shape[i];
      a_has[p.rank] = ah;
      b_has[p.rank] = bh;
      ++p.rank;
    }
  }
  if (p.rank == 0) {  // a single element (or none): one unit of one row
    p.rank = 1;
    p.dims[0] = p.numel;
    a_has[0] = b_has[0] = true;
  }
  int64_t a_stride = 1, b_stride = 1;
  for (int i = p.rank - 1; i >= 0; --i) {
    p.a_strides[i] = a_has[i] ? a_stride : 0;
    p.b_strides[i] = b_has[i] ? b_stride : 0;
    if (a_has[i]) a_stride *= p.dims[i];
    if (b_has[i]) b_stride *= p.dims[i];
  }
  const int64_t inner = p.dims[p.rank - 1];
  p.num_segments = std::max<int64_t>(1, (inner + kMaxSegment - 1) / kMaxSegment);
  p.segment_len = (inner + p.num_segments - 1) / p.num_segments;
  if (p.num_segments > 1) {  // whole vectors per segment, so only the row's last piece has a masked tail
    p.segment_len = (p.segment_len + 15) / 16 * 16;
    p.num_segments = (inner + p.segment_len - 1) / p.segment_len;
  }
  p.form = classify(p);
  return p;
}

void run_binary(const BinaryPlan& plan, const float* a, const float* b, float* out, ThreadPool& pool) {
  if (plan.numel == 0) return;
  const int64_t inner = plan.dims[plan.rank - 1];
  const int64_t units = plan.numel / inner * plan.num_segments;
  if (plan.numel < kParallelMinElems || pool.num_threads() == 1) {
    HWY_DYNAMIC_DISPATCH(BinaryUnits)(plan, a, b, out, 0, units);
    return;
  }
  const int64_t unit_elems = std::min(plan.segment_len, inner);
  const int64_t grain = std::max<int64_t>(1, kParallelGrainElems / unit_elems);
  pool.parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
    HWY_DYNAMIC_DISPATCH(BinaryUnits)(plan, a, b, out, u0, u1);
  });
}

void binary_op(BinaryOp op, const float* a, std::span<const int64_t> a_shape, const float* b,
               std::span<const int64_t> b_shape, float* out, ThreadPool& pool, const Activation& act) {
  run_binary(plan_binary(op, a_shape, b_shape, act), a, b, out, pool);
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
