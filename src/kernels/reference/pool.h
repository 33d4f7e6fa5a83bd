// Reference pooling kernels over dense row-major NC<spatial> tensors: plain loops over every output element,
// the oracle for optimized pooling. No IR dependency: a parameter struct and raw pointers only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/reference/conv_geometry.h"

namespace ef {

struct PoolParams {
  int64_t batch = 1;
  int64_t channels = 1;
  std::vector<int64_t> in_spatial;
  std::vector<int64_t> out_spatial;
  std::vector<WindowAxis> axes;  // one per spatial axis, pads already resolved (see conv_geometry.h)
};

// Max over each window's in-input positions (padding never wins). NaN propagates. The first maximum in row-major
// window order wins ties. When `indices` is not null it receives the flat index of each maximum in x:
// (n * C + c) * prod(in_spatial) + spatial index, the spatial index taken column-major when
// `column_major_indices` (MaxPool storage_order = 1). A window with no input position (possible only with
// pads >= the dilated kernel) yields the type's lowest value and index -1.
void max_pool_reference(const PoolParams& p, const float* x, float* y, int64_t* indices, bool column_major_indices);
void max_pool_reference(const PoolParams& p, const double* x, double* y, int64_t* indices,
                        bool column_major_indices);
void max_pool_reference(const PoolParams& p, const int8_t* x, int8_t* y, int64_t* indices, bool column_major_indices);
void max_pool_reference(const PoolParams& p, const uint8_t* x, uint8_t* y, int64_t* indices,
                        bool column_major_indices);

// Mean of each window. The divisor counts in-input positions, or with `count_include_pad` every tap inside the
// padded extent [-pad_begin, in + pad_end) (taps beyond that, possible with ceil_mode, are never counted).
// A window with a zero divisor yields 0.
void average_pool_reference(const PoolParams& p, bool count_include_pad, const float* x, float* y);
void average_pool_reference(const PoolParams& p, bool count_include_pad, const double* x, double* y);

// (sum over the window of |x|^p)^(1/p); padding contributes zeros.
void lp_pool_reference(const PoolParams& p, double norm_p, const float* x, float* y);
void lp_pool_reference(const PoolParams& p, double norm_p, const double* x, double* y);

// Global pools: each of `planes` (N * C) contiguous planes of `plane_size` elements reduces to one value.
enum class GlobalPoolKind { kAverage, kMax, kLp };
void global_pool_reference(GlobalPoolKind kind, double norm_p, int64_t planes, int64_t plane_size, const float* x,
                           float* y);
void global_pool_reference(GlobalPoolKind kind, double norm_p, int64_t planes, int64_t plane_size, const double* x,
                           double* y);

// MaxUnpool, as ONNX defines it by its reference implementation: x's values are scattered to the flat
// `indices` (one per x element) of a zero tensor of shape `unpooled_shape` (the size the pooling attributes
// imply), which then sits at the origin of the zero output of shape `out_shape` (the optional output_shape
// input; each dim >= unpooled_shape's). Elements are copied as `elem_size` bytes, so any dtype works.
// Throws kInvalidArgument for an index outside unpooled_shape.
void max_unpool_reference(const std::vector<int64_t>& unpooled_shape, const std::vector<int64_t>& out_shape,
                          int64_t count, const void* x, const int64_t* indices, size_t elem_size, void* y);

}  // namespace ef
