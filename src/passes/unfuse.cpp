// The export's unfuse step: ai.edgeforge nodes exist for our kernels, not for other runtimes, so before a model is
// written as standard ONNX each fused node is expanded into the standard nodes it stands for (the inverse of
// activation-fusion, residual-add-fusion, conv-maxpool-fusion, gelu-fusion, qdq-fusion's QLinearAdd and
// qconv-add-fusion's QLinearConvAdd), under the model's own standard opset.
#include <cmath>

#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

class Expander {
 public:
  Expander(Graph& g, int64_t opset, std::string base) : g_(g), opset_(opset), base_(std::move(base)) {}

  // A standard node reading `inputs` and writing `out` (a fresh intermediate when kNoValue); returns `out`.
  int emit(const std::string& op, std::vector<int> inputs, int out = kNoValue) {
    const int version = standard_version(op, opset_);
    EF_CHECK(version > 0, kUnsupported, "cannot write '{}' as standard ONNX: {} does not exist at opset {}", base_, op,
             opset_);
    if (out == kNoValue) out = add_intermediate(g_, base_ + "_" + op, DType::kFloat32);
    nodes_.push_back(make_node(base_ + "_" + op + (nodes_.empty() ? "" : "_" + std::to_string(nodes_.size())), op,
                               version, std::move(inputs), {out}));
    return out;
  }
  // A node made by the caller (an op the standard-version table does not list, e.g. QLinearConv).
  void push(Node n) { nodes_.push_back(std::move(n)); }
  Node& last() { return nodes_.back(); }
  int scalar(const std::string& what, float v) {
    return add_initializer(g_, base_ + "_" + what, Tensor::scalar(DType::kFloat32, v));
  }
  void float_attr(const char* key, float v) { last().attrs[key] = Attribute::of_float(v); }
  void ints_attr(const char* key, std::vector<int64_t> v) { last().attrs[key] = Attribute::of_ints(std::move(v)); }
  int64_t opset() const { return opset_; }
  const std::string& base() const { return base_; }
  std::vector<Node> take() { return std::move(nodes_); }

 private:
  Graph& g_;
  int64_t opset_;
  std::string base_;
  std::vector<Node> nodes_;
};

// Appends the standard form of act(x) writing `out`.
void emit_activation(Expander& e, const cpu::Activation& act, int x, int out) {
  using cpu::ActKind;
  switch (act.kind) {
    case ActKind::kNone: EF_CHECK(false, kInternal, "no activation to expand"); break;
    case ActKind::kRelu: e.emit("Relu", {x}, out); break;
    case ActKind::kSigmoid: e.emit("Sigmoid", {x}, out); break;
    case ActKind::kTanh: e.emit("Tanh", {x}, out); break;
    case ActKind::kLeakyRelu:
      e.emit("LeakyRelu", {x}, out);
      e.float_attr("alpha", act.alpha);
      break;
    case ActKind::kHardSigmoid:
      e.emit("HardSigmoid", {x}, out);
      e.float_attr("alpha", act.alpha);
      e.float_attr("beta", act.beta);
      break;
    case ActKind::kClip:
      if (e.opset() >= 11) {
        e.emit("Clip", {x, e.scalar("min", act.alpha), e.scalar("max", act.beta)}, out);
      } else {
        e.emit("Clip", {x}, out);
        e.float_attr("min", act.alpha);
        e.float_attr("max", act.beta);
      }
      break;
    case ActKind::kHardSwish:
      if (e.opset() >= 14) {
        e.emit("HardSwish", {x}, out);
      } else {
        const int h = e.emit("HardSigmoid", {x});
        e.float_attr("alpha", 1.0f / 6.0f);
        e.float_attr("beta", 0.5f);
        e.emit("Mul", {x, h}, out);
      }
      break;
    case ActKind::kSilu: e.emit("Mul", {x, e.emit("Sigmoid", {x})}, out); break;
    case ActKind::kGelu: {
      // x * 0.5 * (1 + erf(x / sqrt(2))), the form PyTorch exports.
      const int d = e.emit("Div", {x, e.scalar("sqrt2", static_cast<float>(std::sqrt(2.0)))});
      const int p = e.emit("Add", {e.emit("Erf", {d}), e.scalar("one", 1.0f)});
      e.emit("Mul", {e.emit("Mul", {x, p}), e.scalar("half", 0.5f)}, out);
      break;
    }
  }
}

