#include "fusion_test_util.h"
#include "ops/fused.h"

namespace ef::test {
namespace activation_fusion_test {

TEST(ActivationFusion, FusesReluClipAndSiluIntoConvAndGemm) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5}))
      .input("a", ftype({2, 4}))
      .init("W", rand_f32({3, 2, 3, 3}, 1))
      .init("W2", rand_f32({3, 2, 3, 3}, 2))
      .init("G", rand_f32({4, 3}, 3))
      .init("lo", f32({}, {-0.1f}))
      .init("hi", f32({}, {0.2f}))
      .node("Conv", 11, {"x", "W"}, {"c1"}, conv3x3())
      .node("Relu", 14, {"c1"}, {"y1"})
      .node("Conv", 11, {"x", "W2"}, {"c2"}, conv3x3())
      .node("Sigmoid", 13, {"c2"}, {"s2"})
      .node("Mul", 14, {"s2", "c2"}, {"y2"})
      .node("Gemm", 13, {"a", "G"}, {"g"})
      .node("Clip", 13, {"g", "lo", "hi"}, {"y3"})
      .output("y1", ftype({1, 3, 5, 5}))
      .output("y2", ftype({1, 3, 5, 5}))
      .output("y3", ftype({2, 3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_activation_fusion()), 3);
  const Graph& g = *after.graph;
  EXPECT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(count_op(g, "FusedConv"), 2u);
  EXPECT_EQ(count_op(g, "FusedGemm"), 1u);
  for (const Node& n : g.nodes) {
    EXPECT_EQ(n.domain, kEdgeForgeDomain);
    EXPECT_FALSE(n.attr_string("activation", "").empty());
  }
  expect_same_outputs(before, after);
}

TEST(ActivationFusion, LeavesSharedOrOutputValuesAlone) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5}))
      .init("W", rand_f32({3, 2, 3, 3}, 1))
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("Relu", 14, {"c"}, {"y"})
      .output("y", ftype({1, 3, 5, 5}))
      .output("c", ftype({1, 3, 5, 5}));  // the pre-activation value is itself an output
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_activation_fusion()), 0);
  // Clip with a bound computed at run time: not a constant epilogue.
  GraphBuilder b2;
  b2.input("x", ftype({1, 2, 5, 5}))
      .input("hi", ftype({}))
      .init("W", rand_f32({3, 2, 3, 3}, 1))
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("Clip", 13, {"c", "", "hi"}, {"y"})
      .output("y", ftype({1, 3, 5, 5}));
  Model m2 = b2.build();
  EXPECT_EQ(run_pass(m2, make_activation_fusion()), 0);
}

}  // namespace
}  // namespace ef::test
