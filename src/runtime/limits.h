// Session resource limits (SessionOptions::max_*) turned into the options of the stages that enforce them: import
// (graph size, tensor sizes, total weights) and planning (elements per value, weights + arena). Depends on the
// public session options, onnx/model_io.h and ir.
#pragma once
#include <cstdint>

#include "edgeforge/session.h"
#include "ir/graph.h"
#include "onnx/model_io.h"

namespace ef {

// Installed physical memory, or 0 when the system does not say.
uint64_t physical_memory_bytes();
// options.max_memory_bytes with 0 resolved to physical memory (still 0, meaning unlimited, if that is unknown).
uint64_t effective_max_memory(const SessionOptions& options);
// Import options that enforce the session's graph-size and tensor-size limits while the model is parsed.
ImportOptions import_options_for(const SessionOptions& options);
// Bytes held by the initializers and tensor attributes of `graph` and its subgraphs.
uint64_t weight_bytes(const Graph& graph);
// Fails with kOutOfMemory when an already-imported model breaks the session's graph-size limits
// (Session::from_model gets models that did not go through import_options_for).
void check_graph_limits(const Graph& graph, const SessionOptions& options);

}  // namespace ef
