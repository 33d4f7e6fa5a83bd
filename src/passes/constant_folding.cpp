// Constant folding: a node whose every input is an initializer (or that has none, like Constant) is evaluated once
// with its reference kernel and replaced by initializers holding its outputs. Nodes whose outputs inference can
// compute from static types alone (Shape/Size of a statically shaped value) are folded the same way.
#include <algorithm>

#include "ops/registry.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"
#include "runtime/node_runner.h"

namespace ef {
namespace {

// Folding may turn a few input elements into at most this many output elements. Beyond it, a node that expands
// its inputs (ConstantOfShape, Expand, Tile, broadcasting) stays: cheap to run, costly to store in the file.
constexpr int64_t kMaxExpandedElements = 4096;

class ConstantFolding : public Pass {
 public:
  const char* name() const override { return "constant-folding"; }
  int level() const override { return 1; }
  const char* precondition() const override {
    return "every input is an initializer, or inference computes every output; no subgraph attribute, not a random "
           "op, no output is a graph output; the outputs hold at most fold_max_elements elements in total and no more "
           "than the inputs do unless at most 4096";
  }

  int run(Graph& g, PassContext& ctx) override {
    std::vector<Tensor> known = infer_types(g);
    std::vector<bool> is_output = graph_output_mask(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
      const Node& n = g.nodes[ni];
      if (!foldable(g, n, is_output)) continue;
      std::vector<Tensor> outputs;
      if (!evaluate(g, n, known, ctx.fold_max_elements, outputs)) continue;
      if (!ctx.allow_rewrite()) break;
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        int v = n.outputs[k];
        if (v == kNoValue) continue;
        Value& val = g.values[static_cast<size_t>(v)];
        val.initializer = outputs[k];
        val.type = ValueType{outputs[k].dtype(), dims_of(outputs[k].shape())};
        val.producer = -1;
        known[static_cast<size_t>(v)] = outputs[k];  // later nodes in this sweep fold on top of it
      }
      removed[ni] = true;
      ++count;
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }

 private:
  static bool foldable(const Graph& g, const Node& n, const std::vector<bool>& is_output) {
    if (n.outputs.empty() || has_subgraph(n) || is_random_op(n)) return false;
    // DequantizeLinear of constant weights is how a quantized model stores them: folding would write float
    // weights (4x the file) and hide the QDQ pattern from qdq-fusion. The planner folds them at plan time.
    if (n.domain.empty() && n.op_type == "DequantizeLinear") return false;
    bool any_output = false;
    for (int v : n.outputs) {
      if (v == kNoValue) continue;
      any_output = true;
      // Graph outputs stay node outputs: their declared types and names are the model's interface.
      if (is_output[static_cast<size_t>(v)]) return false;
    }
    return any_output;
  }

  // Fills `outputs` and returns true when the node's outputs can be computed now within the size cap.
  static bool evaluate(const Graph& g, const Node& n, const std::vector<Tensor>& known, int64_t cap,
                       std::vector<Tensor>& outputs) {
    const OpDef* def = OpRegistry::global().find(n.domain, n.op_type);
    if (def == nullptr || def->infer == nullptr || def->kernel == nullptr || n.version < def->min_version ||
        n.version > def->max_version) {
      return false;
    }
    std::vector<const Tensor*> inputs(n.inputs.size(), nullptr);
    std::vector<const ValueType*> types(n.inputs.size(), nullptr);
    bool all_inputs_known = true;
    // A Constant's value already sits in the file as an attribute: moving it to an initializer grows nothing.
    int64_t input_elements = n.op_type == "Constant" && n.domain.empty() ? cap : 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      int v = n.inputs[k];
      if (v == kNoValue) continue;
      const Value& val = g.values[static_cast<size_t>(v)];
      if (val.type.dtype == DType::kUndefined) return false;
      types[k] = &val.type;
      if (known[static_cast<size_t>(v)].defined()) {
        inputs[k] = &known[static_cast<size_t>(v)];
        input_elements += inputs[k]->numel();
      } else {
        all_inputs_known = false;
      }
    }
    try {
      // Inference first: it may know the outputs already (Shape), and it bounds their size before any kernel runs.
      std::vector<Tensor> inferred;
      std::vector<ValueType> out_types = infer_node(*def, n, types, inputs, inferred);
      bool all_inferred = true;
      int64_t elements = 0;
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        if (n.outputs[k] == kNoValue) continue;
        if (inferred[k].defined()) {
          elements += inferred[k].numel();
          continue;
        }
        all_inferred = false;
        if (auto shape = out_types[k].concrete_shape()) elements += shape_numel(*shape);
      }
      if (elements > std::min(cap, std::max(input_elements, kMaxExpandedElements))) return false;
      if (all_inferred) {
        outputs = std::move(inferred);
        return true;
      }
      if (!all_inputs_known) return false;
      run_node(*def, n, inputs, outputs, nullptr, 1);
    } catch (const std::exception&) {
      return false;  // the runtime will report the same failure, with the node named, if the node is ever run
    }
    int64_t elements = 0;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] == kNoValue) continue;
      if (k >= outputs.size() || !outputs[k].defined()) return false;
      elements += outputs[k].numel();
    }
    // Data-dependent output sizes are only known after the kernel ran.
    return elements <= std::min(cap, std::max(input_elements, kMaxExpandedElements));
  }
};

}  // namespace

std::unique_ptr<Pass> make_constant_folding() { return std::make_unique<ConstantFolding>(); }

}  // namespace ef
