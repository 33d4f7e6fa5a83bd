// qconv-add-fusion: QLinearConv -> QLinearAdd (the residual block qdq-fusion leaves) becomes ai.edgeforge
// QLinearConvAdd, bit for bit what the two nodes give, on the fast and on the reference kernels, with the
// convolution on either side of the add; left alone where the add reads the convolution's result with other
// parameters, where the result has another reader, and where the residual broadcasts; written back by unfuse.
#include "analysis/model_stats.h"
#include "fusion_test_util.h"

namespace ef::test {
namespace qconv_add_fusion_test {

struct BlockOptions {
  bool conv_first = true;       // the convolution is the add's A (else B)
  float add_reads_scale = 0.05f;  // the scale of the DequantizeLinear between the conv's Q and the add
  bool second_reader = false;   // the conv's 8-bit result is also a graph output
  Dims residual_dims = {1, 4, 7, 6};
};

// x -> Q -> DQ -> Conv 3x3 -> Q(0.05) -> DQ -> Add(., DQ(Q(r))) -> Relu -> Q -> DQ -> y.
Model residual_block(const BlockOptions& o) {
  const int64_t C = 4, M = 4;
  std::vector<int8_t> w(static_cast<size_t>(M * C * 9));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i * 53 % 255) - 127);
  GraphBuilder gb;
  gb.input("x", ftype({1, C, 7, 6}))
      .input("r", ftype(o.residual_dims))
      .init("xs", Tensor::scalar<float>(DType::kFloat32, 0.01f))
      .init("xzp", Tensor::scalar<uint8_t>(DType::kUInt8, 128))
      .init("w", Tensor::from_vector(DType::kInt8, {M, C, 3, 3}, w))
      .init("ws", f32({M}, {0.01f, 0.02f, 0.015f, 0.005f}))
      .init("wzp", Tensor::from_vector(DType::kInt8, {M}, std::vector<int8_t>(M, 0)))
      .init("ys", Tensor::scalar<float>(DType::kFloat32, 0.05f))
      .init("ys2", Tensor::scalar<float>(DType::kFloat32, o.add_reads_scale))
      .init("yzp", Tensor::scalar<uint8_t>(DType::kUInt8, 100))
      .init("rs", Tensor::scalar<float>(DType::kFloat32, 0.03f))
      .init("rzp", Tensor::scalar<int8_t>(DType::kInt8, -4))
      .init("cs", Tensor::scalar<float>(DType::kFloat32, 0.07f))
      .init("czp", Tensor::scalar<uint8_t>(DType::kUInt8, 0))
      .node("QuantizeLinear", 13, {"x", "xs", "xzp"}, {"xq"})
      .node("DequantizeLinear", 13, {"xq", "xs", "xzp"}, {"xd"})
      .node("DequantizeLinear", 13, {"w", "ws", "wzp"}, {"wd"}, {{"axis", int_attr(0)}})
      .node("Conv", 11, {"xd", "wd"}, {"c"}, conv3x3())
      .node("QuantizeLinear", 13, {"c", "ys", "yzp"}, {"cq"})
      .node("DequantizeLinear", 13, {"cq", "ys2", "yzp"}, {"cd"})
      .node("QuantizeLinear", 13, {"r", "rs", "rzp"}, {"rq"})
      .node("DequantizeLinear", 13, {"rq", "rs", "rzp"}, {"rd"})
      .node("Add", 14, o.conv_first ? std::vector<std::string>{"cd", "rd"} : std::vector<std::string>{"rd", "cd"},
            {"s"})
      .node("Relu", 14, {"s"}, {"sr"})
      .node("QuantizeLinear", 13, {"sr", "cs", "czp"}, {"sq"})
      .node("DequantizeLinear", 13, {"sq", "cs", "czp"}, {"y"})
      .output("y");
  if (o.second_reader) gb.output("cq");
  return gb.build();
}

