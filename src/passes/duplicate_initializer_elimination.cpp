// Duplicate-initializer elimination: initializers with the same dtype, shape and bytes are merged into the first
// one (exporters often emit one copy of a constant per use, e.g. every Reshape's shape or Clip's bounds).
#include <cstring>
#include <functional>
#include <string_view>
#include <unordered_map>

#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

size_t tensor_hash(const Tensor& t) {
  size_t h = std::hash<std::string_view>{}(std::string_view(static_cast<const char*>(t.raw()), t.nbytes()));
  h ^= static_cast<size_t>(t.dtype()) * 0x9e3779b97f4a7c15ULL;
  for (int64_t d : t.shape()) h = h * 31 + static_cast<size_t>(d);
  return h;
}

class DuplicateInitializerElimination : public Pass {
 public:
  const char* name() const override { return "duplicate-initializer-elimination"; }
  int level() const override { return 1; }
  const char* precondition() const override {
    return "two initializers with equal dtype, shape and bytes; the duplicate is neither a graph output nor "
           "captured by name by a subgraph";
  }

  int run(Graph& g, PassContext& ctx) override {
    std::vector<bool> captured = captured_mask(g);
    std::vector<bool> is_output = graph_output_mask(g);
    std::vector<int> readers = reader_counts(g);
    std::unordered_multimap<size_t, int> seen;  // hash -> canonical initializer
    int count = 0;
    for (size_t v = 0; v < g.values.size(); ++v) {
      const Tensor& t = g.values[v].initializer;
      // Strings are stored out of line, so their bytes are not their contents; unread ones are another pass's job.
      if (!t.defined() || t.dtype() == DType::kString || readers[v] == 0) continue;
      size_t h = tensor_hash(t);
      int canonical = kNoValue;
      auto [lo, hi] = seen.equal_range(h);
      for (auto it = lo; it != hi && canonical == kNoValue; ++it) {
        if (same_tensor(g.values[static_cast<size_t>(it->second)].initializer, t)) canonical = it->second;
      }
      if (canonical == kNoValue) {
        seen.emplace(h, static_cast<int>(v));
        continue;
      }
      if (captured[v] || is_output[v]) continue;
      if (!ctx.allow_rewrite()) break;
      replace_uses(g, static_cast<int>(v), canonical);
      g.values[v].initializer = Tensor();  // unread now; compaction drops the value
      ++count;
    }
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_duplicate_initializer_elimination() {
  return std::make_unique<DuplicateInitializerElimination>();
}

}  // namespace ef
