// A plan: everything decided before running a graph for one set of input shapes. Built by build_plan(): resolves
// each node's op, runs type/shape inference front to back, folds nodes whose inputs are all known (shape
// computations, constants), and lays out intermediate tensors in one arena by liveness.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <memory>

#include "ops/registry.h"
#include "providers/provider.h"

namespace ef {

struct Plan {
  std::vector<const OpDef*> ops;       // per node
  std::vector<ValueType> types;        // per value: inferred type (dims concrete where known)
  std::vector<Tensor> known;           // per value: value known before running (initializers, folded results)
  std::vector<bool> folded;            // per node: every output already known, the node is skipped at run time
  std::vector<int64_t> arena_offset;   // per value: byte offset in the arena, or -1 (heap / known / graph output)
  uint64_t arena_bytes = 0;
  uint64_t total_activation_bytes = 0;  // what the values would need without reuse
  std::vector<int> last_use;           // per value: index of the last node reading it (-1: none / graph output)
  // Per node: the intermediates whose last reader it is (released after it runs), and per value: its concrete
  // shape where inference gave one. Kept here so a run does no per-node bookkeeping or shape copies of its own.
  std::vector<std::vector<int>> release_after;
  std::vector<Shape> shapes;
  // Per node: the provider kernel chosen for it (nullptr: the op's reference kernel runs it), and the arena
  // offset of its private scratch (-1: none).
  std::vector<std::shared_ptr<const PreparedKernel>> kernels;
  std::vector<int64_t> scratch_offset;
};

struct PlanOptions {
  // Fold a node at plan time only if its inputs and its outputs each total at most this many elements
  // (keeps planning cheap and the plan small).
  int64_t fold_max_elements = 1 << 16;
  uint64_t max_arena_bytes = 0;  // 0: unlimited
  // Every value whose shape inference makes concrete is checked against this before anything is allocated
  // (0: unlimited); weights + arena against max_memory_bytes (0: unlimited).
  int64_t max_tensor_elements = 0;
  uint64_t max_memory_bytes = 0;
  uint64_t weight_bytes = 0;
  // Offered each non-folded node in this order; empty: every node runs its reference kernel.
  std::vector<const ExecutionProvider*> providers;
  // The intra-op threads the plan will run with: providers may choose a kernel by it (NodeSignature::threads).
  int threads = 1;
};

// `input_types` gives the type of each graph input (Graph::inputs order), typically with concrete shapes.
// `outer_types` resolves is_outer values (nullptr for a top-level graph).
Plan build_plan(const Graph& graph, const std::vector<ValueType>& input_types, const PlanOptions& options);

}  // namespace ef
