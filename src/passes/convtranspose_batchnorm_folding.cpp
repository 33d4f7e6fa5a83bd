// ConvTranspose + BatchNormalization folding: like conv-batchnorm-folding, for the transposed convolution of
// decoder and upsampling heads. ConvTranspose's weight is [C, M/group, k...], so output channel m = g * (M/group) + j
// lives in column j of the input-channel rows of group g.
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

class ConvTransposeBatchNormFolding : public Pass {
 public:
  const char* name() const override { return "convtranspose-batchnorm-folding"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "ConvTranspose (1/11) whose output is read only by an inference BatchNormalization (>= 7, no "
           "training_mode, only output 0 read); weight, optional [M] bias and all BN parameters are float32 "
           "initializers";
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
      if (!is_op(conv, "ConvTranspose") || (conv.version != 1 && conv.version != 11) || conv.inputs.size() < 2) {
        continue;
      }
      const Tensor* w = float_initializer(g, conv.inputs[1]);
      const int64_t group = conv.attr_int("group", 1);
      if (w == nullptr || w->rank() < 3 || group < 1 || w->shape()[0] % group != 0) continue;
      const int64_t in_c = w->shape()[0], per_group = w->shape()[1], m = per_group * group;
      const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
      const Tensor* bias = has_bias ? float_initializer(g, conv.inputs[2]) : nullptr;
      if (has_bias && (bias == nullptr || bias->shape() != Shape{m})) continue;
      std::optional<ChannelAffine> a = inference_batchnorm(g, bn, readers, m);
      if (!a) continue;
      if (!ctx.allow_rewrite()) break;

      const int64_t taps = w->numel() / (in_c * per_group);
      const int64_t in_per_group = in_c / group;
      Tensor new_w = Tensor::zeros(DType::kFloat32, w->shape());
      for (int64_t c = 0; c < in_c; ++c) {
        for (int64_t j = 0; j < per_group; ++j) {
          const double s = a->scale[static_cast<size_t>((c / in_per_group) * per_group + j)];
          const int64_t off = (c * per_group + j) * taps;
          for (int64_t t = 0; t < taps; ++t) {
            new_w.data<float>()[off + t] = static_cast<float>(w->data<float>()[off + t] * s);
          }
        }
      }
      Tensor new_b = Tensor::zeros(DType::kFloat32, Shape{m});
      for (int64_t o = 0; o < m; ++o) {
        const double b0 = bias != nullptr ? bias->data<float>()[o] : 0.0;
        new_b.data<float>()[o] = static_cast<float>(b0 * a->scale[static_cast<size_t>(o)] + a->shift[static_cast<size_t>(o)]);
      }
      replace_batchnorm_with_folded(g, bi, ci, removed, "_bn_folded_W", std::move(new_w), "_bn_folded_B",
                                    std::move(new_b));
      ++count;
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_convtranspose_batchnorm_folding() {
  return std::make_unique<ConvTransposeBatchNormFolding>();
}

}  // namespace ef
