#include "ops/shape_util.h"

#include <fmt/format.h>

namespace ef {

int64_t normalize_axis(int64_t axis, int64_t rank, const Node& node) {
  EF_CHECK(axis >= -rank && axis < rank, kInvalidModel, "{}: axis {} is out of range for rank {}", node.label(),
           axis, rank);
  return axis < 0 ? axis + rank : axis;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const Node& node) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    EF_CHECK(da == db || da == 1 || db == 1, kInvalidModel, "{}: shapes {} and {} cannot be broadcast",
             node.label(), shape_str(a), shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool dims_may_equal(const ValueType& a, const ValueType& b) {
  if (!a.has_rank() || !b.has_rank()) return true;
  if (a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.rank(); ++i) {
    const Dim& x = (*a.dims)[i];
    const Dim& y = (*b.dims)[i];
    if (x.known() && y.known() && x.value != y.value) return false;
  }
  return true;
}

Dims broadcast_dims(const Dims& a, const Dims& b, const Node& node) {
  size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    Dim da = i < rank - a.size() ? Dim(1) : a[i - (rank - a.size())];
    Dim db = i < rank - b.size() ? Dim(1) : b[i - (rank - b.size())];
    if (da.known() && db.known()) {
      EF_CHECK(da.value == db.value || da.value == 1 || db.value == 1, kInvalidModel,
               "{}: shapes {} and {} cannot be broadcast", node.label(), dims_str(a), dims_str(b));
      out[i] = da.value == 1 ? db : da;
    } else if (da.known() && da.value == 1) {
      out[i] = db;
    } else if (db.known() && db.value == 1) {
      out[i] = da;
    } else if (!da.known() && !db.known() && da.param == db.param) {
      out[i] = da;
    } else if (da.known()) {  // unknown db must be 1 or equal to da
      out[i] = da;
    } else if (db.known()) {
      out[i] = db;
    } else {
      out[i] = Dim();
    }
  }
  return out;
}

void infer_broadcast(InferContext& ctx, DType out_dtype) {
  std::optional<Dims> dims;
  bool first = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const ValueType& t = ctx.input_type(i);
    if (!t.dims) {
      ctx.set_output(0, out_dtype, std::nullopt);
      return;
    }
    dims = first ? *t.dims : broadcast_dims(*dims, *t.dims, ctx.node());
    first = false;
  }
  ctx.set_output(0, out_dtype, dims);
}

void infer_same_as_input(InferContext& ctx) {
  const ValueType& t = ctx.input_type(0);
  ctx.set_output(0, t.dtype, t.dims);
}

std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

BroadcastIndexer::BroadcastIndexer(const Shape& out, const std::vector<Shape>& inputs)
    : out_(out), numel_(shape_numel(out)) {
  for (const Shape& in : inputs) {
    // Kernels trust this indexer with raw pointers: an input that does not broadcast to `out` (a PRelu slope of
    // higher rank than X, say) would index outside its buffer.
    bool fits = in.size() <= out.size();
    for (size_t i = 0; fits && i < in.size(); ++i) {
      fits = in[i] == 1 || in[i] == out[out.size() - in.size() + i];
    }
    EF_CHECK(fits, kInvalidModel, "shape {} does not broadcast to the output shape {}", shape_str(in),
             shape_str(out));
    std::vector<int64_t> in_strides = row_major_strides(in);
    std::vector<int64_t> s(out.size(), 0);
    size_t offset = out.size() - in.size();
    for (size_t i = 0; i < in.size(); ++i) s[offset + i] = in[i] == 1 ? 0 : in_strides[i];
    strides_.push_back(std::move(s));
  }
}

void BroadcastIndexer::offsets(int64_t flat, int64_t* out_offsets) const {
  for (size_t k = 0; k < strides_.size(); ++k) out_offsets[k] = 0;
  for (size_t d = out_.size(); d-- > 0;) {
    int64_t idx = flat % out_[d];
    flat /= out_[d];
    for (size_t k = 0; k < strides_.size(); ++k) out_offsets[k] += idx * strides_[k][d];
  }
}

}  // namespace ef
