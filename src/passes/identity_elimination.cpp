// Identity / inference-mode Dropout elimination: both copy their input, so consumers can read the input directly.
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

// Dropout is a copy when it cannot be training: no training_mode input (opset < 12 models are inference graphs
// in every runtime we target), or training_mode is a constant false. Its mask output, if read, is not a copy.
bool dropout_is_copy(const Graph& g, const Node& n) {
  if (n.outputs.size() > 1 && n.outputs[1] != kNoValue) {
    const int mask = n.outputs[1];
    for (const Node& other : g.nodes) {
      for (int v : other.inputs) {
        if (v == mask) return false;
      }
    }
    for (int v : g.outputs) {
      if (v == mask) return false;
    }
  }
  if (n.attr_int("is_test", 1) == 0 && n.version < 7) return false;  // Dropout-1/6 in training mode
  if (n.inputs.size() < 3 || n.inputs[2] == kNoValue) return true;
  const Tensor& mode = g.values[static_cast<size_t>(n.inputs[2])].initializer;
  return mode.defined() && mode.numel() == 1 && mode.value_as_int(0) == 0;
}

class IdentityElimination : public Pass {
 public:
  const char* name() const override { return "identity-elimination"; }
  int level() const override { return 1; }
  const char* precondition() const override {
    return "standard-domain Identity, or Dropout whose training_mode is absent or a constant false and whose mask "
           "output is unread";
  }

  int run(Graph& g, PassContext& ctx) override {
    return bypass_nodes_where(g, ctx, [&g](const Node& n) {
      if (!n.domain.empty()) return false;
      return (n.op_type == "Identity" && n.inputs.size() == 1 && n.outputs.size() == 1) ||
             (n.op_type == "Dropout" && dropout_is_copy(g, n));
    });
  }
};

}  // namespace

std::unique_ptr<Pass> make_identity_elimination() { return std::make_unique<IdentityElimination>(); }

}  // namespace ef
