// Pad folding: a zero constant Pad of the spatial axes in front of a Conv or an AveragePool that counts padding
// (count_include_pad = 1) is the same as padding inside that op, which the kernels do without materializing the
// padded tensor. MaxPool pads with -inf, not zero, so it takes the padding only when its input is provably
// non-negative (a Relu-like producer) and every window keeps at least one real element: then the zeros never win.
#include "ops/fused.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef {
namespace {

// Pads of a zero-valued constant-mode Pad (begin..., end... per axis), or nullopt.
std::optional<std::vector<int64_t>> zero_pads(const Graph& g, const Node& pad) {
  if (!is_op(pad, "Pad") || pad.version < 2 || pad.inputs.empty() || pad.outputs.size() != 1) return std::nullopt;
  if (pad.attr_string("mode", "constant") != "constant") return std::nullopt;
  std::vector<int64_t> pads;
  if (pad.version < 11) {
    if (pad.attr_float("value", 0.0f) != 0.0f) return std::nullopt;
    pads = pad.attr_ints("pads");
  } else {
    if (pad.inputs.size() < 2) return std::nullopt;
    std::optional<std::vector<int64_t>> p = int64_initializer(g, pad.inputs[1]);
    if (!p) return std::nullopt;
    pads = *p;
    if (pad.inputs.size() > 2 && pad.inputs[2] != kNoValue) {
      std::optional<float> v = scalar_initializer(g, pad.inputs[2]);
      if (!v || *v != 0.0f) return std::nullopt;
    }
  }
  if (pads.empty() || pads.size() % 2 != 0) return std::nullopt;
  for (int64_t p : pads) {
    if (p < 0) return std::nullopt;  // negative pads crop, which no window op can express
  }
  return pads;
}

// Every element of `v` is >= 0 whatever the input: it is the output of an op whose range is non-negative.
bool non_negative(const Graph& g, int v) {
  const int p = producer_of(g, v);
  if (p < 0) return false;
  const Node& n = g.nodes[static_cast<size_t>(p)];
  if (is_op(n, "Relu") || is_op(n, "Sigmoid") || is_op(n, "HardSigmoid") || is_op(n, "Abs") || is_op(n, "Exp")) {
    return true;
  }
  if (is_op(n, "Clip")) {
    if (n.version < 11) return n.has_attr("min") && n.attr_float("min", -1.0f) >= 0.0f;
    std::optional<float> lo = n.inputs.size() > 1 ? scalar_initializer(g, n.inputs[1]) : std::nullopt;
    return lo && *lo >= 0.0f;
  }
  if (n.domain == kEdgeForgeDomain && (n.op_type == "FusedConv" || n.op_type == "FusedGemm")) {
    const std::string act = n.attr_string("activation", "");
    if (act == "Relu" || act == "Sigmoid" || act == "HardSigmoid") return true;
    if (act == "Clip") {
      const std::vector<float> params = n.attr_floats("activation_params");
      return params.size() == 2 && params[0] >= 0.0f;
    }
  }
  return false;
}

// The node can absorb spatial zero padding (`pads`, begin..., end... over all axes) into its `pads` attribute.
bool absorbs_padding(const Graph& g, const std::vector<int>& readers, const Node& n, const std::vector<int64_t>& pads) {
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "") return false;
  if (is_op(n, "Conv")) return n.version == 1 || n.version == 11;
  if (is_op(n, "AveragePool")) return n.attr_int("count_include_pad", 0) == 1 && n.attr_int("ceil_mode", 0) == 0;
  if (!is_op(n, "MaxPool") || n.version < 8 || n.attr_int("ceil_mode", 0) != 0) return false;
  // Indices would count padded positions; dilated windows might hold padding only.
  if (n.outputs.size() > 1 && n.outputs[1] != kNoValue && readers[static_cast<size_t>(n.outputs[1])] > 0) return false;
  for (int64_t d : n.attr_ints("dilations")) {
    if (d != 1) return false;
  }
  const Node& pad = g.nodes[static_cast<size_t>(producer_of(g, n.inputs[0]))];
  if (!non_negative(g, pad.inputs[0])) return false;
  const std::vector<int64_t> kernel = n.attr_ints("kernel_shape");
  const size_t rank = pads.size() / 2;
  if (kernel.size() + 2 != rank) return false;
  const std::vector<int64_t> own = n.attr_ints("pads", std::vector<int64_t>(2 * kernel.size(), 0));
  if (own.size() != 2 * kernel.size()) return false;
  for (size_t i = 0; i < kernel.size(); ++i) {
    if (own[i] + pads[2 + i] >= kernel[i] || own[kernel.size() + i] + pads[rank + 2 + i] >= kernel[i]) return false;
  }
  return true;
}

class PadFolding : public Pass {
 public:
  const char* name() const override { return "pad-folding"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "Pad (>= 2, constant mode, value 0 or absent, constant non-negative pads, none on the batch and channel "
           "axes) whose output is read only by a Conv, an AveragePool with count_include_pad = 1 and ceil_mode = 0, or a "
           "MaxPool (>= 8, ceil_mode = 0, no dilation, Indices unread, total pads < kernel) whose Pad input is the "
           "output of Relu/Sigmoid/HardSigmoid/Abs/Exp/Clip(min >= 0) or a fused node with such an activation; "
           "auto_pad NOTSET; the Pad output is not a graph output";
  }

  int run(Graph& g, PassContext& ctx) override {
    const std::vector<int> readers = reader_counts(g);
    int count = 0;
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
      Node& n = g.nodes[ni];
      if (n.inputs.empty() || n.inputs[0] == kNoValue) continue;
      const int padded = n.inputs[0];
      const int pi = producer_of(g, padded);
      if (pi < 0 || !single_use(g, readers, padded)) continue;
      std::optional<std::vector<int64_t>> pads = zero_pads(g, g.nodes[static_cast<size_t>(pi)]);
      if (!pads || !absorbs_padding(g, readers, n, *pads)) continue;
      const size_t rank = pads->size() / 2;
      if (rank < 3 || (*pads)[0] != 0 || (*pads)[1] != 0 || (*pads)[rank] != 0 || (*pads)[rank + 1] != 0) continue;
      const size_t nd = rank - 2;
      std::vector<int64_t> own = n.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
      if (own.size() != 2 * nd) continue;
      if (!ctx.allow_rewrite()) break;
      for (size_t i = 0; i < nd; ++i) {
        own[i] += (*pads)[2 + i];
        own[nd + i] += (*pads)[rank + 2 + i];
      }
      n.attrs["pads"] = Attribute::of_ints(std::move(own));
      n.attrs.erase("auto_pad");
      n.inputs[0] = g.nodes[static_cast<size_t>(pi)].inputs[0];
      ++count;
    }
    return count;
  }
};

}  // namespace

std::unique_ptr<Pass> make_pad_folding() { return std::make_unique<PadFolding>(); }

}  // namespace ef
