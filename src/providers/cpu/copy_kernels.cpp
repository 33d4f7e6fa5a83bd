// Ops that only relabel the shape of their first input (Reshape, Flatten, Squeeze, Unsqueeze, Identity,
// inference-mode Dropout): a straight copy into the planned output, whatever the dtype.
#include <cstring>

#include "kernels/cpu/transpose.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

std::unique_ptr<PreparedKernel> prepare_copy(const NodeSignature& sig) {
  const Node& n = *sig.node;
  if (!sig.has_input(0) || sig.output_types.empty() || sig.output_types[0] == nullptr) return nullptr;
  // Dropout's mask output, or training mode, needs the reference kernel.
  for (size_t k = 1; k < sig.output_types.size(); ++k) {
    if (sig.output_types[k] != nullptr) return nullptr;
  }
  if (n.op_type == "Dropout" && sig.has_input(2)) {
    const Tensor* training = sig.constant(2);
    if (training == nullptr || training->value_as_int(0) != 0) return nullptr;
  }
  const ValueType& in = *sig.input_types[0];
  const ValueType& out = *sig.output_types[0];
  if (in.dtype != out.dtype || !dtype_is_supported(in.dtype) || dtype_size(in.dtype) == 0) return nullptr;
  if (shape_numel(*in.concrete_shape()) != shape_numel(*out.concrete_shape())) return nullptr;
  // In place, the output is the input's buffer relabelled: nothing to copy.
  return make_in_place_kernel("copy." + n.op_type, 0, [](const KernelArgs& args) {
    const Tensor& x = args.input(0);
    Tensor& y = args.output(0);
    if (y.raw() != x.raw() && x.nbytes() > 0) cpu::copy_bytes(y.raw(), x.raw(), x.nbytes());
  });
}

}  // namespace

void add_copy_kernels(KernelTable& table) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}) {
    table.add("", op, prepare_copy);
  }
}

}  // namespace ef::cpu_provider
