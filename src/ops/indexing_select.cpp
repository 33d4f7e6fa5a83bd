// Selection ops: NonZero, Compress and Unique (data-dependent output shapes: their kernels allocate), OneHot and
// ReverseSequence.
#include <algorithm>
#include <numeric>

#include "ops/indexing_family.h"

namespace ef {
namespace {

void infer_nonzero(InferContext& ctx) {
  const ValueType& x = ctx.input_type(0);
  ctx.set_output(0, DType::kInt64, x.dims ? std::optional<Dims>(Dims{Dim(static_cast<int64_t>(x.rank())), Dim()})
                                          : std::nullopt);
}

// Flat positions of the non-zero elements of `x` (NaN counts as non-zero, -0.0 as zero).
std::vector<int64_t> nonzero_positions(const Tensor& x) {
  std::vector<int64_t> pos;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (static_cast<compute_t<T>>(p[i]) != compute_t<T>(0)) pos.push_back(i);
    }
  });
  return pos;
}

void nonzero_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> pos = nonzero_positions(x);
  int64_t nnz = static_cast<int64_t>(pos.size());
  int64_t rank = static_cast<int64_t>(x.rank());
  // A scalar gives shape [0, nnz] (the spec departs from NumPy's [1, nnz] here).
  Tensor& out = ctx.allocate_output(0, DType::kInt64, {rank, nnz});
  int64_t* po = out.data<int64_t>();
  for (int64_t j = 0; j < nnz; ++j) {
    int64_t rem = pos[static_cast<size_t>(j)];
    for (int64_t d = rank; d-- > 0;) {
      po[d * nnz + j] = rem % x.dim(static_cast<size_t>(d));
      rem /= x.dim(static_cast<size_t>(d));
    }
  }
}

void infer_compress(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& x = ctx.input_type(0);
  const ValueType& cond = ctx.input_type(1);
  EF_CHECK(cond.dtype == DType::kUndefined || cond.dtype == DType::kBool, kInvalidModel,
           "{}: condition must be bool, got {}", node.label(), dtype_name(cond.dtype));
  EF_CHECK(!cond.dims || cond.rank() == 1, kInvalidModel, "{}: condition must have rank 1, got {}", node.label(),
           cond.str());
  if (!node.has_attr("axis")) {
    ctx.set_output(0, x.dtype, Dims{Dim()});
    return;
  }
  if (!x.dims) {
    ctx.set_output(0, x.dtype, std::nullopt);
    return;
  }
  EF_CHECK(x.rank() >= 1, kInvalidModel, "{}: input must have rank >= 1", node.label());
  Dims out = *x.dims;
  out[static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(x.rank()), node))] = Dim();
  ctx.set_output(0, x.dtype, out);
}

void compress_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  EF_CHECK(cond.dtype() == DType::kBool && cond.rank() == 1, kInvalidArgument,
           "{}: condition must be a rank-1 bool tensor", node.label());
  bool has_axis = node.has_attr("axis");
  size_t axis = has_axis ? static_cast<size_t>(normalize_axis(node.attr_int("axis", 0),
                                                               static_cast<int64_t>(x.rank()), node))
                         : 0;
  Shape view = has_axis ? x.shape() : Shape{x.numel()};
  int64_t outer = dims_product(view, 0, axis);
  int64_t n = view[axis];
  int64_t inner = dims_product(view, axis + 1, view.size());
  const bool* pc = cond.data<bool>();
  std::vector<int64_t> selected;
  for (int64_t j = 0; j < cond.numel(); ++j) {
    if (!pc[j]) continue;
    // Like numpy.compress: a shorter condition drops the tail, but selecting past the end is an error.
    EF_CHECK(j < n, kInvalidArgument, "{}: condition selects index {} but the axis has {} entries", node.label(), j,
             n);
    selected.push_back(j);
  }
  int64_t m = static_cast<int64_t>(selected.size());
  Shape out_shape = view;
  out_shape[axis] = m;
  Tensor& out = ctx.allocate_output(0, x.dtype(), out_shape);
  size_t es = dtype_size(x.dtype());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t s = 0; s < m; ++s) {
      copy_elems(out.raw(), (o * m + s) * inner, x.raw(), (o * n + selected[static_cast<size_t>(s)]) * inner, inner,
                 es);
    }
  }
}

void infer_unique(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& x = ctx.input_type(0);
  bool has_axis = node.has_attr("axis");
  Dim inverse_len;
  if (!has_axis) {
    ctx.set_output(0, x.dtype, Dims{Dim()});
    if (std::optional<Shape> s = x.concrete_shape()) inverse_len = Dim(shape_numel(*s));
  } else if (x.dims) {
    EF_CHECK(x.rank() >= 1, kInvalidModel, "{}: input must have rank >= 1 when axis is given", node.label());
    size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(x.rank()), node));
    Dims y = *x.dims;
    inverse_len = y[axis];
    y[axis] = Dim();
    ctx.set_output(0, x.dtype, y);
  } else {
    ctx.set_output(0, x.dtype, std::nullopt);
  }
  if (ctx.has_output(1)) ctx.set_output(1, DType::kInt64, Dims{Dim()});
  if (ctx.has_output(2)) ctx.set_output(2, DType::kInt64, Dims{inverse_len});
  if (ctx.has_output(3)) ctx.set_output(3, DType::kInt64, Dims{Dim()});
}

