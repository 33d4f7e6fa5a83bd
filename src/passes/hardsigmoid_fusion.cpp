// HardSigmoid fusion: exporters write hard-sigmoid (and the gate of hard-swish) as arithmetic around a Clip, e.g.
// Clip(x + 3, 0, 6) / 6. Since Clip(z, 0, hi) * s = Clip(z * s, 0, hi * s) for s > 0, the whole chain
// (x * a + b) -> Clip(0, hi) -> * s with hi * s = 1 is HardSigmoid(x; alpha = a * s, beta = b * s): one node instead of
// up to four, and the x * HardSigmoid(x) that remains is what activation-fusion recognizes as HardSwish.
#include <cmath>
#include <limits>

#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// The one-element float32 constant operand of a binary node on `data`, when it cannot broadcast `data` to a higher
// rank (a [1, 1, 1] "scalar" would).
std::optional<float> scalar_operand(const Graph& g, int c, int data) {
  const Tensor* t = float_initializer(g, c);
  if (t == nullptr || t->numel() != 1) return std::nullopt;
  const ValueType& dt = g.values[static_cast<size_t>(data)].type;
  if (t->rank() > 0 && (!dt.has_rank() || dt.rank() < t->rank())) return std::nullopt;
  return t->data<float>()[0];
}

// Binary node `n` applies op_type to `data` and a scalar constant (either operand order unless ordered).
std::optional<float> scalar_step(const Graph& g, const Node& n, const char* op_type, int data, bool ordered) {
  if (!is_op(n, op_type) || n.version < 7 || n.inputs.size() != 2) return std::nullopt;
  if (n.inputs[0] == data) return scalar_operand(g, n.inputs[1], data);
  if (!ordered && n.inputs[1] == data) return scalar_operand(g, n.inputs[0], data);
  return std::nullopt;
}

// Clip bounds when both are known constants.
std::optional<std::pair<float, float>> clip_bounds(const Graph& g, const Node& clip) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (clip.version < 11) return std::make_pair(clip.attr_float("min", -kInf), clip.attr_float("max", kInf));
  std::pair<float, float> b{-kInf, kInf};
  for (size_t k = 1; k < 3 && k < clip.inputs.size(); ++k) {
    if (clip.inputs[k] == kNoValue) continue;
    std::optional<float> v = scalar_initializer(g, clip.inputs[k]);
    if (!v) return std::nullopt;
    (k == 1 ? b.first : b.second) = *v;
  }
  return b;
}

