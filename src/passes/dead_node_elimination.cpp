// Dead-node elimination: nodes none of whose outputs reach a graph output are removed. Walking back to front, a
// node is live when a graph output, a live node's input or a live node's subgraph capture reads one of its outputs.
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

class DeadNodeElimination : public Pass {
 public:
  const char* name() const override { return "dead-node-elimination"; }
  int level() const override { return 1; }
  const char* precondition() const override {
    return "no output of the node is read by a graph output, a live node or a live node's subgraph; nodes with "
           "subgraphs follow the same rule (they are removed only when all their outputs are unused)";
  }

  int run(Graph& g, PassContext& ctx) override {
    std::vector<bool> used = graph_output_mask(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t i = g.nodes.size(); i-- > 0;) {
      const Node& n = g.nodes[i];
      bool live = false;
      for (int v : n.outputs) live |= v != kNoValue && used[static_cast<size_t>(v)];
      if (!live && ctx.allow_rewrite()) {
        removed[i] = true;
        ++count;
        continue;
      }
      for (int v : n.inputs) {
        if (v != kNoValue) used[static_cast<size_t>(v)] = true;
      }
      if (has_subgraph(n)) {
        for (int v : g.captured_values(n)) used[static_cast<size_t>(v)] = true;
      }
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_dead_node_elimination() { return std::make_unique<DeadNodeElimination>(); }

}  // namespace ef
