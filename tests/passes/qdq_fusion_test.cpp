// qdq-fusion: DequantizeLinear -> Conv -> [Relu | Clip] -> QuantizeLinear becomes QLinearConv (within one output
// quantization step of the QDQ graph run as written), also inside the whole level-2 pipeline (constant folding
// must not turn the weight DequantizeLinear into float weights first); activations that the output quantization
// does not make redundant keep the graph as it is.
#include "fusion_test_util.h"

namespace ef::test {
namespace qdq_fusion_test {

constexpr float kYScale = 0.05f;

// x -> Q -> DQ -> Conv(DQ(w), DQ(b)) -> act -> Q -> DQ -> y. `act`: "", "Relu" or "Clip" (bounds clip_lo, clip_hi).
Model qdq_conv_model(const std::string& act, float clip_lo = 0.0f, float clip_hi = 6.0f, int64_t group = 1) {
  const int64_t C = 4, M = 4;
  std::vector<int8_t> w(static_cast<size_t>(M * (C / group) * 9));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  std::vector<float> ws = {0.01f, 0.02f, 0.015f, 0.005f};
  const float xs = 0.01f;
  std::vector<int32_t> b = {100, -250, 3000, 0};
  std::vector<float> bs;
  for (float s : ws) bs.push_back(xs * s);
  const bool zero_based = act == "Relu";
  GraphBuilder gb;
  gb.input("x", ftype({1, C, 7, 6}))
      .init("xs", Tensor::scalar<float>(DType::kFloat32, xs))
      .init("xzp", Tensor::scalar<uint8_t>(DType::kUInt8, 128))
      .init("w", Tensor::from_vector(DType::kInt8, {M, C / group, 3, 3}, w))
      .init("ws", f32({M}, ws))
      .init("wzp", Tensor::from_vector(DType::kInt8, {M}, std::vector<int8_t>(M, 0)))
      .init("b", Tensor::from_vector(DType::kInt32, {M}, b))
      .init("bs", f32({M}, bs))
      .init("ys", Tensor::scalar<float>(DType::kFloat32, kYScale))
      .init("yzp", Tensor::scalar<uint8_t>(DType::kUInt8, zero_based ? 0 : 100))
      .node("QuantizeLinear", 13, {"x", "xs", "xzp"}, {"xq"})
      .node("DequantizeLinear", 13, {"xq", "xs", "xzp"}, {"xd"})
      .node("DequantizeLinear", 13, {"w", "ws", "wzp"}, {"wd"}, {{"axis", int_attr(0)}})
      .node("DequantizeLinear", 13, {"b", "bs"}, {"bd"}, {{"axis", int_attr(0)}})
      .node("Conv", 11, {"xd", "wd", "bd"}, {act.empty() ? "c" : "c0"},
            {{"kernel_shape", ints_attr({3, 3})}, {"pads", ints_attr({1, 0, 1, 2})}, {"group", int_attr(group)}});
  if (act == "Relu") gb.node("Relu", 14, {"c0"}, {"c"});
  if (act == "Clip") {
    gb.init("lo", Tensor::scalar<float>(DType::kFloat32, clip_lo)).init("hi", Tensor::scalar<float>(DType::kFloat32, clip_hi));
    gb.node("Clip", 13, {"c0", "lo", "hi"}, {"c"});
  }
  gb.node("QuantizeLinear", 13, {"c", "ys", "yzp"}, {"yq"})
      .node("DequantizeLinear", 13, {"yq", "ys", "yzp"}, {"y"})
      .output("y");
  return gb.build();
}

// The QDQ graph as written (level 0, reference kernels) and `after` (fast kernels) agree within one step.
void expect_within_one_step(const Model& before, const Model& after) {
  EXPECT_GT(compare_within_one_step(before, after, rand_f32({1, 4, 7, 6}, 3, -1.2f, 1.3f), kYScale).distinct, 0);
}

TEST(QdqFusion, ConvBecomesQLinearConv) {
  for (const char* act : {"", "Relu"}) {
    SCOPED_TRACE(act);
    Model before = qdq_conv_model(act);
    Model after = clone_model(before);
    EXPECT_EQ(run_pass(after, make_qdq_fusion()), 1);
    EXPECT_EQ(count_op(*after.graph, "QLinearConv"), 1u);
    EXPECT_EQ(count_op(*after.graph, "Conv"), 0u);
    EXPECT_EQ(count_op(*after.graph, "Relu"), 0u);
    expect_within_one_step(before, after);
  }
}

TEST(QdqFusion, ClipAbsorbedOnlyWhenTheQuantizationSaturatesAtItsBounds) {
  // y zero point 100, scale 0.05: representable [-5, 7.75]. Clip(-6, 8) changes nothing after quantizing.
  Model wide = qdq_conv_model("Clip", -6.0f, 8.0f);
  EXPECT_EQ(run_pass(wide, make_qdq_fusion()), 1);
  Model narrow = qdq_conv_model("Clip", 0.0f, 6.0f);
  EXPECT_EQ(run_pass(narrow, make_qdq_fusion()), 0);
  Model relu = qdq_conv_model("Relu");
  relu.graph->values[static_cast<size_t>(relu.graph->find_value("yzp"))].initializer =
      Tensor::scalar<uint8_t>(DType::kUInt8, 3);  // zero point above 0: Relu clamps inside the range
  EXPECT_EQ(run_pass(relu, make_qdq_fusion()), 0);
}

TEST(QdqFusion, LevelTwoPipelineKeepsTheIntegerConv) {
  Model before = qdq_conv_model("Relu", 0, 6, 2);
  Model after = optimized(before);
  EXPECT_EQ(count_op(*after.graph, "QLinearConv"), 1u);
  EXPECT_EQ(count_op(*after.graph, "Conv") + count_domain(*after.graph, "ai.edgeforge"), 0u);
  expect_within_one_step(before, after);
}

}  // namespace
}  // namespace ef::test

