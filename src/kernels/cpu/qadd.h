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
  // Set by qlinear_add_kernel for its fixed-point kernels, which compute
  // y = saturate((a * a_mul + b * b_mul + offset) >> shift) on the raw 8-bit values.
  int32_t a_mul = 0, b_mul = 0, offset = 0, shift = 0;
};

// y[i] = saturate(round_half_even(((a[i] - a_zp) * a_scale + (b[i] - b_zp) * b_scale) / y_scale) + y_zp), NaN ->
// y_zp. `avx2` false forces the portable loop (tests). y may alias a or b.
void qlinear_add(const void* a, const void* b, int64_t n, const QAddParams& p, void* y, bool avx2 = true);

// The same results from a kernel chosen once per parameter set (prepared kernels call it per run, a fused residual
// add per row segment). It may be faster than qlinear_add's: where the CPU has AVX2 / AVX-512 and, for these
// parameters, it gives the same byte on all 65,536 input pairs (checked here, ~0.1 ms each), the float arithmetic
// becomes 16-bit fixed point (exact wherever the scale ratios a_scale / y_scale and b_scale / y_scale are integers,
// as `edgeforge quantize` writes them), else the division by y_scale becomes a multiply by its reciprocal.
using QAddFn = void (*)(const uint8_t* a, const uint8_t* b, int64_t n, const QAddParams& p, uint8_t* y);
struct QAddKernel {
  QAddFn fn = nullptr;
  // "fixed_avx512", "fixed_avx2", "reciprocal_avx512", "reciprocal_avx2", "divide_avx2" or "portable"
  const char* name = "";
  QAddParams params;  // what fn must be called with: the parameters, with the fixed-point constants filled in
  void operator()(const uint8_t* a, const uint8_t* b, int64_t n, uint8_t* y) const { fn(a, b, n, params, y); }
};
QAddKernel qlinear_add_kernel(const QAddParams& p, bool avx2 = true);

// y[i] = table[x[i]] (AVX-512 VBMI: 64 bytes per two vpermi2b). y may alias x.
void map_bytes(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);

// QLinearAdd of a tensor a and one broadcast element b (hard-swish's x + 3 after quantization): each result
// depends on a's byte alone, so the 256 possible results are computed by qlinear_add's portable loop (the formula
// itself, hence exact) and a is mapped through them. y may alias a.
void qlinear_add_scalar(const uint8_t* a, int64_t n, uint8_t b, const QAddParams& p, uint8_t* y);

}  // namespace ef::cpu
