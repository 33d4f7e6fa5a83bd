#include "fusion_test_util.h"

namespace ef::test {
namespace matmul_add_fusion_test {

TEST(MatMulAddFusion, TwoDimensionalMatMulPlusBiasBecomesGemm) {
  GraphBuilder b;
  b.input("a", ftype({2, 4}))
      .init("B", rand_f32({4, 3}, 1))
      .init("c", rand_f32({3}, 2))
      .node("MatMul", 13, {"a", "B"}, {"m"})
      .node("Add", 14, {"c", "m"}, {"y"})
      .output("y", ftype({2, 3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_matmul_add_fusion()), 1);
  ASSERT_EQ(after.graph->nodes.size(), 1u);
  EXPECT_EQ(after.graph->nodes[0].op_type, "Gemm");
  EXPECT_EQ(after.graph->nodes[0].version, 13);
  expect_same_outputs(before, after);
}

TEST(MatMulAddFusion, SkipsBatchedMatMulAndGrowingBias) {
  GraphBuilder b;
  b.input("a", ftype({2, 2, 4}))
      .init("B", rand_f32({4, 3}, 1))
      .init("c", rand_f32({3}, 2))
      .node("MatMul", 13, {"a", "B"}, {"m"})
      .node("Add", 14, {"m", "c"}, {"y"})
      .output("y");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_matmul_add_fusion()), 0);
  GraphBuilder b2;  // a [2, 3, 1] bias would make the result 3-D
  b2.input("a", ftype({2, 4}))
      .init("B", rand_f32({4, 3}, 1))
      .init("c", rand_f32({2, 1, 1}, 2))
      .node("MatMul", 13, {"a", "B"}, {"m"})
      .node("Add", 14, {"m", "c"}, {"y"})
      .output("y");
  Model m2 = b2.build();
  EXPECT_EQ(run_pass(m2, make_matmul_add_fusion()), 0);
}

}  // namespace
}  // namespace ef::test
