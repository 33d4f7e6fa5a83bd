#include "pass_test_util.h"

namespace ef::test {
namespace dead_node_elimination_test {

// then/else branch of an If: yields Neg(outer value `captured`), so the If reads `captured` only by name.
std::shared_ptr<Graph> branch_reading(const std::string& captured, const std::string& out) {
  auto g = std::make_shared<Graph>();
  g->name = "branch_" + out;
  int c = g->add_value(captured, ftype({2, 3}));
  g->values[static_cast<size_t>(c)].is_outer = true;
  int o = g->add_value(out, ftype({2, 3}));
  Node n;
  n.name = "neg_" + out;
  n.op_type = "Neg";
  n.version = 13;
  n.inputs = {c};
  n.outputs = {o};
  g->nodes.push_back(n);
  g->outputs = {o};
  refresh_producers(*g);
  return g;
}

std::map<std::string, Attribute> if_attrs(const std::string& captured) {
  return {{"then_branch", graph_attr(branch_reading(captured, "t"))},
          {"else_branch", graph_attr(branch_reading(captured, "e"))}};
}

Model make_model() {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .init("cond", Tensor::scalar(DType::kBool, true))
      .node("Relu", 13, {"x"}, {"r"})
      .node("Sigmoid", 13, {"x"}, {"dead1"})   // dead chain
      .node("Neg", 13, {"dead1"}, {"dead2"})   // dead chain
      .node("Abs", 13, {"x"}, {"captured"})    // read only through the live If's subgraphs: live
      .node("If", 13, {"cond"}, {"if_out"}, if_attrs("captured"))
      .node("Exp", 13, {"x"}, {"captured2"})   // read only by a dead If: dead once the If is gone
      .node("If", 13, {"cond"}, {"dead_if"}, if_attrs("captured2"))
      .node("Add", 13, {"r", "if_out"}, {"y"})
      .output("y", ftype({2, 3}));
  return b.build();
}

TEST(DeadNodeElimination, RemovesUnreadNodesKeepsCaptures) {
  Model before = make_model();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_dead_node_elimination()), 4);  // Sigmoid, Neg, the dead If and then Exp
  EXPECT_EQ(after.graph->nodes.size(), 4u);
  EXPECT_EQ(count_op(*after.graph, "If"), 1u);
  EXPECT_EQ(count_op(*after.graph, "Abs"), 1u);
  EXPECT_EQ(count_op(*after.graph, "Exp"), 0u);
  expect_same_outputs(before, after);
}

TEST(DeadNodeElimination, KeepsEverythingWhenAllLive) {
  GraphBuilder b;
  b.input("x", ftype({2, 3})).node("Relu", 13, {"x"}, {"r"}).node("Neg", 13, {"r"}, {"y"}).output("y");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_dead_node_elimination()), 0);
  EXPECT_EQ(m.graph->nodes.size(), 2u);
}

TEST(DeadNodeElimination, MaxRewritesStopsEarly) {
  Model m = make_model();
  PassOptions options;
  options.max_rewrites = 2;
  EXPECT_EQ(run_pass(m, make_dead_node_elimination(), options), 2);
  EXPECT_EQ(m.graph->nodes.size(), 6u);
}

}  // namespace
}  // namespace ef::test
