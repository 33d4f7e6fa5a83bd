// QLinearConv + QLinearAdd fusion: QLinearAdd(QLinearConv(x, ...), r) with r of the convolution's shape, the
// convolution's result read only by the add and quantized with the parameters the add dequantizes it with,
// becomes ai.edgeforge QLinearConvAdd, so the fast kernel adds r to each block of outputs while it is still in
// cache instead of writing the convolution's whole result and reading it back (BlazeFace's 31 residual adds were
// ~20% of its INT8 time). Exact: the fused op computes the same two roundings.
#include <cstring>

#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

enum : size_t { kAddA = 0, kAddB = 3, kConvYScale = 6, kConvYZp = 7, kConvInputs = 9 };

// Two quantization parameters (a scale or a zero point) that are the same value or equal one-element
// initializers; an omitted zero point equals a uint8 zero.
bool same_param(const Graph& g, int a, int b) {
  if (a == b) return true;
  auto bytes = [&](int v) -> std::optional<std::pair<DType, uint32_t>> {
    if (v == kNoValue) return std::pair{DType::kUInt8, 0u};
    const Tensor& t = g.values[static_cast<size_t>(v)].initializer;
    if (!t.defined() || t.numel() != 1 || dtype_size(t.dtype()) > 4) return std::nullopt;
    uint32_t bits = 0;
    std::memcpy(&bits, t.raw(), dtype_size(t.dtype()));
    return std::pair{t.dtype(), bits};
  };
  const auto x = bytes(a), y = bytes(b);
  return x && y && *x == *y;
}

int input_or_none(const Node& n, size_t i) { return i < n.inputs.size() ? n.inputs[i] : kNoValue; }

class QconvAddFusion : public Pass {
 public:
  const char* name() const override { return "qconv-add-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "ai.edgeforge QLinearAdd of a QLinearConv output (read only by the add, not a graph output, quantized "
           "with the scale and zero point the add reads it with) and another value whose static shape provably "
           "equals it";
  }

  int run(Graph& g, PassContext& ctx) override {
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t ai = 0; ai < g.nodes.size(); ++ai) {
      const Node& add = g.nodes[ai];
      if (add.domain != kEdgeForgeDomain || add.op_type != "QLinearAdd" || add.inputs.size() < 7 ||
          add.outputs.size() != 1) {
        continue;
      }
      for (size_t k : {kAddA, kAddB}) {
        const size_t other = k == kAddA ? kAddB : kAddA;
        const int y = add.inputs[k], r = add.inputs[other];
        const int ci = producer_of(g, y);
        if (ci < 0 || removed[static_cast<size_t>(ci)] || y == r || !single_use(g, readers, y)) continue;
        const Node& conv = g.nodes[static_cast<size_t>(ci)];
        if (!is_op(conv, "QLinearConv") || conv.inputs.size() < kConvYZp + 1 || conv.outputs.size() != 1) continue;
        if (!same_param(g, conv.inputs[kConvYScale], add.inputs[k + 1]) ||
            !same_param(g, conv.inputs[kConvYZp], input_or_none(add, k + 2))) {
          continue;
        }
        if (!same_static_dims(g.values[static_cast<size_t>(y)].type, g.values[static_cast<size_t>(r)].type)) continue;
        if (!ctx.allow_rewrite()) return finish_rewrites(g, removed, count);
        Node fused = as_edgeforge_op(conv, "QLinearConvAdd");
        fused.name = add.name.empty() ? conv.name : add.name;
        fused.inputs.resize(kConvInputs, kNoValue);
        for (size_t i : {other, other + 1, other + 2, size_t{6}, size_t{7}}) fused.inputs.push_back(input_or_none(add, i));
        fused.outputs = add.outputs;
        // At the add's position both the convolution's inputs and r are defined.
        g.nodes[ai] = std::move(fused);
        removed[static_cast<size_t>(ci)] = true;
        ++count;
        break;
      }
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_qconv_add_fusion() { return std::make_unique<QconvAddFusion>(); }

}  // namespace ef
