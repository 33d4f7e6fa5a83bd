// Pad folding: a zero constant Pad of the spatial axes in front of a Conv or an AveragePool that counts padding
// (count_include_pad = 1) is the same as padding inside that op, which the kernels do without materializing the
// padded tensor. MaxPool is left alone: it pads with -inf, not zero, so folding would change border maxima.
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

// The node can absorb spatial zero padding into its `pads` attribute.
bool absorbs_padding(const Node& n) {
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "") return false;
  if (is_op(n, "Conv")) return n.version == 1 || n.version == 11;
  if (is_op(n, "AveragePool")) return n.attr_int("count_include_pad", 0) == 1 && n.attr_int("ceil_mode", 0) == 0;
  return false;
}

class PadFolding : public Pass {
 public:
  const char* name() const override { return "pad-folding"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "Pad (>= 2, constant mode, value 0 or absent, constant non-negative pads, none on the batch and channel "
           "axes) whose output is read only by a Conv or an AveragePool with count_include_pad = 1 and ceil_mode = 0, "
           "auto_pad NOTSET, as its data input; not a graph output";
  }

  int run(Graph& g, PassContext& ctx) override {
    const std::vector<int> readers = reader_counts(g);
    int count = 0;
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
      Node& n = g.nodes[ni];
      if (n.inputs.empty() || !absorbs_padding(n)) continue;
      const int padded = n.inputs[0];
      const int pi = producer_of(g, padded);
      if (pi < 0 || !single_use(g, readers, padded)) continue;
      std::optional<std::vector<int64_t>> pads = zero_pads(g, g.nodes[static_cast<size_t>(pi)]);
      if (!pads) continue;
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
      Attribute a;
      a.kind = Attribute::Kind::kInts;
      a.ints = std::move(own);
      n.attrs["pads"] = std::move(a);
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