// LayerNormalization in the form exporters write before opset 17 (what layernorm-fusion recognizes).
void emit_layer_norm(Expander& e, const Graph& g, const Node& n, int y) {
  int64_t axis = n.attr_int("axis", -1);
  const int x = n.inputs.at(0);
  if (axis >= 0) {  // the decomposition reduces trailing axes, named from the end
    const ValueType& t = g.values[static_cast<size_t>(x)].type;
    EF_CHECK(t.has_rank(), kUnsupported, "{}: axis {} needs the input rank to be written as standard ONNX", n.label(),
             axis);
    axis -= static_cast<int64_t>(t.rank());
  }
  EF_CHECK(n.attr_int("stash_type", 1) == 1, kUnsupported, "{}: only stash_type 1 has a standard form", n.label());
  std::vector<int64_t> axes;
  for (int64_t a = axis; a < 0; ++a) axes.push_back(a);
  const int mean = e.emit("ReduceMean", {x});
  e.ints_attr("axes", axes);
  const int d = e.emit("Sub", {x, mean});
  const int var = e.emit("ReduceMean", {e.emit("Pow", {d, e.scalar("two", 2.0f)})});
  e.ints_attr("axes", axes);
  const int sd = e.emit("Sqrt", {e.emit("Add", {var, e.scalar("epsilon", n.attr_float("epsilon", 1e-5f))})});
  const bool has_bias = n.inputs.size() > 2 && n.inputs[2] != kNoValue;
  const int scaled = e.emit("Mul", {e.emit("Div", {d, sd}), n.inputs.at(1)}, has_bias ? kNoValue : y);
  if (has_bias) e.emit("Add", {scaled, n.inputs[2]}, y);
}

// QLinearAdd as the DequantizeLinear -> Add -> QuantizeLinear graph qdq-fusion made it from (omitted zero
// points stay omitted: uint8 0 either way).
void emit_qlinear_add(Expander& e, const Node& n, int y) {
  auto operand = [&](size_t first) {
    std::vector<int> v;
    for (size_t i = first; i < first + 3 && i < n.inputs.size(); ++i) v.push_back(n.inputs[i]);
    while (!v.empty() && v.back() == kNoValue) v.pop_back();
    return v;
  };
  const int a = e.emit("DequantizeLinear", operand(0));
  const int b = e.emit("DequantizeLinear", operand(3));
  std::vector<int> q = operand(6);  // C_scale, C_zero_point
  q.insert(q.begin(), e.emit("Add", {a, b}));
  e.emit("QuantizeLinear", std::move(q), y);
}

// QLinearConvAdd as the QLinearConv writing its 8-bit result and the QLinearAdd graph that adds R to it.
void emit_qlinear_conv_add(Expander& e, Graph& g, const Node& n, int y) {
  EF_CHECK(n.inputs.size() >= 13, kInvalidModel, "{}: QLinearConvAdd needs 13 or 14 inputs", n.label());
  const int y_zp = n.inputs[7];
  const DType conv_type = y_zp == kNoValue ? DType::kUInt8 : g.values[static_cast<size_t>(y_zp)].type.dtype;
  const std::string base = n.name.empty() ? g.values[static_cast<size_t>(y)].name : n.name;
  const int conv_out = add_intermediate(g, base + "_conv", conv_type);
  std::vector<int> conv_inputs(n.inputs.begin(), n.inputs.begin() + 9);
  while (conv_inputs.back() == kNoValue) conv_inputs.pop_back();
  Node conv = make_node(base + "_conv", "QLinearConv", 10, std::move(conv_inputs), {conv_out});
  conv.attrs = n.attrs;
  e.push(std::move(conv));
  Node add = make_node(base, "QLinearAdd", kEdgeForgeOpset,
                       {conv_out, n.inputs[6], n.inputs[7], n.inputs[9], n.inputs[10], n.inputs[11], n.inputs[12],
                        n.inputs.size() > 13 ? n.inputs[13] : kNoValue},
                       {y}, kEdgeForgeDomain);
  emit_qlinear_add(e, add, y);
}

