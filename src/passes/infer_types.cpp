#include "passes/infer_types.h"

#include "ops/registry.h"
#include "passes/graph_edit.h"
#include "runtime/node_runner.h"

namespace ef {

std::vector<Tensor> infer_types(Graph& graph) {
  const size_t nv = graph.values.size();
  std::vector<Tensor> known(nv);
  for (size_t v = 0; v < nv; ++v) {
    if (graph.values[v].initializer.defined()) known[v] = graph.values[v].initializer;
  }
  std::vector<bool> is_output = graph_output_mask(graph);
  for (const Node& node : graph.nodes) {
    std::vector<ValueType> out_types(node.outputs.size());
    std::vector<Tensor> out_values(node.outputs.size());
    const OpDef* def = OpRegistry::global().find(node.domain, node.op_type);
    bool ok = def != nullptr && def->infer != nullptr && node.version >= def->min_version &&
              node.version <= def->max_version;
    std::vector<const ValueType*> types(node.inputs.size(), nullptr);
    std::vector<const Tensor*> values(node.inputs.size(), nullptr);
    for (size_t k = 0; k < node.inputs.size() && ok; ++k) {
      int v = node.inputs[k];
      if (v == kNoValue) continue;
      const Value& val = graph.values[static_cast<size_t>(v)];
      // An input of unknown dtype would read as an omitted optional input and mislead inference.
      ok = val.type.dtype != DType::kUndefined;
      types[k] = &val.type;
      if (known[static_cast<size_t>(v)].defined()) values[k] = &known[static_cast<size_t>(v)];
    }
    if (ok) {
      try {
        out_types = infer_node(*def, node, types, values, out_values);
      } catch (const std::exception&) {
        out_types.assign(node.outputs.size(), ValueType{});
        out_values.assign(node.outputs.size(), Tensor());
      }
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      int v = node.outputs[k];
      if (v == kNoValue) continue;
      Value& val = graph.values[static_cast<size_t>(v)];
      if (out_values[k].defined()) {
        known[static_cast<size_t>(v)] = out_values[k];
        out_types[k] = ValueType{out_values[k].dtype(), dims_of(out_values[k].shape())};
      }
      if (is_output[static_cast<size_t>(v)] && val.type.dtype != DType::kUndefined) continue;
      val.type = out_types[k];
    }
  }
  return known;
}

}  // namespace ef
