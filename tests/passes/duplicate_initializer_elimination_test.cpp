#include "pass_test_util.h"

namespace ef::test {
namespace duplicate_initializer_elimination_test {

TEST(DuplicateInitializerElimination, MergesEqualDtypeShapeAndBytes) {
  GraphBuilder b;
  b.input("x", ftype({3}))
      .init("w1", f32({3}, {1, 2, 3}))
      .init("w2", f32({3}, {1, 2, 3}))        // duplicate of w1
      .init("w3", f32({1, 3}, {1, 2, 3}))     // same bytes, other shape
      .init("z_f", f32({1}, {0}))
      .init("z_i", Tensor::scalar(DType::kInt32, int32_t{0}).reshaped({1}))  // same bytes, other dtype
      .init("w4", f32({3}, {1, 2, 3}))        // another duplicate
      .node("Add", 13, {"x", "w1"}, {"a"})
      .node("Mul", 13, {"a", "w2"}, {"m"})
      .node("Sub", 13, {"m", "w4"}, {"s"})
      .node("Add", 13, {"s", "w3"}, {"t"})
      .node("Cast", 13, {"z_i"}, {"zc"}, {{"to", int_attr(static_cast<int64_t>(DType::kFloat32))}})
      .node("Add", 13, {"t", "z_f"}, {"u"})
      .node("Add", 13, {"u", "zc"}, {"y"})
      .output("y");
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_duplicate_initializer_elimination()), 2);
  const Graph& g = *after.graph;
  EXPECT_EQ(g.find_value("w2"), kNoValue);
  EXPECT_EQ(g.find_value("w4"), kNoValue);
  EXPECT_NE(g.find_value("w3"), kNoValue);
  EXPECT_NE(g.find_value("z_i"), kNoValue);
  EXPECT_EQ(g.nodes[1].inputs[1], g.find_value("w1"));
  expect_same_outputs(before, after);
}

}  // namespace
}  // namespace ef::test
