// Pointwise + depthwise fusion: a depthwise Conv (or FusedConv without residual) whose input is the output of a
// pointwise Conv (or FusedConv without residual: 1x1, stride 1, no padding, group 1) that nothing else reads becomes
// one ai.edgeforge FusedConvDepthwise node, where that intermediate is too large for the caches (the expansion of
// an inverted-residual block on large planes: mobilenet_v2's 96 x 112 x 112, 4.8 MB). The CPU provider then runs
// the depthwise conv on each band of pointwise rows while it is in L2, and the intermediate is never written whole.
// Runs after activation fusion, so Conv + Clip + Conv + Clip ends as one node with both activations.
#include <algorithm>

#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// Below this many bytes the intermediate stays in L2 between the two nodes anyway, and the bands only add their
// overlap rows and calls (mobilenet_v2's 192 x 28 x 28 layers, 0.6 MB, were level or slower fused).
constexpr int64_t kMinIntermediateBytes = int64_t{1} << 20;

class ConvDepthwiseFusion : public Pass {
 public:
  const char* name() const override { return "conv-depthwise-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "depthwise Conv/FusedConv (group = channels, column stride 1 or 2, no residual) of a float32 pointwise "
           "Conv/FusedConv output (1x1, stride 1, no padding, group 1, no residual) of at least 1 MiB, read only by "
           "the depthwise conv and not a graph output; static input and weight shapes";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t di = 0; di < g.nodes.size(); ++di) {
      const Node& dw = g.nodes[di];
      if (!conv_without_residual(dw) || !is_float32(g, dw.outputs[0])) continue;
      const int mid = dw.inputs[0];
      const int pi = producer_of(g, mid);
      if (pi < 0 || removed[static_cast<size_t>(pi)] || !single_use(g, readers, mid) || !is_float32(g, mid)) continue;
      const Node& pw = g.nodes[static_cast<size_t>(pi)];
      if (!conv_without_residual(pw)) continue;
      const std::optional<Shape> x = static_shape(g, pw.inputs[0]), w1 = static_shape(g, pw.inputs[1]);
      const std::optional<Shape> mid_shape = static_shape(g, mid), w2 = static_shape(g, dw.inputs[1]);
      if (!x || !w1 || !mid_shape || !w2 || !conv_depthwise_fusable(pw, *x, *w1, dw, *w2)) continue;
      if (shape_numel(*mid_shape) * static_cast<int64_t>(sizeof(float)) < kMinIntermediateBytes) continue;
      if (!ctx.allow_rewrite()) break;
      Node fused = as_fused_conv_op(pw, "FusedConvDepthwise");
      fused.inputs.resize(3, kNoValue);
      fused.inputs.push_back(dw.inputs[1]);
      if (dw.inputs.size() > 2 && dw.inputs[2] != kNoValue) fused.inputs.push_back(dw.inputs[2]);
      for (const auto& [key, attr] : as_fused_conv_op(dw, "FusedConv").attrs) {
        fused.attrs[kDepthwiseAttrPrefix + key] = attr;
      }
      fused.outputs = {dw.outputs[0]};
      // The fused node takes the depthwise conv's place: the pointwise conv's inputs are defined before it.
      g.nodes[di] = std::move(fused);
      removed[static_cast<size_t>(pi)] = true;
      ++count;
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_depthwise_fusion() { return std::make_unique<ConvDepthwiseFusion>(); }

}  // namespace ef
