// conv-maxpool-fusion: which Conv + MaxPool pairs become one ai.edgeforge FusedConvMaxPool, that the fused node
// computes what the pair computed (on the reference kernels and on the fast CPU kernel it was made for), and that
// export turns it back into standard Conv, activation and MaxPool nodes.
#include "fusion_test_util.h"
#include "onnx/model_io.h"
#include "ops/fused.h"

namespace ef::test {
namespace conv_maxpool_fusion_test {

std::map<std::string, Attribute> stem_conv(int64_t k, int64_t pad) {
  return {{"kernel_shape", ints_attr({k, k})},
          {"strides", ints_attr({2, 2})},
          {"pads", ints_attr({pad, pad, pad, pad})}};
}

std::map<std::string, Attribute> pool3x3(int64_t pad, int64_t ceil_mode) {
  return {{"kernel_shape", ints_attr({3, 3})},
          {"strides", ints_attr({2, 2})},
          {"pads", ints_attr({pad, pad, pad, pad})},
          {"ceil_mode", int_attr(ceil_mode)}};
}

// x [1, C, H, W] -> Conv (k x k, stride 2) -> Relu -> MaxPool 3x3 stride 2 -> y.
Model stem_model(int64_t c, int64_t h, int64_t w, int64_t k, int64_t pad, int64_t pool_pad, int64_t ceil_mode) {
  GraphBuilder b;
  b.input("x", ftype({1, c, h, w}))
      .init("W", rand_f32({24, c, k, k}, 1))
      .init("B", rand_f32({24}, 2))
      .node("Conv", 11, {"x", "W", "B"}, {"c"}, stem_conv(k, pad))
      .node("Relu", 14, {"c"}, {"r"})
      .node("MaxPool", 12, {"r"}, {"y"}, pool3x3(pool_pad, ceil_mode))
      .output("y");
  return b.build();
}

TEST(ConvMaxPoolFusion, StemConvReluMaxPoolBecomesOneNode) {
  // squeezenet's (3x3, no pad, ceil mode), resnet18's (7x7 pad 3, pool pad 1) and shufflenet's (3x3 pad 1) stems.
  struct Stem {
    int64_t k, pad, pool_pad, ceil;
  };
  for (const Stem& s : {Stem{3, 0, 0, 1}, Stem{7, 3, 1, 0}, Stem{3, 1, 1, 0}}) {
    SCOPED_TRACE("k " + std::to_string(s.k));
    const Model before = stem_model(3, 61, 67, s.k, s.pad, s.pool_pad, s.ceil);
    const Model after = optimized(before);
    const Graph& g = *after.graph;
    ASSERT_EQ(g.nodes.size(), 1u);
    const Node& n = g.nodes[0];
    EXPECT_EQ(n.domain, kEdgeForgeDomain);
    EXPECT_EQ(n.op_type, "FusedConvMaxPool");
    EXPECT_EQ(n.attr_string("activation", ""), "Relu");
    EXPECT_EQ(n.attr_ints("pool_kernel_shape"), (std::vector<int64_t>{3, 3}));
    EXPECT_EQ(n.attr_int("pool_ceil_mode", 0), s.ceil);
    EXPECT_EQ(n.attr_ints("strides"), (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(n.inputs.size(), 3u);

    const Tensor x = rand_f32({1, 3, 61, 67}, 5);
    const Tensor want = run_level0(before, x, true);
    expect_close_outputs(run_level0(after, x, true), want, "fused node, reference kernel");
    for (int threads : {1, 2}) {
      std::vector<NodeProfile> profile;
      expect_close_outputs(run_level0(after, x, false, threads, &profile), want, "fused node, fast kernel");
      ASSERT_EQ(profile.size(), 1u);
      EXPECT_EQ(profile[0].kernel, "conv.direct_smallc_maxpool");
    }
  }
}

TEST(ConvMaxPoolFusion, LeavesPairsItCannotMerge) {
  // More input channels than the banded kernel takes.
  EXPECT_EQ(count_op(*optimized(stem_model(8, 20, 20, 3, 1, 1, 0)).graph, "MaxPool"), 1u);
  // The conv output also read elsewhere.
  {
    GraphBuilder b;
    b.input("x", ftype({1, 3, 20, 20}))
        .init("W", rand_f32({8, 3, 3, 3}, 1))
        .node("Conv", 11, {"x", "W"}, {"c"}, stem_conv(3, 1))
        .node("MaxPool", 12, {"c"}, {"y"}, pool3x3(1, 0))
        .node("Relu", 14, {"c"}, {"z"})
        .output("y")
        .output("z");
    const Model m = optimized(b.build());
    EXPECT_EQ(count_op(*m.graph, "MaxPool"), 1u);
    EXPECT_EQ(count_domain(*m.graph, kEdgeForgeDomain), 0u);
  }
  // MaxPool's Indices output in use.
  {
    GraphBuilder b;
    b.input("x", ftype({1, 3, 20, 20}))
        .init("W", rand_f32({8, 3, 3, 3}, 1))
        .node("Conv", 11, {"x", "W"}, {"c"}, stem_conv(3, 1))
        .node("MaxPool", 12, {"c"}, {"y", "i"}, pool3x3(1, 0))
        .output("y")
        .output("i");
    EXPECT_EQ(count_op(*optimized(b.build()).graph, "MaxPool"), 1u);
  }
  // A residual conv (Conv + Add) keeps its MaxPool: the fused node takes no residual.
  {
    GraphBuilder b;
    b.input("x", ftype({1, 3, 20, 20}))
        .init("W", rand_f32({3, 3, 3, 3}, 1))
        .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
        .node("Add", 14, {"c", "x"}, {"s"})
        .node("MaxPool", 12, {"s"}, {"y"}, pool3x3(1, 0))
        .output("y");
    const Model m = optimized(b.build());
    EXPECT_EQ(count_op(*m.graph, "MaxPool"), 1u);
  }
}

TEST(ConvMaxPoolFusion, ExportsAsConvReluMaxPool) {
  const Model before = stem_model(3, 29, 31, 3, 0, 0, 1);
  Model after = optimized(before);
  ASSERT_EQ(count_domain(*after.graph, kEdgeForgeDomain), 1u);
  const Model unfused = expect_export_round_trip(before, std::move(after), rand_f32({1, 3, 29, 31}, 9), 1);
  EXPECT_EQ(count_op(*unfused.graph, "Conv"), 1u);
  EXPECT_EQ(count_op(*unfused.graph, "Relu"), 1u);
  EXPECT_EQ(count_op(*unfused.graph, "MaxPool"), 1u);
}

}  // namespace conv_maxpool_fusion_test
}  // namespace ef::test
