// gelu-fusion and layernorm-fusion on the decomposed forms PyTorch exports before opset 17/20.
#include <cmath>

#include "fusion_test_util.h"
#include "onnx/model_io.h"
#include "ops/fused.h"

namespace ef::test {
namespace gelu_layernorm_fusion_test {

TEST(GeluFusion, AllThreeAssociationOrders) {
  GraphBuilder b;
  b.input("x", ftype({2, 5}))
      .init("sqrt2", f32({}, {1.4142135f}))
      .init("rsqrt2", f32({}, {0.70710678f}))
      .init("one", f32({}, {1.0f}))
      .init("half", f32({}, {0.5f}))
      // (x * p) * 0.5
      .node("Div", 14, {"x", "sqrt2"}, {"d1"})
      .node("Erf", 13, {"d1"}, {"e1"})
      .node("Add", 14, {"e1", "one"}, {"p1"})
      .node("Mul", 14, {"x", "p1"}, {"m1"})
      .node("Mul", 14, {"m1", "half"}, {"y1"})
      // x * (p * 0.5)
      .node("Mul", 14, {"x", "rsqrt2"}, {"d2"})
      .node("Erf", 13, {"d2"}, {"e2"})
      .node("Add", 14, {"one", "e2"}, {"p2"})
      .node("Mul", 14, {"p2", "half"}, {"m2"})
      .node("Mul", 14, {"m2", "x"}, {"y2"})
      // (x * 0.5) * p
      .node("Mul", 14, {"x", "half"}, {"h3"})
      .node("Div", 14, {"x", "sqrt2"}, {"d3"})
      .node("Erf", 13, {"d3"}, {"e3"})
      .node("Add", 14, {"e3", "one"}, {"p3"})
      .node("Mul", 14, {"h3", "p3"}, {"y3"})
      .output("y1", ftype({2, 5}))
      .output("y2", ftype({2, 5}))
      .output("y3", ftype({2, 5}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_gelu_fusion()), 3);
  EXPECT_EQ(after.graph->nodes.size(), 3u);
  EXPECT_EQ(count_op(*after.graph, "Gelu"), 3u);
  expect_same_outputs(before, after);
  after.opsets[kEdgeForgeDomain] = kEdgeForgeOpset;
  EXPECT_EQ(unfuse_model(after), 3);
  EXPECT_EQ(count_op(*after.graph, "Erf"), 3u);
  expect_same_outputs(before, after);
}

TEST(GeluFusion, SkipsWrongConstants) {
  GraphBuilder b;
  b.input("x", ftype({2, 5}))
      .init("two", f32({}, {2.0f}))
      .init("one", f32({}, {1.0f}))
      .init("half", f32({}, {0.5f}))
      .node("Div", 14, {"x", "two"}, {"d"})
      .node("Erf", 13, {"d"}, {"e"})
      .node("Add", 14, {"e", "one"}, {"p"})
      .node("Mul", 14, {"x", "p"}, {"m"})
      .node("Mul", 14, {"m", "half"}, {"y"})
      .output("y", ftype({2, 5}));
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_gelu_fusion()), 0);
}

// The pre-17 export of torch.nn.LayerNorm(4) on a [2, 3, 4] input.
Model decomposed_layer_norm(bool affine, const char* square_op) {
  GraphBuilder b;
  b.input("x", ftype({2, 3, 4}))
      .init("two", f32({}, {2.0f}))
      .init("eps", f32({}, {1e-5f}))
      .init("gamma", rand_f32({4}, 1, 0.5f, 1.5f))
      .init("beta", rand_f32({1, 1, 4}, 2))
      .node("ReduceMean", 13, {"x"}, {"mu"}, {{"axes", ints_attr({-1})}})
      .node("Sub", 14, {"x", "mu"}, {"d"});
  if (std::string(square_op) == "Pow") {
    b.node("Pow", 15, {"d", "two"}, {"sq"});
  } else {
    b.node("Mul", 14, {"d", "d"}, {"sq"});
  }
  b.node("ReduceMean", 13, {"sq"}, {"var"}, {{"axes", ints_attr({2})}})
      .node("Add", 14, {"var", "eps"}, {"ve"})
      .node("Sqrt", 13, {"ve"}, {"sd"})
      .node("Div", 14, {"d", "sd"}, {affine ? "n" : "y"});
  if (affine) b.node("Mul", 14, {"n", "gamma"}, {"s"}).node("Add", 14, {"beta", "s"}, {"y"});
  b.output("y", ftype({2, 3, 4}));
  return b.build();
}

TEST(LayerNormFusion, FusesToOurOpBeforeOpset17AndBack) {
  for (const char* sq : {"Pow", "Mul"}) {
    for (bool affine : {true, false}) {
      Model before = decomposed_layer_norm(affine, sq);
      Model after = clone_model(before);
      EXPECT_EQ(run_pass(after, make_layernorm_fusion()), 1) << sq << affine;
      ASSERT_EQ(after.graph->nodes.size(), 1u);
      EXPECT_EQ(after.graph->nodes[0].domain, kEdgeForgeDomain);
      expect_same_outputs(before, after);
      after.opsets[kEdgeForgeDomain] = kEdgeForgeOpset;
      EXPECT_EQ(unfuse_model(after), 1);
      EXPECT_EQ(count_op(*after.graph, "ReduceMean"), 2u);
      expect_same_outputs(before, after);
      Model reloaded = load_model_from_bytes(export_model_bytes(after), "");
      expect_same_outputs(before, reloaded);
    }
  }
}

TEST(LayerNormFusion, StandardOpAtOpset17) {
  Model before = decomposed_layer_norm(true, "Pow");
  Model after = clone_model(before);
  after.opsets[""] = 17;
  PassOptions options;
  options.opset = 17;
  EXPECT_EQ(run_pass(after, make_layernorm_fusion(), options), 1);
  ASSERT_EQ(after.graph->nodes.size(), 1u);
  EXPECT_TRUE(after.graph->nodes[0].domain.empty());
  EXPECT_EQ(after.graph->nodes[0].version, 17);
  expect_same_outputs(before, after);
}

TEST(LayerNormFusion, SkipsNonTrailingAxes) {
  GraphBuilder b;
  b.input("x", ftype({2, 3, 4}))
      .init("eps", f32({}, {1e-5f}))
      .node("ReduceMean", 13, {"x"}, {"mu"}, {{"axes", ints_attr({1})}})
      .node("Sub", 14, {"x", "mu"}, {"d"})
      .node("Mul", 14, {"d", "d"}, {"sq"})
      .node("ReduceMean", 13, {"sq"}, {"var"}, {{"axes", ints_attr({1})}})
      .node("Add", 14, {"var", "eps"}, {"ve"})
      .node("Sqrt", 13, {"ve"}, {"sd"})
      .node("Div", 14, {"d", "sd"}, {"y"})
      .output("y", ftype({2, 3, 4}));
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_layernorm_fusion()), 0);
}

}  // namespace
}  // namespace ef::test
