// Scales and zero points, and the quantization of constant tensors (weights, biases) into integer initializers.
//
// Conventions (those of ONNX Runtime's quantizer, so its QDQ kernels see the same numbers):
//   * activations: asymmetric over [min(rmin,0), max(rmax,0)] on the full type range, or symmetric with zero point
//     0 (int8, range [-127,127]) / 128 (uint8);
//   * weights: int8 symmetric over [-127,127] (zero point 0); uint8 asymmetric over [0,255];
//   * biases: int32 with scale = input scale * weight scale (per output channel), zero point 0.
// Rounding is half to even, as QuantizeLinear rounds.
#pragma once
#include <cstdint>
#include <vector>

#include "edgeforge/tensor.h"
#include "quant/histogram.h"

namespace ef {

// One scale/zero point per tensor, or one per index along `axis`.
struct QuantParams {
  DType dtype = DType::kUInt8;
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  int axis = -1;  // -1: per tensor
  bool reduced = false;  // 7-bit weights (--reduce-range): int8 in [-64, 64], uint8 in [0, 127]
};

QuantParams activation_params(TensorRange range, DType dtype, bool symmetric);
// Params of `range` at a given scale (at least the one activation_params picks), with its own zero point.
QuantParams params_with_scale(TensorRange range, DType dtype, bool symmetric, float scale);

struct QuantizedTensor {
  Tensor values;  // int8 / uint8 / int32, same shape as the float tensor
  QuantParams params;
};

// `axis` >= 0: one scale per index along it (per-channel). int8 is symmetric, uint8 asymmetric. `reduce_range`:
// 7-bit values, so that a u8 x s8 product pair sums without int16 saturation on CPUs without VNNI (ONNX Runtime's
// AVX2 kernels; its own remedy is the same).
QuantizedTensor quantize_weight(const Tensor& w, DType dtype, int axis, bool reduce_range = false);
// int32 bias for scale input_scale * weight_scales[c] (one weight scale: per tensor). A bias value that would not
// fit int32 raises that channel's weight scale instead (the caller must then requantize the weight with
// `weight_scales` as returned), so no value saturates.
QuantizedTensor quantize_bias(const Tensor& bias, float input_scale, std::vector<float>& weight_scales);
// Requantizes weights with given per-axis scales (int8 symmetric / uint8 with the given zero points).
Tensor quantize_with(const Tensor& w, const QuantParams& params);

// Dequantized bounds of the representable range: [(qmin - zp) * s, (qmax - zp) * s] (per-tensor params).
TensorRange representable_range(const QuantParams& params);

}  // namespace ef
