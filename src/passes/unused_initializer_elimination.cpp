// Unused-initializer elimination: initializers no node, graph output or subgraph capture reads are dropped (they
// would otherwise still be written to the optimized file).
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

class UnusedInitializerElimination : public Pass {
 public:
  const char* name() const override { return "unused-initializer-elimination"; }
  int level() const override { return 1; }
  const char* precondition() const override {
    return "the initializer is read by no node input, graph output or subgraph capture (graph inputs are never "
           "removed: they are the model's interface)";
  }

  int run(Graph& g, PassContext& ctx) override {
    std::vector<int> readers = reader_counts(g);
    int count = 0;
    for (size_t v = 0; v < g.values.size(); ++v) {
      if (!g.values[v].initializer.defined() || readers[v] > 0) continue;
      if (!ctx.allow_rewrite()) break;
      g.values[v].initializer = Tensor();
      ++count;
    }
    if (count > 0) compact_values(g);
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_unused_initializer_elimination() {
  return std::make_unique<UnusedInitializerElimination>();
}

}  // namespace ef
