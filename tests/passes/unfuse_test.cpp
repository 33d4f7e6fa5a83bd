// The export's unfuse step and the --keep-fused round trip through our own loader.
#include "fusion_test_util.h"
#include "onnx/model_io.h"
#include "ops/fused.h"

namespace ef::test {
namespace unfuse_test {

// Conv + BN + residual Add + Relu, Conv + HardSwish, Gemm + Sigmoid: every fused form the passes create.
Model fusable_model() {
  GraphBuilder b;
  b.input("x", ftype({1, 3, 4, 4}))
      .input("a", ftype({2, 4}))
      .init("W", rand_f32({3, 3, 3, 3}, 1))
      .init("W2", rand_f32({3, 3, 3, 3}, 2))
      .init("G", rand_f32({4, 5}, 3))
      .init("c", rand_f32({5}, 4))
      .node("Conv", 11, {"x", "W"}, {"c1"}, conv3x3())
      .node("Add", 14, {"c1", "x"}, {"s"})
      .node("Relu", 14, {"s"}, {"y1"})
      .node("Conv", 11, {"y1", "W2"}, {"c2"}, conv3x3())
      .node("HardSwish", 14, {"c2"}, {"y2"})
      .node("MatMul", 13, {"a", "G"}, {"m"})
      .node("Add", 14, {"m", "c"}, {"g"})
      .node("Sigmoid", 13, {"g"}, {"y3"})
      .output("y2", ftype({1, 3, 4, 4}))
      .output("y3", ftype({2, 5}));
  Model m = b.build();
  m.opsets[""] = 14;  // HardSwish exists from 14
  return m;
}

TEST(Unfuse, ExpandsFusedNodesToStandardOnnx) {
  Model before = fusable_model();
  Model after = optimized(before);
  EXPECT_EQ(count_domain(*after.graph, kEdgeForgeDomain), 3u);
  EXPECT_EQ(after.opset(kEdgeForgeDomain), kEdgeForgeOpset);
  expect_same_outputs(before, after);
  EXPECT_EQ(unfuse_model(after), 3);
  EXPECT_EQ(count_domain(*after.graph, kEdgeForgeDomain), 0u);
  EXPECT_EQ(after.opset(kEdgeForgeDomain), 0);
  EXPECT_EQ(count_op(*after.graph, "HardSwish"), 1u);
  EXPECT_EQ(count_op(*after.graph, "Gemm"), 1u);
  expect_same_outputs(before, after);
  // The standard form survives export and import (onnx::checker runs in export).
  Model reloaded = load_model_from_bytes(export_model_bytes(after), "");
  expect_same_outputs(before, reloaded);
}

TEST(Unfuse, OldOpsetsGetDecomposedActivations) {
  // Opset 13 has no HardSwish: the epilogue comes back as HardSigmoid(1/6, 1/2) and Mul.
  GraphBuilder ref;
  ref.input("x", ftype({1, 3, 4, 4}))
      .init("W", rand_f32({3, 3, 3, 3}, 1))
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("HardSigmoid", 6, {"c"}, {"h"}, {{"alpha", float_attr(1.0f / 6)}, {"beta", float_attr(0.5f)}})
      .node("Mul", 14, {"c", "h"}, {"y"})
      .output("y", ftype({1, 3, 4, 4}));
  Model before = ref.build();
  GraphBuilder b;
  b.input("x", ftype({1, 3, 4, 4})).init("W", rand_f32({3, 3, 3, 3}, 1));
  b.node("FusedConv", kEdgeForgeOpset, {"x", "W"}, {"y"}, conv3x3()).output("y", ftype({1, 3, 4, 4}));
  Node& conv = b.graph().nodes[0];
  conv.domain = kEdgeForgeDomain;
  set_fused_activation(conv, cpu::Activation{cpu::ActKind::kHardSwish});
  Model after = b.build();
  after.opsets[kEdgeForgeDomain] = kEdgeForgeOpset;
  expect_same_outputs(before, after);
  EXPECT_EQ(unfuse_model(after), 1);
  EXPECT_EQ(count_op(*after.graph, "HardSwish"), 0u);
  EXPECT_EQ(count_op(*after.graph, "HardSigmoid"), 1u);
  EXPECT_EQ(count_op(*after.graph, "Mul"), 1u);
  expect_same_outputs(before, after);
}

TEST(Unfuse, KeepFusedModelLoadsBackThroughOurRegistry) {
  Model before = fusable_model();
  Model after = optimized(before);
  Model reloaded = load_model_from_bytes(export_model_bytes(after), "");
  EXPECT_EQ(reloaded.opset(kEdgeForgeDomain), kEdgeForgeOpset);
  EXPECT_EQ(count_domain(*reloaded.graph, kEdgeForgeDomain), 3u);
  for (const Node& n : reloaded.graph->nodes) {
    if (n.domain == kEdgeForgeDomain) { EXPECT_EQ(n.version, kEdgeForgeOpset); }
  }
  expect_same_outputs(before, reloaded);
}

}  // namespace
}  // namespace ef::test

namespace ef::test {
namespace unfuse_test {

// IR version 3 requires every initializer to be a graph input too; folds create new initializers, so an optimized
// old model must still export.
TEST(Unfuse, OptimizedIrVersion3ModelExports) {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .init("a", rand_f32({3}, 1))
      .init("b", rand_f32({3}, 2))
      .node("Add", 7, {"a", "b"}, {"c"})
      .node("Mul", 7, {"x", "c"}, {"y"})
      .output("y", ftype({2, 3}));
  Model before = b.build();
  before.ir_version = 3;
  before.opsets[""] = 8;
  Model after = optimized(before);
  Model reloaded = load_model_from_bytes(export_model_bytes(after), "");
  EXPECT_EQ(reloaded.graph->inputs.size(), 1u);  // the initializer listed as input stays an initializer
  expect_same_outputs(before, reloaded);
}

}  // namespace
}  // namespace ef::test
