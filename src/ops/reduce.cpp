// Reductions over a set of axes: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceLogSum, ReduceLogSumExp, ReduceSumSquare. Axes come from the `axes` attribute, except ReduceSum-13 which
// takes them as an optional input and adds `noop_with_empty_axes`. Floating-point types accumulate in double;
// integer sums and products wrap in 64 bits and are then narrowed, matching NumPy's int accumulation.
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

#include "core/dispatch.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// The axes a node reduces over, before they are checked against the input rank.
struct AxesSpec {
  bool known = true;          // false: axes come from an input whose value is not known yet
  bool noop = false;          // noop_with_empty_axes with no axes: the op is an identity
  std::vector<int64_t> axes;  // possibly negative; empty means every axis
};

bool axes_from_input(ReduceKind kind, int version) { return kind == ReduceKind::kSum && version >= 13; }

AxesSpec axes_spec(ReduceKind kind, const Node& node, bool has_axes_input, const Tensor* axes_value) {
  AxesSpec spec;
  if (!axes_from_input(kind, node.version)) {
    spec.axes = node.attr_ints("axes");
    return spec;
  }
  if (has_axes_input) {
    if (axes_value == nullptr) {
      spec.known = false;
      return spec;
    }
    EF_CHECK(axes_value->dtype() == DType::kInt64 && axes_value->rank() <= 1, kInvalidModel,
             "{}: axes must be a 1-D int64 tensor, got {}{}", node.label(), dtype_name(axes_value->dtype()),
             shape_str(axes_value->shape()));
    spec.axes = axes_value->to_int64_vector();
  }
  spec.noop = spec.axes.empty() && node.attr_int("noop_with_empty_axes", 0) != 0;
  return spec;
}

// One flag per input axis: true where the axis is reduced. Rejects out-of-range and repeated axes.
std::vector<bool> reduced_mask(const AxesSpec& spec, size_t rank, const Node& node) {
  std::vector<bool> mask(rank, spec.axes.empty());
  for (int64_t axis : spec.axes) {
    size_t a = static_cast<size_t>(normalize_axis(axis, static_cast<int64_t>(rank), node));
    EF_CHECK(!mask[a], kInvalidModel, "{}: axis {} is listed twice", node.label(), axis);
    mask[a] = true;
  }
  return mask;
}

template <ReduceKind K>
void infer_reduce(InferContext& ctx) {
  const Node& node = ctx.node();
  DType dtype = ctx.input_dtype(0);
  EF_CHECK(dtype_is_float(dtype) || dtype_is_integer(dtype), kInvalidModel, "{}: cannot reduce {} tensors",
           node.label(), dtype_name(dtype));
  const ValueType& in = ctx.input_type(0);
  bool keepdims = node.attr_int("keepdims", 1) != 0;
  AxesSpec spec = axes_spec(K, node, ctx.has_input(1), ctx.has_input(1) ? ctx.input_value(1) : nullptr);
  if (spec.noop) {
    ctx.set_output(0, dtype, in.dims);
    return;
  }
  if (!in.has_rank()) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  if (!spec.known) {  // which axes go is unknown, but the rank follows from keepdims and the axes count
    std::optional<Shape> axes_shape = ctx.input_type(1).concrete_shape();
    if (keepdims) {
      ctx.set_output(0, dtype, Dims(in.rank()));
    } else if (axes_shape && axes_shape->size() == 1 && (*axes_shape)[0] > 0 &&
               static_cast<size_t>((*axes_shape)[0]) <= in.rank()) {
      ctx.set_output(0, dtype, Dims(in.rank() - static_cast<size_t>((*axes_shape)[0])));
    } else {
      ctx.set_output(0, dtype, std::nullopt);
    }
    return;
  }
  std::vector<bool> mask = reduced_mask(spec, in.rank(), node);
  Dims out;
  for (size_t d = 0; d < in.rank(); ++d) {
    if (!mask[d]) {
      out.push_back((*in.dims)[d]);
    } else if (keepdims) {
      out.push_back(Dim(1));
    }
  }
  ctx.set_output(0, dtype, out);
}

// Calls f(input_flat, output_flat) for every input element, where output_flat is the element it reduces into.
// `out_strides` has one entry per input axis: the output stride of kept axes, 0 for reduced ones.
template <typename F>
void for_each_reduced(const Shape& in, const std::vector<int64_t>& out_strides, F f) {
  int64_t n = shape_numel(in);
  std::vector<int64_t> index(in.size(), 0);
  int64_t o = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, o);
    for (size_t d = in.size(); d-- > 0;) {
      if (++index[d] < in[d]) {
        o += out_strides[d];
        break;
      }
      o -= out_strides[d] * (in[d] - 1);
      index[d] = 0;
    }
  }
}

