// Common-subexpression elimination: a node with the same op, domain, version, attributes and inputs as an earlier
// node computes the same outputs, so its consumers can read the earlier node's outputs instead.
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

void append_bytes(std::string& key, const void* data, size_t n) { key.append(static_cast<const char*>(data), n); }

void append_tensor(std::string& key, const Tensor& t) {
  key += fmt::format("T{}:{};", static_cast<int>(t.dtype()), shape_str(t.shape()));
  if (t.defined() && t.nbytes() > 0) append_bytes(key, t.raw(), t.nbytes());
}

// A byte string equal for two nodes exactly when they compute the same function of the same inputs. Floats are
// compared bitwise (so 0.0 and -0.0 differ: conservative). Returns false for what it cannot compare.
bool node_key(const Node& n, std::string& key) {
  key = fmt::format("{}|{}|{}|", n.domain, n.op_type, n.version);
  for (int v : n.inputs) key += fmt::format("{},", v);
  key += fmt::format("|{}|", n.outputs.size());
  for (const auto& [name, a] : n.attrs) {
    key += fmt::format("{}:{}=", name, static_cast<int>(a.kind));
    switch (a.kind) {
      case Attribute::Kind::kFloat: append_bytes(key, &a.f, sizeof a.f); break;
      case Attribute::Kind::kInt: key += std::to_string(a.i); break;
      case Attribute::Kind::kString: key += fmt::format("{}:{}", a.s.size(), a.s); break;
      case Attribute::Kind::kFloats: append_bytes(key, a.floats.data(), a.floats.size() * sizeof(float)); break;
      case Attribute::Kind::kInts:
        for (int64_t i : a.ints) key += fmt::format("{},", i);
        break;
      case Attribute::Kind::kStrings:
        for (const auto& s : a.strings) key += fmt::format("{}:{},", s.size(), s);
        break;
      case Attribute::Kind::kTensor:
        if (a.t.dtype() == DType::kString) return false;
        append_tensor(key, a.t);
        break;
      case Attribute::Kind::kTensors:
        for (const Tensor& t : a.tensors) {
          if (t.dtype() == DType::kString) return false;
          append_tensor(key, t);
        }
        break;
      case Attribute::Kind::kGraph:
      case Attribute::Kind::kGraphs: return false;
    }
    key += ';';
  }
  return true;
}

class CommonSubexpressionElimination : public Pass {
 public:
  const char* name() const override { return "common-subexpression-elimination"; }
  int level() const override { return 1; }
  const char* precondition() const override {
    return "two nodes with equal op, domain, version, attributes and inputs, no subgraph attribute, not a random "
           "op; the later node's outputs are neither graph outputs nor captured by a subgraph";
  }

  int run(Graph& g, PassContext& ctx) override {
    std::vector<bool> captured = captured_mask(g);
    std::vector<bool> is_output = graph_output_mask(g);
    std::vector<bool> removed(g.nodes.size(), false);
    std::unordered_map<std::string, size_t> first;
    std::string key;
    int count = 0;
    // Front to back: replacing a duplicate's outputs rewrites later nodes' inputs before their keys are built, so
    // a whole duplicated chain merges in one sweep.
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
      const Node& n = g.nodes[ni];
      if (n.outputs.empty() || is_random_op(n) || has_subgraph(n) || !node_key(n, key)) continue;
      auto [it, inserted] = first.emplace(key, ni);
      if (inserted) continue;
      const Node& kept = g.nodes[it->second];
      if (!mergeable(kept, n, captured, is_output)) continue;
      if (!ctx.allow_rewrite()) break;
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        if (n.outputs[k] != kNoValue) replace_uses(g, n.outputs[k], kept.outputs[k]);
      }
      removed[ni] = true;
      ++count;
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }

 private:
  static bool mergeable(const Node& kept, const Node& dup, const std::vector<bool>& captured,
                        const std::vector<bool>& is_output) {
    for (size_t k = 0; k < dup.outputs.size(); ++k) {
      int v = dup.outputs[k];
      if (v == kNoValue) continue;
      if (kept.outputs[k] == kNoValue || captured[static_cast<size_t>(v)] || is_output[static_cast<size_t>(v)]) {
        return false;
      }
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_common_subexpression_elimination() {
  return std::make_unique<CommonSubexpressionElimination>();
}

}  // namespace ef
