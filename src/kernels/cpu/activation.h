// Activation functions applied in place to float32 data: the epilogue shared by every fused CPU kernel (GEMM,
// convolutions, element-wise) and the kernel of the standalone activation ops. The parameters follow the ONNX ops
// of the same name. Depends on nothing but the standard library (kernels/cpu is a leaf layer).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ef::cpu {

enum class ActKind : uint8_t {
  kNone,
  kRelu,
  kClip,         // alpha = min, beta = max
  kLeakyRelu,    // alpha
  kSigmoid,
  kHardSigmoid,  // max(0, min(1, alpha * x + beta))
  kHardSwish,    // x * HardSigmoid(x; 1/6, 1/2)
  kSilu,         // x * sigmoid(x)
  kTanh,
  kGelu,         // x/2 * (1 + erf(x / sqrt(2)))
};

struct Activation {
  ActKind kind = ActKind::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// The definition: one element in double-checked scalar code. Fast paths are tested against it.
float activation_reference(const Activation& act, float x);

// data[i] = act(data[i]) for i < n (vectorized where the ISA allows).
void apply_activation(const Activation& act, float* data, size_t n);

}  // namespace ef::cpu
