// Helpers the level-2 fusion passes share: recognizing constant operands, per-channel broadcasts and single-reader
// intermediates, adding initializers under fresh names, evaluating small constant arithmetic with the reference
// kernels, and picking the since-version of a standard op a rewrite creates under the model's opset.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace ef {

// The float32 initializer behind `v`, or nullptr (graph input, node output, omitted, other dtype).
const Tensor* float_initializer(const Graph& g, int v);
// The int64 initializer behind `v` as a vector, or nullopt.
std::optional<std::vector<int64_t>> int64_initializer(const Graph& g, int v);
// A float32 initializer holding exactly one element, or nullopt.
std::optional<float> scalar_initializer(const Graph& g, int v);

// A name no value of `g` has yet, derived from `base`.
std::string fresh_name(const Graph& g, const std::string& base);
// Adds `t` as a new initializer value named after `base`; returns its index. May reallocate g.values.
int add_initializer(Graph& g, const std::string& base, Tensor t);
// Adds a value (a new intermediate a rewrite creates) named after `base`.
int add_intermediate(Graph& g, const std::string& base, DType dtype);

bool is_op(const Node& n, const char* op_type);  // standard domain
bool is_float32(const Graph& g, int v);          // static type says float32

// A convolution whose output a fused node may take over: Conv, or ai.edgeforge FusedConv without residual input Z
// (both with X and W and one output).
bool conv_without_residual(const Node& n);
// The static shape of value `v`, or nullopt (omitted, or any dim unknown).
std::optional<Shape> static_shape(const Graph& g, int v);
// A Conv or FusedConv as an ai.edgeforge op_type node with FusedConv's attributes: `activation` "" added when a
// plain Conv has none.
Node as_fused_conv_op(const Node& conv, const std::string& op_type);

// Node index producing `v`, or -1.
int producer_of(const Graph& g, int v);
// `v` is read by exactly one node input (no graph output, no capture, no second reader): a fusion may make it
// disappear. `readers` comes from reader_counts().
bool single_use(const Graph& g, const std::vector<int>& readers, int v);
// Per value, the indices of the nodes reading it (a node reading it twice is listed twice).
std::vector<std::vector<int>> consumers(const Graph& g);

// When a constant `c` broadcast against a value of rank `rank` varies only along `axis` (every other aligned dim is
// 1, and it adds no leading dims), its values per index of that axis (length `channels`); nullopt otherwise.
std::optional<std::vector<float>> per_channel_values(const Tensor& c, size_t rank, size_t axis, int64_t channels);

// Both types prove the same shape: equal rank, each dim equal and known, or the same named symbol.
bool same_static_dims(const ValueType& a, const ValueType& b);

// An inference-mode BatchNormalization as the per-channel map BN(y) = scale[c] * y + shift[c]: standard domain,
// version >= 7, no training_mode, spatial, only output 0 read, all four parameters float32 [channels]
// initializers. nullopt otherwise.
struct ChannelAffine {
  std::vector<double> scale, shift;
};
std::optional<ChannelAffine> inference_batchnorm(const Graph& g, const Node& bn, const std::vector<int>& readers,
                                                 int64_t channels);

// Folding a BatchNormalization into the node that writes its input (Conv, ConvTranspose, Gemm): that node's index
// when `bn` is a BatchNormalization whose input 0 has no other reader and its writer is not yet `removed`; -1
// otherwise. `readers` comes from reader_counts().
int batchnorm_fold_source(const Graph& g, const std::vector<int>& readers, const std::vector<bool>& removed,
                          const Node& bn);
// Completes such a fold: the writer, now reading `param1` / `param2` (new initializers named after it with the
// given suffixes) as inputs 1 and 2, takes the BatchNormalization's place and output; the writer's old slot is
// marked removed (the caller erases removed nodes at the end).
void replace_batchnorm_with_folded(Graph& g, size_t bn_index, int source, std::vector<bool>& removed,
                                   const char* suffix1, Tensor param1, const char* suffix2, Tensor param2);

// Evaluates a standard binary op (Add/Sub/Mul/Div, NumPy broadcasting) on constants with the reference kernel.
Tensor eval_binary(const char* op_type, const Tensor& a, const Tensor& b);

// The since-version of standard `op_type` a node created under standard-domain `opset` follows, or 0 when the op
// does not exist there (or is not in this table: rewrites create only the ops listed in fusion_util.cpp).
int standard_version(const std::string& op_type, int64_t opset);

// `n` (its inputs, outputs, attributes and name kept) as the ai.edgeforge op `op_type`: the node a fusion puts in
// the place of the nodes it merges.
Node as_edgeforge_op(Node n, const std::string& op_type);

// A node ready to insert: standard domain unless `domain` is given.
Node make_node(const std::string& name, const std::string& op_type, int version, std::vector<int> inputs,
               std::vector<int> outputs, const std::string& domain = "");

}  // namespace ef