// Narrows a double result (L2, LogSum, LogSumExp of integers) to an integer type without undefined behaviour:
// truncates toward zero as NumPy's astype does, saturating out-of-range values and mapping NaN to 0.
template <typename T>
T narrow_to_int(double v) {
  if (std::isnan(v)) return 0;
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

template <typename T>
T from_double(double v) {
  if constexpr (std::is_integral_v<T>) {
    return narrow_to_int<T>(v);
  } else {
    return static_cast<T>(static_cast<compute_t<T>>(v));
  }
}

// Max/Min keep the element type (int64 does not round-trip through double). NaN wins, as in NumPy.
template <bool IsMax, typename T>
void reduce_extreme(const Tensor& x, const std::vector<int64_t>& out_strides, T* out, int64_t out_numel) {
  using C = compute_t<T>;
  C init;
  if constexpr (std::is_floating_point_v<C>) {
    init = IsMax ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
  } else {
    init = IsMax ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
  }
  std::vector<C> acc(static_cast<size_t>(out_numel), init);
  const T* px = x.data<T>();
  for_each_reduced(x.shape(), out_strides, [&](int64_t i, int64_t o) {
    C v = static_cast<C>(px[i]);
    C& a = acc[static_cast<size_t>(o)];
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(a)) return;
      if (std::isnan(v)) {
        a = v;
        return;
      }
    }
    if (IsMax ? v > a : v < a) a = v;
  });
  for (int64_t o = 0; o < out_numel; ++o) out[o] = static_cast<T>(acc[static_cast<size_t>(o)]);
}

// Sum-like reductions of integers in wrapping 64-bit arithmetic (no signed overflow UB), narrowed at the end.
template <ReduceKind K, typename T>
void reduce_integer_wrapping(const Tensor& x, const std::vector<int64_t>& out_strides, int64_t count, T* out,
                             int64_t out_numel) {
  std::vector<uint64_t> acc(static_cast<size_t>(out_numel), K == ReduceKind::kProd ? 1 : 0);
  const T* px = x.data<T>();
  for_each_reduced(x.shape(), out_strides, [&](int64_t i, int64_t o) {
    uint64_t v = static_cast<uint64_t>(px[i]);  // sign-extends signed types: two's complement arithmetic
    uint64_t& a = acc[static_cast<size_t>(o)];
    if constexpr (K == ReduceKind::kProd) {
      a *= v;
    } else if constexpr (K == ReduceKind::kSumSquare) {
      a += v * v;
    } else if constexpr (K == ReduceKind::kL1) {
      a += (std::is_signed_v<T> && px[i] < 0) ? 0 - v : v;
    } else {
      a += v;
    }
  });
  for (int64_t o = 0; o < out_numel; ++o) {
    uint64_t a = acc[static_cast<size_t>(o)];
    if constexpr (K == ReduceKind::kMean) {
      // Integer mean truncates toward zero; an empty reduction has no meaningful mean and yields 0.
      if (count == 0) {
        out[o] = 0;
      } else if constexpr (std::is_signed_v<T>) {
        out[o] = static_cast<T>(static_cast<int64_t>(a) / count);
      } else {
        out[o] = static_cast<T>(a / static_cast<uint64_t>(count));
      }
    } else {
      out[o] = static_cast<T>(a);
    }
  }
}

