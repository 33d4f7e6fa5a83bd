// Shared helpers of the fusion passes (see fusion_util.h).
#include "passes/fusion_util.h"

#include <cmath>
#include <map>

#include "ops/fused.h"
#include "ops/registry.h"
#include "passes/graph_edit.h"
#include "runtime/node_runner.h"

namespace ef {

const Tensor* float_initializer(const Graph& g, int v) {
  if (v == kNoValue) return nullptr;
  const Tensor& t = g.values[static_cast<size_t>(v)].initializer;
  return t.defined() && t.dtype() == DType::kFloat32 ? &t : nullptr;
}

std::optional<std::vector<int64_t>> int64_initializer(const Graph& g, int v) {
  if (v == kNoValue) return std::nullopt;
  const Tensor& t = g.values[static_cast<size_t>(v)].initializer;
  if (!t.defined() || t.dtype() != DType::kInt64) return std::nullopt;
  return std::vector<int64_t>(t.data<int64_t>(), t.data<int64_t>() + t.numel());
}

std::optional<float> scalar_initializer(const Graph& g, int v) {
  const Tensor* t = float_initializer(g, v);
  if (t == nullptr || t->numel() != 1) return std::nullopt;
  return t->data<float>()[0];
}

std::string fresh_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 1; g.find_value(name) != kNoValue; ++i) name = base + "_" + std::to_string(i);
  return name;
}

int add_initializer(Graph& g, const std::string& base, Tensor t) {
  int v = g.add_value(fresh_name(g, base), ValueType{t.dtype(), dims_of(t.shape())});
  g.values[static_cast<size_t>(v)].initializer = std::move(t);
  return v;
}

int add_intermediate(Graph& g, const std::string& base, DType dtype) {
  return g.add_value(fresh_name(g, base), ValueType{dtype, std::nullopt});
}

Node as_edgeforge_op(Node n, const std::string& op_type) {
  n.op_type = op_type;
  n.domain = kEdgeForgeDomain;
  n.version = kEdgeForgeOpset;
  return n;
}

bool is_op(const Node& n, const char* op_type) { return n.domain.empty() && n.op_type == op_type; }

bool conv_without_residual(const Node& n) {
  if (n.inputs.size() < 2 || n.outputs.size() != 1) return false;
  if (is_op(n, "Conv")) return true;
  return n.domain == kEdgeForgeDomain && n.op_type == "FusedConv" && (n.inputs.size() < 4 || n.inputs[3] == kNoValue);
}

std::optional<Shape> static_shape(const Graph& g, int v) {
  if (v == kNoValue) return std::nullopt;
  return g.values[static_cast<size_t>(v)].type.concrete_shape();
}

Node as_fused_conv_op(const Node& conv, const std::string& op_type) {
  Node n = as_edgeforge_op(conv, op_type);
  if (!n.has_attr("activation")) set_fused_activation(n, cpu::Activation{});
  return n;
}

bool is_float32(const Graph& g, int v) {
  return v != kNoValue && g.values[static_cast<size_t>(v)].type.dtype == DType::kFloat32;
}

int producer_of(const Graph& g, int v) { return v == kNoValue ? -1 : g.values[static_cast<size_t>(v)].producer; }

bool single_use(const Graph& g, const std::vector<int>& readers, int v) {
  if (v == kNoValue || readers[static_cast<size_t>(v)] != 1) return false;
  for (int o : g.outputs) {
    if (o == v) return false;
  }
  return true;
}

std::vector<std::vector<int>> consumers(const Graph& g) {
  std::vector<std::vector<int>> out(g.values.size());
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    for (int v : g.nodes[ni].inputs) {
      if (v != kNoValue) out[static_cast<size_t>(v)].push_back(static_cast<int>(ni));
    }
  }
  return out;
}

std::optional<std::vector<float>> per_channel_values(const Tensor& c, size_t rank, size_t axis, int64_t channels) {
  if (c.dtype() != DType::kFloat32 || c.rank() > rank || channels <= 0) return std::nullopt;
  const size_t lead = rank - c.rank();
  int64_t along = 1;
  for (size_t j = 0; j < c.rank(); ++j) {
    const int64_t d = c.shape()[j];
    if (lead + j == axis) {
      if (d != channels && d != 1) return std::nullopt;
      along = d;
    } else if (d != 1) {
      return std::nullopt;
    }
  }
  std::vector<float> out(static_cast<size_t>(channels));
  for (int64_t k = 0; k < channels; ++k) out[static_cast<size_t>(k)] = c.data<float>()[along == 1 ? 0 : k];
  return out;
}

bool same_static_dims(const ValueType& a, const ValueType& b) {
  if (!a.has_rank() || !b.has_rank() || a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.rank(); ++i) {
    const Dim& x = (*a.dims)[i];
    const Dim& y = (*b.dims)[i];
    if (x.known() && y.known() && x.value == y.value) continue;
    if (!x.known() && !y.known() && !x.param.empty() && x.param == y.param) continue;
    return false;
  }
  return true;
}

