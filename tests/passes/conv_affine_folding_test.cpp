#include "fusion_test_util.h"

namespace ef::test {
namespace conv_affine_folding_test {

TEST(ConvAffineFolding, FoldsPerChannelMulAndAddIntoWeights) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5}))
      .init("W", rand_f32({3, 2, 3, 3}, 1))
      .init("s", rand_f32({1, 3, 1, 1}, 2, 0.5f, 2.0f))
      .init("t", rand_f32({3, 1, 1}, 3))
      .init("d", f32({}, {4.0f}))
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("Mul", 14, {"c", "s"}, {"m"})
      .node("Add", 14, {"t", "m"}, {"a"})
      .node("Div", 14, {"a", "d"}, {"y"})
      .output("y", ftype({1, 3, 5, 5}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_conv_affine_folding()), 3);
  ASSERT_EQ(after.graph->nodes.size(), 1u);
  EXPECT_EQ(after.graph->nodes[0].op_type, "Conv");
  expect_same_outputs(before, after);
}

TEST(ConvAffineFolding, SkipsConstantsAlongOtherAxes) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5}))
      .init("W", rand_f32({3, 2, 3, 3}, 1))
      .init("t", rand_f32({5}, 3))  // broadcasts along the last (width) axis, not channels
      .init("u", rand_f32({3}, 4))  // [3] aligns with width too, even though it has M entries
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("Add", 14, {"c", "t"}, {"y"})
      .node("Conv", 11, {"x", "W"}, {"c2"}, {{"kernel_shape", ints_attr({3, 3})}, {"pads", ints_attr({1, 0, 1, 0})}})
      .node("Sub", 14, {"u", "c2"}, {"y2"})
      .output("y", ftype({1, 3, 5, 5}))
      .output("y2");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_conv_affine_folding()), 0);
}

}  // namespace
}  // namespace ef::test
