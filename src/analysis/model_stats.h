// Static model analysis for `edgeforge inspect`: parameters, op histogram, per-layer MACs/FLOPs and output
// memory, planned activation memory. Depends on ir, ops and runtime (it plans the graph to learn shapes).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace ef {

struct LayerStats {
  std::string name;
  std::string op_type;
  std::vector<std::string> output_shapes;  // "float32[1,32,112,112]"
  int64_t macs = 0;   // multiply-accumulates (conv, matmul, gemm, ...)
  int64_t flops = 0;  // 2 * macs + element-wise work
  int64_t output_bytes = 0;
  bool folded = false;  // computed at plan time (constant / shape computation)
};

struct ModelStats {
  int64_t param_count = 0;
  int64_t param_bytes = 0;
  std::map<std::string, int> op_histogram;
  std::vector<LayerStats> layers;
  int64_t total_macs = 0;
  int64_t total_flops = 0;
  uint64_t arena_bytes = 0;              // planned activation arena (with buffer reuse)
  uint64_t activation_bytes_no_reuse = 0;
  bool shapes_complete = true;           // false when some layer's shape stayed unknown (stats are lower bounds)
};

// `input_shapes` gives a concrete shape per graph input (Graph::inputs order).
ModelStats compute_model_stats(const Model& model, const std::vector<Shape>& input_shapes);

}  // namespace ef
