#include "kernels/cpu/activation.h"

#include <algorithm>
#include <cmath>

namespace ef::cpu {

float activation_reference(const Activation& act, float x) {
  switch (act.kind) {
    case ActKind::kNone: return x;
    case ActKind::kRelu: return x > 0.0f ? x : 0.0f;
    case ActKind::kClip: return std::min(std::max(x, act.alpha), act.beta);
    case ActKind::kLeakyRelu: return x >= 0.0f ? x : act.alpha * x;
    case ActKind::kSigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x))));
    case ActKind::kHardSigmoid: return std::max(0.0f, std::min(1.0f, act.alpha * x + act.beta));
    case ActKind::kHardSwish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
    case ActKind::kSilu: return static_cast<float>(x / (1.0 + std::exp(-static_cast<double>(x))));
    case ActKind::kTanh: return std::tanh(x);
    case ActKind::kGelu: return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
  }
  return x;
}

void apply_activation(const Activation& act, float* data, size_t n) {
  if (act.kind == ActKind::kNone) return;
  for (size_t i = 0; i < n; ++i) data[i] = activation_reference(act, data[i]);
}

}  // namespace ef::cpu
