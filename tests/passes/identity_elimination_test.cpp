#include "pass_test_util.h"

namespace ef::test {
namespace identity_elimination_test {

TEST(IdentityElimination, RemovesCopiesAndKeepsOutputNames) {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .input("x2", ftype({2, 3}))
      .node("Identity", 13, {"x"}, {"a"})
      .node("Relu", 13, {"a"}, {"r"})
      .node("Dropout", 13, {"r"}, {"d"})              // inference Dropout: a copy
      .node("Identity", 13, {"d"}, {"y"})             // graph output: Relu is made to write "y"
      .node("Identity", 13, {"x2"}, {"y2"})           // graph input straight to graph output: must stay
      .node("Dropout", 13, {"x"}, {"d2", "mask"})     // mask is read: not a copy
      .node("Cast", 13, {"mask"}, {"mask_f"}, {{"to", int_attr(static_cast<int64_t>(DType::kFloat32))}})
      .node("Add", 13, {"d2", "mask_f"}, {"z"})
      .output("y", ftype({2, 3}))
      .output("y2", ftype({2, 3}))
      .output("z", ftype({2, 3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_identity_elimination()), 3);
  const Graph& g = *after.graph;
  EXPECT_EQ(count_op(g, "Identity"), 1u);
  EXPECT_EQ(count_op(g, "Dropout"), 1u);
  // The Relu now writes the graph output itself.
  int y = g.outputs[0];
  EXPECT_EQ(g.values[static_cast<size_t>(y)].name, "y");
  ASSERT_GE(g.values[static_cast<size_t>(y)].producer, 0);
  EXPECT_EQ(g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(y)].producer)].op_type, "Relu");
  expect_same_outputs(before, after);
}

TEST(IdentityElimination, TrainingDropoutStays) {
  GraphBuilder b;
  b.input("x", ftype({4}))
      .init("ratio", f32({}, {0.5f}))
      .init("training", Tensor::scalar(DType::kBool, true))
      .node("Dropout", 13, {"x", "ratio", "training"}, {"y"})
      .output("y");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_identity_elimination()), 0);
}

TEST(IdentityElimination, OutputFedByTwoIdentitiesKeepsBothNames) {
  // x -> Relu -> r; r -> Identity -> y1 (output), r -> Identity -> y2 (output): only one can take over r.
  GraphBuilder b;
  b.input("x", ftype({3}))
      .node("Relu", 13, {"x"}, {"r"})
      .node("Identity", 13, {"r"}, {"y1"})
      .node("Identity", 13, {"r"}, {"y2"})
      .output("y1", ftype({3}))
      .output("y2", ftype({3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_identity_elimination()), 1);
  expect_same_outputs(before, after);
}

}  // namespace
}  // namespace ef::test
