// Depthwise 2-D convolution over dense NCHW float32 (group == C, M = C * multiplier) with bias, residual and
// activation fused into the output rows. Depends on kernels/cpu/conv_params.h, kernels/cpu/activation.h and
// core/thread_pool.h; the SIMD code uses Highway with runtime ISA dispatch.
#pragma once
#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// True when p is a depthwise convolution this kernel runs: group == C and M a multiple of C.
bool is_depthwise(const Conv2dParams& p);

// x [N, C, H, W], w [M, 1, kh, kw], bias [M] or nullptr, residual [N, M, OH, OW] or nullptr, y [N, M, OH, OW].
// y = act(conv(x, w) + bias + residual); output channel m reads input channel m / (M / C). Taps in the padding
// contribute nothing; any kernel, stride, dilation and padding; 3x3 and 5x5 at stride 1 and 2 (dilation 1)
// have dedicated unrolled loops. Parallel over (n, m) output planes; results do not depend on the pool size.
// y must not alias x; it may alias residual.
void depthwise_conv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                      const float* residual, const Activation& act, float* y, ThreadPool& pool);

// The padded-plane path of depthwise_conv2d for one image's output planes [m0, m1), on the calling thread, with
// explicit plane strides: input channel c at x + c * x_plane_stride, output plane m at y + m * y_plane_stride
// (p.N is ignored). For callers that produce the input a band of rows at a time (pointwise_depthwise.h): p is then
// the band's geometry, its pad_top the padding rows above the band, if any. No residual. The planes' results are
// those depthwise_conv2d gives when it takes this path. Requires depthwise_band_applicable(p).
bool depthwise_band_applicable(const Conv2dParams& p);
void depthwise_conv2d_band(const Conv2dParams& p, const float* x, int64_t x_plane_stride, const float* w,
                           const float* bias, const Activation& act, float* y, int64_t y_plane_stride, int64_t m0,
                           int64_t m1);

}  // namespace ef::cpu
