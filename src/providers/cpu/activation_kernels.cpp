// Standalone activation ops on the vectorized activation kernel, and the parsing of the `activation` /
// `activation_params` attributes of fused ai.edgeforge nodes into the same Activation struct.
#include <cstring>
#include <limits>
#include <optional>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/transpose.h"
#include "ops/fused.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

// Elements per parallel chunk: below this, waking another thread costs more than it saves.
constexpr int64_t kEltwiseGrain = 1 << 15;

std::optional<float> scalar_constant(const NodeSignature& sig, size_t i) {
  const Tensor* t = sig.constant(i);
  if (t == nullptr || t->dtype() != DType::kFloat32 || t->numel() != 1) return std::nullopt;
  return t->data<float>()[0];
}

std::unique_ptr<PreparedKernel> prepare_activation(const NodeSignature& sig) {
  if (!sig.has_input(0) || sig.input_dtype(0) != DType::kFloat32 || sig.output_types.empty() ||
      sig.output_types[0] == nullptr || sig.output_types[0]->dtype != DType::kFloat32) {
    return nullptr;
  }
  auto act = activation_of_node(*sig.node, [&sig](size_t k) { return scalar_constant(sig, k); });
  if (!act) return nullptr;
  return make_in_place_kernel("eltwise." + sig.node->op_type, 0, [act = *act](const KernelArgs& args) {
    const Tensor& x = args.input(0);
    Tensor& y = args.output(0);
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    args.pool->parallel_for(x.numel(), kEltwiseGrain, [&](int64_t b, int64_t e) {
      if (dst != src) cpu::copy_bytes(dst + b, src + b, static_cast<size_t>(e - b) * sizeof(float));
      cpu::apply_activation(act, dst + b, static_cast<size_t>(e - b));
    });
  });
}

}  // namespace

void add_activation_kernels(KernelTable& table) {
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "HardSigmoid", "Clip"}) {
    table.add("", op, prepare_activation);
  }
  table.add(kEdgeForgeDomain, "Gelu", prepare_activation);
}

}  // namespace ef::cpu_provider
