// Reshape merging: a Reshape to a constant shape does not care how its input was shaped, so when that input comes
// from another Reshape (or Flatten, Squeeze, Unsqueeze) it may read the original tensor directly. The earlier node
// then usually has no reader left and dead-node elimination removes it.
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

bool is_reshape_like(const Node& n) {
  return (is_op(n, "Reshape") || is_op(n, "Flatten") || is_op(n, "Squeeze") || is_op(n, "Unsqueeze")) &&
         !n.inputs.empty() && n.inputs[0] != kNoValue && n.outputs.size() == 1;
}

class ReshapeMerging : public Pass {
 public:
  const char* name() const override { return "reshape-merging"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "Reshape (>= 5) with a constant int64 target shape holding no 0 entry unless allowzero = 1 (0 would copy a "
           "dim of the intermediate shape), whose data input is a Reshape/Flatten/Squeeze/Unsqueeze output that no "
           "subgraph captures";
  }

  int run(Graph& g, PassContext& ctx) override {
    const std::vector<bool> captured = captured_mask(g);
    int count = 0;
    for (size_t ri = 0; ri < g.nodes.size(); ++ri) {
      Node& r = g.nodes[ri];
      if (!is_op(r, "Reshape") || r.version < 5 || r.inputs.size() != 2) continue;
      std::optional<std::vector<int64_t>> shape = int64_initializer(g, r.inputs[1]);
      if (!shape) continue;
      const bool allowzero = r.attr_int("allowzero", 0) != 0;
      bool copies_dim = false;
      for (int64_t d : *shape) copies_dim |= d == 0 && !allowzero;
      if (copies_dim) continue;
      const int mid = r.inputs[0];
      const int pi = producer_of(g, mid);
      if (pi < 0 || captured[static_cast<size_t>(mid)] || !is_reshape_like(g.nodes[static_cast<size_t>(pi)])) continue;
      if (!ctx.allow_rewrite()) break;
      r.inputs[0] = g.nodes[static_cast<size_t>(pi)].inputs[0];
      ++count;
    }
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_reshape_merging() { return std::make_unique<ReshapeMerging>(); }

}  // namespace ef
