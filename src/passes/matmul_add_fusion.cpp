// MatMul + Add fusion: MatMul(A, B) + C with a 2-D A and B and a constant C that broadcasts onto the [M, N] result
// one way is exactly Gemm(A, B, C) (alpha = beta = 1), one node and one pass over the output instead of two.
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

// C broadcasts onto [M, N] without growing it: rank <= 2, each dim 1 or the matching result dim.
bool gemm_bias_shape(const Shape& c, const ValueType& y) {
  if (c.size() > 2 || !y.has_rank() || y.rank() != 2) return false;
  for (size_t j = 0; j < c.size(); ++j) {
    const Dim& d = (*y.dims)[2 - c.size() + j];
    if (c[j] != 1 && !(d.known() && d.value == c[j])) return false;
  }
  return true;
}

class MatMulAddFusion : public Pass {
 public:
  const char* name() const override { return "matmul-add-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "MatMul of float32 operands of static rank 2 whose output is read only by an Add (>= 7, not a graph "
           "output) with a float32 initializer of rank <= 2 broadcasting onto the [M, N] result; opset has Gemm >= 7";
  }

  int run(Graph& g, PassContext& ctx) override {
    const int gemm_version = standard_version("Gemm", ctx.opset);
    if (gemm_version < 7) return 0;
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    int count = 0;
    for (size_t ai = 0; ai < g.nodes.size(); ++ai) {
      const Node& add = g.nodes[ai];
      if (!is_op(add, "Add") || add.version < 7 || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
      for (int k = 0; k < 2; ++k) {
        const int y = add.inputs[static_cast<size_t>(k)];
        const int c = add.inputs[static_cast<size_t>(1 - k)];
        const int mi = producer_of(g, y);
        if (mi < 0 || removed[static_cast<size_t>(mi)] || !single_use(g, readers, y)) continue;
        const Node& mm = g.nodes[static_cast<size_t>(mi)];
        if (!is_op(mm, "MatMul") || mm.inputs.size() != 2) continue;
        const ValueType& at = g.values[static_cast<size_t>(mm.inputs[0])].type;
        const ValueType& bt = g.values[static_cast<size_t>(mm.inputs[1])].type;
        if (at.dtype != DType::kFloat32 || bt.dtype != DType::kFloat32 || !at.has_rank() || !bt.has_rank() ||
            at.rank() != 2 || bt.rank() != 2) {
          continue;
        }
        const Tensor* bias = float_initializer(g, c);
        if (bias == nullptr || !gemm_bias_shape(bias->shape(), g.values[static_cast<size_t>(y)].type)) continue;
        if (!ctx.allow_rewrite()) return finish_rewrites(g, removed, count);
        Node gemm = make_node(mm.name.empty() ? add.name : mm.name, "Gemm", gemm_version,
                              {mm.inputs[0], mm.inputs[1], c}, add.outputs);
        g.nodes[ai] = std::move(gemm);
        removed[static_cast<size_t>(mi)] = true;
        ++count;
        break;
      }
    }
    return finish_rewrites(g, removed, count);
  }
};

}  // namespace

std::unique_ptr<Pass> make_matmul_add_fusion() { return std::make_unique<MatMulAddFusion>(); }

}  // namespace ef
