#include "pass_test_util.h"

namespace ef::test {
namespace constant_folding_test {

Model make_model() {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .init("a", f32({3}, {1, 2, 3}))
      .init("b", f32({3}, {0.5f, 0.25f, 2}))
      .init("idx", i64({}, {1}))
      .node("Add", 13, {"a", "b"}, {"ab"})                                     // fold
      .node("Mul", 13, {"ab", "ab"}, {"ab2"})                                   // fold (on the folded Add)
      .node("Mul", 13, {"x", "ab2"}, {"m"})                                     // reads x: stays
      .node("Constant", 13, {}, {"target"}, {{"value", tensor_attr(i64({2}, {3, 2}))}})  // fold
      .node("Reshape", 13, {"m", "target"}, {"r"})                              // reads x: stays
      .node("Shape", 13, {"r"}, {"shape"})                                      // static shape: fold
      .node("Gather", 13, {"shape", "idx"}, {"dim"})                            // fold
      .node("Cast", 13, {"dim"}, {"dim_f"}, {{"to", int_attr(static_cast<int64_t>(DType::kFloat32))}})  // fold
      .node("Mul", 13, {"r", "dim_f"}, {"y"})
      .output("y", ftype({3, 2}));
  return b.build();
}

TEST(ConstantFolding, FoldsInitializerOnlyNodesAndStaticShapes) {
  Model before = make_model();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_constant_folding()), 6);
  const Graph& g = *after.graph;
  EXPECT_EQ(g.nodes.size(), 3u);  // Mul(x, ..), Reshape, Mul(.., dim_f)
  int ab2 = g.find_value("ab2");
  ASSERT_NE(ab2, kNoValue);
  const Tensor& t = g.values[static_cast<size_t>(ab2)].initializer;
  ASSERT_TRUE(t.defined());
  EXPECT_FLOAT_EQ(t.data<float>()[0], 2.25f);
  EXPECT_FLOAT_EQ(t.data<float>()[2], 25.0f);
  expect_same_outputs(before, after);
}

TEST(ConstantFolding, RespectsSizeCap) {
  Model m = make_model();
  PassOptions options;
  options.fold_max_elements = 2;  // the 3-element Add/Mul results are too big; Constant, Shape, Gather, Cast fit
  EXPECT_EQ(run_pass(m, make_constant_folding(), options), 4);
  EXPECT_EQ(count_op(*m.graph, "Add"), 1u);
}

TEST(ConstantFolding, NeverFoldsSubgraphsRandomOpsOrDynamicShapes) {
  auto branch = std::make_shared<Graph>();
  branch->name = "branch";
  int c = branch->add_value("a", ftype({3}));
  branch->values[static_cast<size_t>(c)].is_outer = true;
  branch->outputs = {c};
  GraphBuilder b;
  b.input("x", ftype({Dim::symbol("N"), 3}))
      .init("a", f32({3}, {1, 2, 3}))
      .init("cond", Tensor::scalar(DType::kBool, true))
      .node("If", 13, {"cond"}, {"i"}, {{"then_branch", graph_attr(branch)}, {"else_branch", graph_attr(branch)}})
      .node("RandomUniformLike", 1, {"a"}, {"rnd"})
      .node("Shape", 13, {"x"}, {"shape"})  // N is dynamic: unknown until run time
      .output("i")
      .output("rnd")
      .output("shape");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_constant_folding()), 0);
  EXPECT_EQ(m.graph->nodes.size(), 3u);
}

TEST(ConstantFolding, DoesNotMaterializeLargeExpansions) {
  Attribute zero = tensor_attr(f32({1}, {0}));
  GraphBuilder b;
  b.input("x", ftype({100, 100}))
      .input("s", ftype({2, 3}))
      .init("big_shape", i64({2}, {100, 100}))
      .init("small_shape", i64({2}, {2, 3}))
      .node("ConstantOfShape", 9, {"big_shape"}, {"big"}, {{"value", zero}})      // 10000 zeros from 2 numbers
      .node("ConstantOfShape", 9, {"small_shape"}, {"small"}, {{"value", zero}})  // 6 zeros: folded
      .node("Add", 13, {"x", "big"}, {"y"})
      .node("Add", 13, {"s", "small"}, {"z"})
      .output("y")
      .output("z");
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_constant_folding()), 1);
  EXPECT_EQ(count_op(*after.graph, "ConstantOfShape"), 1u);
  expect_same_outputs(before, after);
}

TEST(ConstantFolding, NodeFeedingAGraphOutputStays) {
  GraphBuilder b;
  b.input("x", ftype({3}))
      .init("a", f32({3}, {1, 2, 3}))
      .node("Neg", 13, {"a"}, {"y"})
      .node("Add", 13, {"x", "y"}, {"z"})
      .output("y", ftype({3}))
      .output("z", ftype({3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_constant_folding()), 0);
  expect_same_outputs(before, after);
}

}  // namespace
}  // namespace ef::test