class HardSigmoidFusion : public Pass {
 public:
  const char* name() const override { return "hardsigmoid-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "float32 Clip with constant bounds [0, hi], hi finite, whose input is x, x + b or x * a + b (Add/Mul >= 7 "
           "with one-element constants that add no dims, intermediates read once) and whose output is either read "
           "once by a Mul/Div by a positive one-element constant s with |hi * s - 1| <= 1e-6, or by Mul(x, clip) whose "
           "output is read once by such a Mul/Div (hard-swish), or hi == 1; no intermediate is a graph output";
  }

  int run(Graph& g, PassContext& ctx) override {
    const int version = standard_version("HardSigmoid", ctx.opset);
    if (version < 6) return 0;
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    const std::vector<std::vector<int>> users = consumers(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t ci = 0; ci < g.nodes.size(); ++ci) {
      const Node& clip = g.nodes[ci];
      if (removed[ci] || !is_op(clip, "Clip") || clip.inputs.empty() || clip.outputs.size() != 1) continue;
      if (!is_float32(g, clip.outputs[0])) continue;
      std::optional<std::pair<float, float>> bounds = clip_bounds(g, clip);
      if (!bounds || bounds->first != 0.0f || !std::isfinite(bounds->second) || bounds->second <= 0) continue;
      // Walk back over x * a + b.
      std::vector<size_t> chain;
      int x = clip.inputs[0];
      double a = 1.0, b = 0.0;
      int pi = producer_of(g, x);
      if (pi >= 0 && !removed[static_cast<size_t>(pi)] && single_use(g, readers, x)) {
        const Node& add = g.nodes[static_cast<size_t>(pi)];
        for (int k = 0; k < 2 && add.inputs.size() == 2; ++k) {
          std::optional<float> bv = scalar_step(g, add, "Add", add.inputs[static_cast<size_t>(k)], false);
          if (!bv || !is_float32(g, add.inputs[static_cast<size_t>(k)])) continue;
          b = *bv;
          chain.push_back(static_cast<size_t>(pi));
          x = add.inputs[static_cast<size_t>(k)];
          break;
        }
      }
      pi = producer_of(g, x);
      if (!chain.empty() && pi >= 0 && !removed[static_cast<size_t>(pi)] && single_use(g, readers, x)) {
        const Node& mul = g.nodes[static_cast<size_t>(pi)];
        for (int k = 0; k < 2 && mul.inputs.size() == 2; ++k) {
          std::optional<float> av = scalar_step(g, mul, "Mul", mul.inputs[static_cast<size_t>(k)], false);
          if (!av || !is_float32(g, mul.inputs[static_cast<size_t>(k)])) continue;
          a = *av;
          chain.push_back(static_cast<size_t>(pi));
          x = mul.inputs[static_cast<size_t>(k)];
          break;
        }
      }
      // Forward over the final scale.
      double s = 1.0;
      size_t last = ci;
      const int y = clip.outputs[0];
      if (single_use(g, readers, y) && users[static_cast<size_t>(y)].size() == 1) {
        const size_t ui = static_cast<size_t>(users[static_cast<size_t>(y)][0]);
        const Node& u = g.nodes[ui];
        std::optional<float> sv = scalar_step(g, u, "Mul", y, false);
        std::optional<float> dv = scalar_step(g, u, "Div", y, true);
        if (sv && *sv > 0) {
          s = *sv;
          last = ui;
        } else if (dv && *dv > 0) {
          s = 1.0 / *dv;
          last = ui;
        }
      }
      // Hard-swish with the scale applied after the product: Mul(x, Clip(...)) / s. The gate becomes a HardSigmoid
      // in the Clip's place and the product moves to the scale's place.
      size_t gate_mul = ci;
      if (last == ci && single_use(g, readers, y) && users[static_cast<size_t>(y)].size() == 1) {
        const size_t mi = static_cast<size_t>(users[static_cast<size_t>(y)][0]);
        const Node& m = g.nodes[mi];
        const bool product = is_op(m, "Mul") && m.version >= 7 && m.inputs.size() == 2 &&
                             ((m.inputs[0] == x && m.inputs[1] == y) || (m.inputs[0] == y && m.inputs[1] == x));
        const int mo = product ? m.outputs.at(0) : kNoValue;
        if (product && single_use(g, readers, mo) && users[static_cast<size_t>(mo)].size() == 1) {
          const size_t ti = static_cast<size_t>(users[static_cast<size_t>(mo)][0]);
          std::optional<float> sv = scalar_step(g, g.nodes[ti], "Mul", mo, false);
          std::optional<float> dv = scalar_step(g, g.nodes[ti], "Div", mo, true);
          if ((sv && *sv > 0) || (dv && *dv > 0)) {
            s = sv ? *sv : 1.0 / *dv;
            gate_mul = mi;
            last = ti;
          }
        }
      }
      if (std::abs(bounds->second * s - 1.0) > 1e-6 || removed[last] || removed[gate_mul]) continue;
      if (!ctx.allow_rewrite()) break;
      const std::string base = clip.name.empty() ? g.values[static_cast<size_t>(y)].name : clip.name;
      const int mul_version = standard_version("Mul", ctx.opset);
      Node hs = make_node(base, "HardSigmoid", version, {x}, g.nodes[last].outputs);
      hs.attrs["alpha"] = Attribute::of_float(static_cast<float>(a * s));
      hs.attrs["beta"] = Attribute::of_float(static_cast<float>(b * s));
      for (size_t k : chain) removed[k] = true;
      if (gate_mul != ci) {
        const int gate = add_intermediate(g, base + "_gate", DType::kFloat32);
        hs.outputs = {gate};
        g.nodes[last] = make_node(base + "_hardswish", "Mul", mul_version, {x, gate}, g.nodes[last].outputs);
        g.nodes[ci] = std::move(hs);
        removed[gate_mul] = true;
      } else {
        if (last != ci) removed[ci] = true;
        g.nodes[last] = std::move(hs);
      }
      ++count;
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_hardsigmoid_fusion() { return std::make_unique<HardSigmoidFusion>(); }

}  // namespace ef
