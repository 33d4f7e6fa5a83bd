// Runs one node: inference with every input value known, output allocation from the inferred shapes, then the
// kernel. Shared by the executor, constant folding and op unit tests so all of them follow the same contract.
// Depends on core, ir, ops.
#pragma once
#include <vector>

#include "ops/registry.h"

namespace ef {

// Output slots may be pre-filled by the caller (e.g. arena-backed tensors of the planned shape); a pre-filled
// slot whose dtype/shape disagree with inference is replaced by a fresh allocation, refused with kOutOfMemory
// when it would hold more than `max_elements` elements (0: unlimited).
void run_node(const OpDef& def, const Node& node, const std::vector<const Tensor*>& inputs,
              std::vector<Tensor>& outputs, const SubgraphRunner& subgraphs, int num_threads,
              int64_t max_elements = 0);

// Type/shape inference for one node from input types and (where known) values. Returns output types; fills
// `output_values` for outputs whose value inference determined.
std::vector<ValueType> infer_node(const OpDef& def, const Node& node, const std::vector<const ValueType*>& types,
                                  const std::vector<const Tensor*>& values, std::vector<Tensor>& output_values);

}  // namespace ef