std::optional<ChannelAffine> inference_batchnorm(const Graph& g, const Node& bn, const std::vector<int>& readers,
                                                 int64_t channels) {
  if (!is_op(bn, "BatchNormalization") || bn.version < 7 || bn.inputs.size() != 5 || bn.outputs.empty()) {
    return std::nullopt;
  }
  if (bn.attr_int("training_mode", 0) != 0 || bn.attr_int("spatial", 1) != 1) return std::nullopt;
  for (size_t k = 1; k < bn.outputs.size(); ++k) {
    const int v = bn.outputs[k];
    if (v != kNoValue && readers[static_cast<size_t>(v)] > 0) return std::nullopt;
  }
  const Tensor* p[4];
  for (size_t k = 0; k < 4; ++k) {
    p[k] = float_initializer(g, bn.inputs[k + 1]);
    if (p[k] == nullptr || p[k]->shape() != Shape{channels}) return std::nullopt;
  }
  const double eps = bn.attr_float("epsilon", 1e-5f);
  ChannelAffine a;
  for (int64_t c = 0; c < channels; ++c) {
    const double s = p[0]->data<float>()[c] / std::sqrt(static_cast<double>(p[3]->data<float>()[c]) + eps);
    a.scale.push_back(s);
    a.shift.push_back(p[1]->data<float>()[c] - s * p[2]->data<float>()[c]);
  }
  return a;
}

int batchnorm_fold_source(const Graph& g, const std::vector<int>& readers, const std::vector<bool>& removed,
                          const Node& bn) {
  if (!is_op(bn, "BatchNormalization") || bn.inputs.empty()) return -1;
  const int y = bn.inputs[0];
  const int source = producer_of(g, y);
  if (source < 0 || removed[static_cast<size_t>(source)] || !single_use(g, readers, y)) return -1;
  return source;
}

void replace_batchnorm_with_folded(Graph& g, size_t bn_index, int source, std::vector<bool>& removed,
                                   const char* suffix1, Tensor param1, const char* suffix2, Tensor param2) {
  Node fused = g.nodes[static_cast<size_t>(source)];
  const int y = g.nodes[bn_index].inputs[0];
  const std::string base = fused.name.empty() ? g.values[static_cast<size_t>(y)].name : fused.name;
  fused.inputs.resize(std::max<size_t>(fused.inputs.size(), 3), kNoValue);
  fused.inputs[1] = add_initializer(g, base + suffix1, std::move(param1));
  fused.inputs[2] = add_initializer(g, base + suffix2, std::move(param2));
  // The writer takes over the BN's output value, so BN readers and a graph output of that name are kept.
  const int z = g.nodes[bn_index].outputs[0];
  fused.outputs = {z};
  ValueType& z_type = g.values[static_cast<size_t>(z)].type;
  if (z_type.dtype == DType::kUndefined) z_type = g.values[static_cast<size_t>(y)].type;
  g.nodes[bn_index] = std::move(fused);
  removed[static_cast<size_t>(source)] = true;
}

Tensor eval_binary(const char* op_type, const Tensor& a, const Tensor& b) {
  Node n = make_node(std::string("fold_") + op_type, op_type, 14, {0, 1}, {2});
  const OpDef& def = OpRegistry::global().resolve(n);
  std::vector<Tensor> out(1);
  run_node(def, n, {&a, &b}, out, nullptr, 1);
  return out[0];
}

int standard_version(const std::string& op_type, int64_t opset) {
  // Since-versions from ONNX's schemas (opset <= 17), for the ops rewrites create.
  static const std::map<std::string, std::vector<int>> kSince = {
      {"Add", {1, 6, 7, 13, 14}},   {"Sub", {1, 6, 7, 13, 14}},     {"Mul", {1, 6, 7, 13, 14}},
      {"Div", {1, 6, 7, 13, 14}},   {"Conv", {1, 11}},              {"Gemm", {1, 6, 7, 9, 11, 13}},
      {"Relu", {1, 6, 13, 14}},     {"Clip", {1, 6, 11, 12, 13}},   {"LeakyRelu", {1, 6, 16}},
      {"Sigmoid", {1, 6, 13}},      {"HardSigmoid", {1, 6}},        {"HardSwish", {14}},
      {"Tanh", {1, 6, 13}},         {"Erf", {9, 13}},               {"Pad", {1, 2, 11, 13}},
      {"Reshape", {1, 5, 13, 14}},  {"Transpose", {1, 13}},         {"LayerNormalization", {17}},
      {"ReduceMean", {1, 11, 13}},  {"Pow", {1, 7, 12, 13, 15}},    {"Sqrt", {1, 6, 13}},
      {"QuantizeLinear", {10, 13}}, {"DequantizeLinear", {10, 13}}, {"MaxPool", {1, 8, 10, 11, 12}},
  };
  auto it = kSince.find(op_type);
  if (it == kSince.end()) return 0;
  int best = 0;
  for (int v : it->second) {
    if (v <= opset) best = v;
  }
  return best;
}

Node make_node(const std::string& name, const std::string& op_type, int version, std::vector<int> inputs,
               std::vector<int> outputs, const std::string& domain) {
  Node n;
  n.name = name;
  n.op_type = op_type;
  n.domain = domain;
  n.version = version;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

}  // namespace ef
