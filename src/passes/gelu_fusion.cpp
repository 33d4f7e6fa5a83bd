// GELU fusion: the exact (erf) GELU, x * 0.5 * (1 + erf(x / sqrt(2))), is exported as five nodes in any of three
// association orders. It becomes one ai.edgeforge Gelu (ONNX has no Gelu before opset 20), which activation-fusion
// may then fold into a Conv/Gemm epilogue and the export's unfuse step writes back as the five-node form.
#include <cmath>

#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

bool near(float v, double want) { return std::abs(v - want) <= 1e-4 * std::abs(want); }

// The other operand of binary `n` when one operand is `v`.
int other_operand(const Node& n, int v) {
  if (n.inputs.size() != 2) return kNoValue;
  if (n.inputs[0] == v) return n.inputs[1];
  if (n.inputs[1] == v) return n.inputs[0];
  return kNoValue;
}

class GeluFusion : public Pass {
 public:
  const char* name() const override { return "gelu-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "float32 Erf(x / sqrt(2)) (Div by ~1.41421 or Mul by ~0.70711) + 1, multiplied by x and by 0.5 in any "
           "order (constants one-element float32 initializers within 1e-4 relative), every intermediate read once "
           "and not a graph output";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    const std::vector<std::vector<int>> users = consumers(g);
    std::vector<bool> removed(g.nodes.size(), false);
    // The single node reading `v` (once), or -1.
    auto only_user = [&](int v) {
      if (!single_use(g, readers, v) || users[static_cast<size_t>(v)].size() != 1) return -1;
      const int u = users[static_cast<size_t>(v)][0];
      return removed[static_cast<size_t>(u)] ? -1 : u;
    };
    auto is_mul_by = [&](const Node& n, int v, double c) {
      const int o = is_op(n, "Mul") && n.version >= 7 ? other_operand(n, v) : kNoValue;
      std::optional<float> s = o != kNoValue ? scalar_initializer(g, o) : std::nullopt;
      return s && near(*s, c);
    };
    int count = 0;
    for (size_t ei = 0; ei < g.nodes.size(); ++ei) {
      const Node& erf = g.nodes[ei];
      if (removed[ei] || !is_op(erf, "Erf") || erf.inputs.size() != 1 || !is_float32(g, erf.outputs.at(0))) continue;
      const int di = producer_of(g, erf.inputs[0]);
      if (di < 0 || removed[static_cast<size_t>(di)] || only_user(erf.inputs[0]) != static_cast<int>(ei)) continue;
      const Node& scale = g.nodes[static_cast<size_t>(di)];
      if (scale.inputs.size() != 2 || scale.version < 7) continue;
      const int x = scale.inputs[0];
      std::optional<float> c = scalar_initializer(g, scale.inputs[1]);
      const bool by_sqrt2 = c && ((is_op(scale, "Div") && near(*c, std::sqrt(2.0))) ||
                                  (is_op(scale, "Mul") && near(*c, 1.0 / std::sqrt(2.0))));
      if (!by_sqrt2 || !is_float32(g, x)) continue;
      const int ai = only_user(erf.outputs[0]);
      if (ai < 0) continue;
      const Node& add = g.nodes[static_cast<size_t>(ai)];
      const int one = is_op(add, "Add") && add.version >= 7 ? other_operand(add, erf.outputs[0]) : kNoValue;
      std::optional<float> one_v = one != kNoValue ? scalar_initializer(g, one) : std::nullopt;
      if (!one_v || *one_v != 1.0f) continue;
      const int p = add.outputs.at(0);
      const int mi = only_user(p);
      if (mi < 0) continue;
      const Node& mul = g.nodes[static_cast<size_t>(mi)];
      if (!is_op(mul, "Mul") || mul.version < 7) continue;
      const int partner = other_operand(mul, p);
      std::vector<size_t> nodes{static_cast<size_t>(di), ei, static_cast<size_t>(ai), static_cast<size_t>(mi)};
      size_t last = static_cast<size_t>(mi);
      if (partner == x) {  // (x * p) * 0.5
        const int hi = only_user(mul.outputs.at(0));
        if (hi < 0 || !is_mul_by(g.nodes[static_cast<size_t>(hi)], mul.outputs[0], 0.5)) continue;
        last = static_cast<size_t>(hi);
      } else if (partner != kNoValue && is_mul_by(g.nodes[static_cast<size_t>(mi)], p, 0.5)) {  // x * (p * 0.5)
        const int hi = only_user(mul.outputs.at(0));
        if (hi < 0) continue;
        const Node& top = g.nodes[static_cast<size_t>(hi)];
        if (!is_op(top, "Mul") || top.version < 7 || other_operand(top, mul.outputs[0]) != x) continue;
        last = static_cast<size_t>(hi);
      } else {  // (x * 0.5) * p
        const int hi = producer_of(g, partner);
        if (hi < 0 || removed[static_cast<size_t>(hi)] || only_user(partner) != mi ||
            !is_mul_by(g.nodes[static_cast<size_t>(hi)], x, 0.5)) {
          continue;
        }
        nodes.push_back(static_cast<size_t>(hi));
      }
      if (!ctx.allow_rewrite()) break;
      Node gelu = make_node(erf.name.empty() ? g.values[static_cast<size_t>(x)].name + "_gelu" : erf.name, "Gelu",
                            kEdgeForgeOpset, {x}, g.nodes[last].outputs, kEdgeForgeDomain);
      for (size_t k : nodes) removed[k] = true;
      removed[last] = false;
      g.nodes[last] = std::move(gelu);
      ++count;
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_gelu_fusion() { return std::make_unique<GeluFusion>(); }

}  // namespace ef
