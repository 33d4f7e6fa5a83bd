// Static type/shape inference over a Graph for the passes: each op's InferFn run front to back from the declared
// graph input types and the initializers, storing results in Value::type. Dynamic dims stay symbolic or unknown
// -- nothing here assumes a size for them -- so a pass may only rely on what these types prove.
#pragma once
#include <vector>

#include "ir/graph.h"

namespace ef {

// Updates Value::type of every node output (declared graph output types are kept; inference fills them only when
// undeclared). A node whose op is unknown or whose inference fails gets unknown output types instead of an error:
// passes then simply do not rewrite what depends on it. Returns, per value, the tensor known without running the
// model: initializers and values inference computed (Shape/Size of static dims, Constant, ...); undefined otherwise.
std::vector<Tensor> infer_types(Graph& graph);

}  // namespace ef
