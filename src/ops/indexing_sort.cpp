// Ordering ops along one axis: TopK, ArgMax, ArgMin and CumSum. Each views its input as [outer, n, inner] and
// works on the n elements of every (outer, inner) line. NaN ranks above every number, as in NumPy.
#include <algorithm>
#include <numeric>

#include "ops/indexing_family.h"

namespace ef {
namespace {

// TopK's k: the `k` attribute before opset 10, then a one-element int64 input.
std::optional<int64_t> topk_k(const InferContext& ctx) {
  const Node& node = ctx.node();
  if (ctx.version() < 10) {
    EF_CHECK(node.has_attr("k"), kInvalidModel, "{}: attribute 'k' is required", node.label());
    int64_t k = node.attr_int("k", 0);
    EF_CHECK(k >= 0, kInvalidModel, "{}: k = {} must not be negative", node.label(), k);
    return k;
  }
  const Tensor* t = ctx.input_value(1);
  if (t == nullptr) return std::nullopt;
  EF_CHECK(t->numel() == 1 && t->rank() <= 1, kInvalidArgument, "{}: K must be a one-element tensor, got shape {}",
           node.label(), shape_str(t->shape()));
  int64_t k = read_indices(*t, node, "K")[0];
  EF_CHECK(k >= 0, kInvalidArgument, "{}: K = {} must not be negative", node.label(), k);
  return k;
}

void infer_topk(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& x = ctx.input_type(0);
  std::optional<int64_t> k = topk_k(ctx);
  if (!x.dims) {
    ctx.set_output(0, x.dtype, std::nullopt);
    ctx.set_output(1, DType::kInt64, std::nullopt);
    return;
  }
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", -1), static_cast<int64_t>(x.rank()), node));
  Dims out = *x.dims;
  if (k && out[axis].known()) {
    EF_CHECK(*k <= out[axis].value, kInvalidArgument, "{}: k = {} exceeds the axis size {}", node.label(), *k,
             out[axis].value);
  }
  out[axis] = k ? Dim(*k) : Dim();
  ctx.set_output(0, x.dtype, out);
  ctx.set_output(1, DType::kInt64, out);
}

void topk_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& values = ctx.output(0);
  Tensor* indices = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", -1), static_cast<int64_t>(x.rank()), node));
  bool largest = ctx.version() < 11 || node.attr_int("largest", 1) != 0;
  int64_t k = values.dim(axis);
  int64_t outer = dims_product(x.shape(), 0, axis);
  int64_t n = x.dim(axis);
  int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
  EF_CHECK(k <= n, kInvalidArgument, "{}: k = {} exceeds the axis size {}", node.label(), k, n);
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        auto at = [&](int64_t j) { return static_cast<C>(px[(o * n + j) * inner + i]); };
        // Equal values keep ascending index order (the spec's tie-break), so the order is total.
        auto before = [&](int64_t a, int64_t b) {
          C va = at(a), vb = at(b);
          if (largest ? nan_last_less(vb, va) : nan_last_less(va, vb)) return true;
          if (largest ? nan_last_less(va, vb) : nan_last_less(vb, va)) return false;
          return a < b;
        };
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t r = 0; r < k; ++r) {
          int64_t src = order[static_cast<size_t>(r)];
          int64_t dst = (o * k + r) * inner + i;
          pv[dst] = px[(o * n + src) * inner + i];
          if (indices != nullptr) indices->data<int64_t>()[dst] = src;
        }
      }
    }
  });
}

void infer_arg_reduce(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& x = ctx.input_type(0);
  if (!x.dims) {
    ctx.set_output(0, DType::kInt64, std::nullopt);
    return;
  }
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(x.rank()), node));
  const Dim& d = (*x.dims)[axis];
  EF_CHECK(!d.known() || d.value > 0, kInvalidArgument, "{}: cannot reduce the empty axis {}", node.label(), axis);
  Dims out = *x.dims;
  if (node.attr_int("keepdims", 1) != 0) {
    out[axis] = Dim(1);
  } else {
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(axis));
  }
  ctx.set_output(0, DType::kInt64, out);
}

