// Reference convolution kernels: direct loops over every output element, accumulating in double. They are the
// oracle that optimized convolutions (im2col + GEMM, depthwise, Winograd) are tested against, so they favour
// obvious correctness over speed and depend on nothing but the parameter struct and raw pointers.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/reference/conv_geometry.h"

namespace ef {

// Geometry of one Conv / ConvTranspose call; all tensors are dense row-major NC<spatial>.
struct ConvParams {
  int64_t batch = 1;
  int64_t in_channels = 1;   // C, over all groups
  int64_t out_channels = 1;  // M, over all groups
  int64_t group = 1;
  std::vector<int64_t> in_spatial;
  std::vector<int64_t> out_spatial;
  std::vector<WindowAxis> axes;  // one per spatial axis, pads already resolved (see conv_geometry.h)
};

// Conv: x [N, C, in...], w [M, C/group, k...], b [M] or nullptr, y [N, M, out...].
// y[n, m, o] = b[m] + sum over c in m's group and taps t of x[n, c, o * stride - pad_begin + t * dilation] * w.
// Taps landing in the padding contribute nothing.
void conv_reference(const ConvParams& p, const float* x, const float* w, const float* b, float* y);
void conv_reference(const ConvParams& p, const double* x, const double* w, const double* b, double* y);

// ConvTranspose: x [N, C, in...], w [C, M/group, k...], b [M] or nullptr, y [N, M, out...]. Input position i
// with tap t adds into output position i * stride + t * dilation - pad_begin; positions outside the output are
// dropped and output positions no input reaches get only the bias.
void conv_transpose_reference(const ConvParams& p, const float* x, const float* w, const float* b, float* y);
void conv_transpose_reference(const ConvParams& p, const double* x, const double* w, const double* b, double* y);

}  // namespace ef
