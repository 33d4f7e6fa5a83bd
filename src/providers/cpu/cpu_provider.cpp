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

std::optional<cpu::Conv2dParams> window_2d(int64_t N, int64_t C, int64_t M, int64_t group,
                                           const std::vector<int64_t>& in_spatial,
                                           const std::vector<int64_t>& out_spatial, const std::vector<WindowAxis>& axes) {
  if (axes.empty() || axes.size() > 2 || in_spatial.size() != axes.size() || out_spatial.size() != axes.size()) {
    return std::nullopt;
  }
  cpu::Conv2dParams p;
  p.N = N;
  p.C = C;
  p.M = M;
  p.group = group;
  const bool one_d = axes.size() == 1;
  const WindowAxis unit{};
  const WindowAxis& ah = one_d ? unit : axes[0];
  const WindowAxis& aw = axes.back();
  p.H = one_d ? 1 : in_spatial[0];
  p.W = in_spatial.back();
  p.OH = one_d ? 1 : out_spatial[0];
  p.OW = out_spatial.back();
  p.kh = ah.kernel;
  p.kw = aw.kernel;
  p.stride_h = ah.stride;
  p.stride_w = aw.stride;
  p.dilation_h = ah.dilation;
  p.dilation_w = aw.dilation;
  p.pad_top = ah.pad_begin;
  p.pad_bottom = ah.pad_end;
  p.pad_left = aw.pad_begin;
  p.pad_right = aw.pad_end;
  constexpr int64_t kMaxExtent = int64_t{1} << 20;
  for (int64_t v : {p.kh, p.kw, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right}) {
    if (v < 0 || v > kMaxExtent) return std::nullopt;
  }
  const int64_t padded = (p.H + p.pad_top + p.pad_bottom) * (p.W + p.pad_left + p.pad_right);
  if (padded > 4 * (p.H * p.W + p.OH * p.OW) + (int64_t{1} << 16)) return std::nullopt;
  return p;
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
    add_quant_kernels(table_);
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