// ArgMax (is_max) / ArgMin. Like numpy.argmax/argmin, a NaN beats every number in both directions; among equal
// candidates the first wins, or the last with select_last_index (opset 12+).
template <bool is_max>
void arg_reduce_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  int64_t* po = ctx.output(0).data<int64_t>();
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(x.rank()), node));
  bool select_last = ctx.version() >= 12 && node.attr_int("select_last_index", 0) != 0;
  int64_t outer = dims_product(x.shape(), 0, axis);
  int64_t n = x.dim(axis);
  int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
  EF_CHECK(n > 0, kInvalidArgument, "{}: cannot reduce the empty axis {}", node.label(), axis);
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    auto is_nan = [](C v) {
      if constexpr (std::is_floating_point_v<C>) return std::isnan(v);
      return false;
    };
    const T* px = x.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best = 0;
        C best_v = static_cast<C>(px[o * n * inner + i]);
        for (int64_t j = 1; j < n; ++j) {
          C v = static_cast<C>(px[(o * n + j) * inner + i]);
          bool better, equal;
          if (is_nan(v) || is_nan(best_v)) {
            better = is_nan(v) && !is_nan(best_v);
            equal = is_nan(v) && is_nan(best_v);
          } else {
            better = is_max ? v > best_v : v < best_v;
            equal = v == best_v;
          }
          if (better || (equal && select_last)) {
            best = j;
            best_v = v;
          }
        }
        po[o * inner + i] = best;
      }
    }
  });
}

void infer_cumsum(InferContext& ctx) {
  check_index_dtype(ctx.input_dtype(1), ctx.node(), "axis");
  infer_same_as_input(ctx);
}

void cumsum_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& out = ctx.output(0);
  const Tensor& axis_t = ctx.input(1);
  EF_CHECK(axis_t.numel() == 1 && axis_t.rank() <= 1, kInvalidArgument,
           "{}: axis must be a one-element tensor, got shape {}", node.label(), shape_str(axis_t.shape()));
  int64_t axis_value = read_indices(axis_t, node, "axis")[0];
  EF_CHECK(axis_value >= -static_cast<int64_t>(x.rank()) && axis_value < static_cast<int64_t>(x.rank()),
           kInvalidArgument, "{}: axis {} is out of range for rank {}", node.label(), axis_value, x.rank());
  size_t axis = static_cast<size_t>(axis_value < 0 ? axis_value + static_cast<int64_t>(x.rank()) : axis_value);
  bool exclusive = node.attr_int("exclusive", 0) != 0;
  bool reverse = node.attr_int("reverse", 0) != 0;
  int64_t outer = dims_product(x.shape(), 0, axis);
  int64_t n = x.dim(axis);
  int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Floats accumulate in double so the reference is at least as accurate as any optimized kernel.
    using Acc = std::conditional_t<std::is_integral_v<T>, T, double>;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        Acc acc = 0;
        for (int64_t s = 0; s < n; ++s) {
          int64_t j = reverse ? n - 1 - s : s;
          int64_t off = (o * n + j) * inner + i;
          Acc v;
          if constexpr (std::is_integral_v<T>) {
            v = px[off];
          } else {
            v = to_double(px[off]);
          }
          if (exclusive) po[off] = convert_value<T>(acc);
          if constexpr (std::is_integral_v<T>) {
            acc = wrapping_add(acc, v);
          } else {
            acc += v;
          }
          if (!exclusive) po[off] = convert_value<T>(acc);
        }
      }
    }
  });
}

}  // namespace

void register_indexing_sort_ops(OpRegistry& r) {
  r.add({"", "TopK", 1, 11, infer_topk, topk_kernel});
  r.add({"", "ArgMax", 1, 13, infer_arg_reduce, arg_reduce_kernel<true>});
  r.add({"", "ArgMin", 1, 13, infer_arg_reduce, arg_reduce_kernel<false>});
  r.add({"", "CumSum", 11, 14, infer_cumsum, cumsum_kernel});
}

}  // namespace ef
