// Internals of the CPU provider: the table from (domain, op_type) to the function that prepares a fast kernel
// for a node, and a helper wrapping a lambda as a PreparedKernel. Each op family registers its preparers from its
// own file (add_*_kernels), all called from cpu_provider.cpp.
#pragma once
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"
#include "kernels/reference/conv_geometry.h"
#include "providers/provider.h"

namespace ef::cpu_provider {

// Returns nullptr when the fast path does not cover this node (the reference kernel then runs it).
using Preparer = std::unique_ptr<PreparedKernel> (*)(const NodeSignature&);

class KernelTable {
 public:
  void add(const std::string& domain, const std::string& op_type, Preparer prepare);
  Preparer find(const std::string& domain, const std::string& op_type) const;

 private:
  std::map<std::pair<std::string, std::string>, Preparer> preparers_;
};

template <typename Fn>
class FunctionKernel final : public PreparedKernel {
 public:
  FunctionKernel(std::string name, uint64_t scratch_bytes, int in_place_input, Fn fn)
      : name_(std::move(name)), scratch_bytes_(scratch_bytes), in_place_input_(in_place_input), fn_(std::move(fn)) {}
  std::string name() const override { return name_; }
  uint64_t scratch_bytes() const override { return scratch_bytes_; }
  int in_place_input() const override { return in_place_input_; }
  void run(const KernelArgs& args) const override { fn_(args); }

 private:
  std::string name_;
  uint64_t scratch_bytes_;
  int in_place_input_;
  Fn fn_;
};

// Wraps `fn(const KernelArgs&)` (a const-callable lambda holding whatever it prepared) as a PreparedKernel.
template <typename Fn>
std::unique_ptr<PreparedKernel> make_kernel(std::string name, Fn fn, uint64_t scratch_bytes = 0) {
  return std::make_unique<FunctionKernel<Fn>>(std::move(name), scratch_bytes, -1, std::move(fn));
}
// The same for a kernel whose output 0 may share input `in_place_input`'s buffer (element-wise maps).
template <typename Fn>
std::unique_ptr<PreparedKernel> make_in_place_kernel(std::string name, int in_place_input, Fn fn) {
  return std::make_unique<FunctionKernel<Fn>>(std::move(name), 0, in_place_input, std::move(fn));
}

// The 2-D kernel geometry of a 1-D or 2-D sliding window (1-D becomes an H = 1 image); nullopt for other ranks
// and for legal but absurd windows (kernel or pads beyond 2^20, or a padded plane far larger than input and
// output together), which the fast kernels' padded plane copies must not attempt; the reference kernel clips
// those windows instead.
std::optional<cpu::Conv2dParams> window_2d(int64_t N, int64_t C, int64_t M, int64_t group,
                                           const std::vector<int64_t>& in_spatial,
                                           const std::vector<int64_t>& out_spatial, const std::vector<WindowAxis>& axes);

// The window of a MaxPool/AveragePool node (or a FusedConvMaxPool's pool part) with input shape x and output
// shape y as 2-D kernel geometry; nullopt outside 1-D/2-D, when the attributes do not give y, or for absurd windows.
std::optional<cpu::Conv2dParams> pool_geometry(const Node& n, const Shape& x, const Shape& y);

// True when every listed input and every output of the node is float32.
bool all_float32(const NodeSignature& sig);

void add_activation_kernels(KernelTable& table);
void add_copy_kernels(KernelTable& table);
void add_conv_kernels(KernelTable& table);
void add_eltwise_kernels(KernelTable& table);
void add_pool_kernels(KernelTable& table);
void add_gemm_kernels(KernelTable& table);
void add_data_movement_kernels(KernelTable& table);
void add_image_kernels(KernelTable& table);
void add_quant_kernels(KernelTable& table);  // QLinearConv and the QDQ-fused int8 ops (quant_kernels.cpp)
void add_qmatmul_kernels(KernelTable& table);  // MatMulInteger, QLinearMatMul (qmatmul_kernels.cpp)

}  // namespace ef::cpu_provider
