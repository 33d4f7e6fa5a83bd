// qdq-fusion's 8-bit ops: DQ(a), DQ(b) -> Add [-> Relu] -> Q becomes ai.edgeforge QLinearAdd, and DQ -> MaxPool /
// Pad / Concat -> Q between equal quantization parameters runs on the 8-bit tensors. Both are exact: the rewritten
// graph on the fast kernels gives bit for bit what the QDQ graph as written gives on the reference kernels; the
// export's unfuse step writes QLinearAdd back as standard DQ -> Add -> Q.
#include "fusion_test_util.h"

namespace ef::test {
namespace qdq_int8_ops_test {

constexpr float kYScale = 0.04f;

// a, b -> Q -> DQ -> Add [-> Relu] -> Q(y) -> DQ -> MaxPool -> Q(y) -> DQ -> Pad(0.5) -> Q(y) -> DQ
//   -> Concat(., itself) -> Q(y) -> DQ -> out; also DQ(Add's Q) -> sum. `pool_scale` is the MaxPool's Q scale.
Model int8_ops_model(bool relu, uint8_t y_zp, float pool_scale = kYScale) {
  GraphBuilder gb;
  gb.input("a", ftype({1, 3, 6, 7}))
      .input("b", ftype({1, 3, 6, 7}))
      .init("as", Tensor::scalar<float>(DType::kFloat32, 0.02f))
      .init("azp", Tensor::scalar<uint8_t>(DType::kUInt8, 120))
      .init("bs", Tensor::scalar<float>(DType::kFloat32, 0.03f))
      .init("bzp", Tensor::scalar<int8_t>(DType::kInt8, -5))
      .init("ys", Tensor::scalar<float>(DType::kFloat32, kYScale))
      .init("yzp", Tensor::scalar<uint8_t>(DType::kUInt8, y_zp))
      .init("ps", Tensor::scalar<float>(DType::kFloat32, pool_scale))
      .init("pads", i64({8}, {0, 0, 1, 2, 0, 0, 2, 0}))
      .init("half", Tensor::scalar<float>(DType::kFloat32, 0.5f))
      .node("QuantizeLinear", 13, {"a", "as", "azp"}, {"aq"})
      .node("DequantizeLinear", 13, {"aq", "as", "azp"}, {"ad"})
      .node("QuantizeLinear", 13, {"b", "bs", "bzp"}, {"bq"})
      .node("DequantizeLinear", 13, {"bq", "bs", "bzp"}, {"bd"})
      .node("Add", 14, {"ad", "bd"}, {relu ? "s0" : "s"});
  if (relu) gb.node("Relu", 14, {"s0"}, {"s"});
  gb.node("QuantizeLinear", 13, {"s", "ys", "yzp"}, {"sq"})
      .node("DequantizeLinear", 13, {"sq", "ys", "yzp"}, {"sum"})
      .node("MaxPool", 12, {"sum"}, {"p"},
            {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}, {"pads", ints_attr({0, 1, 1, 0})}})
      .node("QuantizeLinear", 13, {"p", "ps", "yzp"}, {"pq"})
      .node("DequantizeLinear", 13, {"pq", "ps", "yzp"}, {"pd"})
      .node("Pad", 13, {"pd", "pads", "half"}, {"padded"})
      .node("QuantizeLinear", 13, {"padded", "ps", "yzp"}, {"padq"})
      .node("DequantizeLinear", 13, {"padq", "ps", "yzp"}, {"padd"})
      .node("Concat", 13, {"padd", "padd"}, {"cat"}, {{"axis", int_attr(1)}})
      .node("QuantizeLinear", 13, {"cat", "ps", "yzp"}, {"catq"})
      .node("DequantizeLinear", 13, {"catq", "ps", "yzp"}, {"out"})
      .output("sum")
      .output("out");
  return gb.build();
}

// `after` on the fast kernels equals `before` on the reference kernels exactly.
void expect_bit_identical(const Model& before, const Model& after) {
  SessionOptions ref;
  ref.optimization_level = 0;
  ref.reference_kernels = true;
  SessionOptions fast;
  fast.optimization_level = 0;
  auto a = Session::from_model(clone_model(before), ref);
  auto b = Session::from_model(clone_model(after), fast);
  auto c = Session::from_model(clone_model(after), ref);  // QLinearAdd's reference kernel too
  NamedTensors in{{"a", rand_f32({1, 3, 6, 7}, 5, -2.4f, 2.6f)}, {"b", rand_f32({1, 3, 6, 7}, 6, -3.5f, 3.0f)}};
  std::vector<Tensor> ya = a->run(in), yb = b->run(in), yc = c->run(in);
  ASSERT_EQ(ya.size(), yb.size());
  ASSERT_EQ(ya.size(), yc.size());
  for (size_t o = 0; o < ya.size(); ++o) {
    for (int64_t i = 0; i < ya[o].numel(); ++i) {
      ASSERT_EQ(ya[o].data<float>()[i], yc[o].data<float>()[i]) << "reference, output " << o << " element " << i;
    }
  }
  for (size_t o = 0; o < ya.size(); ++o) {
    ASSERT_EQ(ya[o].shape(), yb[o].shape());
    int64_t distinct = 0;
    for (int64_t i = 0; i < ya[o].numel(); ++i) {
      ASSERT_EQ(ya[o].data<float>()[i], yb[o].data<float>()[i]) << "output " << o << " element " << i;
      distinct += ya[o].data<float>()[i] != ya[o].data<float>()[0];
    }
    EXPECT_GT(distinct, 0) << "output " << o;
  }
}

TEST(QdqFusionInt8Ops, AddPoolPadConcatStayEightBit) {
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "Relu" : "no activation");
    Model before = int8_ops_model(relu, relu ? 0 : 110);
    Model after = clone_model(before);
    EXPECT_EQ(run_pass(after, make_qdq_fusion()), 4);
    EXPECT_EQ(count_domain(*after.graph, "ai.edgeforge"), 1u);
    EXPECT_EQ(count_op(*after.graph, "Add") + count_op(*after.graph, "Relu"), 0u);
    for (const Node& n : after.graph->nodes) {
      if (n.op_type != "MaxPool" && n.op_type != "Pad" && n.op_type != "Concat") continue;
      EXPECT_EQ(after.graph->values[static_cast<size_t>(n.inputs[0])].type.dtype, DType::kUInt8) << n.op_type;
    }
    expect_bit_identical(before, after);
  }
}

