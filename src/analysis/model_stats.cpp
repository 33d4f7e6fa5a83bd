#include "analysis/model_stats.h"

#include "ops/fused.h"
#include "runtime/plan.h"

namespace ef {
namespace {

int64_t numel_or_zero(const ValueType& t) {
  auto s = t.concrete_shape();
  return s ? shape_numel(*s) : 0;
}

// A convolution's multiply-accumulates: each output element takes one per weight of its output channel
// (Cin/group * kernel).
int64_t conv_macs(const Shape& y, const Shape& w) {
  int64_t per_output = 1;
  for (size_t i = 1; i < w.size(); ++i) per_output *= w[i];
  return shape_numel(y) * per_output;
}

// Multiply-accumulates of the compute-heavy ops; 0 for others.
int64_t layer_macs(const Graph& g, const Node& n, const Plan& p) {
  auto type_of = [&](size_t k, bool out) -> const ValueType* {
    const auto& list = out ? n.outputs : n.inputs;
    if (k >= list.size() || list[k] == kNoValue) return nullptr;
    return &p.types[static_cast<size_t>(list[k])];
  };
  const ValueType* y = type_of(0, true);
  if (y == nullptr) return 0;
  auto ys = y->concrete_shape();
  const std::string& op = n.op_type;
  if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv" || op == "FusedConv" || op == "QLinearConvAdd") {
    size_t w_index = op == "QLinearConv" || op == "QLinearConvAdd" ? 3 : 1;
    const ValueType* w = type_of(w_index, false);
    auto ws = w ? w->concrete_shape() : std::nullopt;
    if (!ys || !ws || ws->size() < 2) return 0;
    return conv_macs(*ys, *ws);
  }
  if (op == "FusedConvMaxPool") {
    // MACs of the conv part, whose output the graph does not hold (the node writes the pooled result).
    const ValueType* x = type_of(0, false);
    const ValueType* w = type_of(1, false);
    auto xs = x ? x->concrete_shape() : std::nullopt;
    auto ws = w ? w->concrete_shape() : std::nullopt;
    if (!xs || !ws || xs->size() != 4 || ws->size() != 4) return 0;
    return conv_macs(conv_max_pool_conv_shape(n, *xs, *ws), *ws);
  }
  if (op == "FusedConvDepthwise") {
    // MACs of both convs; the graph holds neither the intermediate nor its shape.
    const ValueType* x = type_of(0, false);
    const ValueType* w1 = type_of(1, false);
    const ValueType* w2 = type_of(3, false);
    auto xs = x ? x->concrete_shape() : std::nullopt;
    auto w1s = w1 ? w1->concrete_shape() : std::nullopt;
    auto w2s = w2 ? w2->concrete_shape() : std::nullopt;
    if (!ys || !xs || !w1s || !w2s || xs->size() != 4 || w1s->size() != 4 || w2s->size() != 4) return 0;
    const ConvDepthwiseParts parts = split_conv_depthwise(n);
    return conv_macs(conv_output_shape(parts.pointwise, *xs, *w1s), *w1s) + conv_macs(*ys, *w2s);
  }
  if (op == "ConvTranspose") {
    const ValueType* x = type_of(0, false);
    const ValueType* w = type_of(1, false);
    auto xs = x ? x->concrete_shape() : std::nullopt;
    auto ws = w ? w->concrete_shape() : std::nullopt;
    if (!xs || !ws || ws->size() < 2) return 0;
    int64_t per_input = 1;
    for (size_t i = 1; i < ws->size(); ++i) per_input *= (*ws)[i];  // Cout/group * kernel
    return shape_numel(*xs) * per_input;
  }
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul" || op == "Gemm") {
    const ValueType* a = type_of(0, false);
    auto as = a ? a->concrete_shape() : std::nullopt;
    if (!ys || !as || as->empty()) return 0;
    int64_t k = op == "Gemm" && n.attr_int("transA", 0) ? (*as)[0] : as->back();
    return shape_numel(*ys) * k;
  }
  (void)g;
  return 0;
}

}  // namespace

ModelStats compute_model_stats(const Model& model, const std::vector<Shape>& input_shapes) {
  const Graph& g = *model.graph;
  ModelStats s;
  for (const Value& v : g.values) {
    if (v.initializer.defined()) {
      s.param_count += v.initializer.numel();
      s.param_bytes += static_cast<int64_t>(v.initializer.nbytes());
    }
  }
  std::vector<ValueType> types;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    types.push_back(ValueType{g.values[static_cast<size_t>(g.inputs[i])].type.dtype, dims_of(input_shapes[i])});
  }
  Plan p = build_plan(g, types, PlanOptions{});
  s.arena_bytes = p.arena_bytes;
  s.activation_bytes_no_reuse = p.total_activation_bytes;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    ++s.op_histogram[n.domain.empty() ? n.op_type : n.domain + ":" + n.op_type];
    if (n.op_type == "Constant") {
      Tensor t = n.attr_tensor("value");
      if (t.defined()) {
        s.param_count += t.numel();
        s.param_bytes += static_cast<int64_t>(t.nbytes());
      }
    }
    LayerStats l;
    l.name = n.name;
    l.op_type = n.op_type;
    l.folded = p.folded[ni];
    int64_t out_elements = 0;
    for (int v : n.outputs) {
      if (v == kNoValue) continue;
      const ValueType& t = p.types[static_cast<size_t>(v)];
      l.output_shapes.push_back(t.str());
      if (!t.concrete_shape()) s.shapes_complete = false;
      out_elements += numel_or_zero(t);
      l.output_bytes += numel_or_zero(t) * static_cast<int64_t>(dtype_size(t.dtype));
    }
    if (!l.folded) {
      l.macs = layer_macs(g, n, p);
      l.flops = l.macs > 0 ? 2 * l.macs : out_elements;
    }
    s.total_macs += l.macs;
    s.total_flops += l.flops;
    s.layers.push_back(std::move(l));
  }
  return s;
}

}  // namespace ef
