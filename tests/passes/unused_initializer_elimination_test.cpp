#include "pass_test_util.h"

namespace ef::test {
namespace unused_initializer_elimination_test {

TEST(UnusedInitializerElimination, DropsOnlyUnreadInitializers) {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .init("bias", f32({3}, {1, 2, 3}))
      .init("unused_a", f32({3}, {4, 5, 6}))
      .init("unused_b", i64({2}, {1, 2}))
      .init("direct_out", f32({1}, {9}))  // a graph output that is an initializer stays
      .node("Add", 13, {"x", "bias"}, {"y"})
      .output("y")
      .output("direct_out");
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_unused_initializer_elimination()), 2);
  const Graph& g = *after.graph;
  EXPECT_EQ(g.find_value("unused_a"), kNoValue);
  EXPECT_EQ(g.find_value("unused_b"), kNoValue);
  EXPECT_NE(g.find_value("bias"), kNoValue);
  EXPECT_NE(g.find_value("direct_out"), kNoValue);
  EXPECT_EQ(g.values.size(), 4u);  // x, bias, direct_out, y
  expect_same_outputs(before, after);
}

TEST(UnusedInitializerElimination, KeepsUnusedGraphInputs) {
  GraphBuilder b;
  b.input("x", ftype({2})).input("unused_input", ftype({2})).node("Relu", 13, {"x"}, {"y"}).output("y");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_unused_initializer_elimination()), 0);
  EXPECT_EQ(m.graph->inputs.size(), 2u);
}

}  // namespace
}  // namespace ef::test
