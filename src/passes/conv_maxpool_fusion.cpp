// Conv + MaxPool fusion: a MaxPool (values only, 2-D) whose input is the output of a Conv, or of a FusedConv without
// residual, that nothing else reads becomes one ai.edgeforge FusedConvMaxPool node, where the conv is a layer the
// CPU provider computes in row bands (few input channels: the stem convs of squeezenet, resnet18, shufflenet). The
// provider then pools each band of conv rows while it is in cache, and the conv's output (the network's largest
// tensor, 3.1 MB in squeezenet1_1) is never written whole. Runs after activation fusion, so Conv + Relu + MaxPool
// ends as one node; the activation stays before the pool, as in the original graph.
#include <algorithm>

#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// MaxPool over a 2-D window whose Indices output is absent.
bool values_only_max_pool(const Node& n) {
  if (!is_op(n, "MaxPool") || n.inputs.size() != 1) return false;
  if (n.outputs.empty() || (n.outputs.size() > 1 && n.outputs[1] != kNoValue)) return false;
  return n.attr_ints("kernel_shape").size() == 2;
}

class ConvMaxPoolFusion : public Pass {
 public:
  const char* name() const override { return "conv-maxpool-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "MaxPool (2-D, no Indices output) of a float32 Conv/FusedConv output (FusedConv without residual) read "
           "only by the MaxPool and not a graph output; static input and weight shapes; the conv has group 1, at "
           "most 4 input channels, a kernel of at most 7x7, column stride at most 4 and no dilation";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t pi = 0; pi < g.nodes.size(); ++pi) {
      const Node& pool = g.nodes[pi];
      if (!values_only_max_pool(pool) || !is_float32(g, pool.outputs[0])) continue;
      const int y = pool.inputs[0];
      const int ci = producer_of(g, y);
      if (ci < 0 || removed[static_cast<size_t>(ci)] || !single_use(g, readers, y) || !is_float32(g, y)) continue;
      const Node& conv = g.nodes[static_cast<size_t>(ci)];
      if (!conv_without_residual(conv)) continue;
      const std::optional<Shape> x = static_shape(g, conv.inputs[0]), w = static_shape(g, conv.inputs[1]);
      if (!x || !w || !conv_max_pool_fusable(conv, *x, *w)) continue;
      if (!ctx.allow_rewrite()) break;
      Node fused = as_fused_conv_op(conv, "FusedConvMaxPool");
      if (fused.inputs.size() > 3) fused.inputs.resize(3);
      for (const auto& [key, attr] : pool.attrs) fused.attrs[kPoolAttrPrefix + key] = attr;
      fused.outputs = {pool.outputs[0]};
      // The fused node takes the pool's place: the conv's inputs are defined before the conv, hence before it.
      g.nodes[pi] = std::move(fused);
      removed[static_cast<size_t>(ci)] = true;
      ++count;
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_maxpool_fusion() { return std::make_unique<ConvMaxPoolFusion>(); }

}  // namespace ef
