// Reference normalization kernels (batch, instance, layer, local response and mean-variance normalization):
// plain loops that compute every statistic in double with a two-pass mean/variance, the oracle for optimized
// normalization kernels. No IR dependency: raw pointers and sizes only. T is float, double, Float16 or BFloat16;
// per-channel parameters are passed as double so that mixed-precision ops lose nothing on the way in.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dispatch.h"

namespace ef {

// A dense row-major tensor viewed as [batch, channels, inner]: NC<spatial> with the spatial dims flattened.
struct ChannelView {
  int64_t batch = 1;
  int64_t channels = 1;
  int64_t inner = 1;
};

// y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + bias[c], all parameters of length `channels`.
template <typename T>
void batch_norm_reference(const ChannelView& v, const T* x, const double* scale, const double* bias,
                          const double* mean, const double* var, double epsilon, T* y);

// Per-channel mean and population variance (divisor batch * inner, not minus one) over batch and inner.
template <typename T>
void channel_moments_reference(const ChannelView& v, const T* x, double* mean, double* var);

// Like batch_norm_reference with mean and variance taken over each (n, c) slice of `inner` elements.
template <typename T>
void instance_norm_reference(const ChannelView& v, const T* x, const double* scale, const double* bias,
                             double epsilon, T* y);

// x viewed as [outer, inner]; each row is normalized over its `inner` elements:
// y = (x - mean) / sqrt(var + epsilon) * scale[i] + bias[i]. bias may be null (zero). When not null, mean and
// inv_std_dev receive one value per row: the row mean and 1 / sqrt(var + epsilon).
template <typename T>
void layer_norm_reference(int64_t outer, int64_t inner, const T* x, const double* scale, const double* bias,
                          double epsilon, T* y, double* mean, double* inv_std_dev);

// Local response normalization across channels:
// y = x / (bias + alpha / size * sum of x^2 over channels [c - floor((size-1)/2), c + ceil((size-1)/2)]) ^ beta,
// the window clipped to [0, channels).
template <typename T>
void lrn_reference(const ChannelView& v, int64_t size, double alpha, double beta, double bias, const T* x, T* y);

// Mean-variance normalization over the axes of `shape` flagged in `reduced`:
// y = (x - mean) / (sqrt(population variance) + 1e-9), the epsilon placed as in ONNX's function body.
template <typename T>
void mean_variance_norm_reference(const std::vector<int64_t>& shape, const std::vector<bool>& reduced, const T* x,
                                  T* y);

}  // namespace ef
