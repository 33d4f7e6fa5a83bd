// Conv + per-channel affine folding: Add/Sub/Mul/Div of a Conv output by a constant that varies only along the
// channel axis is folded into the Conv's bias (Add/Sub) or weights and bias (Mul/Div). Exporters often write a
// Conv's bias or a frozen scale this way; folding removes a full pass over the activation.
#include <algorithm>

#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

class ConvAffineFolding : public Pass {
 public:
  const char* name() const override { return "conv-affine-folding"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "Conv (1/11) with a float32 initializer weight and optional float32 [M] initializer bias, output of static "
           "rank read only by one Add/Sub/Mul/Div (>= 7, not a graph output) with a float32 initializer operand that "
           "varies only along the channel axis and adds no dims; Sub and Div only with the Conv output first";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t oi = 0; oi < g.nodes.size(); ++oi) {
      const Node& op = g.nodes[oi];
      const bool add = is_op(op, "Add"), sub = is_op(op, "Sub"), mul = is_op(op, "Mul"), div = is_op(op, "Div");
      if (!(add || sub || mul || div) || op.version < 7 || op.inputs.size() != 2 || op.outputs.size() != 1) continue;
      for (int k = 0; k < 2; ++k) {
        if (k == 1 && (sub || div)) break;  // c - conv and c / conv are not affine in the weights
        const int y = op.inputs[static_cast<size_t>(k)];
        const int ci = producer_of(g, y);
        if (ci < 0 || removed[static_cast<size_t>(ci)] || !single_use(g, readers, y)) continue;
        const Node& conv = g.nodes[static_cast<size_t>(ci)];
        if (!is_op(conv, "Conv") || (conv.version != 1 && conv.version != 11) || conv.inputs.size() < 2) continue;
        const Tensor* w = float_initializer(g, conv.inputs[1]);
        if (w == nullptr || w->rank() < 3) continue;
        const int64_t m = w->shape()[0];
        const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
        const Tensor* bias = has_bias ? float_initializer(g, conv.inputs[2]) : nullptr;
        if (has_bias && (bias == nullptr || bias->shape() != Shape{m})) continue;
        const ValueType& yt = g.values[static_cast<size_t>(y)].type;
        const Tensor* c = float_initializer(g, op.inputs[static_cast<size_t>(1 - k)]);
        if (c == nullptr || !yt.has_rank() || yt.rank() != w->rank()) continue;
        std::optional<std::vector<float>> per = per_channel_values(*c, yt.rank(), 1, m);
        if (!per || (div && std::find(per->begin(), per->end(), 0.0f) != per->end())) continue;
        if (!ctx.allow_rewrite()) return finish_rewrites(g, removed, count);

        const int64_t per_out = w->numel() / m;
        Tensor new_b = Tensor::zeros(DType::kFloat32, Shape{m});
        Tensor new_w;
        for (int64_t ch = 0; ch < m; ++ch) {
          const double b0 = bias != nullptr ? bias->data<float>()[ch] : 0.0;
          const double s = (*per)[static_cast<size_t>(ch)];
          const double nb = add ? b0 + s : sub ? b0 - s : mul ? b0 * s : b0 / s;
          new_b.data<float>()[ch] = static_cast<float>(nb);
        }
        if (mul || div) {
          new_w = Tensor::zeros(DType::kFloat32, w->shape());
          for (int64_t ch = 0; ch < m; ++ch) {
            const double s = (*per)[static_cast<size_t>(ch)];
            const float* src = w->data<float>() + ch * per_out;
            float* dst = new_w.data<float>() + ch * per_out;
            for (int64_t i = 0; i < per_out; ++i) dst[i] = static_cast<float>(mul ? src[i] * s : src[i] / s);
          }
        }
        const std::string base = conv.name.empty() ? g.values[static_cast<size_t>(y)].name : conv.name;
        Node fused = conv;
        fused.inputs.resize(3, kNoValue);
        fused.inputs[2] = add_initializer(g, base + "_folded_B", std::move(new_b));
        if (new_w.defined()) fused.inputs[1] = add_initializer(g, base + "_folded_W", std::move(new_w));
        fused.outputs = g.nodes[oi].outputs;
        g.nodes[oi] = std::move(fused);
        removed[static_cast<size_t>(ci)] = true;
        ++count;
        break;
      }
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_affine_folding() { return std::make_unique<ConvAffineFolding>(); }

}  // namespace ef
