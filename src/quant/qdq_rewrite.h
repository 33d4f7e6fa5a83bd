// Rewrites a float graph into standard ONNX QDQ form according to a QdqPlan and calibrated ranges: Q/DQ pairs on
// activations, integer weight/bias initializers followed by DequantizeLinear, folded Relu/Clip removed where exact.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "quant/histogram.h"
#include "quant/qdq_plan.h"

namespace ef {

using RangeMap = std::map<std::string, TensorRange>;

struct QdqReport {
  std::vector<std::string> quantized;  // labels of nodes quantized (folded activations included)
  std::vector<std::string> folded;     // Relu/Clip nodes removed because the quantized range clamps as they do
  int activation_pairs = 0;            // Q/DQ pairs inserted on activations
  int weights = 0;                     // weight / constant initializers quantized
  int biases = 0;                      // int32 biases
};

// The model's standard opset must be >= 10 (>= 13 for per-channel weights). Throws kInvalidArgument naming the
// tensor when `ranges` lacks one the plan needs.
QdqReport apply_qdq(Model& model, const QdqPlan& plan, const RangeMap& ranges, const QuantConfig& config);

// Drops the float initializers a rewrite replaced by quantized copies (and values nothing references).
void drop_unused_values(Graph& graph);

}  // namespace ef
