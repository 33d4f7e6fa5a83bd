// Our in-memory model: Graph, Node, Value, Attribute. Everything after import (inference, passes, planning,
// execution, export) works on these types, never on protobuf. Depends on core only.
//
// Values are referenced by index into Graph::values; nodes are kept in a topological order (import sorts them
// and rejects cycles). An omitted optional input/output is index kNoValue.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgeforge/tensor.h"

namespace ef {

constexpr int kNoValue = -1;

// One dimension: a known size, or unknown (value < 0) with an optional symbolic name ("batch", "N").
struct Dim {
  int64_t value = -1;
  std::string param;
  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT(google-explicit-constructor): dims are built from ints everywhere
  static Dim symbol(std::string name) {
    Dim d;
    d.param = std::move(name);
    return d;
  }
  bool known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && param == o.param; }
};

using Dims = std::vector<Dim>;
Dims dims_of(const Shape& shape);
std::string dims_str(const Dims& dims);  // "[batch,3,224,224]"

// What is known statically about a value: its element type and (maybe) its rank and dims.
struct ValueType {
  DType dtype = DType::kUndefined;
  std::optional<Dims> dims;  // nullopt: rank unknown

  bool has_rank() const { return dims.has_value(); }
  size_t rank() const { return dims ? dims->size() : 0; }
  // The concrete shape if every dim is known.
  std::optional<Shape> concrete_shape() const;
  std::string str() const;  // "float32[1,3,224,224]"
};

struct Graph;

struct Attribute {
  enum class Kind { kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings, kTensors, kGraphs };
  Kind kind = Kind::kInt;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;

  // The attribute kinds rewrites create.
  static Attribute of_int(int64_t v);
  static Attribute of_float(float v);
  static Attribute of_ints(std::vector<int64_t> v);
};
const char* attribute_kind_name(Attribute::Kind kind);

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" is the standard ONNX domain
  int version = 0;     // since_version of the op schema this node follows, resolved from the model's opset
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::map<std::string, Attribute> attrs;
  std::string doc;

  // "node 'conv1' (Conv)" -- used as error context everywhere.
  std::string label() const;

  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  // Typed accessors: return `fallback` when absent, throw kInvalidModel when present with another kind.
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key, std::vector<float> fallback = {}) const;
  // Absent -> undefined tensor / nullptr.
  Tensor attr_tensor(const std::string& key) const;
  const Graph* attr_graph(const std::string& key) const;
  const Attribute* find_attr(const std::string& key, Attribute::Kind kind) const;
};

struct Value {
  std::string name;
  ValueType type;
  int producer = -1;         // node index, -1 for graph inputs, initializers and outer-scope values
  Tensor initializer;        // defined for constant initializers
  bool is_outer = false;     // defined by an enclosing graph (subgraph capture), resolved by name at run time
  std::string doc;
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;  // topological order
  std::vector<int> inputs;  // graph inputs that are not initializers
  std::vector<int> outputs;
  std::string doc;

  int find_value(const std::string& name) const;  // kNoValue if absent
  int add_value(std::string name, ValueType type = {});
  // Values read by some node or graph output; used by dead-code logic and the planner.
  std::vector<int> use_counts() const;
  // Values of this graph that `node`'s subgraphs (at any depth) read by name: implicit inputs of the node.
  std::vector<int> captured_values(const Node& node) const;
  // For each node, the index of the last node that reads each value (explicitly or through a subgraph capture);
  // -1 for values nobody reads.
  std::vector<int> last_uses() const;
};

struct Model {
  int64_t ir_version = 8;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  std::vector<std::pair<std::string, std::string>> metadata;
  std::shared_ptr<Graph> graph;
  std::string path;  // file it was loaded from, if any

  int64_t opset(const std::string& domain) const;  // 0 if not imported
};

}  // namespace ef
