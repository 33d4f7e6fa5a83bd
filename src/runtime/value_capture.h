// Exposing intermediate values of a model: a copy of the model whose graph also outputs chosen values, so one
// ordinary Session run returns them. Used by `edgeforge compare --per-layer` (layer-by-layer error) and by
// quantization calibration (activation ranges). Depends on ir only.
//
// Making a value a graph output keeps it alive through the optimizer: passes never remove or rename graph outputs,
// so fusions that would consume such a value (Conv+Relu, QDQ -> integer kernel) do not fire across it. Run the
// returned model at the optimization level whose numerics you want; level 0 shows the graph exactly as written.
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"

namespace ef {

// Values produced by the main graph's nodes that are not already graph outputs, in topological order (the order
// a layer-by-layer report should follow). Subgraph values (Loop/If bodies) are not reachable from outside.
std::vector<std::string> computed_value_names(const Model& model);

// A copy of `model` (the original graph is not modified) whose graph outputs `names` after its own outputs.
// Names already graph outputs are skipped; a name the graph does not compute throws kInvalidArgument naming it.
Model with_extra_outputs(const Model& model, const std::vector<std::string>& names);

}  // namespace ef
