#include "fusion_test_util.h"

namespace ef::test {
namespace scale_shift_merging_test {

TEST(ScaleShiftMerging, ChainBecomesOneMulAndOneAdd) {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .init("a", rand_f32({3}, 1, 0.5f, 2.0f))
      .init("b", rand_f32({2, 1}, 2))
      .init("c", f32({}, {4.0f}))
      .init("d", rand_f32({3}, 3))
      .node("Mul", 14, {"x", "a"}, {"t1"})
      .node("Add", 14, {"b", "t1"}, {"t2"})
      .node("Div", 14, {"t2", "c"}, {"t3"})
      .node("Sub", 14, {"d", "t3"}, {"y"})  // d - (...): negates the map
      .output("y", ftype({2, 3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_scale_shift_merging()), 1);
  EXPECT_EQ(after.graph->nodes.size(), 2u);
  EXPECT_EQ(count_op(*after.graph, "Mul"), 1u);
  EXPECT_EQ(count_op(*after.graph, "Add"), 1u);
  expect_same_outputs(before, after);
}

TEST(ScaleShiftMerging, ShiftsOnlyAndSharedIntermediates) {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .init("a", rand_f32({3}, 1))
      .init("b", rand_f32({3}, 2))
      .node("Add", 14, {"x", "a"}, {"t"})
      .node("Sub", 14, {"t", "b"}, {"y"})
      .output("y", ftype({2, 3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_scale_shift_merging()), 1);
  EXPECT_EQ(after.graph->nodes.size(), 1u);
  expect_same_outputs(before, after);

  GraphBuilder b2;  // the intermediate is read twice: merging would have to keep it anyway
  b2.input("x", ftype({2, 3}))
      .init("a", rand_f32({3}, 1))
      .init("b", rand_f32({3}, 2))
      .node("Mul", 14, {"x", "a"}, {"t"})
      .node("Mul", 14, {"t", "b"}, {"y"})
      .node("Relu", 14, {"t"}, {"z"})
      .output("y")
      .output("z");
  Model m = b2.build();
  EXPECT_EQ(run_pass(m, make_scale_shift_merging()), 0);
}

}  // namespace
}  // namespace ef::test
