// Scatter-style indexing: ScatterElements (and its deprecated opset-9/11 name Scatter) and ScatterND, with the
// opset-16 `reduction` attribute (none / add / mul). The output starts as a copy of `data`; updates are applied in
// row-major order of `indices`, so duplicate indices are deterministic (last write wins without reduction).
#include "ops/indexing_family.h"

namespace ef {
namespace {

enum class Reduction { kNone, kAdd, kMul };

Reduction parse_reduction(const Node& node) {
  if (node.version < 16) return Reduction::kNone;  // the attribute does not exist before opset 16
  std::string r = node.attr_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  fail(ErrorCode::kUnsupported, fmt::format("{}: reduction '{}' is not supported", node.label(), r));
}

// Combines `count` consecutive update elements into the output at element offset `dst`.
void apply_update(Tensor& out, int64_t dst, const Tensor& updates, int64_t src, int64_t count, Reduction red,
                  const Node& node) {
  if (red == Reduction::kNone) {
    copy_elems(out.raw(), dst, updates.raw(), src, count, dtype_size(out.dtype()));
    return;
  }
  EF_CHECK(out.dtype() != DType::kBool, kUnsupported, "{}: add/mul reduction on bool tensors", node.label());
  visit_arith_or_half(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = out.data<T>() + dst;
    const T* pu = updates.data<T>() + src;
    for (int64_t i = 0; i < count; ++i) {
      po[i] = red == Reduction::kAdd ? wrapping_add(po[i], pu[i]) : wrapping_mul(po[i], pu[i]);
    }
  });
}

// Both scatter forms take (data, indices, updates) with integer indices and updates of data's type.
void check_scatter_input_types(InferContext& ctx) {
  const Node& node = ctx.node();
  const DType data = ctx.input_type(0).dtype;
  const DType updates = ctx.input_type(2).dtype;
  check_index_dtype(ctx.input_type(1).dtype, node, "indices");
  EF_CHECK(updates == DType::kUndefined || data == DType::kUndefined || updates == data, kInvalidModel,
           "{}: updates type {} differs from data type {}", node.label(), dtype_name(updates), dtype_name(data));
}

void infer_scatter_elements(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& data = ctx.input_type(0);
  const ValueType& indices = ctx.input_type(1);
  check_scatter_input_types(ctx);
  if (data.dims) {
    EF_CHECK(data.rank() >= 1, kInvalidModel, "{}: data must have rank >= 1", node.label());
    normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(data.rank()), node);
    EF_CHECK(!indices.dims || indices.rank() == data.rank(), kInvalidModel,
             "{}: indices {} must have the rank of data {}", node.label(), dims_str(*indices.dims),
             dims_str(*data.dims));
  }
  parse_reduction(node);
  ctx.set_output(0, data.dtype, data.dims);
}

void scatter_elements_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  Tensor& out = ctx.output(0);
  Reduction red = parse_reduction(node);
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(data.rank()), node));
  EF_CHECK(updates.shape() == indices.shape(), kInvalidArgument, "{}: updates {} must have the shape of indices {}",
           node.label(), shape_str(updates.shape()), shape_str(indices.shape()));
  EF_CHECK(indices.rank() == data.rank(), kInvalidArgument, "{}: indices {} must have the rank of data {}",
           node.label(), shape_str(indices.shape()), shape_str(data.shape()));
  for (size_t d = 0; d < data.rank(); ++d) {
    EF_CHECK(d == axis || indices.dim(d) <= data.dim(d), kInvalidArgument,
             "{}: indices shape {} exceeds data shape {} on axis {}", node.label(), shape_str(indices.shape()),
             shape_str(data.shape()), d);
  }
  // Scatter v9 documents only [0, s-1]; every later form counts negative indices from the end.
  bool allow_negative = !(node.op_type == "Scatter" && node.version < 11);
  std::vector<int64_t> idx = read_indices(indices, node, "indices");
  copy_elems(out.raw(), 0, data.raw(), 0, data.numel(), dtype_size(data.dtype()));
  std::vector<int64_t> strides = row_major_strides(data.shape());
  std::vector<int64_t> coord(indices.rank(), 0);
  for (int64_t flat = 0; flat < indices.numel(); ++flat) {
    int64_t rem = flat;
    for (size_t d = indices.rank(); d-- > 0;) {
      coord[d] = rem % indices.dim(d);
      rem /= indices.dim(d);
    }
    coord[axis] = checked_index(idx[static_cast<size_t>(flat)], data.dim(axis), allow_negative, node);
    int64_t dst = 0;
    for (size_t d = 0; d < coord.size(); ++d) dst += coord[d] * strides[d];
    apply_update(out, dst, updates, flat, 1, red, node);
  }
}

void infer_scatter_nd(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& data = ctx.input_type(0);
  const ValueType& indices = ctx.input_type(1);
  check_scatter_input_types(ctx);
  if (data.dims && indices.dims) {
    EF_CHECK(data.rank() >= 1 && indices.rank() >= 1, kInvalidModel, "{}: data and indices need rank >= 1",
             node.label());
    const Dim& k = indices.dims->back();
    EF_CHECK(!k.known() || (k.value >= 1 && k.value <= static_cast<int64_t>(data.rank())), kInvalidModel,
             "{}: indices.shape[-1] = {} must be in [1, {}]", node.label(), k.value, data.rank());
  }
  parse_reduction(node);
  ctx.set_output(0, data.dtype, data.dims);
}

void scatter_nd_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  Tensor& out = ctx.output(0);
  Reduction red = parse_reduction(node);
  size_t q = indices.rank();
  EF_CHECK(q >= 1 && indices.dim(q - 1) >= 1 && indices.dim(q - 1) <= static_cast<int64_t>(data.rank()),
           kInvalidArgument, "{}: indices {} do not index data {}", node.label(), shape_str(indices.shape()),
           shape_str(data.shape()));
  size_t k = static_cast<size_t>(indices.dim(q - 1));
  // updates.shape must be indices.shape[:-1] ++ data.shape[k:].
  Shape expected(indices.shape().begin(), indices.shape().end() - 1);
  expected.insert(expected.end(), data.shape().begin() + static_cast<std::ptrdiff_t>(k), data.shape().end());
  EF_CHECK(updates.shape() == expected, kInvalidArgument, "{}: updates shape {} should be {}", node.label(),
           shape_str(updates.shape()), shape_str(expected));
  std::vector<int64_t> idx = read_indices(indices, node, "indices");
  copy_elems(out.raw(), 0, data.raw(), 0, data.numel(), dtype_size(data.dtype()));
  std::vector<int64_t> strides = row_major_strides(data.shape());
  int64_t tuples = dims_product(indices.shape(), 0, q - 1);
  int64_t slice = dims_product(data.shape(), k, data.rank());
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t dst = 0;
    for (size_t j = 0; j < k; ++j) {
      // ScatterND is specified through NumPy indexing, where negative indices count from the end.
      dst += checked_index(idx[static_cast<size_t>(t) * k + j], data.dim(j), true, node) * strides[j];
    }
    apply_update(out, dst, updates, t * slice, slice, red, node);
  }
}

}  // namespace

void register_indexing_scatter_ops(OpRegistry& r) {
  r.add({"", "ScatterElements", 11, 16, infer_scatter_elements, scatter_elements_kernel});
  r.add({"", "Scatter", 9, 11, infer_scatter_elements, scatter_elements_kernel});
  r.add({"", "ScatterND", 11, 16, infer_scatter_nd, scatter_nd_kernel});
}

}  // namespace ef
