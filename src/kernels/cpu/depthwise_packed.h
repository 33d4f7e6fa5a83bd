// Depthwise convolution of small planes with the channels in the vector lanes (internal to depthwise_conv.cpp,
// which decides when it runs), and the per-thread scratch buffer both depthwise paths share. Depends on
// conv_params.h, activation.h and core/thread_pool.h.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// True when depthwise_packed should run p (is_depthwise(p) already holds): planes small enough that the
// per-plane row kernels spend most of their time outside the FMAs, on a target with 4 or 8 float lanes.
bool depthwise_packed_preferred(const Conv2dParams& p);

// Same contract as depthwise_conv2d (depthwise_conv.h): any kernel size, stride, dilation and padding.
void depthwise_packed(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                      const float* residual, const Activation& act, float* y, ThreadPool& pool);

// This thread's depthwise scratch of at least `floats` floats, 64-byte aligned. Zero-filled (and *fresh set, if
// given) whenever `key` (the caller's layout and geometry) differs from the previous call's on this thread, so a
// caller that writes only the same positions for one key may rely on every other position staying zero (the
// padding of its planes), and on whatever else it derived from the key since it was last fresh.
float* depthwise_scratch(const std::array<int64_t, 12>& key, size_t floats, bool* fresh = nullptr);

}  // namespace ef::cpu
