#include "fusion_test_util.h"
#include "ops/fused.h"

namespace ef::test {
namespace hardsigmoid_fusion_test {

// Hard-swish as PyTorch/Paddle export it: x * Clip(x + 3, 0, 6) / 6 on a Conv output.
TEST(HardSigmoidFusion, ClipChainBecomesHardSigmoidThenHardSwishEpilogue) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 4, 4}))
      .init("W", rand_f32({3, 2, 3, 3}, 1, -3.0f, 3.0f))
      .init("three", f32({}, {3.0f}))
      .init("zero", f32({}, {0.0f}))
      .init("six", f32({}, {6.0f}))
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("Add", 14, {"c", "three"}, {"a"})
      .node("Clip", 13, {"a", "zero", "six"}, {"r"})
      .node("Div", 14, {"r", "six"}, {"h"})
      .node("Mul", 14, {"c", "h"}, {"y"})
      .output("y", ftype({1, 3, 4, 4}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_hardsigmoid_fusion()), 1);
  EXPECT_EQ(after.graph->nodes.size(), 3u);  // Conv, HardSigmoid, Mul
  EXPECT_EQ(count_op(*after.graph, "HardSigmoid"), 1u);
  expect_same_outputs(before, after);
  EXPECT_EQ(run_pass(after, make_activation_fusion()), 1);
  ASSERT_EQ(after.graph->nodes.size(), 1u);
  EXPECT_EQ(after.graph->nodes[0].attr_string("activation", ""), "HardSwish");
  expect_same_outputs(before, after);
}

TEST(HardSigmoidFusion, SkipsWhenScaleDoesNotNormalizeTheRange) {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .init("three", f32({}, {3.0f}))
      .init("five", f32({}, {5.0f}))
      .node("Add", 14, {"x", "three"}, {"a"})
      .node("Clip", 6, {"a"}, {"r"}, {{"min", float_attr(0.0f)}, {"max", float_attr(6.0f)}})
      .node("Div", 14, {"r", "five"}, {"y"})  // 6 / 5 != 1: not a hard sigmoid
      .output("y", ftype({2, 3}));
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_hardsigmoid_fusion()), 0);
}

}  // namespace
}  // namespace ef::test

namespace ef::test {
namespace hardsigmoid_fusion_test {

// The Paddle form: the / 6 comes after the product, x * Clip(x + 3, 0, 6) / 6.
TEST(HardSigmoidFusion, ScaleAfterProductIsHardSwishToo) {
  GraphBuilder b;
  b.input("x", ftype({2, 3, 4}))
      .init("three", f32({}, {3.0f}))
      .init("six", f32({}, {6.0f}))
      .node("Add", 14, {"x", "three"}, {"a"})
      .node("Clip", 6, {"a"}, {"r"}, {{"min", float_attr(0.0f)}, {"max", float_attr(6.0f)}})
      .node("Mul", 14, {"x", "r"}, {"m"})
      .node("Div", 14, {"m", "six"}, {"y"})
      .output("y", ftype({2, 3, 4}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_hardsigmoid_fusion()), 1);
  EXPECT_EQ(after.graph->nodes.size(), 2u);
  EXPECT_EQ(count_op(*after.graph, "HardSigmoid"), 1u);
  expect_same_outputs(before, after);
}

}  // namespace
}  // namespace ef::test
