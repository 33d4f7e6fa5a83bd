// ConvTranspose + BN and Gemm + BN folding.
#include "fusion_test_util.h"

namespace ef::test {
namespace batchnorm_folding_ext_test {

void add_bn(GraphBuilder& b, const std::string& p, int64_t c, uint32_t seed) {
  b.init(p + "_scale", rand_f32({c}, seed, 0.5f, 2.0f))
      .init(p + "_b", rand_f32({c}, seed + 1))
      .init(p + "_mean", rand_f32({c}, seed + 2, -0.5f, 0.5f))
      .init(p + "_var", rand_f32({c}, seed + 3, 0.1f, 3.0f));
}
std::vector<std::string> bn_in(const std::string& x, const std::string& p) {
  return {x, p + "_scale", p + "_b", p + "_mean", p + "_var"};
}

TEST(ConvTransposeBatchNormFolding, FoldsGroupedTransposedConv) {
  GraphBuilder b;
  b.input("x", ftype({1, 4, 3, 3})).init("W", rand_f32({4, 3, 2, 2}, 1)).init("B", rand_f32({6}, 2));
  add_bn(b, "bn", 6, 10);
  b.node("ConvTranspose", 11, {"x", "W", "B"}, {"c"}, {{"group", int_attr(2)}, {"strides", ints_attr({2, 2})}})
      .node("BatchNormalization", 15, bn_in("c", "bn"), {"y"})
      .output("y", ftype({1, 6, 6, 6}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_convtranspose_batchnorm_folding()), 1);
  EXPECT_EQ(count_op(*after.graph, "BatchNormalization"), 0u);
  expect_same_outputs(before, after);
}

TEST(GemmBatchNormFolding, FoldsIntoTransposedWeightsAndBias) {
  GraphBuilder b;
  b.input("a", ftype({2, 4})).init("B", rand_f32({3, 4}, 1)).init("C", rand_f32({1, 3}, 2));
  add_bn(b, "bn", 3, 20);
  b.node("Gemm", 13, {"a", "B", "C"}, {"g"}, {{"transB", int_attr(1)}, {"beta", float_attr(0.5f)}})
      .node("BatchNormalization", 15, bn_in("g", "bn"), {"y"})
      .output("y", ftype({2, 3}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_gemm_batchnorm_folding()), 1);
  ASSERT_EQ(after.graph->nodes.size(), 1u);
  EXPECT_EQ(after.graph->nodes[0].op_type, "Gemm");
  expect_same_outputs(before, after);
}

TEST(GemmBatchNormFolding, SkipsBiasVaryingAlongRows) {
  GraphBuilder b;
  b.input("a", ftype({2, 4})).init("B", rand_f32({4, 3}, 1)).init("C", rand_f32({2, 3}, 2));
  add_bn(b, "bn", 3, 20);
  b.node("Gemm", 13, {"a", "B", "C"}, {"g"})
      .node("BatchNormalization", 15, bn_in("g", "bn"), {"y"})
      .output("y", ftype({2, 3}));
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_gemm_batchnorm_folding()), 0);
}

}  // namespace
}  // namespace ef::test