// Groups the n slices of x (viewed as [outer, n, inner]) into classes of equal slices. Returns, per class, the
// first slice index; fills class_of[j] for every slice. Classes come in ascending lexicographic order of their
// slices, or in order of first occurrence when !sorted.
std::vector<int64_t> unique_classes(const Tensor& x, int64_t outer, int64_t n, int64_t inner, bool sorted,
                                    std::vector<int64_t>& class_of) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> first;
  class_of.assign(static_cast<size_t>(n), 0);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* p = x.data<T>();
    auto less = [&](int64_t a, int64_t b) {
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          C va = static_cast<C>(p[(o * n + a) * inner + i]);
          C vb = static_cast<C>(p[(o * n + b) * inner + i]);
          if (nan_last_less(va, vb)) return true;
          if (nan_last_less(vb, va)) return false;
        }
      }
      return false;
    };
    // Stable, so each class starts with its first occurrence.
    std::stable_sort(order.begin(), order.end(), less);
    for (size_t s = 0; s < order.size(); ++s) {
      if (s == 0 || less(order[s - 1], order[s])) first.push_back(order[s]);
      class_of[static_cast<size_t>(order[s])] = static_cast<int64_t>(first.size()) - 1;
    }
  });
  if (!sorted) {
    std::vector<int64_t> by_occurrence(first.size());
    std::iota(by_occurrence.begin(), by_occurrence.end(), 0);
    std::sort(by_occurrence.begin(), by_occurrence.end(),
              [&](int64_t a, int64_t b) { return first[static_cast<size_t>(a)] < first[static_cast<size_t>(b)]; });
    std::vector<int64_t> new_pos(first.size());
    std::vector<int64_t> new_first(first.size());
    for (size_t u = 0; u < by_occurrence.size(); ++u) {
      new_pos[static_cast<size_t>(by_occurrence[u])] = static_cast<int64_t>(u);
      new_first[u] = first[static_cast<size_t>(by_occurrence[u])];
    }
    for (int64_t& c : class_of) c = new_pos[static_cast<size_t>(c)];
    first = std::move(new_first);
  }
  return first;
}

void unique_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  bool has_axis = node.has_attr("axis");
  bool sorted = node.attr_int("sorted", 1) != 0;
  size_t axis = has_axis ? static_cast<size_t>(normalize_axis(node.attr_int("axis", 0),
                                                               static_cast<int64_t>(x.rank()), node))
                         : 0;
  Shape view = has_axis ? x.shape() : Shape{x.numel()};
  int64_t outer = dims_product(view, 0, axis);
  int64_t n = view[axis];
  int64_t inner = dims_product(view, axis + 1, view.size());
  std::vector<int64_t> class_of;
  std::vector<int64_t> first = unique_classes(x, outer, n, inner, sorted, class_of);
  int64_t u_count = static_cast<int64_t>(first.size());

  Shape y_shape = view;
  y_shape[axis] = u_count;
  Tensor& y = ctx.allocate_output(0, x.dtype(), y_shape);
  size_t es = dtype_size(x.dtype());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t u = 0; u < u_count; ++u) {
      copy_elems(y.raw(), (o * u_count + u) * inner, x.raw(), (o * n + first[static_cast<size_t>(u)]) * inner, inner,
                 es);
    }
  }
  if (ctx.has_output(1)) ctx.set_output(1, Tensor::from_vector(DType::kInt64, {u_count}, first));
  if (ctx.has_output(2)) {
    Tensor& inv = ctx.output(2);  // its length is known from the input shape, so the executor allocated it
    EF_CHECK(inv.numel() == n, kInternal, "{}: inverse_indices has {} elements, expected {}", node.label(),
             inv.numel(), n);
    std::copy(class_of.begin(), class_of.end(), inv.data<int64_t>());
  }
  if (ctx.has_output(3)) {
    std::vector<int64_t> counts(static_cast<size_t>(u_count), 0);
    for (int64_t c : class_of) ++counts[static_cast<size_t>(c)];
    ctx.set_output(3, Tensor::from_vector(DType::kInt64, {u_count}, counts));
  }
}

// OneHot's depth input: a single number of any numeric type, truncated to an integer.
int64_t read_depth(const Tensor& t, const Node& node) {
  EF_CHECK(t.numel() == 1, kInvalidArgument, "{}: depth must hold one value, got shape {}", node.label(),
           shape_str(t.shape()));
  double v = t.value_as_double(0);
  EF_CHECK(std::isfinite(v) && v >= 0 && v < 4.0e18, kInvalidArgument, "{}: depth {} is not a valid size",
           node.label(), v);
  return static_cast<int64_t>(v);
}