// `a` and `b` give the same bits on the fast kernels and on the reference kernels.
void expect_same_bits(const Model& a, const Model& b, const Dims& residual_dims) {
  Shape rshape;
  for (const Dim& d : residual_dims) rshape.push_back(d.value);
  NamedTensors in{{"x", rand_f32({1, 4, 7, 6}, 3, -1.2f, 1.3f)}, {"r", rand_f32(rshape, 4, -3.0f, 3.5f)}};
  for (bool reference : {false, true}) {
    SessionOptions opts;
    opts.optimization_level = 0;
    opts.reference_kernels = reference;
    Tensor ya = Session::from_model(clone_model(a), opts)->run(in)[0];
    Tensor yb = Session::from_model(clone_model(b), opts)->run(in)[0];
    ASSERT_EQ(ya.shape(), yb.shape());
    int64_t distinct = 0;
    for (int64_t i = 0; i < ya.numel(); ++i) {
      ASSERT_EQ(ya.data<float>()[i], yb.data<float>()[i]) << "element " << i << " reference " << reference;
      distinct += ya.data<float>()[i] != ya.data<float>()[0];
    }
    EXPECT_GT(distinct, 0);
  }
}

TEST(QconvAddFusion, ConvThenAddBecomesOneNode) {
  for (bool conv_first : {true, false}) {
    SCOPED_TRACE(conv_first ? "conv is A" : "conv is B");
    BlockOptions o;
    o.conv_first = conv_first;
    Model two = residual_block(o);
    EXPECT_EQ(run_pass(two, make_qdq_fusion()), 2);  // QLinearConv, QLinearAdd (with the Relu)
    run_pass(two, make_dead_node_elimination());     // the DequantizeLinear nodes they no longer read
    ASSERT_EQ(count_op(*two.graph, "QLinearConv"), 1u);
    ASSERT_EQ(count_op(*two.graph, "QLinearAdd"), 1u);
    Model one = clone_model(two);
    EXPECT_EQ(run_pass(one, make_qconv_add_fusion()), 1);
    EXPECT_EQ(count_op(*one.graph, "QLinearConvAdd"), 1u);
    EXPECT_EQ(count_op(*one.graph, "QLinearConv") + count_op(*one.graph, "QLinearAdd"), 0u);
    expect_same_bits(two, one, o.residual_dims);
    // `inspect` counts the fused node's multiply-accumulates as the convolution's: 4 x 7 x 6 outputs x 4 x 3 x 3.
    const std::vector<Shape> shapes{{1, 4, 7, 6}, {1, 4, 7, 6}};
    EXPECT_EQ(compute_model_stats(one, shapes).total_macs, 4 * 7 * 6 * 4 * 9);
    EXPECT_EQ(compute_model_stats(one, shapes).total_macs, compute_model_stats(two, shapes).total_macs);
    // The whole level-2 pipeline gets there too; export writes standard ONNX that computes the same.
    Model piped = optimized(residual_block(o));
    EXPECT_EQ(count_op(*piped.graph, "QLinearConvAdd"), 1u);
    expect_same_bits(two, piped, o.residual_dims);
    EXPECT_EQ(unfuse_model(piped), 1);
    EXPECT_EQ(count_domain(*piped.graph, "ai.edgeforge"), 0u);
    EXPECT_EQ(count_op(*piped.graph, "QLinearConv"), 1u);
    EXPECT_EQ(count_op(*piped.graph, "Add"), 1u);
    expect_same_bits(two, piped, o.residual_dims);
  }
}

TEST(QconvAddFusion, LeftAloneWhereTheAddNeedsTheConvResult) {
  BlockOptions other_scale;
  other_scale.add_reads_scale = 0.06f;  // the add dequantizes the conv's bytes with another scale
  BlockOptions shared;
  shared.second_reader = true;
  BlockOptions broadcast;
  broadcast.residual_dims = {1, 4, 1, 1};
  for (const BlockOptions& o : {other_scale, shared, broadcast}) {
    Model m = residual_block(o);
    run_pass(m, make_qdq_fusion());
    run_pass(m, make_dead_node_elimination());
    ASSERT_EQ(count_op(*m.graph, "QLinearConv"), 1u);
    ASSERT_EQ(count_op(*m.graph, "QLinearAdd"), 1u);
    EXPECT_EQ(run_pass(m, make_qconv_add_fusion()), 0);
  }
}

}  // namespace qconv_add_fusion_test
}  // namespace ef::test
