// LayerNormalization fusion: before opset 17 exporters write layer norm as nine nodes,
//   mu = ReduceMean(x), d = x - mu, var = ReduceMean(d^2), y = d / Sqrt(var + eps) * gamma + beta,
// which this pass turns into one LayerNormalization over the reduced trailing axes: the standard op when the model's
// opset has it (>= 17), else ai.edgeforge LayerNormalization (same inputs, attributes and semantics), which the
// export's unfuse step writes back as the decomposed form.
#include <algorithm>

#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

class Matcher {
 public:
  Matcher(const Graph& g, const std::vector<int>& readers, const std::vector<bool>& removed)
      : g_(g), readers_(readers), removed_(removed) {}

  // The node producing `v` when it is `op_type`, `v` is read only once and the node is still there.
  const Node* single(int v, const char* op_type) {
    const int p = producer_of(g_, v);
    if (p < 0 || removed_[static_cast<size_t>(p)] || !single_use(g_, readers_, v)) return nullptr;
    const Node& n = g_.nodes[static_cast<size_t>(p)];
    if (!is_op(n, op_type)) return nullptr;
    nodes.push_back(static_cast<size_t>(p));
    return &n;
  }
  std::vector<size_t> nodes;

 private:
  const Graph& g_;
  const std::vector<int>& readers_;
  const std::vector<bool>& removed_;
};

// ReduceMean over trailing axes with keepdims; returns the first reduced axis as a negative index.
std::optional<int64_t> trailing_mean_axis(const Node& n, size_t rank) {
  if (n.version >= 18 || n.inputs.size() != 1 || n.attr_int("keepdims", 1) != 1 || !n.has_attr("axes")) {
    return std::nullopt;
  }
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (axes.empty()) return std::nullopt;
  for (int64_t& a : axes) a = a < 0 ? a : a - static_cast<int64_t>(rank);
  std::sort(axes.begin(), axes.end());
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != -static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i)) return std::nullopt;
  }
  return axes.front();
}

// gamma/beta as a tensor of exactly the normalized shape (leading 1s dropped), or undefined when they do not fit.
Tensor normalized_param(const Tensor& t, const Shape& normalized, size_t rank) {
  if (t.rank() > rank) return Tensor();
  Shape s = t.shape();
  while (s.size() > normalized.size() && s.front() == 1) s.erase(s.begin());
  if (s != normalized) return Tensor();
  return t.shape() == normalized ? t : Tensor::from_bytes(t.dtype(), normalized, t.raw(), t.nbytes());
}

