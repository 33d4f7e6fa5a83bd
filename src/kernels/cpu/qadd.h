// Element-wise addition of two 8-bit quantized tensors of equal shape (the QLinearAdd of a QDQ residual block),
// computed as the graph it replaces computes it, DequantizeLinear(a) + DequantizeLinear(b) -> QuantizeLinear, in
// float32 operation by operation (no fused multiply-add, the true division by the output scale), so results are
// bit-identical to that graph on the reference kernels while the tensors stay 8-bit. AVX2 where the CPU has it and
// the --isa cap allows, else a portable loop. Depends on nothing but the standard library (and isa.h / qgemm.h's
// CPU check).
#pragma once
#include <cstdint>

namespace ef::cpu {

struct QAddParams {
  float a_scale = 1, b_scale = 1, y_scale = 1;
  int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  bool a_signed = false, b_signed = false, y_signed = false;  // int8 (else uint8) elements
};

// y[i] = saturate(round_half_even(((a[i] - a_zp) * a_scale + (b[i] - b_zp) * b_scale) / y_scale) + y_zp), NaN ->
// y_zp. `avx2` false forces the portable loop (tests). y may alias a or b.
void qlinear_add(const void* a, const void* b, int64_t n, const QAddParams& p, void* y, bool avx2 = true);

}  // namespace ef::cpu
