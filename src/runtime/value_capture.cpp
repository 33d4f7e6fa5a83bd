// Intermediate values as extra graph outputs (see value_capture.h).
#include "runtime/value_capture.h"

#include <algorithm>
#include <memory>

namespace ef {

std::vector<std::string> computed_value_names(const Model& model) {
  const Graph& g = *model.graph;
  std::vector<std::string> names;
  for (const Node& n : g.nodes) {
    for (int v : n.outputs) {
      if (v == kNoValue || std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end()) continue;
      names.push_back(g.values[static_cast<size_t>(v)].name);
    }
  }
  return names;
}

Model with_extra_outputs(const Model& model, const std::vector<std::string>& names) {
  Model out = model;
  out.graph = std::make_shared<Graph>(*model.graph);
  Graph& g = *out.graph;
  for (const std::string& name : names) {
    const int v = g.find_value(name);
    EF_CHECK(v != kNoValue && g.values[static_cast<size_t>(v)].producer >= 0, kInvalidArgument,
             "value '{}' is not computed by any node of the graph{}", name,
             v == kNoValue ? "" : " (it is a graph input or initializer)");
    if (std::find(g.outputs.begin(), g.outputs.end(), v) == g.outputs.end()) g.outputs.push_back(v);
  }
  return out;
}

}  // namespace ef
