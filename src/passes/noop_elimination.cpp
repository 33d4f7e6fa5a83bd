// No-op elimination: Cast to the dtype the input already has, Reshape to the shape the input already has,
// Transpose with the identity permutation. Each is proven by static types only (infer_types); a dynamic dim is
// never assumed to have any particular size.
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

bool cast_is_noop(const Graph& g, const Node& n) {
  if (n.inputs.size() != 1 || !n.has_attr("to")) return false;
  DType from = g.values[static_cast<size_t>(n.inputs[0])].type.dtype;
  return from != DType::kUndefined && static_cast<int64_t>(from) == n.attr_int("to", -1);
}

// The Reshape target, resolved against the input dims without guessing: every output dim must provably equal the
// input dim at the same position (same known size, or copied by a 0 entry), with at most one -1 entry, which then
// equals the remaining input dim -- only provable when every other input dim is known and non-zero.
bool reshape_is_noop(const Graph& g, const Node& n, const std::vector<Tensor>& known) {
  if (n.inputs.size() != 2 || n.inputs[1] == kNoValue) return false;
  const ValueType& in = g.values[static_cast<size_t>(n.inputs[0])].type;
  const Tensor& target = known[static_cast<size_t>(n.inputs[1])];
  if (!in.has_rank() || !target.defined() || target.rank() != 1) return false;
  if (in.concrete_shape()) {  // fully static: compare with what inference derived for the output
    const ValueType& out = g.values[static_cast<size_t>(n.outputs[0])].type;
    return out.concrete_shape() && *out.concrete_shape() == *in.concrete_shape();
  }
  std::vector<int64_t> shape = target.to_int64_vector();
  if (shape.size() != in.rank()) return false;
  const bool allow_zero = n.attr_int("allowzero", 0) != 0;
  const Dims& dims = *in.dims;
  int wildcard = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && wildcard < 0) {
      wildcard = static_cast<int>(i);
    } else if (shape[i] == 0 && !allow_zero) {
      continue;  // copies input dim i
    } else if (!dims[i].known() || dims[i].value != shape[i]) {
      return false;
    }
  }
  if (wildcard < 0) return true;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (static_cast<int>(i) != wildcard && (!dims[i].known() || dims[i].value == 0)) return false;
  }
  return true;
}

bool transpose_is_noop(const Graph& g, const Node& n) {
  if (n.inputs.size() != 1) return false;
  if (!n.has_attr("perm")) {  // default perm reverses the dims: a no-op only for rank <= 1
    const ValueType& in = g.values[static_cast<size_t>(n.inputs[0])].type;
    return in.has_rank() && in.rank() <= 1;
  }
  std::vector<int64_t> perm = n.attr_ints("perm");
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

class NoopElimination : public Pass {
 public:
  const char* name() const override { return "noop-elimination"; }
  int level() const override { return 1; }
  const char* precondition() const override {
    return "static types from infer_types prove the node returns its input unchanged: Cast to the input dtype, "
           "Reshape to the input shape, Transpose with perm 0..n-1";
  }

  int run(Graph& g, PassContext& ctx) override {
    std::vector<Tensor> known = infer_types(g);
    return bypass_nodes_where(g, ctx, [&g, &known](const Node& n) {
      if (!n.domain.empty() || n.outputs.size() != 1) return false;
      try {
        return (n.op_type == "Cast" && cast_is_noop(g, n)) ||
               (n.op_type == "Reshape" && reshape_is_noop(g, n, known)) ||
               (n.op_type == "Transpose" && transpose_is_noop(g, n));
      } catch (const Error&) {
        return false;  // malformed attributes: leave the node for the runtime to report
      }
    });
  }
};

}  // namespace

std::unique_ptr<Pass> make_noop_elimination() { return std::make_unique<NoopElimination>(); }

}  // namespace ef
