// Gemm + BatchNormalization folding: BN over a Gemm's [M, N] output normalizes each of the N columns, so its scale
// goes into B's columns and its shift into a new [N] bias C (beta becomes 1). Common in classifier heads exported
// from BatchNorm1d.
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

class GemmBatchNormFolding : public Pass {
 public:
  const char* name() const override { return "gemm-batchnorm-folding"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "Gemm (>= 7) whose output is read only by an inference BatchNormalization (>= 7, no training_mode, only "
           "output 0 read); B is a float32 2-D initializer; C is absent or a float32 initializer constant along M "
           "([N], [1, N], [1] or scalar); all BN parameters are float32 [N] initializers";
  }

  int run(Graph& g, PassContext& ctx) override {
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t bi = 0; bi < g.nodes.size(); ++bi) {
      const Node& bn = g.nodes[bi];
      const int gi = batchnorm_fold_source(g, readers, removed, bn);
      if (gi < 0) continue;
      const Node& gemm = g.nodes[static_cast<size_t>(gi)];
      if (!is_op(gemm, "Gemm") || gemm.version < 7 || gemm.inputs.size() < 2) continue;
      const Tensor* b = float_initializer(g, gemm.inputs[1]);
      if (b == nullptr || b->rank() != 2) continue;
      const bool trans_b = gemm.attr_int("transB", 0) != 0;
      const int64_t k_dim = trans_b ? b->shape()[1] : b->shape()[0];
      const int64_t n = trans_b ? b->shape()[0] : b->shape()[1];
      const bool has_c = gemm.inputs.size() > 2 && gemm.inputs[2] != kNoValue;
      const Tensor* c = has_c ? float_initializer(g, gemm.inputs[2]) : nullptr;
      if (has_c) {
        if (c == nullptr || c->rank() > 2) continue;
        const bool ok = c->numel() == 1 || c->shape() == Shape{n} || c->shape() == Shape{1, n};
        if (!ok) continue;
      }
      std::optional<ChannelAffine> a = inference_batchnorm(g, bn, readers, n);
      if (!a) continue;
      if (!ctx.allow_rewrite()) break;

      const double beta = gemm.attr_float("beta", 1.0f);
      Tensor new_b = Tensor::zeros(DType::kFloat32, b->shape());
      for (int64_t k = 0; k < k_dim; ++k) {
        for (int64_t j = 0; j < n; ++j) {
          const int64_t idx = trans_b ? j * k_dim + k : k * n + j;
          new_b.data<float>()[idx] = static_cast<float>(b->data<float>()[idx] * a->scale[static_cast<size_t>(j)]);
        }
      }
      Tensor new_c = Tensor::zeros(DType::kFloat32, Shape{n});
      for (int64_t j = 0; j < n; ++j) {
        const double c0 = c != nullptr ? c->data<float>()[c->numel() == 1 ? 0 : j] * beta : 0.0;
        new_c.data<float>()[j] =
            static_cast<float>(c0 * a->scale[static_cast<size_t>(j)] + a->shift[static_cast<size_t>(j)]);
      }
      g.nodes[static_cast<size_t>(gi)].attrs["beta"] = Attribute::of_float(1.0f);
      replace_batchnorm_with_folded(g, bi, gi, removed, "_bn_folded_B", std::move(new_b), "_bn_folded_C",
                                    std::move(new_c));
      ++count;
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_gemm_batchnorm_folding() { return std::make_unique<GemmBatchNormFolding>(); }

}  // namespace ef
