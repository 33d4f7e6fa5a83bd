// pad-folding and concat-zeros-to-pad.
#include "fusion_test_util.h"

namespace ef::test {
namespace pad_folding_test {

Attribute reflect() {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = "reflect";
  return a;
}

TEST(PadFolding, FoldsZeroPadIntoConvAndCountingAveragePool) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5}))
      .init("W", rand_f32({3, 2, 3, 3}, 1))
      .init("pads", i64({8}, {0, 0, 1, 2, 0, 0, 2, 1}))
      .node("Pad", 13, {"x", "pads"}, {"p1"})
      .node("Conv", 11, {"p1", "W"}, {"y1"}, conv3x3())
      .node("Pad", 13, {"x", "pads"}, {"p2"})
      .node("AveragePool", 11, {"p2"}, {"y2"}, {{"kernel_shape", ints_attr({2, 2})}, {"count_include_pad", int_attr(1)}})
      .node("Pad", 13, {"x", "pads"}, {"p3"})
      .node("MaxPool", 12, {"p3"}, {"y3"}, {{"kernel_shape", ints_attr({2, 2})}})
      .output("y1")
      .output("y2")
      .output("y3");
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_pad_folding()), 2);
  expect_same_outputs(before, after);
  Model opt = optimized(before);
  EXPECT_EQ(count_op(*opt.graph, "Pad"), 1u);  // the MaxPool's stays: x may be negative
  expect_same_outputs(before, opt);
}

TEST(PadFolding, MaxPoolOnlyAfterNonNegativeProducer) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5}))
      .init("pads", i64({8}, {0, 0, 1, 1, 0, 0, 1, 1}))
      .init("big", i64({8}, {0, 0, 2, 2, 0, 0, 2, 2}))
      .node("Relu", 14, {"x"}, {"r"})
      .node("Pad", 13, {"r", "pads"}, {"p1"})
      .node("MaxPool", 12, {"p1"}, {"y1"}, {{"kernel_shape", ints_attr({2, 2})}})
      .node("Pad", 13, {"x", "pads"}, {"p2"})  // may be negative: zeros could win
      .node("MaxPool", 12, {"p2"}, {"y2"}, {{"kernel_shape", ints_attr({2, 2})}})
      .node("Pad", 13, {"r", "big"}, {"p3"})  // a window of padding only would give -inf, not 0
      .node("MaxPool", 12, {"p3"}, {"y3"}, {{"kernel_shape", ints_attr({2, 2})}})
      .output("y1")
      .output("y2")
      .output("y3");
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_pad_folding()), 1);
  expect_same_outputs(before, after);
}

TEST(PadFolding, SkipsNonZeroValueAndReflectMode) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5}))
      .init("W", rand_f32({3, 2, 3, 3}, 1))
      .init("pads", i64({8}, {0, 0, 1, 1, 0, 0, 1, 1}))
      .init("v", f32({}, {1.0f}))
      .node("Pad", 13, {"x", "pads", "v"}, {"p1"})
      .node("Conv", 11, {"p1", "W"}, {"y1"}, conv3x3())
      .node("Pad", 13, {"x", "pads"}, {"p2"}, {{"mode", reflect()}})
      .node("Conv", 11, {"p2", "W"}, {"y2"}, conv3x3())
      .output("y1")
      .output("y2");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_pad_folding()), 0);
}

TEST(ConcatZerosToPad, ChannelZeroPaddingBecomesPad) {
  GraphBuilder b;
  Attribute zero = tensor_attr(f32({1}, {0.0f}));
  b.input("x", ftype({1, 2, 3, 3}))
      .init("shape", i64({4}, {1, 3, 3, 3}))
      .node("ConstantOfShape", 9, {"shape"}, {"z"}, {{"value", zero}})
      .node("Concat", 13, {"x", "z"}, {"y"}, {{"axis", int_attr(1)}})
      .output("y", ftype({1, 5, 3, 3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_concat_zeros_to_pad()), 1);
  ASSERT_EQ(after.graph->nodes.size(), 1u);
  EXPECT_EQ(after.graph->nodes[0].op_type, "Pad");
  expect_same_outputs(before, after);
}

}  // namespace
}  // namespace ef::test
