// 2-D pooling over dense NCHW float32: MaxPool (values only, no Indices), AveragePool, GlobalAveragePool and
// GlobalMaxPool. Depends on kernels/cpu/conv_params.h and core/thread_pool.h; SIMD via Highway with runtime ISA
// dispatch. Semantics follow the reference kernels in kernels/reference/pool.h.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// x [N, C, H, W] -> y [N, C, OH, OW]; p.M and p.group are ignored. OH/OW are taken as given, so ceil_mode sizes
// (windows running past the end padding) work. Parallel over (n, c) planes; results do not depend on the pool.

// Max over each window's in-input taps (padding never wins); NaN propagates; a window with no input tap (pads
// at least the dilated kernel) yields the lowest float.
void max_pool2d(const Conv2dParams& p, const float* x, float* y, ThreadPool& pool);

// max_pool2d of planes [begin, end) of the flattened (n, c) range on the calling thread, with input planes
// x_plane_stride floats apart and output planes y_plane_stride apart (>= H W and OH OW): a band of rows of larger
// planes (conv_max_pool.h pools the conv output band by band).
void max_pool2d_planes(const Conv2dParams& p, const float* x, int64_t x_plane_stride, float* y, int64_t y_plane_stride,
                       int64_t begin, int64_t end);

// Mean over each window. Divisor: in-input taps, or with count_include_pad the taps inside the padded extent
// [-pad_begin, in + pad_end) per axis (taps beyond it, possible with ceil_mode, never count). Zero divisor -> 0.
void average_pool2d(const Conv2dParams& p, bool count_include_pad, const float* x, float* y, ThreadPool& pool);

// Each of `planes` contiguous planes of `plane_size` floats reduces to one value (NaN propagates for max; an
// empty plane averages to 0).
void global_average_pool(int64_t planes, int64_t plane_size, const float* x, float* y, ThreadPool& pool);
void global_max_pool(int64_t planes, int64_t plane_size, const float* x, float* y, ThreadPool& pool);

}  // namespace ef::cpu