void infer_one_hot(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& indices = ctx.input_type(0);
  DType out_dtype = ctx.input_dtype(2);
  if (!indices.dims) {
    ctx.set_output(0, out_dtype, std::nullopt);
    return;
  }
  int64_t rank = static_cast<int64_t>(indices.rank());
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", -1), rank + 1, node));
  Dim depth;
  if (const Tensor* d = ctx.input_value(1)) depth = Dim(read_depth(*d, node));
  Dims out = *indices.dims;
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(axis), depth);
  ctx.set_output(0, out_dtype, out);
}

void one_hot_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& indices = ctx.input(0);
  const Tensor& values = ctx.input(2);
  Tensor& out = ctx.output(0);
  EF_CHECK(values.numel() == 2, kInvalidArgument, "{}: values must hold [off_value, on_value], got shape {}",
           node.label(), shape_str(values.shape()));
  size_t axis = static_cast<size_t>(
      normalize_axis(node.attr_int("axis", -1), static_cast<int64_t>(indices.rank()) + 1, node));
  int64_t depth = out.dim(axis);
  int64_t inner = dims_product(indices.shape(), axis, indices.rank());
  size_t es = dtype_size(out.dtype());
  for (int64_t i = 0; i < out.numel(); ++i) copy_elems(out.raw(), i, values.raw(), 0, 1, es);
  for (int64_t f = 0; f < indices.numel(); ++f) {
    double v = indices.value_as_double(f);
    // Out-of-range entries are not errors: the spec gives them an all-off row. Opset 11 wraps negatives.
    if (!std::isfinite(v) || std::fabs(v) >= 4.0e18) continue;
    int64_t idx = static_cast<int64_t>(v);
    if (idx < 0 && ctx.version() >= 11) idx += depth;
    if (idx < 0 || idx >= depth) continue;
    int64_t o = f / inner;
    int64_t i = f % inner;
    copy_elems(out.raw(), (o * depth + idx) * inner + i, values.raw(), 1, 1, es);
  }
}

void infer_reverse_sequence(InferContext& ctx) {
  const Node& node = ctx.node();
  int64_t time_axis = node.attr_int("time_axis", 0);
  int64_t batch_axis = node.attr_int("batch_axis", 1);
  EF_CHECK((time_axis == 0 && batch_axis == 1) || (time_axis == 1 && batch_axis == 0), kInvalidModel,
           "{}: time_axis/batch_axis must be 0/1 or 1/0, got {}/{}", node.label(), time_axis, batch_axis);
  check_index_dtype(ctx.input_dtype(1), node, "sequence_lens");
  const ValueType& x = ctx.input_type(0);
  EF_CHECK(!x.dims || x.rank() >= 2, kInvalidModel, "{}: input must have rank >= 2, got {}", node.label(), x.str());
  infer_same_as_input(ctx);
}

void reverse_sequence_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& out = ctx.output(0);
  bool time_major = node.attr_int("time_axis", 0) == 0;
  int64_t max_len = x.dim(time_major ? 0 : 1);
  int64_t batch = x.dim(time_major ? 1 : 0);
  std::vector<int64_t> lens = read_indices(ctx.input(1), node, "sequence_lens");
  EF_CHECK(static_cast<int64_t>(lens.size()) == batch && ctx.input(1).rank() == 1, kInvalidArgument,
           "{}: sequence_lens has shape {}, expected [{}]", node.label(), shape_str(ctx.input(1).shape()), batch);
  int64_t inner = dims_product(x.shape(), 2, x.rank());
  size_t es = dtype_size(x.dtype());
  auto offset = [&](int64_t t, int64_t b) { return (time_major ? t * batch + b : b * max_len + t) * inner; };
  for (int64_t b = 0; b < batch; ++b) {
    int64_t len = lens[static_cast<size_t>(b)];
    EF_CHECK(len >= 0 && len <= max_len, kInvalidArgument, "{}: sequence_lens[{}] = {} is outside [0, {}]",
             node.label(), b, len, max_len);
    for (int64_t t = 0; t < max_len; ++t) {
      int64_t src_t = t < len ? len - 1 - t : t;
      copy_elems(out.raw(), offset(t, b), x.raw(), offset(src_t, b), inner, es);
    }
  }
}

}  // namespace

void register_indexing_select_ops(OpRegistry& r) {
  r.add({"", "NonZero", 9, 13, infer_nonzero, nonzero_kernel});
  r.add({"", "Compress", 9, 11, infer_compress, compress_kernel});
  r.add({"", "Unique", 11, 11, infer_unique, unique_kernel});
  r.add({"", "OneHot", 9, 11, infer_one_hot, one_hot_kernel});
  r.add({"", "ReverseSequence", 10, 10, infer_reverse_sequence, reverse_sequence_kernel});
}

}  // namespace ef
