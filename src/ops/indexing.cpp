// Gather-style indexing: Gather, GatherElements, GatherND. Kernels move elements as bytes so every dtype works;
// each index read from data is bounds-checked (negative indices wrap from opset 11 on, as the spec says).
#include "ops/indexing_family.h"

namespace ef {
namespace {

// Gather v1 only documents [0, s-1]; v11 made negative indices count from the end.
bool gather_allows_negative(int version) { return version >= 11; }

void infer_gather(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& data = ctx.input_type(0);
  const ValueType& indices = ctx.input_type(1);
  check_index_dtype(indices.dtype, node, "indices");
  if (!data.dims || !indices.dims) {
    ctx.set_output(0, data.dtype, std::nullopt);
    return;
  }
  int64_t rank = static_cast<int64_t>(data.rank());
  EF_CHECK(rank >= 1, kInvalidModel, "{}: data must have rank >= 1", node.label());
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), rank, node));
  Dims out(data.dims->begin(), data.dims->begin() + static_cast<std::ptrdiff_t>(axis));
  out.insert(out.end(), indices.dims->begin(), indices.dims->end());
  out.insert(out.end(), data.dims->begin() + static_cast<std::ptrdiff_t>(axis) + 1, data.dims->end());
  ctx.set_output(0, data.dtype, out);
}

void gather_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& data = ctx.input(0);
  Tensor& out = ctx.output(0);
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(data.rank()), node));
  std::vector<int64_t> idx = read_indices(ctx.input(1), node, "indices");
  int64_t n = data.dim(axis);
  for (int64_t& i : idx) i = checked_index(i, n, gather_allows_negative(ctx.version()), node);
  int64_t outer = dims_product(data.shape(), 0, axis);
  int64_t inner = dims_product(data.shape(), axis + 1, data.rank());
  int64_t count = static_cast<int64_t>(idx.size());
  size_t es = dtype_size(data.dtype());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < count; ++k) {
      copy_elems(out.raw(), (o * count + k) * inner, data.raw(), (o * n + idx[static_cast<size_t>(k)]) * inner,
                 inner, es);
    }
  }
}

void infer_gather_elements(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& data = ctx.input_type(0);
  const ValueType& indices = ctx.input_type(1);
  check_index_dtype(indices.dtype, node, "indices");
  if (data.dims && indices.dims) {
    EF_CHECK(data.rank() == indices.rank() && data.rank() >= 1, kInvalidModel,
             "{}: data {} and indices {} must have the same rank >= 1", node.label(), dims_str(*data.dims),
             dims_str(*indices.dims));
    normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(data.rank()), node);
  }
  ctx.set_output(0, data.dtype, indices.dims);
}

// Checks that `indices` (GatherElements / ScatterElements) fits inside `data` on every axis but `axis`, where the
// coordinate is taken from the index values instead.
void check_elements_shapes(const Shape& data, const Shape& indices, size_t axis, const Node& node) {
  EF_CHECK(data.size() == indices.size(), kInvalidModel, "{}: data {} and indices {} must have the same rank",
           node.label(), shape_str(data), shape_str(indices));
  for (size_t d = 0; d < data.size(); ++d) {
    EF_CHECK(d == axis || indices[d] <= data[d], kInvalidArgument,
             "{}: indices shape {} exceeds data shape {} on axis {}", node.label(), shape_str(indices),
             shape_str(data), d);
  }
}

void gather_elements_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  Tensor& out = ctx.output(0);
  size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(data.rank()), node));
  check_elements_shapes(data.shape(), indices.shape(), axis, node);
  std::vector<int64_t> idx = read_indices(indices, node, "indices");
  std::vector<int64_t> data_strides = row_major_strides(data.shape());
  size_t es = dtype_size(data.dtype());
  std::vector<int64_t> coord(indices.rank(), 0);
  for (int64_t flat = 0; flat < indices.numel(); ++flat) {
    int64_t rem = flat;
    for (size_t d = indices.rank(); d-- > 0;) {
      coord[d] = rem % indices.dim(d);
      rem /= indices.dim(d);
    }
    coord[axis] = checked_index(idx[static_cast<size_t>(flat)], data.dim(axis), true, node);
    int64_t src = 0;
    for (size_t d = 0; d < coord.size(); ++d) src += coord[d] * data_strides[d];
    copy_elems(out.raw(), flat, data.raw(), src, 1, es);
  }
}

