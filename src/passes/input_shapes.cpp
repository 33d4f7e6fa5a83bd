// Fixing graph input dims for `edgeforge optimize --input-shape`: the only way a pass may assume a size for what the
// model declares dynamic. Everything downstream is then proven by inference from these dims.
#include "passes/pass.h"

namespace ef {

void fix_input_shapes(Graph& graph, const std::map<std::string, Shape>& shapes) {
  for (const auto& [name, shape] : shapes) {
    int v = kNoValue;
    for (int in : graph.inputs) {
      if (graph.values[static_cast<size_t>(in)].name == name) v = in;
    }
    EF_CHECK(v != kNoValue, kInvalidArgument, "--input-shape names '{}', which is not a graph input", name);
    ValueType& t = graph.values[static_cast<size_t>(v)].type;
    if (t.has_rank()) {
      EF_CHECK(t.rank() == shape.size(), kInvalidArgument, "--input-shape {}={}: the input has rank {}", name,
               shape_str(shape), t.rank());
      for (size_t i = 0; i < shape.size(); ++i) {
        const Dim& d = (*t.dims)[i];
        EF_CHECK(!d.known() || d.value == shape[i], kInvalidArgument, "--input-shape {}={}: dim {} is fixed to {}",
                 name, shape_str(shape), i, d.value);
      }
    }
    t.dims = dims_of(shape);
  }
}

}  // namespace ef
