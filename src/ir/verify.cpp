#include "ir/verify.h"

#include <unordered_set>

#include <fmt/format.h>

namespace ef {
namespace {

[[noreturn]] void violation(const Graph& g, const std::string& what) {
  fail(ErrorCode::kInvalidModel, fmt::format("graph '{}': {}", g.name, what));
}

void check_index(const Graph& g, int v, bool allow_missing, const std::string& where) {
  if (v == kNoValue && allow_missing) return;
  if (v < 0 || static_cast<size_t>(v) >= g.values.size()) violation(g, fmt::format("{} refers to value #{}", where, v));
}

void verify_subgraphs(const Node& node) {
  for (const auto& [key, attr] : node.attrs) {
    if (attr.g) verify_graph(*attr.g);
    for (const auto& sub : attr.graphs) {
      if (sub) verify_graph(*sub);
    }
  }
}

}  // namespace

void verify_graph(const Graph& g) {
  const size_t nv = g.values.size();
  std::unordered_set<std::string> names;
  for (const Value& v : g.values) {
    if (v.name.empty()) violation(g, "a value has an empty name");
    if (!names.insert(v.name).second) violation(g, fmt::format("value name '{}' is used twice", v.name));
  }
  // defined[v]: the value exists at the current point of a front-to-back walk.
  std::vector<bool> defined(nv, false);
  std::vector<int> producer(nv, -1);
  for (size_t v = 0; v < nv; ++v) defined[v] = g.values[v].initializer.defined() || g.values[v].is_outer;
  for (int v : g.inputs) {
    check_index(g, v, false, "a graph input");
    const Value& val = g.values[static_cast<size_t>(v)];
    if (val.initializer.defined()) violation(g, fmt::format("graph input '{}' is also an initializer", val.name));
    if (defined[static_cast<size_t>(v)]) violation(g, fmt::format("graph input '{}' is listed twice", val.name));
    defined[static_cast<size_t>(v)] = true;
  }
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    for (int v : n.inputs) {
      check_index(g, v, true, n.label() + " input");
      if (v != kNoValue && !defined[static_cast<size_t>(v)]) {
        violation(g, fmt::format("{}: input '{}' is not produced by an earlier node, initializer or graph input",
                                 n.label(), g.values[static_cast<size_t>(v)].name));
      }
    }
    for (int v : n.outputs) {
      check_index(g, v, true, n.label() + " output");
      if (v == kNoValue) continue;
      const Value& val = g.values[static_cast<size_t>(v)];
      if (defined[static_cast<size_t>(v)]) {
        violation(g, fmt::format("{}: output '{}' is already defined elsewhere", n.label(), val.name));
      }
      if (val.producer != static_cast<int>(ni)) {
        violation(g, fmt::format("{}: output '{}' records producer #{} instead of #{}", n.label(), val.name,
                                 val.producer, ni));
      }
      defined[static_cast<size_t>(v)] = true;
      producer[static_cast<size_t>(v)] = static_cast<int>(ni);
    }
    verify_subgraphs(n);
  }
  for (size_t v = 0; v < nv; ++v) {
    if (producer[v] < 0 && g.values[v].producer >= 0) {
      violation(g, fmt::format("value '{}' records producer #{} but no node writes it", g.values[v].name,
                               g.values[v].producer));
    }
  }
  for (int v : g.outputs) {
    check_index(g, v, false, "a graph output");
    if (!defined[static_cast<size_t>(v)]) {
      violation(g, fmt::format("graph output '{}' is not produced by any node, initializer or input",
                               g.values[static_cast<size_t>(v)].name));
    }
  }
}

}  // namespace ef