class LayerNormFusion : public Pass {
 public:
  const char* name() const override { return "layernorm-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "ReduceMean -> Sub -> Pow(2)/Mul(d, d) -> ReduceMean -> Add(eps) -> Sqrt -> Div on float32 x of static rank, "
           "both ReduceMeans over the same trailing axes with keepdims (axes attribute), d read only by the square "
           "and the Div, every other intermediate read once and not a graph output; optional Mul(gamma) and "
           "Add(beta) with float32 initializers of exactly the normalized shape (after leading 1s), whose dims are "
           "then static";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    const std::vector<std::vector<int>> users = consumers(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t di = 0; di < g.nodes.size(); ++di) {
      const Node& div = g.nodes[di];
      if (removed[di] || !is_op(div, "Div") || div.version < 7 || div.inputs.size() != 2) continue;
      Matcher m(g, readers, removed);
      const int d = div.inputs[0];
      const Node* sqrt = m.single(div.inputs[1], "Sqrt");
      const Node* add = sqrt ? m.single(sqrt->inputs.at(0), "Add") : nullptr;
      if (add == nullptr || add->inputs.size() != 2) continue;
      int var = kNoValue;
      std::optional<float> eps;
      for (int k = 0; k < 2 && !eps; ++k) {
        eps = scalar_initializer(g, add->inputs[static_cast<size_t>(k)]);
        var = add->inputs[static_cast<size_t>(1 - k)];
      }
      const Node* mean2 = eps ? m.single(var, "ReduceMean") : nullptr;
      if (mean2 == nullptr) continue;
      const int sq = mean2->inputs.at(0);
      const int sqi = producer_of(g, sq);
      if (sqi < 0 || removed[static_cast<size_t>(sqi)] || !single_use(g, readers, sq)) continue;
      const Node& square = g.nodes[static_cast<size_t>(sqi)];
      const bool is_pow = is_op(square, "Pow") && square.inputs.size() == 2 && square.inputs[0] == d &&
                          scalar_initializer(g, square.inputs[1]) == 2.0f;
      const bool is_mul = is_op(square, "Mul") && square.inputs.size() == 2 && square.inputs[0] == d &&
                          square.inputs[1] == d;
      if (!is_pow && !is_mul) continue;
      m.nodes.push_back(static_cast<size_t>(sqi));
      // d feeds the square (once, or twice for Mul(d, d)) and the Div, nothing else.
      if (readers[static_cast<size_t>(d)] != (is_mul ? 3 : 2) || !single_use_besides(g, d)) continue;
      const int sub_i = producer_of(g, d);
      if (sub_i < 0 || removed[static_cast<size_t>(sub_i)]) continue;
      const Node& sub = g.nodes[static_cast<size_t>(sub_i)];
      if (!is_op(sub, "Sub") || sub.inputs.size() != 2) continue;
      m.nodes.push_back(static_cast<size_t>(sub_i));
      const int x = sub.inputs[0];
      const Node* mean1 = m.single(sub.inputs[1], "ReduceMean");
      if (mean1 == nullptr || mean1->inputs.at(0) != x || !is_float32(g, x)) continue;
      const ValueType& xt = g.values[static_cast<size_t>(x)].type;
      if (!xt.has_rank() || xt.rank() == 0) continue;
      std::optional<int64_t> axis = trailing_mean_axis(*mean1, xt.rank());
      if (!axis || trailing_mean_axis(*mean2, xt.rank()) != axis) continue;

      // Optional affine tail.
      size_t last = di;
      int gamma = kNoValue, beta = kNoValue;
      auto affine = [&](size_t node, const char* op, int& param) {
        const int out = g.nodes[node].outputs.at(0);
        if (!single_use(g, readers, out) || users[static_cast<size_t>(out)].size() != 1) return false;
        const size_t ui = static_cast<size_t>(users[static_cast<size_t>(out)][0]);
        const Node& u = g.nodes[ui];
        if (removed[ui] || !is_op(u, op) || u.version < 7 || u.inputs.size() != 2) return false;
        const int other = u.inputs[0] == out ? u.inputs[1] : u.inputs[0];
        if (float_initializer(g, other) == nullptr) return false;
        param = other;
        m.nodes.push_back(node);
        last = ui;
        return true;
      };
      if (affine(last, "Mul", gamma)) affine(last, "Add", beta);
      Shape normalized;
      bool static_dims = true;
      for (size_t i = xt.rank() + static_cast<size_t>(*axis); i < xt.rank(); ++i) {
        static_dims &= (*xt.dims)[i].known();
        normalized.push_back((*xt.dims)[i].value);
      }
      if (!static_dims) continue;  // gamma must be materialized in the normalized shape
      Tensor gt = gamma != kNoValue ? normalized_param(*float_initializer(g, gamma), normalized, xt.rank())
                                    : Tensor::zeros(DType::kFloat32, normalized);
      if (gamma == kNoValue) {
        for (int64_t i = 0; i < gt.numel(); ++i) gt.data<float>()[i] = 1.0f;
      }
      Tensor bt = beta != kNoValue ? normalized_param(*float_initializer(g, beta), normalized, xt.rank()) : Tensor();
      if (!gt.defined() || (beta != kNoValue && !bt.defined())) continue;
      if (!ctx.allow_rewrite()) break;

      const std::string base = div.name.empty() ? g.values[static_cast<size_t>(d)].name : div.name;
      const std::vector<int> outs = g.nodes[last].outputs;
      std::vector<int> ins{x, add_initializer(g, base + "_ln_scale", gt)};
      if (bt.defined()) ins.push_back(add_initializer(g, base + "_ln_bias", bt));
      const bool standard = standard_version("LayerNormalization", ctx.opset) == 17;
      Node ln = make_node(base + "_layernorm", "LayerNormalization", standard ? 17 : kEdgeForgeOpset, ins, outs,
                          standard ? "" : kEdgeForgeDomain);
      ln.attrs["axis"] = Attribute::of_int(*axis);
      ln.attrs["epsilon"] = Attribute::of_float(*eps);
      for (size_t k : m.nodes) removed[k] = true;
      removed[last] = false;
      g.nodes[last] = std::move(ln);
      ++count;
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }

 private:
  // `v` is not a graph output (node readers are counted by the caller).
  static bool single_use_besides(const Graph& g, int v) {
    return std::find(g.outputs.begin(), g.outputs.end(), v) == g.outputs.end();
  }
};

}  // namespace

std::unique_ptr<Pass> make_layernorm_fusion() { return std::make_unique<LayerNormFusion>(); }

}  // namespace ef
