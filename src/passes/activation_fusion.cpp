// Activation fusion: an activation applied to the output of a Conv or Gemm (or of a FusedConv/FusedGemm that has
// no activation yet) becomes that node's epilogue, so the fast kernels apply it while the result is still in
// registers instead of in a second pass over memory. The producer becomes ai.edgeforge FusedConv/FusedGemm.
//
// Recognized activations: Relu, Clip (constant or absent bounds), LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh,
// ai.edgeforge Gelu (what gelu-fusion makes of the erf pattern), SiLU written as x * Sigmoid(x) and HardSwish
// written as x * HardSigmoid(x; 1/6, 1/2).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// The producer kinds an activation can fuse into, or "" when `n` cannot take one.
const char* fused_target(const Node& n) {
  if (is_op(n, "Conv") && n.inputs.size() >= 2) return "FusedConv";
  if (is_op(n, "Gemm") && n.version >= 7 && n.inputs.size() >= 2) return "FusedGemm";
  if (n.domain == kEdgeForgeDomain && (n.op_type == "FusedConv" || n.op_type == "FusedGemm") &&
      n.attr_string("activation", "").empty()) {
    return n.op_type == "FusedConv" ? "FusedConv" : "FusedGemm";
  }
  return "";
}

// The activation a single-input node computes on its input 0, or nullopt when it is not one we fuse.
std::optional<cpu::Activation> activation_of(const Graph& g, const Node& n) {
  if (n.outputs.size() != 1 || n.inputs.empty()) return std::nullopt;
  return activation_of_node(n, [&](size_t k) { return scalar_initializer(g, n.inputs[k]); });
}

// The activation x * gate(x) is, for the gate node `s`: SiLU for Sigmoid, HardSwish for HardSigmoid(1/6, 1/2).
std::optional<cpu::ActKind> gated_kind(const Node& s) {
  if (s.outputs.size() != 1 || s.inputs.empty()) return std::nullopt;
  if (is_op(s, "Sigmoid")) return cpu::ActKind::kSilu;
  if (is_op(s, "HardSigmoid") && std::abs(s.attr_float("alpha", 0.2f) - 1.0f / 6.0f) <= 1e-6f &&
      s.attr_float("beta", 0.5f) == 0.5f) {
    return cpu::ActKind::kHardSwish;
  }
  return std::nullopt;
}

class ActivationFusion : public Pass {
 public:
  const char* name() const override { return "activation-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "the producer is Conv, Gemm (>= 7) or an ai.edgeforge FusedConv/FusedGemm without activation, with a "
           "float32 output read only by the activation (for SiLU/HardSwish: only by the Sigmoid/HardSigmoid and the "
           "Mul, the gate's output only by the Mul), not a graph output; Clip bounds are float32 scalar initializers or absent";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    const std::vector<std::vector<int>> users = consumers(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t pi = 0; pi < g.nodes.size(); ++pi) {
      const Node& p = g.nodes[pi];
      if (removed[pi] || p.outputs.size() != 1 || !is_float32(g, p.outputs[0])) continue;
      const char* target = fused_target(p);
      if (*target == '\0') continue;
      const int y = p.outputs[0];
      if (std::find(g.outputs.begin(), g.outputs.end(), y) != g.outputs.end()) continue;
      std::optional<cpu::Activation> act;
      int last = -1;           // the node whose output the fused node writes
      int extra = -1;          // a second node the pattern consumes (SiLU's Sigmoid)
      const std::vector<int>& u = users[static_cast<size_t>(y)];
      if (readers[static_cast<size_t>(y)] == 1 && u.size() == 1) {
        const Node& a = g.nodes[static_cast<size_t>(u[0])];
        if (!a.inputs.empty() && a.inputs[0] == y) act = activation_of(g, a);
        last = u[0];
      } else if (readers[static_cast<size_t>(y)] == 2 && u.size() == 2) {
        // SiLU: Mul(y, Sigmoid(y)); HardSwish: Mul(y, HardSigmoid(y; 1/6, 1/2)); either operand order.
        for (int k = 0; k < 2 && !act; ++k) {
          const Node& s = g.nodes[static_cast<size_t>(u[k])];
          const Node& m = g.nodes[static_cast<size_t>(u[1 - k])];
          const std::optional<cpu::ActKind> gate = gated_kind(s);
          if (!gate || s.inputs.at(0) != y || !is_op(m, "Mul") || m.version < 7 || m.inputs.size() != 2) continue;
          const int sv = s.outputs.at(0);
          if (!single_use(g, readers, sv)) continue;
          if ((m.inputs[0] == y && m.inputs[1] == sv) || (m.inputs[0] == sv && m.inputs[1] == y)) {
            act = cpu::Activation{*gate};
            last = u[1 - k];
            extra = u[k];
          }
        }
      }
      if (!act || last < 0 || removed[static_cast<size_t>(last)]) continue;
      if (!is_float32(g, g.nodes[static_cast<size_t>(last)].outputs.at(0))) continue;
      if (!ctx.allow_rewrite()) break;

      Node fused = as_edgeforge_op(p, target);
      set_fused_activation(fused, *act);
      fused.outputs = g.nodes[static_cast<size_t>(last)].outputs;
      // The fused node takes the activation's place: everything it reads is defined before the producer, hence
      // before the activation, and every reader of the activation's output comes after it.
      g.nodes[static_cast<size_t>(last)] = std::move(fused);
      removed[pi] = true;
      if (extra >= 0) removed[static_cast<size_t>(extra)] = true;
      ++count;
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_activation_fusion() { return std::make_unique<ActivationFusion>(); }

}  // namespace ef
