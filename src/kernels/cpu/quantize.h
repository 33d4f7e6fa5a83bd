// Per-tensor linear quantization of float32 to 8 bits and back, the QuantizeLinear / DequantizeLinear kernels of
// the int8 path (the boundaries between quantized and float regions of a QDQ graph):
//   quantize:   y = saturate(round_half_even(x / scale) + zero_point)   (NaN gives the zero point)
//   dequantize: y = (x - zero_point) * scale
// Bit-identical to the reference kernels (the division is float32, as there). AVX-512 / AVX2 where the CPU has it and the
// --isa cap allows, else portable loops. Depends on nothing but the standard library.
#pragma once
#include <cstdint>

namespace ef::cpu {

void quantize_linear(const float* x, int64_t n, float scale, int32_t zero_point, bool out_signed, void* y);
void dequantize_linear(const void* x, bool in_signed, int64_t n, float scale, int32_t zero_point, float* y);

}  // namespace ef::cpu
