#include <random>

#include "pass_test_util.h"

namespace ef::test {
namespace conv_batchnorm_folding_test {

// Deterministic non-trivial values in [lo, hi): folding bugs hide behind all-ones scales and zero means.
std::vector<float> values(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Adds BN parameters "<p>_scale", "<p>_b", "<p>_mean", "<p>_var" for 3 channels.
void add_bn_params(GraphBuilder& b, const std::string& p, uint32_t seed) {
  b.init(p + "_scale", f32({3}, values(3, 0.5f, 2.0f, seed)))
      .init(p + "_b", f32({3}, values(3, -1.0f, 1.0f, seed + 1)))
      .init(p + "_mean", f32({3}, values(3, -0.5f, 0.5f, seed + 2)))
      .init(p + "_var", f32({3}, values(3, 0.1f, 3.0f, seed + 3)));
}

std::vector<std::string> bn_inputs(const std::string& x, const std::string& p) {
  return {x, p + "_scale", p + "_b", p + "_mean", p + "_var"};
}

std::map<std::string, Attribute> conv_attrs() {
  return {{"kernel_shape", ints_attr({3, 3})}, {"pads", ints_attr({1, 1, 1, 1})}};
}

TEST(ConvBatchNormFolding, FoldsWithAndWithoutBias) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5}))
      .init("W", f32({3, 2, 3, 3}, values(54, -1.0f, 1.0f, 1)))
      .init("B", f32({3}, values(3, -1.0f, 1.0f, 2)));
  add_bn_params(b, "bn1", 10);
  add_bn_params(b, "bn2", 20);
  b.node("Conv", 11, {"x", "W", "B"}, {"c1"}, conv_attrs())
      .node("BatchNormalization", 9, bn_inputs("c1", "bn1"), {"n1"}, {{"epsilon", float_attr(1e-3f)}})
      .node("Relu", 13, {"n1"}, {"y1"})
      // Shares W with the first Conv: the fold must write new initializers, not scale W in place.
      .node("Conv", 11, {"x", "W"}, {"c2"}, conv_attrs())
      .node("BatchNormalization", 15, bn_inputs("c2", "bn2"), {"y2"}, {{"training_mode", int_attr(0)}})
      .output("y1", ftype({1, 3, 5, 5}))
      .output("y2", ftype({1, 3, 5, 5}));
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_conv_batchnorm_folding()), 2);
  const Graph& g = *after.graph;
  EXPECT_EQ(count_op(g, "BatchNormalization"), 0u);
  EXPECT_EQ(count_op(g, "Conv"), 2u);
  // The graph output the BN wrote is now written by the Conv, under the same name.
  int y2 = g.outputs[1];
  EXPECT_EQ(g.values[static_cast<size_t>(y2)].name, "y2");
  ASSERT_GE(g.values[static_cast<size_t>(y2)].producer, 0);
  const Node& conv2 = g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(y2)].producer)];
  EXPECT_EQ(conv2.op_type, "Conv");
  ASSERT_EQ(conv2.inputs.size(), 3u);
  EXPECT_NE(conv2.inputs[2], kNoValue);
  expect_same_outputs(before, after);
  expect_same_outputs(before, after, 99);
}

TEST(ConvBatchNormFolding, LeavesPatternAloneWhenNotFoldable) {
  // Conv output read twice: the unnormalized value is still needed.
  {
    GraphBuilder b;
    b.input("x", ftype({1, 2, 5, 5})).init("W", f32({3, 2, 3, 3}, values(54, -1.0f, 1.0f, 1)));
    add_bn_params(b, "bn", 10);
    b.node("Conv", 11, {"x", "W"}, {"c"}, conv_attrs())
        .node("BatchNormalization", 9, bn_inputs("c", "bn"), {"n"})
        .node("Add", 13, {"n", "c"}, {"y"})
        .output("y", ftype({1, 3, 5, 5}));
    Model m = b.build();
    EXPECT_EQ(run_pass(m, make_conv_batchnorm_folding()), 0);
    EXPECT_EQ(count_op(*m.graph, "BatchNormalization"), 1u);
  }
  // Training-mode BN: its running statistics are read, so it is not an affine map of fixed parameters.
  {
    GraphBuilder b;
    b.input("x", ftype({1, 2, 5, 5})).init("W", f32({3, 2, 3, 3}, values(54, -1.0f, 1.0f, 1)));
    add_bn_params(b, "bn", 10);
    b.node("Conv", 11, {"x", "W"}, {"c"}, conv_attrs())
        .node("BatchNormalization", 15, bn_inputs("c", "bn"), {"y", "running_mean", "running_var"},
              {{"training_mode", int_attr(1)}})
        .output("y", ftype({1, 3, 5, 5}))
        .output("running_mean", ftype({3}));
    Model m = b.build();
    EXPECT_EQ(run_pass(m, make_conv_batchnorm_folding()), 0);
  }
  // Weight fed at run time: nothing to fold into.
  {
    GraphBuilder b;
    b.input("x", ftype({1, 2, 5, 5})).input("W", ftype({3, 2, 3, 3}));
    add_bn_params(b, "bn", 10);
    b.node("Conv", 11, {"x", "W"}, {"c"}, conv_attrs())
        .node("BatchNormalization", 9, bn_inputs("c", "bn"), {"y"})
        .output("y", ftype({1, 3, 5, 5}));
    Model m = b.build();
    EXPECT_EQ(run_pass(m, make_conv_batchnorm_folding()), 0);
  }
}

TEST(ConvBatchNormFolding, RespectsRewriteBudget) {
  GraphBuilder b;
  b.input("x", ftype({1, 2, 5, 5})).init("W", f32({3, 2, 3, 3}, values(54, -1.0f, 1.0f, 1)));
  add_bn_params(b, "bn", 10);
  b.node("Conv", 11, {"x", "W"}, {"c"}, conv_attrs())
      .node("BatchNormalization", 9, bn_inputs("c", "bn"), {"y"})
      .output("y", ftype({1, 3, 5, 5}));
  Model m = b.build();
  PassOptions options;
  options.max_rewrites = 0;
  EXPECT_EQ(run_pass(m, make_conv_batchnorm_folding(), options), 0);
  EXPECT_EQ(count_op(*m.graph, "BatchNormalization"), 1u);
}

}  // namespace
}  // namespace ef::test
