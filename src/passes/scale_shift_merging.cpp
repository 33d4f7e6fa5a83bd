// Scale-shift merging: a chain of Mul/Add/Sub/Div by constants, x -> ((x * a + b) / c - d) ..., is one affine map
// x * S + T. The chain is rewritten as at most one Mul and one Add with S and T computed ahead of time. Broadcasting
// is associative, so the merged nodes produce exactly the chain's output shape.
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// One chain step: which input carries the chain value and the constant operand.
struct Step {
  size_t node;
  int data_slot;  // 0 or 1
  const Tensor* constant;
};

// `n` is an affine step on the chain value `v` with a float32 initializer operand.
std::optional<Step> as_step(const Graph& g, size_t ni, int v) {
  const Node& n = g.nodes[ni];
  const bool ok_op = is_op(n, "Mul") || is_op(n, "Add") || is_op(n, "Sub") || is_op(n, "Div");
  if (!ok_op || n.version < 7 || n.inputs.size() != 2 || n.outputs.size() != 1) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    if (n.inputs[static_cast<size_t>(k)] != v) continue;
    if (k == 1 && n.op_type == "Div") return std::nullopt;  // c / x is not affine
    const Tensor* c = float_initializer(g, n.inputs[static_cast<size_t>(1 - k)]);
    if (c == nullptr || !is_float32(g, v) || !is_float32(g, n.outputs[0])) return std::nullopt;
    return Step{ni, k, c};
  }
  return std::nullopt;
}

class ScaleShiftMerging : public Pass {
 public:
  const char* name() const override { return "scale-shift-merging"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "two or more consecutive Mul/Add/Sub/Div (>= 7) on float32 values, each with one float32 initializer "
           "operand (Div only with the chain value as dividend), every intermediate read only by the next step and "
           "not a graph output; rewritten only when the merged form has fewer nodes";
  }

  int run(Graph& g, PassContext& ctx) override {
    const int mul_version = standard_version("Mul", ctx.opset);
    if (mul_version < 7) return 0;
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    const std::vector<std::vector<int>> users = consumers(g);
    std::vector<bool> removed(g.nodes.size(), false), in_chain(g.nodes.size(), false);
    int count = 0;
    for (size_t start = 0; start < g.nodes.size(); ++start) {
      if (in_chain[start]) continue;
      const Node& first = g.nodes[start];
      if (first.inputs.size() != 2) continue;
      std::optional<Step> s;
      for (int v : first.inputs) {
        if (!s) s = as_step(g, start, v);
      }
      if (!s) continue;
      std::vector<Step> chain{*s};
      for (;;) {
        const int out = g.nodes[chain.back().node].outputs[0];
        if (!single_use(g, readers, out) || users[static_cast<size_t>(out)].size() != 1) break;
        std::optional<Step> next = as_step(g, static_cast<size_t>(users[static_cast<size_t>(out)][0]), out);
        if (!next) break;
        chain.push_back(*next);
      }
      for (const Step& st : chain) in_chain[st.node] = true;
      if (chain.size() < 2) continue;

      // Compose x * S + T step by step; S stays undefined until a scaling step appears.
      Tensor scale, shift;
      const Tensor minus_one = Tensor::scalar(DType::kFloat32, -1.0f);
      for (const Step& st : chain) {
        const std::string& op = g.nodes[st.node].op_type;
        const Tensor& c = *st.constant;
        if (op == "Mul" || op == "Div") {
          const char* f = op == "Mul" ? "Mul" : "Div";
          scale = scale.defined() ? eval_binary(f, scale, c) : op == "Mul" ? c : eval_binary("Div", Tensor::scalar(DType::kFloat32, 1.0f), c);
          if (shift.defined()) shift = eval_binary(f, shift, c);
        } else if (op == "Add" || (op == "Sub" && st.data_slot == 0)) {
          const Tensor term = op == "Add" ? c : eval_binary("Mul", c, minus_one);
          shift = shift.defined() ? eval_binary("Add", shift, term) : term;
        } else {  // c - x: negate the map, then add c
          scale = scale.defined() ? eval_binary("Mul", scale, minus_one) : minus_one;
          shift = shift.defined() ? eval_binary("Sub", c, shift) : c;
        }
      }
      const size_t merged = (scale.defined() ? 1 : 0) + (shift.defined() ? 1 : 0);
      if (merged >= chain.size() || merged == 0) continue;
      if (!ctx.allow_rewrite()) break;

      const Node& head = g.nodes[chain.front().node];
      const int x = head.inputs[static_cast<size_t>(chain.front().data_slot)];
      const int y = g.nodes[chain.back().node].outputs[0];
      const std::string base = head.name.empty() ? g.values[static_cast<size_t>(y)].name : head.name;
      const int add_version = standard_version("Add", ctx.opset);
      for (const Step& st : chain) removed[st.node] = true;
      if (scale.defined() && shift.defined()) {
        const int s = add_initializer(g, base + "_merged_scale", scale);
        const int t = add_initializer(g, base + "_merged_shift", shift);
        const int mid = add_intermediate(g, base + "_scaled", DType::kFloat32);
        // The Mul takes the first step's slot (x is defined before it), the Add the last step's (readers of y
        // come after it).
        g.nodes[chain.front().node] = make_node(base + "_scale", "Mul", mul_version, {x, s}, {mid});
        g.nodes[chain.back().node] = make_node(base + "_shift", "Add", add_version, {mid, t}, {y});
        removed[chain.front().node] = false;
      } else if (scale.defined()) {
        const int s = add_initializer(g, base + "_merged_scale", scale);
        g.nodes[chain.back().node] = make_node(base + "_scale", "Mul", mul_version, {x, s}, {y});
      } else {
        const int t = add_initializer(g, base + "_merged_shift", shift);
        g.nodes[chain.back().node] = make_node(base + "_shift", "Add", add_version, {x, t}, {y});
      }
      removed[chain.back().node] = false;
      ++count;
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_scale_shift_merging() { return std::make_unique<ScaleShiftMerging>(); }

}  // namespace ef
