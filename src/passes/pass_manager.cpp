// Runs passes to a fixed point with verification after each change, and keeps per-pass rewrite counts.
#include <fmt/format.h>

#include "ir/verify.h"
#include "ops/fused.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

// An invalid graph after a pass is our bug, not the model's: report it as internal, naming the pass.
void verify_after(const Graph& graph, const Pass& pass) {
  try {
    verify_graph(graph);
  } catch (const Error& e) {
    fail(ErrorCode::kInternal, fmt::format("optimizer pass '{}' left an invalid graph: {}", pass.name(), e.what()));
  }
}

}  // namespace

PassReport PassManager::run(Graph& graph, const PassOptions& options) const {
  EF_CHECK(options.max_iterations >= 1, kInvalidArgument, "max_iterations must be at least 1, got {}",
           options.max_iterations);
  EF_CHECK(options.fold_max_elements >= 0, kInvalidArgument, "fold_max_elements must be >= 0, got {}",
           options.fold_max_elements);
  // Passes index values through producers; the importer sets them, but a hand-built graph may not.
  refresh_producers(graph);
  verify_graph(graph);
  PassContext ctx;
  ctx.fold_max_elements = options.fold_max_elements;
  ctx.rewrites_left = options.max_rewrites < 0 ? -1 : options.max_rewrites;
  ctx.opset = options.opset;
  PassReport report;
  for (const auto& pass : passes_) report.passes.push_back({pass->name(), 0});
  while (report.iterations < options.max_iterations) {
    ++report.iterations;
    int64_t round = 0;
    for (size_t p = 0; p < passes_.size(); ++p) {
      const Pass& pass = *passes_[p];
      int n = 0;
      try {
        n = passes_[p]->run(graph, ctx);
      } catch (const Error& e) {
        throw e.with_context(fmt::format("optimizer pass '{}'", pass.name()));
      }
      EF_CHECK(n >= 0, kInternal, "optimizer pass '{}' returned {} rewrites", pass.name(), n);
      if (n > 0) verify_after(graph, pass);
      report.passes[p].rewrites += n;
      round += n;
    }
    report.total_rewrites += round;
    if (round == 0) {
      report.converged = true;
      break;
    }
  }
  compact_values(graph);
  verify_graph(graph);
  report.budget_exhausted = ctx.budget_exhausted();
  return report;
}

PassReport optimize_model(Model& model, const PassOptions& options) {
  EF_CHECK(model.graph != nullptr, kInvalidArgument, "the model has no graph");
  PassOptions opts = options;
  opts.opset = model.opset("");
  PassReport report = PassManager(passes_for_level(opts.level)).run(*model.graph, opts);
  bool fused = false;
  for (const Node& n : model.graph->nodes) fused |= n.domain == kEdgeForgeDomain;
  if (fused) model.opsets[kEdgeForgeDomain] = kEdgeForgeOpset;
  return report;
}

}  // namespace ef
