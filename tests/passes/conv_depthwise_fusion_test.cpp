// conv-depthwise-fusion: which 1x1 Conv + depthwise Conv pairs become one ai.edgeforge FusedConvDepthwise, that
// the fused node computes what the pair computed (on the reference kernels and on the fast CPU kernel it was made
// for, at one and two threads), and that export turns it back into standard Conv and activation nodes.
#include "fusion_test_util.h"
#include "onnx/model_io.h"
#include "ops/fused.h"

namespace ef::test {
namespace conv_depthwise_fusion_test {

std::map<std::string, Attribute> depthwise_attrs(int64_t channels, int64_t k, int64_t stride) {
  const int64_t pad = k / 2;
  return {{"kernel_shape", ints_attr({k, k})},
          {"strides", ints_attr({stride, stride})},
          {"pads", ints_attr({pad, pad, pad, pad})},
          {"group", int_attr(channels)}};
}

// x [1, C, H, W] -> Conv 1x1 (C -> M) -> Clip(0, 6) -> depthwise Conv k x k -> Clip(0, 6) -> y: the expand and
// depthwise half of an inverted-residual block.
Model block_model(int64_t c, int64_t m, int64_t h, int64_t w, int64_t k, int64_t stride) {
  GraphBuilder b;
  b.input("x", ftype({1, c, h, w}))
      .init("W1", rand_f32({m, c, 1, 1}, 1))
      .init("B1", rand_f32({m}, 2))
      .init("W2", rand_f32({m, 1, k, k}, 3))
      .init("B2", rand_f32({m}, 4))
      .init("lo", Tensor::scalar(DType::kFloat32, 0.0f))
      .init("hi", Tensor::scalar(DType::kFloat32, 6.0f))
      .node("Conv", 11, {"x", "W1", "B1"}, {"e"})
      .node("Clip", 13, {"e", "lo", "hi"}, {"er"})
      .node("Conv", 11, {"er", "W2", "B2"}, {"d"}, depthwise_attrs(m, k, stride))
      .node("Clip", 13, {"d", "lo", "hi"}, {"y"})
      .output("y");
  return b.build();
}

TEST(ConvDepthwiseFusion, ExpandAndDepthwiseBecomeOneNode) {
  // Intermediates of 1 MiB and more: 64 x 64 x 64 floats, at stride 1 (banded) and 2; and 5x5.
  struct Block {
    int64_t k, stride;
  };
  for (const Block& s : {Block{3, 1}, Block{3, 2}, Block{5, 2}}) {
    SCOPED_TRACE("k " + std::to_string(s.k) + " stride " + std::to_string(s.stride));
    const Model before = block_model(8, 64, 64, 67, s.k, s.stride);
    const Model after = optimized(before);
    const Graph& g = *after.graph;
    ASSERT_EQ(g.nodes.size(), 1u);
    const Node& n = g.nodes[0];
    EXPECT_EQ(n.domain, kEdgeForgeDomain);
    EXPECT_EQ(n.op_type, "FusedConvDepthwise");
    EXPECT_EQ(n.attr_string("activation", ""), "Clip");
    EXPECT_EQ(n.attr_string("dw_activation", ""), "Clip");
    EXPECT_EQ(n.attr_floats("dw_activation_params"), (std::vector<float>{0.0f, 6.0f}));
    EXPECT_EQ(n.attr_int("dw_group", 1), 64);
    EXPECT_EQ(n.attr_ints("dw_strides"), (std::vector<int64_t>{s.stride, s.stride}));
    EXPECT_EQ(n.inputs.size(), 5u);

    const Tensor x = rand_f32({1, 8, 64, 67}, 5);
    const Tensor want = run_level0(before, x, true);
    expect_close_outputs(run_level0(after, x, true), want, "fused node, reference kernel");
    for (int threads : {1, 2}) {
      std::vector<NodeProfile> profile;
      expect_close_outputs(run_level0(after, x, false, threads, &profile), want, "fused node, fast kernel");
      ASSERT_EQ(profile.size(), 1u);
      EXPECT_EQ(profile[0].kernel, "conv.pointwise_depthwise" + std::to_string(s.k) + "x" + std::to_string(s.k));
    }
  }
}

TEST(ConvDepthwiseFusion, LeavesPairsItCannotMerge) {
  // An intermediate under 1 MiB stays in cache between the two nodes: 64 x 32 x 32 floats.
  EXPECT_EQ(count_domain(*optimized(block_model(8, 64, 32, 32, 3, 1)).graph, kEdgeForgeDomain), 2u);
  EXPECT_EQ(count_op(*optimized(block_model(8, 64, 32, 32, 3, 1)).graph, "Conv"), 0u);
  auto fused_count = [](const Model& m) {
    size_t n = 0;
    for (const Node& node : m.graph->nodes) n += node.op_type == "FusedConvDepthwise";
    return n;
  };
  // The intermediate also read elsewhere.
  {
    GraphBuilder b;
    b.input("x", ftype({1, 8, 64, 64}))
        .init("W1", rand_f32({64, 8, 1, 1}, 1))
        .init("W2", rand_f32({64, 1, 3, 3}, 3))
        .node("Conv", 11, {"x", "W1"}, {"e"})
        .node("Conv", 11, {"e", "W2"}, {"y"}, depthwise_attrs(64, 3, 1))
        .node("Relu", 14, {"e"}, {"z"})
        .output("y")
        .output("z");
    EXPECT_EQ(fused_count(optimized(b.build())), 0u);
  }
  // A 3x3 first conv, or a second conv that is not depthwise (group 1), or a column stride of 3.
  {
    GraphBuilder b;
    b.input("x", ftype({1, 8, 64, 64}))
        .init("W1", rand_f32({64, 8, 3, 3}, 1))
        .init("W2", rand_f32({64, 1, 3, 3}, 3))
        .node("Conv", 11, {"x", "W1"}, {"e"}, conv3x3())
        .node("Conv", 11, {"e", "W2"}, {"y"}, depthwise_attrs(64, 3, 1))
        .output("y");
    EXPECT_EQ(fused_count(optimized(b.build())), 0u);
  }
  {
    GraphBuilder b;
    b.input("x", ftype({1, 8, 64, 64}))
        .init("W1", rand_f32({64, 8, 1, 1}, 1))
        .init("W2", rand_f32({16, 64, 3, 3}, 3))
        .node("Conv", 11, {"x", "W1"}, {"e"})
        .node("Conv", 11, {"e", "W2"}, {"y"}, conv3x3())
        .output("y");
    EXPECT_EQ(fused_count(optimized(b.build())), 0u);
  }
  {
    GraphBuilder b;
    b.input("x", ftype({1, 8, 64, 64}))
        .init("W1", rand_f32({64, 8, 1, 1}, 1))
        .init("W2", rand_f32({64, 1, 3, 3}, 3))
        .node("Conv", 11, {"x", "W1"}, {"e"})
        .node("Conv", 11, {"e", "W2"}, {"y"}, depthwise_attrs(64, 3, 3))
        .output("y");
    EXPECT_EQ(fused_count(optimized(b.build())), 0u);
  }
}

TEST(ConvDepthwiseFusion, ExportsAsConvClipConvClip) {
  const Model before = block_model(8, 64, 64, 64, 3, 2);
  Model after = optimized(before);
  ASSERT_EQ(count_domain(*after.graph, kEdgeForgeDomain), 1u);
  const Model unfused = expect_export_round_trip(before, std::move(after), rand_f32({1, 8, 64, 64}, 9), 1);
  EXPECT_EQ(count_op(*unfused.graph, "Conv"), 2u);
  EXPECT_EQ(count_op(*unfused.graph, "Clip"), 2u);
}

}  // namespace conv_depthwise_fusion_test
}  // namespace ef::test
