// Resource limits: SessionOptions -> ImportOptions / plan checks. See runtime/limits.h.
#include "runtime/limits.h"

#include <unistd.h>

#include <algorithm>

namespace ef {

uint64_t physical_memory_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

uint64_t effective_max_memory(const SessionOptions& options) {
  return options.max_memory_bytes > 0 ? options.max_memory_bytes : physical_memory_bytes();
}

ImportOptions import_options_for(const SessionOptions& options) {
  ImportOptions io;
  io.max_nodes = options.max_nodes;
  io.max_tensor_elements = options.max_tensor_elements;
  io.max_initializer_bytes = options.max_initializer_bytes > 0 ? options.max_initializer_bytes
                                                               : effective_max_memory(options);
  return io;
}

namespace {

void add_weights(const Graph& graph, uint64_t& bytes, int64_t& nodes) {
  for (const Value& v : graph.values) {
    if (v.initializer.defined()) bytes += v.initializer.nbytes();
  }
  for (const Node& n : graph.nodes) {
    ++nodes;
    for (const auto& [key, a] : n.attrs) {
      if (a.t.defined()) bytes += a.t.nbytes();
      for (const Tensor& t : a.tensors) bytes += t.nbytes();
      if (a.g) add_weights(*a.g, bytes, nodes);
      for (const auto& g : a.graphs) {
        if (g) add_weights(*g, bytes, nodes);
      }
    }
  }
}

}  // namespace

uint64_t weight_bytes(const Graph& graph) {
  uint64_t bytes = 0;
  int64_t nodes = 0;
  add_weights(graph, bytes, nodes);
  return bytes;
}

void check_graph_limits(const Graph& graph, const SessionOptions& options) {
  uint64_t bytes = 0;
  int64_t nodes = 0;
  add_weights(graph, bytes, nodes);
  EF_CHECK(options.max_nodes <= 0 || nodes <= options.max_nodes, kOutOfMemory,
           "the model has {} nodes, above the limit of {} (max_nodes)", nodes, options.max_nodes);
  uint64_t limit = options.max_initializer_bytes > 0 ? options.max_initializer_bytes : effective_max_memory(options);
  EF_CHECK(limit == 0 || bytes <= limit, kOutOfMemory,
           "the model's weights take {} bytes, above the limit of {} bytes (max_initializer_bytes / max_memory)",
           bytes, limit);
}

}  // namespace ef
