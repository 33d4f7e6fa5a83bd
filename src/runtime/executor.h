// Runs a graph: top-level graphs with a Plan (folded nodes skipped, intermediates placed in the arena), and
// subgraphs of If/Loop/Scan without one (inference per node at run time, outer-scope names resolved through the
// enclosing scopes).
#pragma once
#include <vector>

#include "runtime/plan.h"

namespace ef {

// The values of one graph activation, linked to the activation that encloses it (for subgraph captures).
struct Scope {
  const Graph* graph = nullptr;
  const std::vector<Tensor>* values = nullptr;
  const Scope* parent = nullptr;
  // Looks `name` up in this scope and its parents; nullptr when no scope has a value for it.
  const Tensor* find(const std::string& name) const;
};

class ThreadPool;

struct ExecOptions {
  int num_threads = 1;
  void* arena = nullptr;  // plan->arena_bytes bytes, 64-byte aligned (plan mode only)
  ThreadPool* pool = nullptr;  // for prepared kernels; nullptr: single-threaded
  // When set (plan mode), receives the wall time of each node in seconds, accumulated (size = node count).
  std::vector<double>* node_seconds = nullptr;
  // Outputs whose shape is only known at run time (reference kernels, subgraphs) are checked against this before
  // they are allocated (0: unlimited).
  int64_t max_tensor_elements = 0;
};

// `inputs` follow graph.inputs order. `plan` may be nullptr (subgraph mode).
std::vector<Tensor> execute_graph(const Graph& graph, const Plan* plan, const std::vector<Tensor>& inputs,
                                  const Scope* parent, const ExecOptions& options);

}  // namespace ef
