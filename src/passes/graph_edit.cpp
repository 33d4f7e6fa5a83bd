#include "passes/graph_edit.h"

#include <set>
#include <string>

#include "passes/pass.h"

namespace ef {

void refresh_producers(Graph& graph) {
  for (Value& v : graph.values) v.producer = -1;
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    for (int v : graph.nodes[ni].outputs) {
      if (v != kNoValue) graph.values[static_cast<size_t>(v)].producer = static_cast<int>(ni);
    }
  }
}

std::vector<bool> captured_mask(const Graph& graph) {
  std::vector<bool> mask(graph.values.size(), false);
  for (const Node& n : graph.nodes) {
    if (!has_subgraph(n)) continue;
    for (int v : graph.captured_values(n)) mask[static_cast<size_t>(v)] = true;
  }
  return mask;
}

std::vector<bool> graph_output_mask(const Graph& graph) {
  std::vector<bool> mask(graph.values.size(), false);
  for (int v : graph.outputs) mask[static_cast<size_t>(v)] = true;
  return mask;
}

std::vector<int> reader_counts(const Graph& graph) {
  std::vector<int> counts = graph.use_counts();
  for (const Node& n : graph.nodes) {
    if (!has_subgraph(n)) continue;
    for (int v : graph.captured_values(n)) ++counts[static_cast<size_t>(v)];
  }
  return counts;
}

bool has_subgraph(const Node& node) {
  for (const auto& [key, attr] : node.attrs) {
    if (attr.kind == Attribute::Kind::kGraph || attr.kind == Attribute::Kind::kGraphs) return true;
  }
  return false;
}

bool is_random_op(const Node& node) {
  static const std::set<std::string> kRandom = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                 "RandomUniformLike", "Multinomial", "Bernoulli"};
  // Dropout in training mode draws a mask; treat every Dropout as random here, its own pass handles inference.
  return kRandom.count(node.op_type) != 0 || node.op_type == "Dropout";
}

void replace_uses(Graph& graph, int from, int to) {
  for (Node& n : graph.nodes) {
    for (int& v : n.inputs) {
      if (v == from) v = to;
    }
  }
}

bool can_bypass(const Graph& graph, int in, int out, const std::vector<bool>& removed) {
  if (in == kNoValue || out == kNoValue || in == out) return false;
  std::vector<bool> captured = captured_mask(graph);
  if (captured[static_cast<size_t>(in)] || captured[static_cast<size_t>(out)]) return false;
  std::vector<bool> is_output = graph_output_mask(graph);
  if (!is_output[static_cast<size_t>(out)]) return true;
  // `out` must keep its name: it is handed to the node producing `in`, which must be an ordinary node output.
  int producer = graph.values[static_cast<size_t>(in)].producer;
  return !is_output[static_cast<size_t>(in)] && producer >= 0 && !removed[static_cast<size_t>(producer)];
}

void bypass_node(Graph& graph, size_t node_index, int in, int out, std::vector<bool>& removed) {
  EF_CHECK(can_bypass(graph, in, out, removed), kInternal, "cannot bypass {}", graph.nodes[node_index].label());
  removed[node_index] = true;
  bool is_output = false;
  for (int v : graph.outputs) is_output |= v == out;
  if (!is_output) {
    replace_uses(graph, out, in);
    return;
  }
  Value& in_value = graph.values[static_cast<size_t>(in)];
  int producer = in_value.producer;
  for (int& v : graph.nodes[static_cast<size_t>(producer)].outputs) {
    if (v == in) v = out;
  }
  replace_uses(graph, in, out);
  in_value.producer = -1;
  Value& out_value = graph.values[static_cast<size_t>(out)];
  out_value.producer = producer;
  if (out_value.type.dtype == DType::kUndefined) out_value.type = in_value.type;
}

void erase_nodes(Graph& graph, const std::vector<bool>& removed) {
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    if (!removed[ni]) kept.push_back(std::move(graph.nodes[ni]));
  }
  graph.nodes = std::move(kept);
  refresh_producers(graph);
}

void compact_values(Graph& graph) {
  const size_t nv = graph.values.size();
  std::vector<bool> keep = captured_mask(graph);
  auto mark = [&keep](int v) {
    if (v != kNoValue) keep[static_cast<size_t>(v)] = true;
  };
  for (const Node& n : graph.nodes) {
    for (int v : n.inputs) mark(v);
    for (int v : n.outputs) mark(v);
  }
  for (int v : graph.inputs) mark(v);
  for (int v : graph.outputs) mark(v);
  for (size_t v = 0; v < nv; ++v) {
    if (graph.values[v].initializer.defined()) keep[v] = true;
  }
  std::vector<int> remap(nv, kNoValue);
  std::vector<Value> values;
  for (size_t v = 0; v < nv; ++v) {
    if (!keep[v]) continue;
    remap[v] = static_cast<int>(values.size());
    values.push_back(std::move(graph.values[v]));
  }
  if (values.size() == nv) {
    graph.values = std::move(values);
    return;
  }
  graph.values = std::move(values);
  auto renumber = [&remap](int& v) {
    if (v != kNoValue) v = remap[static_cast<size_t>(v)];
  };
  for (Node& n : graph.nodes) {
    for (int& v : n.inputs) renumber(v);
    for (int& v : n.outputs) renumber(v);
  }
  for (int& v : graph.inputs) renumber(v);
  for (int& v : graph.outputs) renumber(v);
  refresh_producers(graph);
}

int bypass_nodes_where(Graph& graph, PassContext& ctx, const std::function<bool(const Node&)>& returns_input0) {
  std::vector<bool> removed(graph.nodes.size(), false);
  int count = 0;
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    const Node& n = graph.nodes[ni];
    if (n.inputs.empty() || n.inputs[0] == kNoValue || n.outputs.empty() || !returns_input0(n)) continue;
    if (!can_bypass(graph, n.inputs[0], n.outputs[0], removed)) continue;
    if (!ctx.allow_rewrite()) break;
    bypass_node(graph, ni, n.inputs[0], n.outputs[0], removed);
    ++count;
  }
  if (count > 0) erase_nodes(graph, removed);
  return count;
}

}  // namespace ef
