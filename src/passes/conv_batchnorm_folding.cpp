// Conv + BatchNormalization folding: an inference BN after a Conv is a per-output-channel affine map, so it can be
// baked into the Conv's weights and bias. Saves a full pass over the activation at run time.
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

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
      const int ci = batchnorm_fold_source(g, readers, removed, bn);
      if (ci < 0) continue;
      const Node& conv = g.nodes[static_cast<size_t>(ci)];
      if (!is_op(conv, "Conv") || (conv.version != 1 && conv.version != 11)) continue;
      if (conv.inputs.size() < 2 || conv.outputs.size() != 1) continue;
      const Tensor* w = float_initializer(g, conv.inputs[1]);
      if (w == nullptr || w->rank() < 3 || w->shape()[0] <= 0) continue;
      const int64_t m = w->shape()[0];
      const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
      const Tensor* bias = has_bias ? float_initializer(g, conv.inputs[2]) : nullptr;
      if (has_bias && (bias == nullptr || bias->shape() != Shape{m})) continue;
      std::optional<ChannelAffine> a = inference_batchnorm(g, bn, readers, m);
      if (!a) continue;
      if (!ctx.allow_rewrite()) break;

      // Per channel c: BN(y) = s_c * y + shift_c. The affine map is in double, so the folded constants are as
      // close as float allows to what the two ops computed.
      const int64_t per_channel = w->numel() / m;
      Tensor new_w = Tensor::zeros(DType::kFloat32, w->shape());
      Tensor new_b = Tensor::zeros(DType::kFloat32, Shape{m});
      for (int64_t c = 0; c < m; ++c) {
        const double s = a->scale[static_cast<size_t>(c)];
        const double b0 = bias != nullptr ? bias->data<float>()[c] : 0.0;
        new_b.data<float>()[c] = static_cast<float>(b0 * s + a->shift[static_cast<size_t>(c)]);
        const float* src = w->data<float>() + c * per_channel;
        float* dst = new_w.data<float>() + c * per_channel;
        for (int64_t k = 0; k < per_channel; ++k) dst[k] = static_cast<float>(src[k] * s);
      }
      replace_batchnorm_with_folded(g, bi, ci, removed, "_bn_folded_W", std::move(new_w), "_bn_folded_B",
                                    std::move(new_b));
      ++count;
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_batchnorm_folding() { return std::make_unique<ConvBatchNormFolding>(); }

}  // namespace ef
