// Shared helpers and registration entry points of the indexing family's parts; all parts are registered from
// register_indexing_ops (indexing.cpp), which all_ops.cpp calls.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "ops/byte_copy.h"
#include "ops/registry.h"
#include "ops/shape_util.h"

namespace ef {

// Product of shape[begin, end): the outer/inner extents when a tensor is viewed as [outer, n, inner].
inline int64_t dims_product(const Shape& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) p *= shape[i];
  return p;
}

// Index tensors are int32 or int64 in every op of this family; anything else is a malformed model.
inline void check_index_dtype(DType t, const Node& node, const char* what) {
  EF_CHECK(t == DType::kUndefined || t == DType::kInt32 || t == DType::kInt64, kInvalidModel,
           "{}: {} must be int32 or int64, got {}", node.label(), what, dtype_name(t));
}

// The values of an index tensor (int32/int64) widened to int64.
inline std::vector<int64_t> read_indices(const Tensor& t, const Node& node, const char* what) {
  check_index_dtype(t.dtype(), node, what);
  return t.to_int64_vector();
}

// Maps an index read from data onto [0, size): negative values count from the end when `allow_negative`.
// Anything else is a caller error, reported naming the node -- never an out-of-bounds access.
inline int64_t checked_index(int64_t idx, int64_t size, bool allow_negative, const Node& node) {
  int64_t lo = allow_negative ? -size : 0;
  EF_CHECK(idx >= lo && idx < size, kInvalidArgument, "{}: index {} is out of range [{}, {}]", node.label(), idx, lo,
           size - 1);
  return idx < 0 ? idx + size : idx;
}

// Integer add/mul with two's-complement wraparound (signed overflow would be undefined behaviour); floats and
// 16-bit floats compute in compute_t<T>.
template <typename T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  } else {
    return static_cast<T>(static_cast<compute_t<T>>(a) + static_cast<compute_t<T>>(b));
  }
}
template <typename T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  } else {
    return static_cast<T>(static_cast<compute_t<T>>(a) * static_cast<compute_t<T>>(b));
  }
}

// Strict weak order on element values where NaN sorts above every number and NaNs are equivalent, as NumPy's
// sort does; TopK, Unique and ArgMax/ArgMin all rank values with it.
template <typename C>
bool nan_last_less(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
  }
  return a < b;
}

void register_indexing_scatter_ops(OpRegistry& r);  // ScatterElements, Scatter, ScatterND (indexing_scatter.cpp)
void register_indexing_select_ops(OpRegistry& r);   // NonZero, Compress, Unique, OneHot, ReverseSequence
void register_indexing_sort_ops(OpRegistry& r);     // TopK, ArgMax, ArgMin, CumSum (indexing_sort.cpp)

}  // namespace ef