void infer_gather_nd(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& data = ctx.input_type(0);
  const ValueType& indices = ctx.input_type(1);
  check_index_dtype(indices.dtype, node, "indices");
  if (!data.dims || !indices.dims) {
    ctx.set_output(0, data.dtype, std::nullopt);
    return;
  }
  int64_t r = static_cast<int64_t>(data.rank());
  int64_t q = static_cast<int64_t>(indices.rank());
  int64_t b = ctx.version() >= 12 ? node.attr_int("batch_dims", 0) : 0;
  EF_CHECK(r >= 1 && q >= 1 && b >= 0 && b < std::min(q, r), kInvalidModel,
           "{}: needs data rank >= 1, indices rank >= 1 and 0 <= batch_dims < min(ranks); got {}, {}, {}",
           node.label(), r, q, b);
  const Dim& last = indices.dims->back();
  if (!last.known()) {
    ctx.set_output(0, data.dtype, std::nullopt);
    return;
  }
  int64_t k = last.value;
  EF_CHECK(k >= 1 && k <= r - b, kInvalidModel, "{}: indices.shape[-1] = {} must be in [1, {}]", node.label(), k,
           r - b);
  Dims out(indices.dims->begin(), indices.dims->end() - 1);
  out.insert(out.end(), data.dims->begin() + b + k, data.dims->end());
  ctx.set_output(0, data.dtype, out);
}

void gather_nd_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  Tensor& out = ctx.output(0);
  size_t b = static_cast<size_t>(ctx.version() >= 12 ? node.attr_int("batch_dims", 0) : 0);
  size_t q = indices.rank();
  EF_CHECK(q > b && b < data.rank() && indices.dim(q - 1) >= 1 &&
               indices.dim(q - 1) <= static_cast<int64_t>(data.rank() - b),
           kInvalidArgument, "{}: indices {} do not index data {} with batch_dims {}", node.label(),
           shape_str(indices.shape()), shape_str(data.shape()), b);
  size_t k = static_cast<size_t>(indices.dim(q - 1));
  for (size_t d = 0; d < b; ++d) {
    EF_CHECK(indices.dim(d) == data.dim(d), kInvalidArgument, "{}: batch dim {} differs: data {} vs indices {}",
             node.label(), d, shape_str(data.shape()), shape_str(indices.shape()));
  }
  std::vector<int64_t> idx = read_indices(indices, node, "indices");
  std::vector<int64_t> strides = row_major_strides(data.shape());
  int64_t batches = dims_product(data.shape(), 0, b);
  int64_t batch_stride = dims_product(data.shape(), b, data.rank());
  int64_t tuples = dims_product(indices.shape(), b, q - 1);
  int64_t slice = dims_product(data.shape(), b + k, data.rank());
  size_t es = dtype_size(data.dtype());
  for (int64_t bi = 0; bi < batches; ++bi) {
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t tuple = bi * tuples + t;
      int64_t src = bi * batch_stride;
      for (size_t j = 0; j < k; ++j) {
        int64_t v = idx[static_cast<size_t>(tuple) * k + j];
        src += checked_index(v, data.dim(b + j), true, node) * strides[b + j];
      }
      copy_elems(out.raw(), tuple * slice, data.raw(), src, slice, es);
    }
  }
}

}  // namespace

void register_indexing_ops(OpRegistry& r) {
  r.add({"", "Gather", 1, 13, infer_gather, gather_kernel});
  r.add({"", "GatherElements", 11, 13, infer_gather_elements, gather_elements_kernel});
  r.add({"", "GatherND", 11, 13, infer_gather_nd, gather_nd_kernel});
  register_indexing_scatter_ops(r);
  register_indexing_select_ops(r);
  register_indexing_sort_ops(r);
}

}  // namespace ef
