// MaxPool over 8-bit NCHW tensors (the pools of a QDQ graph that the qdq-fusion pass moved onto the 8-bit
// tensors): int8 values are compared as uint8 after flipping the sign bit (an order-preserving map), so one loop
// serves both types. Windows clipped to the input (padding never wins, as -inf in float); any kernel, stride,
// dilation, padding. Depends on conv_params.h and core/thread_pool.h.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// x [N, C, H, W], y [N, C, OH, OW] (p.M is ignored). Parallel over planes.
void max_pool2d_8bit(const Conv2dParams& p, const uint8_t* x, bool is_signed, uint8_t* y, ThreadPool& pool);

}  // namespace ef::cpu
