// Reference integer convolution for ConvInteger / QLinearConv: a direct loop over every output element with an
// int32 accumulator. The oracle for optimized quantized convolutions; depends only on raw pointers and the
// parameter struct.
#pragma once
#include <cstdint>
#include <vector>

namespace ef {

// Geometry of one call; tensors are dense row-major: x [N, C, in...], w [M, C/group, k...], y [N, M, out...].
struct ConvIntegerParams {
  int64_t batch = 1;
  int64_t in_channels = 1;   // C, over all groups
  int64_t out_channels = 1;  // M, over all groups
  int64_t group = 1;
  std::vector<int64_t> in_spatial, out_spatial, kernel, strides, dilations, pads_begin;
};

// y[n, m, o] = sum over input channels c of m's group and kernel taps t of
//   (x[n, c, o * stride - pad_begin + t * dilation] - x_zero_point) * (w[m, c - group start, t] - w_zp[m]),
// with w_zp[m] = w_zero_points[m * w_zero_point_stride] (nullptr: 0). Taps in the padding contribute nothing
// (the padding holds the zero point). x and w are int8 when the matching *_signed flag is set, else uint8. The
// sum wraps modulo 2^32 like an int32 accumulator.
void conv_integer_reference(const ConvIntegerParams& p, const void* x, bool x_signed, int32_t x_zero_point,
                            const void* w, bool w_signed, const int32_t* w_zero_points, int64_t w_zero_point_stride,
                            int32_t* y);

}  // namespace ef
