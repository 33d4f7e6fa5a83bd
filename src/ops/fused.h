// EdgeForge's own op domain `ai.edgeforge` (opset 1): the fused nodes the level-2 optimizer creates (FusedConv,
// FusedGemm, Gelu, LayerNormalization for models older than opset 17). Their attribute names and input order are a
// contract shared with the fast CPU provider and with the export's unfuse step, so they are spelled here once.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "edgeforge/tensor.h"
#include "ir/graph.h"
#include "kernels/cpu/activation.h"

namespace ef {
class OpRegistry;
}

namespace ef {

inline constexpr const char* kEdgeForgeDomain = "ai.edgeforge";
inline constexpr int kEdgeForgeOpset = 1;

// "Relu" -> kRelu ... ("" -> kNone); nullopt for a name no fused kernel implements.
std::optional<cpu::ActKind> activation_kind_from_name(const std::string& name);
// The `activation` attribute spelling of a kind ("" for kNone).
const char* activation_name(cpu::ActKind kind);

// The epilogue of a FusedConv/FusedGemm node from its `activation` and `activation_params` attributes (Clip:
// [min, max]; LeakyRelu: [alpha]; HardSigmoid: [alpha, beta]; others take none). Throws kInvalidModel naming the
// node for an unknown activation or a wrong parameter count.
cpu::Activation fused_activation(const Node& node);

// The activation a standalone activation node computes on its input 0: Relu, Sigmoid, Tanh, HardSwish, LeakyRelu,
// HardSigmoid, Clip (bounds from attributes before opset 11, else from inputs 1 and 2, which must be scalar
// constants: `scalar_input(k)` returns input k's value or nullopt when it is not a known float32 scalar) and
// ai.edgeforge Gelu. nullopt for anything else. Shared by activation fusion and the CPU provider.
std::optional<cpu::Activation> activation_of_node(const Node& node,
                                                  const std::function<std::optional<float>(size_t)>& scalar_input);

// Writes `act` into a node's `activation`/`activation_params` attributes (inverse of fused_activation).
void set_fused_activation(Node& node, const cpu::Activation& act);

// ai.edgeforge FusedConvMaxPool: a FusedConv without residual and the MaxPool that alone reads its output, as one
// node: Y = MaxPool(act(Conv(X, W, B))), so that the CPU provider can pool each band of conv rows while it is in
// cache (kernels/cpu/conv_max_pool.h). Attributes: FusedConv's, plus the MaxPool's prefixed "pool_"
// (pool_kernel_shape, pool_strides, pool_pads, pool_dilations, pool_ceil_mode, pool_auto_pad, ...). No Indices.
inline constexpr const char* kPoolAttrPrefix = "pool_";

// The two nodes a FusedConvMaxPool stands for: conv, an ai.edgeforge FusedConv over the node's inputs, and pool, a
// MaxPool (opset 12 semantics, which every earlier MaxPool's attributes keep) whose input and output are the
// node's output value (placeholders: the conv output has no value of its own).
struct ConvMaxPoolParts {
  Node conv;
  Node pool;
};
ConvMaxPoolParts split_conv_max_pool(const Node& fused);

// The output shape of a FusedConvMaxPool's conv part (a value the graph does not hold) for input shape x and weight
// shape w, both of rank >= 3: [N, M, spatial dims of the conv's windows over x]. Throws kInvalidModel naming the
// node when no window fits.
Shape conv_max_pool_conv_shape(const Node& fused, const Shape& x, const Shape& w);

// True when conv (a Conv, or a FusedConv without residual) with input shape x and weight shape w may merge with a
// MaxPool over its output: 2-D, and a layer the CPU provider computes in row bands (few input channels, group 1,
// undilated: cpu::direct_smallc_applicable), so the fused node never falls back to the reference kernels there.
bool conv_max_pool_fusable(const Node& conv, const Shape& x, const Shape& w);

// The output shape of conv (a Conv or FusedConv node) for input shape x and weight shape w, both of rank >= 3:
// [N, M, spatial dims of its windows over x]. Throws kInvalidModel naming the node when no window fits.
Shape conv_output_shape(const Node& conv, const Shape& x, const Shape& w);

// ai.edgeforge FusedConvDepthwise: a pointwise FusedConv without residual and the depthwise FusedConv without
// residual that alone reads its output, as one node: Y = act2(Conv(act1(Conv(X, W1, B1)), W2, B2)), so that the
// CPU provider can run the depthwise conv on each band of pointwise rows while it is in cache
// (kernels/cpu/pointwise_depthwise.h). Inputs X, W1, B1 (optional), W2, B2 (optional). Attributes: the pointwise
// FusedConv's, plus the depthwise FusedConv's prefixed "dw_" (dw_group, dw_strides, dw_pads, dw_activation, ...).
inline constexpr const char* kDepthwiseAttrPrefix = "dw_";

// The two FusedConv nodes a FusedConvDepthwise stands for: pointwise over inputs X, W1, B1 and depthwise over
// (its output, W2, B2), both writing the node's output value as placeholder for the intermediate (which has no
// value of its own); the caller replaces it where the intermediate needs one.
struct ConvDepthwiseParts {
  Node pointwise;
  Node depthwise;
};
ConvDepthwiseParts split_conv_depthwise(const Node& fused);

// True when pw (a Conv, or FusedConv without residual) with input shape x and weight shape w1, and dw (likewise,
// reading pw's output) with weight shape w2, may merge: 2-D; pw 1x1, stride 1, no padding, group 1; dw depthwise
// (group = channels, a multiple of them out) with column stride 1 or 2: the layers the CPU provider computes in
// bands, so the fused node never falls back to the reference kernels there.
bool conv_depthwise_fusable(const Node& pw, const Shape& x, const Shape& w1, const Node& dw, const Shape& w2);

void register_fused_ops(OpRegistry& r);

}  // namespace ef