TEST(QdqFusionInt8Ops, LeftAloneWhereNotExact) {
  // Relu with the zero point above the type's minimum clamps inside the range: the Add stays float.
  Model relu = int8_ops_model(true, 3);
  EXPECT_EQ(run_pass(relu, make_qdq_fusion()), 3);
  EXPECT_EQ(count_op(*relu.graph, "Add"), 1u);
  // The MaxPool's Q has another scale than its DQ: the pool stays float (Pad and Concat still move).
  Model rescaled = int8_ops_model(false, 110, 0.05f);
  EXPECT_EQ(run_pass(rescaled, make_qdq_fusion()), 3);
  for (const Node& n : rescaled.graph->nodes) {
    if (n.op_type == "MaxPool") { EXPECT_EQ(rescaled.graph->values[static_cast<size_t>(n.inputs[0])].type.dtype, DType::kFloat32); }
  }
}

TEST(QdqFusionInt8Ops, PipelineAndExportWriteStandardOnnx) {
  Model before = int8_ops_model(false, 110);
  Model after = optimized(before);
  EXPECT_EQ(count_op(*after.graph, "QLinearAdd"), 1u);
  expect_bit_identical(before, after);
  EXPECT_EQ(unfuse_model(after), 1);
  EXPECT_EQ(count_domain(*after.graph, "ai.edgeforge"), 0u);
  EXPECT_EQ(count_op(*after.graph, "Add"), 1u);
  expect_bit_identical(before, after);
}

}  // namespace
}  // namespace ef::test