namespace ef::test {
namespace qdq_fusion_test {

TEST(QdqFusion, ConstantFoldingKeepsWeightDequantization) {
  GraphBuilder gb;
  gb.input("a", ftype({2, 4}))
      .init("w", Tensor::from_vector(DType::kInt8, {4, 3}, std::vector<int8_t>{1, -2, 3, 4, 5, -6, 7, 8, 127, -128, 0, 9}))
      .init("ws", f32({3}, {0.5f, 0.25f, 2.0f}))
      .init("wzp", Tensor::from_vector(DType::kInt8, {3}, std::vector<int8_t>{0, 1, -1}))
      .node("DequantizeLinear", 13, {"w", "ws", "wzp"}, {"wd"}, {{"axis", int_attr(1)}})
      .node("MatMul", 13, {"a", "wd"}, {"y"})
      .output("y");
  Model before = gb.build();
  // Level 1 and 2 keep the int8 weights in the file; the planner still folds them once per plan (fast Gemm).
  for (int level : {1, 2}) {
    Model after = optimized(before, level);
    EXPECT_EQ(count_op(*after.graph, "DequantizeLinear"), 1u) << level;
  }
  SessionOptions opts;
  std::vector<NodeProfile> profile;
  NamedTensors in{{"a", rand_f32({2, 4}, 5)}};
  Session::from_model(clone_model(before), opts)->run_profiled(in, profile);
  // The DequantizeLinear was folded at plan time: MatMul sees constant weights and packs them.
  bool matmul_packed = false;
  for (const NodeProfile& p : profile) matmul_packed |= p.op_type == "MatMul" && p.kernel == "matmul.packed_b";
  EXPECT_TRUE(matmul_packed);
  expect_same_outputs(before, optimized(before, 2));
}

}  // namespace
}  // namespace ef::test
