#include "ir/graph.h"

#include <fmt/format.h>

namespace ef {

Dims dims_of(const Shape& shape) {
  Dims d;
  d.reserve(shape.size());
  for (int64_t v : shape) d.emplace_back(v);
  return d;
}

std::string dims_str(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    if (dims[i].known()) {
      s += std::to_string(dims[i].value);
    } else {
      s += dims[i].param.empty() ? "?" : dims[i].param;
    }
  }
  return s + "]";
}

std::optional<Shape> ValueType::concrete_shape() const {
  if (!dims) return std::nullopt;
  Shape s;
  s.reserve(dims->size());
  for (const Dim& d : *dims) {
    if (!d.known()) return std::nullopt;
    s.push_back(d.value);
  }
  return s;
}

std::string ValueType::str() const { return dtype_name(dtype) + (dims ? dims_str(*dims) : "[...]"); }

Attribute Attribute::of_int(int64_t v) {
  Attribute a;
  a.kind = Kind::kInt;
  a.i = v;
  return a;
}

Attribute Attribute::of_float(float v) {
  Attribute a;
  a.kind = Kind::kFloat;
  a.f = v;
  return a;
}

Attribute Attribute::of_ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Kind::kInts;
  a.ints = std::move(v);
  return a;
}

const char* attribute_kind_name(Attribute::Kind kind) {
  switch (kind) {
    case Attribute::Kind::kFloat: return "float";
    case Attribute::Kind::kInt: return "int";
    case Attribute::Kind::kString: return "string";
    case Attribute::Kind::kTensor: return "tensor";
    case Attribute::Kind::kGraph: return "graph";
    case Attribute::Kind::kFloats: return "floats";
    case Attribute::Kind::kInts: return "ints";
    case Attribute::Kind::kStrings: return "strings";
    case Attribute::Kind::kTensors: return "tensors";
    case Attribute::Kind::kGraphs: return "graphs";
  }
  return "?";
}

std::string Node::label() const { return fmt::format("node '{}' ({})", name, op_type); }

const Attribute* Node::find_attr(const std::string& key, Attribute::Kind kind) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return nullptr;
  EF_CHECK(it->second.kind == kind, kInvalidModel, "{}: attribute '{}' is {}, expected {}", label(), key,
           attribute_kind_name(it->second.kind), attribute_kind_name(kind));
  return &it->second;
}

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  const Attribute* a = find_attr(key, Attribute::Kind::kInt);
  return a ? a->i : fallback;
}

float Node::attr_float(const std::string& key, float fallback) const {
  const Attribute* a = find_attr(key, Attribute::Kind::kFloat);
  return a ? a->f : fallback;
}

std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  const Attribute* a = find_attr(key, Attribute::Kind::kString);
  return a ? a->s : fallback;
}

std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  const Attribute* a = find_attr(key, Attribute::Kind::kInts);
  return a ? a->ints : fallback;
}

std::vector<float> Node::attr_floats(const std::string& key, std::vector<float> fallback) const {
  const Attribute* a = find_attr(key, Attribute::Kind::kFloats);
  return a ? a->floats : fallback;
}

Tensor Node::attr_tensor(const std::string& key) const {
  const Attribute* a = find_attr(key, Attribute::Kind::kTensor);
  return a ? a->t : Tensor();
}

const Graph* Node::attr_graph(const std::string& key) const {
  const Attribute* a = find_attr(key, Attribute::Kind::kGraph);
  return a ? a->g.get() : nullptr;
}

int Graph::find_value(const std::string& value_name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == value_name) return static_cast<int>(i);
  }
  return kNoValue;
}

int Graph::add_value(std::string value_name, ValueType type) {
  Value v;
  v.name = std::move(value_name);
  v.type = std::move(type);
  values.push_back(std::move(v));
  return static_cast<int>(values.size() - 1);
}

std::vector<int> Graph::use_counts() const {
  std::vector<int> uses(values.size(), 0);
  for (const Node& n : nodes) {
    for (int v : n.inputs) {
      if (v != kNoValue) ++uses[static_cast<size_t>(v)];
    }
  }
  for (int v : outputs) ++uses[static_cast<size_t>(v)];
  return uses;
}

namespace {
void collect_outer_names(const Graph& g, std::vector<std::string>& names) {
  for (const Value& v : g.values) {
    if (v.is_outer) names.push_back(v.name);
  }
  for (const Node& n : g.nodes) {
    for (const auto& [key, attr] : n.attrs) {
      if (attr.g) collect_outer_names(*attr.g, names);
      for (const auto& sub : attr.graphs) collect_outer_names(*sub, names);
    }
  }
}
}  // namespace

std::vector<int> Graph::captured_values(const Node& node) const {
  std::vector<std::string> names;
  for (const auto& [key, attr] : node.attrs) {
    if (attr.g) collect_outer_names(*attr.g, names);
    for (const auto& sub : attr.graphs) collect_outer_names(*sub, names);
  }
  std::vector<int> ids;
  for (const std::string& name : names) {
    int v = find_value(name);
    if (v != kNoValue) ids.push_back(v);
  }
  return ids;
}

std::vector<int> Graph::last_uses() const {
  std::vector<int> last(values.size(), -1);
  for (size_t ni = 0; ni < nodes.size(); ++ni) {
    for (int v : nodes[ni].inputs) {
      if (v != kNoValue) last[static_cast<size_t>(v)] = static_cast<int>(ni);
    }
    for (int v : captured_values(nodes[ni])) last[static_cast<size_t>(v)] = static_cast<int>(ni);
  }
  return last;
}

int64_t Model::opset(const std::string& d) const {
  auto it = opsets.find(d == "ai.onnx" ? "" : d);
  return it == opsets.end() ? 0 : it->second;
}

}  // namespace ef
