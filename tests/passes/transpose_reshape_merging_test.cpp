// transpose-merging and reshape-merging.
#include "fusion_test_util.h"

namespace ef::test {
namespace transpose_reshape_merging_test {

TEST(TransposeMerging, ComposesAndCancels) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 3, 4}))
      .node("Transpose", 13, {"x"}, {"t1"}, {{"perm", ints_attr({0, 2, 3, 1})}})
      .node("Transpose", 13, {"t1"}, {"y1"}, {{"perm", ints_attr({0, 3, 1, 2})}})  // back to NCHW
      .node("Transpose", 13, {"x"}, {"t2"}, {{"perm", ints_attr({1, 0, 2, 3})}})
      .node("Transpose", 13, {"t2"}, {"y2"})  // no perm: reverse
      .node("Relu", 14, {"y1"}, {"r"})
      .output("r", ftype({1, 2, 3, 4}))
      .output("y2", ftype({4, 3, 1, 2}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_transpose_merging()), 2);
  expect_same_outputs(before, after);
  // The full pipeline then drops the identity and the dead first halves.
  Model opt = optimized(before);
  EXPECT_EQ(count_op(*opt.graph, "Transpose"), 1u);
  expect_same_outputs(before, opt);
}

TEST(ReshapeMerging, ReadsThroughEarlierReshapes) {
  GraphBuilder b;
  b.input("x", ftype({Dim::symbol("N"), 2, 3, 4}))
      .init("s1", i64({2}, {-1, 12}))
      .init("s2", i64({3}, {-1, 6, 4}))
      .init("s3", i64({2}, {0, -1}))
      .node("Reshape", 14, {"x", "s1"}, {"r1"})
      .node("Reshape", 14, {"r1", "s2"}, {"y"})
      .node("Flatten", 13, {"x"}, {"f"}, {{"axis", int_attr(2)}})
      .node("Reshape", 14, {"f", "s3"}, {"y2"})  // 0 copies a dim of f, not of x: must stay
      .output("y")
      .output("y2");
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_reshape_merging()), 1);
  expect_same_outputs(before, after);
}

}  // namespace
}  // namespace ef::test
