// Concat with zeros -> Pad: Concat(x, ConstantOfShape(shape)) with a zero fill (channel padding in BlazeFace-style
// blocks) is a zero Pad of x along the concat axis. One node instead of two, and no zero tensor to materialize
// (constant folding leaves large ConstantOfShape outputs as nodes rather than bloating the file).
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// ConstantOfShape's fill is zero (the default when the attribute is absent is float32 0); returns its dtype.
std::optional<DType> zero_fill_dtype(const Node& n) {
  const Tensor v = n.attr_tensor("value");
  if (!v.defined()) return DType::kFloat32;
  if (v.numel() != 1 || v.value_as_double(0) != 0.0) return std::nullopt;
  return v.dtype();
}

class ConcatZerosToPad : public Pass {
 public:
  const char* name() const override { return "concat-zeros-to-pad"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "Concat (>= 4) of exactly two inputs, one of them a ConstantOfShape output (read only by the Concat, zero "
           "fill of the other input's dtype, constant int64 shape) and the other of static rank equal to that shape's "
           "length with every known dim off the concat axis equal to the shape's; opset has Pad";
  }

  int run(Graph& g, PassContext& ctx) override {
    const int pad_version = standard_version("Pad", ctx.opset);
    if (pad_version < 2) return 0;
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t ci = 0; ci < g.nodes.size(); ++ci) {
      const Node& cat = g.nodes[ci];
      if (!is_op(cat, "Concat") || cat.version < 4 || cat.inputs.size() != 2 || cat.outputs.size() != 1) continue;
      for (int k = 0; k < 2; ++k) {
        const int zeros = cat.inputs[static_cast<size_t>(k)];
        const int x = cat.inputs[static_cast<size_t>(1 - k)];
        const int zi = producer_of(g, zeros);
        if (zi < 0 || removed[static_cast<size_t>(zi)] || !single_use(g, readers, zeros) || x == zeros) continue;
        const Node& cos = g.nodes[static_cast<size_t>(zi)];
        if (!is_op(cos, "ConstantOfShape") || cos.inputs.size() != 1) continue;
        std::optional<std::vector<int64_t>> shape = int64_initializer(g, cos.inputs[0]);
        std::optional<DType> fill = zero_fill_dtype(cos);
        const ValueType& xt = g.values[static_cast<size_t>(x)].type;
        if (!shape || !fill || *fill != xt.dtype || !xt.has_rank() || xt.rank() != shape->size() || shape->empty()) {
          continue;
        }
        const int64_t rank = static_cast<int64_t>(shape->size());
        int64_t axis = cat.attr_int("axis", 0);
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank) continue;
        bool dims_match = true;
        for (int64_t i = 0; i < rank; ++i) {
          const Dim& d = (*xt.dims)[static_cast<size_t>(i)];
          if (i != axis && d.known() && d.value != (*shape)[static_cast<size_t>(i)]) dims_match = false;
        }
        if (!dims_match) continue;
        if (!ctx.allow_rewrite()) return finish_rewrites(g, removed, count);
        std::vector<int64_t> pads(static_cast<size_t>(2 * rank), 0);
        pads[static_cast<size_t>(k == 0 ? axis : rank + axis)] = (*shape)[static_cast<size_t>(axis)];
        const std::string base = cat.name.empty() ? g.values[static_cast<size_t>(cat.outputs[0])].name : cat.name;
        const std::vector<int> outs = cat.outputs;
        Node pad;
        if (pad_version >= 11) {
          const int pv = add_initializer(g, base + "_pads", Tensor::from_vector(DType::kInt64, Shape{2 * rank}, pads));
          pad = make_node(base + "_pad", "Pad", pad_version, {x, pv}, outs);
        } else {
          pad = make_node(base + "_pad", "Pad", pad_version, {x}, outs);
          pad.attrs["pads"] = Attribute::of_ints(pads);
        }
        g.nodes[ci] = std::move(pad);
        removed[static_cast<size_t>(zi)] = true;
        ++count;
        break;
      }
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_concat_zeros_to_pad() { return std::make_unique<ConcatZerosToPad>(); }

}  // namespace ef
