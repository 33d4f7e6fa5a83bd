// Shared helpers and registration entry points of the shape family's parts; every part is registered from
// register_shape_ops (shape_ops.cpp), which all_ops.cpp calls.
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "core/dispatch.h"
#include "ops/byte_copy.h"
#include "ops/registry.h"
#include "ops/shape_util.h"

namespace ef {
namespace shape_ops {

// Product of dims[begin, end) when all of them are known, else an unknown Dim.
inline Dim dims_product(const Dims& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < dims.size(); ++i) {
    if (!dims[i].known()) return Dim();
    EF_CHECK(!__builtin_mul_overflow(p, dims[i].value, &p), kInvalidModel,
             "the product of dimensions {}..{} overflows int64", begin, end);
  }
  return Dim(p);
}

// Row-major odometer over `shape`: bumps `index` to the next position. Returns false after the last one.
inline bool next_index(std::vector<int64_t>& index, const Shape& shape) {
  for (size_t d = shape.size(); d-- > 0;) {
    if (++index[d] < shape[d]) return true;
    index[d] = 0;
  }
  return false;
}

// The values of an integer shape-like input (int32/int64; legacy float forms are truncated).
inline std::vector<int64_t> int_values(const Tensor& t) { return t.to_int64_vector(); }

// Dims of input i when its rank is known, else nullopt.
inline std::optional<Dims> input_dims(const InferContext& ctx, size_t i) { return ctx.input_type(i).dims; }

// Length of the 1-D input i when statically known (for shape-like inputs whose values are not). Callers make a rank
// of it: a declared length past any real rank (a broken model says 2^31) is treated as unknown rather than allocated.
inline std::optional<int64_t> known_length(const InferContext& ctx, size_t i) {
  constexpr int64_t kMaxRank = 1024;
  if (!ctx.has_input(i)) return std::nullopt;
  const ValueType& t = ctx.input_type(i);
  if (!t.dims || t.dims->size() != 1 || !(*t.dims)[0].known() || (*t.dims)[0].value > kMaxRank) return std::nullopt;
  return (*t.dims)[0].value;
}

// Registration of the family's parts.
void register_shape_layout_ops(OpRegistry& r);  // Transpose, Concat, Split, Expand, Tile, DepthToSpace, ...
void register_shape_slice_pad_ops(OpRegistry& r);

// A resolved slice: one entry for every axis of the input (unsliced axes: start 0, step 1, full extent).
struct SliceAxes {
  std::vector<int64_t> start;  // first source index (already clamped)
  std::vector<int64_t> step;
  Shape count;  // output extent
};
// The slice a Slice node takes from an input of `shape`; `in` holds inputs 1..4 (starts, ends, axes, steps) from
// opset 10 on (nullptr where omitted), ignored before. Shared by the reference kernel and the CPU provider.
SliceAxes resolve_slice(const Node& node, const std::vector<const Tensor*>& in, const Shape& shape);  // Slice, Pad, Trilu, EyeLike (shape_ops_slice_pad.cpp)

}  // namespace shape_ops
}  // namespace ef
