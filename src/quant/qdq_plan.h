// Which nodes of a float graph a static QDQ quantization covers, and which tensors get a QuantizeLinear /
// DequantizeLinear pair, following ONNX Runtime's QDQ quantizer so its fused QDQ kernels (and ours) recognize the
// result:
//   * compute ops (Conv, ConvTranspose, Gemm, MatMul, Add, Mul, AveragePool, GlobalAveragePool, Concat) have their
//     float activation inputs and their output quantized, each tensor with its own calibrated range; constant
//     inputs become integer initializers followed by DequantizeLinear (weights per channel on request, biases int32);
//   * data-movement ops (MaxPool, Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Resize) are quantized only when
//     their input already is, and their output reuses the input's scale and zero point (values only move);
//   * a Relu or Clip right after a quantized op, reading its output alone, is folded: the op's output is quantized
//     with the activation's range; the activation node is removed where the quantized range already clamps as it
//     would (asymmetric activations), kept otherwise.
// Every tensor touching a quantized node carries one Q/DQ pair, inserted after its producer; all readers read the
// DequantizeLinear output.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace ef {

struct QuantConfig {
  bool per_channel = false;
  DType activation_type = DType::kUInt8;
  DType weight_type = DType::kInt8;
  bool symmetric_activations = false;
  bool reduce_range = false;  // 7-bit weights (see quantize_weight)
  bool exact_add_scales = true;  // Add input scales are integer multiples of the output's (QdqPlan::add_inputs)
  std::set<std::string> exclude_ops;    // op types left in float
  std::set<std::string> exclude_nodes;  // node names left in float
};

// How a node's inputs are quantized (an input index, or -1 for none).
struct OpRole {
  enum class Kind { kNone, kCompute, kShared, kActivation };
  Kind kind = Kind::kNone;
  std::vector<int> inputs;  // input indices quantized (activations, or constants as weights)
  int weight = -1;          // the weight input (per-channel capable)
  int weight_axis = -1;     // its output-channel axis (-1: per tensor only)
  int bias = -1;            // the bias input (int32)
};
OpRole op_role(const Graph& g, const Node& n);

struct QdqPlan {
  std::vector<bool> quantized;    // per node
  std::vector<int> folded_into;   // per node: the quantized node a Relu/Clip folds into, or -1
  std::vector<int> activations;   // values that get a Q/DQ pair, in node order
  std::map<int, int> range_source;  // value -> value whose calibrated range it uses (itself if absent)
  // (activation input, output) of every quantized Add. With exact_add_scales each input's scale is made an integer
  // multiple of the output's: the integer Add is then exact, so every runtime's fused QLinearAdd equals the QDQ
  // float semantics. Otherwise rare rounding ties resolve differently (ONNX Runtime: 22-bit fixed-point scale
  // ratios, ties away from zero) and a one-step difference spreads through the layers after it.
  std::vector<std::pair<int, int>> add_inputs;
  std::vector<std::string> excluded;  // labels of nodes left in float by --exclude-op / --exclude-node

  int source_of(int v) const;
  // Names of the values whose ranges calibration measures: every activation and every range source.
  std::vector<std::string> calibration_tensors(const Graph& g) const;
};

// Excluded nodes are named as in the original model: the optimizer's rewrites keep a node's name as the prefix of
// the nodes it becomes ("conv2" -> "conv2_Conv", see derived_node_name), so those are excluded too.
QdqPlan plan_qdq(const Graph& g, const QuantConfig& config);

// Throws kInvalidArgument when an excluded node name or op type matches nothing in `g` (the original model).
void check_exclusions(const Graph& g, const QuantConfig& config);
// `name` is `original` or a node an optimizer rewrite made from it (`original` + "_Conv", "_Add_2", ...).
bool derived_node_name(const std::string& name, const std::string& original);

}  // namespace ef
