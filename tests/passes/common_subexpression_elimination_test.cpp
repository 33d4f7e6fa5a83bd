#include "pass_test_util.h"

namespace ef::test {
namespace common_subexpression_elimination_test {

TEST(CommonSubexpressionElimination, MergesEqualNodesAndChains) {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .node("Relu", 13, {"x"}, {"a"})
      .node("Relu", 13, {"x"}, {"b"})                                          // = a
      .node("Sigmoid", 13, {"a"}, {"sa"})
      .node("Sigmoid", 13, {"b"}, {"sb"})                                      // = sa once b is a
      .node("Transpose", 13, {"sa"}, {"t1"}, {{"perm", ints_attr({1, 0})}})
      .node("Transpose", 13, {"sb"}, {"t2"}, {{"perm", ints_attr({1, 0})}})    // = t1
      .node("LeakyRelu", 6, {"x"}, {"l1"}, {{"alpha", float_attr(0.1f)}})
      .node("LeakyRelu", 6, {"x"}, {"l2"}, {{"alpha", float_attr(0.2f)}})      // other attribute: stays
      .node("Add", 13, {"t1", "t2"}, {"y"})
      .node("Sub", 13, {"l1", "l2"}, {"z"})
      .output("y")
      .output("z");
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_common_subexpression_elimination()), 3);
  const Graph& g = *after.graph;
  EXPECT_EQ(count_op(g, "Relu"), 1u);
  EXPECT_EQ(count_op(g, "Sigmoid"), 1u);
  EXPECT_EQ(count_op(g, "Transpose"), 1u);
  EXPECT_EQ(count_op(g, "LeakyRelu"), 2u);
  expect_same_outputs(before, after);
}

TEST(CommonSubexpressionElimination, KeepsDuplicateGraphOutputs) {
  GraphBuilder b;
  b.input("x", ftype({3})).node("Neg", 13, {"x"}, {"y1"}).node("Neg", 13, {"x"}, {"y2"}).output("y1").output("y2");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_common_subexpression_elimination()), 0);
  EXPECT_EQ(m.graph->nodes.size(), 2u);
}

}  // namespace
}  // namespace ef::test
