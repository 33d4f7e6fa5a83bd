// Pieces of the quant family shared by its files: 8-bit saturation and rounding, zero-point loading.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/shape_util.h"

namespace ef {

void register_quant_conv_ops(OpRegistry& r);

// QLinearConv's inference and reference kernel, which ai.edgeforge QLinearConvAdd (quant_add.cpp) runs first.
void infer_qlinear_conv(InferContext& ctx);
void qlinear_conv_kernel(KernelContext& ctx);

// The saturation range of a quantized element type; kInvalidModel naming the node unless int8/uint8.
struct QuantRange {
  int32_t lo, hi;
};
QuantRange quant_range(DType t, const Node& node);

// round_half_to_even(scaled) + zero_point, saturated to `range`. NaN maps to the zero point.
int32_t quantize_value(double scaled, int32_t zero_point, QuantRange range);

// Stores v (already saturated) as element i of an int8 or uint8 tensor.
void store_quantized(Tensor& y, int64_t i, int32_t v);

// Every element of an int8/uint8/int32 tensor widened to int32 (zero points, biases).
std::vector<int32_t> int32_values(const Tensor& t, const Node& node);

}  // namespace ef