// FusedConv / FusedGemm n as Conv or Gemm, then the residual Add and the activation, writing y.
void emit_conv_or_gemm(Expander& e, const Node& n, int y) {
  const bool conv = n.op_type == "FusedConv";
  EF_CHECK(conv || n.op_type == "FusedGemm", kUnsupported, "{}: no standard ONNX form known", n.label());
  const cpu::Activation act = fused_activation(n);
  const bool residual = conv && n.inputs.size() > 3 && n.inputs[3] != kNoValue;
  std::vector<int> main_inputs(n.inputs.begin(), n.inputs.begin() + std::min<size_t>(3, n.inputs.size()));
  while (!main_inputs.empty() && main_inputs.back() == kNoValue) main_inputs.pop_back();
  const bool last_is_main = !residual && act.kind == cpu::ActKind::kNone;
  int v = e.emit(conv ? "Conv" : "Gemm", main_inputs, last_is_main ? y : kNoValue);
  for (const auto& [key, attr] : n.attrs) {
    if (key != "activation" && key != "activation_params") e.last().attrs[key] = attr;
  }
  if (residual) v = e.emit("Add", {v, n.inputs[3]}, act.kind == cpu::ActKind::kNone ? y : kNoValue);
  if (act.kind != cpu::ActKind::kNone) emit_activation(e, act, v, y);
}

std::vector<Node> expand(Graph& g, const Node& n, int64_t opset) {
  const int y = n.outputs.at(0);
  Expander e(g, opset, n.name.empty() ? g.values[static_cast<size_t>(y)].name : n.name);
  if (n.op_type == "LayerNormalization") {
    emit_layer_norm(e, g, n, y);
    return e.take();
  }
  if (n.op_type == "QLinearAdd") {
    emit_qlinear_add(e, n, y);
    return e.take();
  }
  if (n.op_type == "QLinearConvAdd") {
    emit_qlinear_conv_add(e, g, n, y);
    return e.take();
  }
  if (n.op_type == "Gelu") {
    emit_activation(e, cpu::Activation{cpu::ActKind::kGelu}, n.inputs.at(0), y);
    return e.take();
  }
  if (n.op_type == "FusedConvMaxPool") {
    // The conv part into a value of its own, then the MaxPool writing the node's output.
    const ConvMaxPoolParts parts = split_conv_max_pool(n);
    const int conv_out = add_intermediate(g, e.base() + "_conv", DType::kFloat32);
    emit_conv_or_gemm(e, parts.conv, conv_out);
    e.emit("MaxPool", {conv_out}, y);
    for (const auto& [key, attr] : parts.pool.attrs) e.last().attrs[key] = attr;
    return e.take();
  }
  if (n.op_type == "FusedConvDepthwise") {
    // The pointwise conv into a value of its own, then the depthwise conv reading it and writing the node's output.
    ConvDepthwiseParts parts = split_conv_depthwise(n);
    const int mid = add_intermediate(g, e.base() + "_pointwise", DType::kFloat32);
    emit_conv_or_gemm(e, parts.pointwise, mid);
    parts.depthwise.inputs[0] = mid;
    emit_conv_or_gemm(e, parts.depthwise, y);
    return e.take();
  }
  emit_conv_or_gemm(e, n, y);
  return e.take();
}

}  // namespace

int unfuse_model(Model& model) {
  EF_CHECK(model.graph != nullptr, kInvalidArgument, "the model has no graph");
  Graph& g = *model.graph;
  const int64_t opset = model.opset("");
  std::vector<Node> nodes;
  int count = 0;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    if (g.nodes[ni].domain != kEdgeForgeDomain) {
      nodes.push_back(std::move(g.nodes[ni]));
      continue;
    }
    const Node fused = g.nodes[ni];
    for (Node& n : expand(g, fused, opset)) nodes.push_back(std::move(n));
    ++count;
  }
  g.nodes = std::move(nodes);
  refresh_producers(g);
  model.opsets.erase(kEdgeForgeDomain);
  if (count > 0) {
    // Each expansion adds its own scalar constants (Clip bounds, GELU's 0.5, ...): share equal ones.
    std::vector<std::unique_ptr<Pass>> tidy;
    tidy.push_back(make_duplicate_initializer_elimination());
    tidy.push_back(make_unused_initializer_elimination());
    PassOptions options;
    options.opset = opset;
    PassManager(std::move(tidy)).run(g, options);
  }
  return count;
}

}  // namespace ef
