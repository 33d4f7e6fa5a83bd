// Transpose merging: Transpose(Transpose(x, p1), p2) is Transpose(x, p1[p2[i]]); when the composition is the
// identity, noop-elimination then removes it, so layout round trips that exporters leave behind (NCHW -> NHWC ->
// NCHW) vanish. The first Transpose stays for any other readers and is swept by dead-node elimination otherwise.
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// The permutation of a Transpose node: its attribute, or the reversal of the static input rank when absent.
std::optional<std::vector<int64_t>> permutation(const Graph& g, const Node& t) {
  if (t.has_attr("perm")) return t.attr_ints("perm");
  const ValueType& in = g.values[static_cast<size_t>(t.inputs[0])].type;
  if (!in.has_rank()) return std::nullopt;
  std::vector<int64_t> p(in.rank());
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int64_t>(p.size() - 1 - i);
  return p;
}

bool valid_permutation(const std::vector<int64_t>& p) {
  std::vector<bool> seen(p.size(), false);
  for (int64_t v : p) {
    if (v < 0 || v >= static_cast<int64_t>(p.size()) || seen[static_cast<size_t>(v)]) return false;
    seen[static_cast<size_t>(v)] = true;
  }
  return true;
}

class TransposeMerging : public Pass {
 public:
  const char* name() const override { return "transpose-merging"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "a Transpose whose input is another Transpose's output; both permutations known (attribute or static "
           "rank), valid and of equal length; the first is not captured by a subgraph";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<bool> captured = captured_mask(g);
    int count = 0;
    for (size_t ti = 0; ti < g.nodes.size(); ++ti) {
      Node& second = g.nodes[ti];
      if (!is_op(second, "Transpose") || second.inputs.size() != 1) continue;
      const int mid = second.inputs[0];
      const int fi = producer_of(g, mid);
      if (fi < 0 || captured[static_cast<size_t>(mid)]) continue;
      const Node& first = g.nodes[static_cast<size_t>(fi)];
      if (!is_op(first, "Transpose") || first.inputs.size() != 1) continue;
      std::optional<std::vector<int64_t>> p1 = permutation(g, first), p2 = permutation(g, second);
      if (!p1 || !p2 || p1->size() != p2->size() || !valid_permutation(*p1) || !valid_permutation(*p2)) continue;
      if (!ctx.allow_rewrite()) break;
      std::vector<int64_t> composed(p1->size());
      for (size_t i = 0; i < composed.size(); ++i) composed[i] = (*p1)[static_cast<size_t>((*p2)[i])];
      second.attrs["perm"] = Attribute::of_ints(std::move(composed));
      second.inputs[0] = first.inputs[0];
      ++count;
    }
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_transpose_merging() { return std::make_unique<TransposeMerging>(); }

}  // namespace ef
