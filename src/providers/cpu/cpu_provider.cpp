#include <fmt/format.h>

#include "providers/cpu/kernel_table.h"

namespace ef {
namespace cpu_provider {

void KernelTable::add(const std::string& domain, const std::string& op_type, Preparer prepare) {
  EF_CHECK(preparers_.emplace(std::make_pair(domain, op_type), prepare).second, kInternal,
           "CPU provider: two fast kernels for {}::{}", domain, op_type);
}

Preparer KernelTable::find(const std::string& domain, const std::string& op_type) const {
  auto it = preparers_.find({domain, op_type});
  return it == preparers_.end() ? nullptr : it->second;
}

bool all_float32(const NodeSignature& sig) {
  for (size_t i = 0; i < sig.input_types.size(); ++i) {
    if (sig.input_types[i] != nullptr && sig.input_types[i]->dtype != DType::kFloat32) return false;
  }
  for (const ValueType* t : sig.output_types) {
    if (t != nullptr && t->dtype != DType::kFloat32) return false;
  }
  return true;
}

namespace {

class CpuProvider final : public ExecutionProvider {
 public:
  CpuProvider() {
    add_activation_kernels(table_);
    add_copy_kernels(table_);
    add_conv_kernels(table_);
    add_eltwise_kernels(table_);
    add_pool_kernels(table_);
    add_gemm_kernels(table_);
    add_data_movement_kernels(table_);
    add_image_kernels(table_);
  }
  const char* name() const override { return "cpu"; }
  std::unique_ptr<PreparedKernel> prepare(const NodeSignature& sig) const override {
    Preparer p = table_.find(sig.node->domain, sig.node->op_type);
    return p != nullptr ? p(sig) : nullptr;
  }

 private:
  KernelTable table_;
};

}  // namespace
}  // namespace cpu_provider

std::unique_ptr<ExecutionProvider> make_cpu_provider() { return std::make_unique<cpu_provider::CpuProvider>(); }

}  // namespace ef
