#include "fusion_test_util.h"
#include "ops/fused.h"

namespace ef::test {
namespace residual_add_fusion_test {

TEST(ResidualAddFusion, ConvAddReluBecomesOneNode) {
  GraphBuilder b;
  b.input("x", ftype({1, 3, 4, 4}))
      .init("W", rand_f32({3, 3, 3, 3}, 1))
      .init("B", rand_f32({3}, 2))
      .node("Conv", 11, {"x", "W", "B"}, {"c"}, conv3x3())
      .node("Add", 14, {"x", "c"}, {"s"})
      .node("Relu", 14, {"s"}, {"y"})
      .output("y", ftype({1, 3, 4, 4}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_residual_add_fusion()), 1);
  EXPECT_EQ(run_pass(after, make_activation_fusion()), 1);
  const Graph& g = *after.graph;
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "FusedConv");
  ASSERT_EQ(g.nodes[0].inputs.size(), 4u);
  EXPECT_EQ(g.values[static_cast<size_t>(g.nodes[0].inputs[3])].name, "x");
  EXPECT_EQ(g.nodes[0].attr_string("activation", ""), "Relu");
  expect_same_outputs(before, after);
}

TEST(ResidualAddFusion, SkipsBroadcastingAdds) {
  GraphBuilder b;
  b.input("x", ftype({1, 3, 4, 4}))
      .input("z", ftype({1, 3, 1, 1}))
      .init("W", rand_f32({3, 3, 3, 3}, 1))
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("Add", 14, {"c", "z"}, {"y"})
      .output("y", ftype({1, 3, 4, 4}));
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_residual_add_fusion()), 0);
  // Symbolic dims: the same named symbol proves equal shapes, different symbols do not.
  GraphBuilder b2;
  b2.input("x", ftype({Dim::symbol("N"), 3, 4, 4}))
      .input("z", ftype({Dim::symbol("M"), 3, 4, 4}))
      .init("W", rand_f32({3, 3, 3, 3}, 1))
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("Add", 14, {"c", "z"}, {"y"})
      .output("y");
  Model m2 = b2.build();
  EXPECT_EQ(run_pass(m2, make_residual_add_fusion()), 0);
}

}  // namespace
}  // namespace ef::test
