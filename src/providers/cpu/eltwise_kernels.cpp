// Broadcasting binary float32 ops (Add, Sub, Mul, Div, two-input Max/Min) on the vectorized binary kernel; the
// broadcast walk is planned once here, at plan time.
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/binary.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

const char* form_name(cpu::BinaryForm f) {
  switch (f) {
    case cpu::BinaryForm::kSameShape: return "same";
    case cpu::BinaryForm::kScalar: return "scalar";
    case cpu::BinaryForm::kRow: return "row";
    case cpu::BinaryForm::kPerRow: return "per_row";
    case cpu::BinaryForm::kChannel: return "channel";
    case cpu::BinaryForm::kGeneral: return "general";
  }
  return "?";
}

std::optional<cpu::BinaryOp> binary_op_of(const Node& n) {
  if (n.op_type == "Add") return cpu::BinaryOp::kAdd;
  if (n.op_type == "Sub") return cpu::BinaryOp::kSub;
  if (n.op_type == "Mul") return cpu::BinaryOp::kMul;
  if (n.op_type == "Div") return cpu::BinaryOp::kDiv;
  if (n.op_type == "Max") return cpu::BinaryOp::kMax;
  if (n.op_type == "Min") return cpu::BinaryOp::kMin;
  return std::nullopt;
}

std::unique_ptr<PreparedKernel> prepare_binary(const NodeSignature& sig) {
  const Node& n = *sig.node;
  // Before opset 7 these ops broadcast only on request (`broadcast`/`axis` attributes): left to the reference.
  if (n.version < 7 || sig.input_types.size() != 2 || !sig.has_input(0) || !sig.has_input(1) ||
      !all_float32(sig)) {
    return nullptr;
  }
  auto op = binary_op_of(n);
  if (!op) return nullptr;
  const Shape a = sig.input_shape(0), b = sig.input_shape(1);
  if (a.size() > cpu::kMaxBinaryRank || b.size() > cpu::kMaxBinaryRank) return nullptr;
  cpu::BinaryPlan plan = cpu::plan_binary(*op, a, b);
  const Shape out = sig.output_shape(0);
  if (shape_numel(out) != plan.numel) return nullptr;
  std::string name = "binary." + n.op_type + "." + form_name(plan.form);
  // The output may take the buffer of whichever operand already has its full shape.
  const int in_place = shape_numel(a) == plan.numel ? 0 : (shape_numel(b) == plan.numel ? 1 : -1);
  return make_in_place_kernel(std::move(name), in_place, [plan](const KernelArgs& args) {
    cpu::run_binary(plan, args.input(0).data<float>(), args.input(1).data<float>(), args.output(0).data<float>(),
                    *args.pool);
  });
}

}  // namespace

void add_eltwise_kernels(KernelTable& table) {
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) table.add("", op, prepare_binary);
}

}  // namespace ef::cpu_provider