// Everything else accumulates in double: sums, products and means of floats, and the transcendental reductions.
template <ReduceKind K, typename T>
void reduce_in_double(const Tensor& x, const std::vector<int64_t>& out_strides, int64_t count, T* out,
                      int64_t out_numel) {
  const T* px = x.data<T>();
  auto value = [&](int64_t i) { return to_double(px[i]); };
  size_t m = static_cast<size_t>(out_numel);
  std::vector<double> shift(m, 0.0);  // LogSumExp subtracts each group's max before exponentiating
  if constexpr (K == ReduceKind::kLogSumExp) {
    shift.assign(m, -std::numeric_limits<double>::infinity());
    for_each_reduced(x.shape(), out_strides, [&](int64_t i, int64_t o) {
      double v = value(i);
      double& s = shift[static_cast<size_t>(o)];
      if (std::isnan(s)) return;
      if (std::isnan(v) || v > s) s = v;
    });
  }
  std::vector<double> acc(m, K == ReduceKind::kProd ? 1.0 : 0.0);
  for_each_reduced(x.shape(), out_strides, [&](int64_t i, int64_t o) {
    double v = value(i);
    double& a = acc[static_cast<size_t>(o)];
    if constexpr (K == ReduceKind::kProd) {
      a *= v;
    } else if constexpr (K == ReduceKind::kSumSquare || K == ReduceKind::kL2) {
      a += v * v;
    } else if constexpr (K == ReduceKind::kL1) {
      a += std::fabs(v);
    } else if constexpr (K == ReduceKind::kLogSumExp) {
      a += std::exp(v - shift[static_cast<size_t>(o)]);
    } else {
      a += v;
    }
  });
  for (size_t o = 0; o < m; ++o) {
    double a = acc[o];
    double r = a;
    if constexpr (K == ReduceKind::kMean) {
      r = a / static_cast<double>(count);  // empty: 0/0 = NaN, as NumPy's mean
    } else if constexpr (K == ReduceKind::kL2) {
      r = std::sqrt(a);
    } else if constexpr (K == ReduceKind::kLogSum) {
      r = std::log(a);
    } else if constexpr (K == ReduceKind::kLogSumExp) {
      // An infinite or NaN max (including the -inf of an empty group) is already the answer; the shifted sum
      // would turn it into NaN.
      r = std::isfinite(shift[o]) ? shift[o] + std::log(a) : shift[o];
    }
    out[o] = from_double<T>(r);
  }
}

template <ReduceKind K>
void reduce_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& out = ctx.output(0);
  AxesSpec spec = axes_spec(K, node, ctx.has_input(1), ctx.has_input(1) ? &ctx.input(1) : nullptr);
  if (spec.noop) {
    if (x.nbytes()) std::memcpy(out.raw(), x.raw(), x.nbytes());
    return;
  }
  std::vector<bool> mask = reduced_mask(spec, x.rank(), node);
  Shape kept_shape = x.shape();
  int64_t count = 1;  // elements per reduced group
  for (size_t d = 0; d < x.rank(); ++d) {
    if (!mask[d]) continue;
    count *= x.dim(d);
    kept_shape[d] = 1;
  }
  std::vector<int64_t> out_strides = row_major_strides(kept_shape);
  for (size_t d = 0; d < x.rank(); ++d) {
    if (mask[d]) out_strides[d] = 0;
  }
  EF_CHECK(out.numel() == shape_numel(kept_shape), kInternal, "{}: output has {} elements, expected {}",
           node.label(), out.numel(), shape_numel(kept_shape));
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = out.data<T>();
    if constexpr (K == ReduceKind::kMax || K == ReduceKind::kMin) {
      reduce_extreme<K == ReduceKind::kMax, T>(x, out_strides, po, out.numel());
    } else if constexpr (std::is_integral_v<T> && (K == ReduceKind::kSum || K == ReduceKind::kMean ||
                                                   K == ReduceKind::kProd || K == ReduceKind::kSumSquare ||
                                                   K == ReduceKind::kL1)) {
      reduce_integer_wrapping<K, T>(x, out_strides, count, po, out.numel());
    } else {
      reduce_in_double<K, T>(x, out_strides, count, po, out.numel());
    }
  });
}

template <ReduceKind K>
OpDef reduce_def(const char* name) {
  return {"", name, 1, 13, infer_reduce<K>, reduce_kernel<K>};
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  r.add(reduce_def<ReduceKind::kSum>("ReduceSum"));
  r.add(reduce_def<ReduceKind::kMean>("ReduceMean"));
  r.add(reduce_def<ReduceKind::kMax>("ReduceMax"));
  r.add(reduce_def<ReduceKind::kMin>("ReduceMin"));
  r.add(reduce_def<ReduceKind::kProd>("ReduceProd"));
  r.add(reduce_def<ReduceKind::kL1>("ReduceL1"));
  r.add(reduce_def<ReduceKind::kL2>("ReduceL2"));
  r.add(reduce_def<ReduceKind::kLogSum>("ReduceLogSum"));
  r.add(reduce_def<ReduceKind::kLogSumExp>("ReduceLogSumExp"));
  r.add(reduce_def<ReduceKind::kSumSquare>("ReduceSumSquare"));
}

}  // namespace ef
