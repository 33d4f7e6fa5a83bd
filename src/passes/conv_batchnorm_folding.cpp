// Conv + BatchNormalization folding: an inference BN after a Conv is a per-output-channel affine map, so it can be
// baked into the Conv's weights and bias. Saves a full pass over the activation at run time.
#include <cmath>
#include <string>

#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

// A per-channel parameter: float32 initializer of shape [channels].
const Tensor* channel_param(const Graph& g, int v, int64_t channels) {
  const Tensor* t = float_initializer(g, v);
  if (t == nullptr || t->shape().size() != 1 || t->shape()[0] != channels) return nullptr;
  return t;
}

// BN computes the plain inference formula: a standard-domain version we know the semantics of, not in training
// mode, per-channel ("spatial") statistics, and only the normalized output read.
bool is_inference_bn(const Node& bn, const std::vector<int>& readers) {
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.version < 7) return false;
  if (bn.inputs.size() != 5 || bn.outputs.empty() || bn.outputs[0] == kNoValue) return false;
  if (bn.attr_int("training_mode", 0) != 0 || bn.attr_int("spatial", 1) != 1) return false;
  for (size_t k = 1; k < bn.outputs.size(); ++k) {
    int v = bn.outputs[k];
    if (v != kNoValue && readers[static_cast<size_t>(v)] > 0) return false;  // running stats are training outputs
  }
  return true;
}

class ConvBatchNormFolding : public Pass {
 public:
  const char* name() const override { return "conv-batchnorm-folding"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "Conv-1/11 whose output is read only by an inference BatchNormalization (>= 7, no training_mode, only "
           "output 0 read); Conv weight, optional bias and all BN parameters are float32 initializers";
  }

  int run(Graph& g, PassContext& ctx) override {
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t bi = 0; bi < g.nodes.size(); ++bi) {
      const Node& bn = g.nodes[bi];
      if (!is_inference_bn(bn, readers)) continue;
      const int y = bn.inputs[0];
      if (y == kNoValue || readers[static_cast<size_t>(y)] != 1) continue;  // Conv output must feed only the BN
      const int ci = g.values[static_cast<size_t>(y)].producer;
      if (ci < 0 || removed[static_cast<size_t>(ci)]) continue;
      const Node& conv = g.nodes[static_cast<size_t>(ci)];
      if (conv.op_type != "Conv" || !conv.domain.empty() || (conv.version != 1 && conv.version != 11)) continue;
      if (conv.inputs.size() < 2 || conv.outputs.size() != 1 || conv.outputs[0] != y) continue;
      const Tensor* w = float_initializer(g, conv.inputs[1]);
      if (w == nullptr || w->shape().size() < 3 || w->shape()[0] <= 0) continue;
      const int64_t m = w->shape()[0];
      const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
      const Tensor* bias = has_bias ? channel_param(g, conv.inputs[2], m) : nullptr;
      if (has_bias && bias == nullptr) continue;
      const Tensor* scale = channel_param(g, bn.inputs[1], m);
      const Tensor* beta = channel_param(g, bn.inputs[2], m);
      const Tensor* mean = channel_param(g, bn.inputs[3], m);
      const Tensor* var = channel_param(g, bn.inputs[4], m);
      if (scale == nullptr || beta == nullptr || mean == nullptr || var == nullptr) continue;
      if (!ctx.allow_rewrite()) break;

      // Per channel c: BN(y) = s_c * y + (beta_c - s_c * mean_c) with s_c = scale_c / sqrt(var_c + eps). Double
      // precision keeps the folded constants as close as float allows to what the two ops computed.
      const double eps = bn.attr_float("epsilon", 1e-5f);
      const int64_t per_channel = w->numel() / m;
      Tensor new_w = Tensor::zeros(DType::kFloat32, w->shape());
      Tensor new_b = Tensor::zeros(DType::kFloat32, Shape{m});
      for (int64_t c = 0; c < m; ++c) {
        const double s = scale->data<float>()[c] / std::sqrt(static_cast<double>(var->data<float>()[c]) + eps);
        const double b0 = bias != nullptr ? bias->data<float>()[c] : 0.0;
        new_b.data<float>()[c] = static_cast<float>((b0 - mean->data<float>()[c]) * s + beta->data<float>()[c]);
        const float* src = w->data<float>() + c * per_channel;
        float* dst = new_w.data<float>() + c * per_channel;
        for (int64_t k = 0; k < per_channel; ++k) dst[k] = static_cast<float>(src[k] * s);
      }
      const std::string conv_base = conv.name.empty() ? g.values[static_cast<size_t>(y)].name : conv.name;
      const int w_value = add_initializer(g, conv_base + "_bn_folded_W", std::move(new_w));
      const int b_value = add_initializer(g, conv_base + "_bn_folded_B", std::move(new_b));

      // add_value may have reallocated g.values: the tensor pointers above are dead; only indices are used below.
      Node& fused = g.nodes[static_cast<size_t>(ci)];
      const int z = g.nodes[bi].outputs[0];
      fused.inputs.resize(3, kNoValue);
      fused.inputs[1] = w_value;
      fused.inputs[2] = b_value;
      // The Conv writes the BN's output value itself, so BN consumers and a graph output of that name are kept.
      fused.outputs[0] = z;
      Value& zv = g.values[static_cast<size_t>(z)];
      zv.producer = ci;
      if (zv.type.dtype == DType::kUndefined) zv.type = g.values[static_cast<size_t>(y)].type;
      g.values[static_cast<size_t>(y)].producer = -1;
      removed[bi] = true;
      ++count;
    }
    if (count > 0) erase_nodes(g, removed);
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_batchnorm_folding() { return std::make_unique<ConvBatchNormFolding>(); }

}  // namespace ef
