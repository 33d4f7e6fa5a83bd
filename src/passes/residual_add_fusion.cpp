// Residual Add fusion: Add(Conv(x), z) with z of the same shape as the Conv output becomes FusedConv(x, W, B, Z=z),
// so the skip connection of ResNet-style blocks is added in the convolution's epilogue. The activation after the
// Add fuses afterwards (activation-fusion), giving act(Conv(x) + z) in one node.
#include <algorithm>

#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// A convolution whose output may take a residual: plain Conv, or FusedConv with neither residual nor activation
// (the activation would have to apply before the Add, which the fused form cannot express).
bool takes_residual(const Node& n) {
  if (is_op(n, "Conv")) return n.inputs.size() >= 2 && n.outputs.size() == 1;
  return n.domain == kEdgeForgeDomain && n.op_type == "FusedConv" && n.attr_string("activation", "").empty() &&
         (n.inputs.size() < 4 || n.inputs[3] == kNoValue);
}

class ResidualAddFusion : public Pass {
 public:
  const char* name() const override { return "residual-add-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "Add (>= 7) of a float32 Conv/FusedConv output (read only by the Add, not a graph output; FusedConv "
           "without residual or activation) and another float32 value whose static shape provably equals it";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t ai = 0; ai < g.nodes.size(); ++ai) {
      const Node& add = g.nodes[ai];
      if (!is_op(add, "Add") || add.version < 7 || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
      if (!is_float32(g, add.outputs[0])) continue;
      for (int k = 0; k < 2; ++k) {
        const int y = add.inputs[static_cast<size_t>(k)];
        const int z = add.inputs[static_cast<size_t>(1 - k)];
        const int ci = producer_of(g, y);
        if (ci < 0 || removed[static_cast<size_t>(ci)] || y == z || !single_use(g, readers, y)) continue;
        const Node& conv = g.nodes[static_cast<size_t>(ci)];
        if (!takes_residual(conv) || !is_float32(g, y) || !is_float32(g, z)) continue;
        const ValueType& yt = g.values[static_cast<size_t>(y)].type;
        if (!same_static_dims(yt, g.values[static_cast<size_t>(z)].type)) continue;
        if (!ctx.allow_rewrite()) return finish_rewrites(g, removed, count);
        Node fused = as_edgeforge_op(conv, "FusedConv");
        if (!fused.has_attr("activation")) set_fused_activation(fused, cpu::Activation{});
        fused.inputs.resize(4, kNoValue);
        fused.inputs[3] = z;
        fused.outputs = add.outputs;
        // At the Add's position both the Conv's inputs and z are defined.
        g.nodes[ai] = std::move(fused);
        removed[static_cast<size_t>(ci)] = true;
        ++count;
        break;
      }
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_residual_add_fusion() { return std::make_unique<ResidualAddFusion>(); }

}  // namespace ef
