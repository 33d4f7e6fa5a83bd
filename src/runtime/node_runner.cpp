#include "runtime/node_runner.h"

#include <cstring>

namespace ef {

std::vector<ValueType> infer_node(const OpDef& def, const Node& node, const std::vector<const ValueType*>& types,
                                  const std::vector<const Tensor*>& values, std::vector<Tensor>& output_values) {
  std::vector<ValueType> out_types(node.outputs.size());
  output_values.assign(node.outputs.size(), Tensor());
  InferContext ictx(node, types, values, &out_types, &output_values);
  def.infer(ictx);
  return out_types;
}

void run_node(const OpDef& def, const Node& node, const std::vector<const Tensor*>& inputs,
              std::vector<Tensor>& outputs, const SubgraphRunner& subgraphs, int num_threads, int64_t max_elements) {
  std::vector<ValueType> in_types(inputs.size());
  std::vector<const ValueType*> type_ptrs(inputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr || !inputs[i]->defined()) continue;
    in_types[i] = ValueType{inputs[i]->dtype(), dims_of(inputs[i]->shape())};
    type_ptrs[i] = &in_types[i];
  }
  std::vector<Tensor> known;
  std::vector<ValueType> out_types = infer_node(def, node, type_ptrs, inputs, known);
  outputs.resize(node.outputs.size());
  bool all_known = true;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (node.outputs[i] == kNoValue) continue;
    if (known[i].defined()) {  // inference already computed the value (Shape, Size, ...)
      outputs[i] = known[i];
      continue;
    }
    all_known = false;
    std::optional<Shape> shape = out_types[i].concrete_shape();
    if (!shape || out_types[i].dtype == DType::kUndefined) {
      outputs[i] = Tensor();  // data-dependent: the kernel allocates it
      continue;
    }
    if (outputs[i].defined() && outputs[i].dtype() == out_types[i].dtype && outputs[i].shape() == *shape) {
      continue;  // caller-provided buffer of the right type
    }
    EF_CHECK(max_elements <= 0 || shape_numel(*shape) <= max_elements, kOutOfMemory,
             "{}: output {} would have shape {}, more than the limit of {} elements per tensor", node.label(), i,
             shape_str(*shape), max_elements);
    outputs[i] = Tensor::zeros(out_types[i].dtype, *shape);
  }
  if (all_known && !node.outputs.empty()) return;
  KernelContext kctx(node, inputs, &outputs, subgraphs, num_threads);
  def.kernel(kctx);
  for (size_t i = 0; i < outputs.size(); ++i) {
    EF_CHECK(node.outputs[i] == kNoValue || outputs[i].defined(), kInternal, "{}: kernel produced no output {}",
             node.label(), i);
  }
}

}  // namespace ef
