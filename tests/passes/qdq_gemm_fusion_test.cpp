// qdq-fusion's classifier heads: DQ(x), DQ(W) [, bias] -> Gemm -> Q becomes Reshape -> 1x1 QLinearConv ->
// Reshape (within one output quantization step of the QDQ graph as written, as the conv rewrite), and
// DQ -> Flatten -> Q between equal parameters runs on the 8-bit tensor (exact). transB 0 / 1, per tensor / per
// output column weight scales, bias absent, DQ(int32) or float; Gemms the rewrite does not cover stay.
#include "fusion_test_util.h"

namespace ef::test {
namespace qdq_gemm_fusion_test {

constexpr float kYScale = 0.02f;
constexpr int64_t kN = 7, kK = 20;

struct HeadCase {
  bool trans_b = true, per_channel = true;
  std::string bias = "dq";  // "", "dq", "float"
  float alpha = 1.0f;
  int8_t w_zero_point = 0;
};

// x [3, 4, 5] -> Q -> DQ -> Flatten -> Q -> DQ -> Gemm(DQ(w), bias) -> Q -> DQ -> y [3, 7].
Model head_model(const HeadCase& c) {
  std::vector<int8_t> w(static_cast<size_t>(kN * kK));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i * 53 % 256) - 128);
  std::vector<float> ws;
  for (int64_t n = 0; n < (c.per_channel ? kN : 1); ++n) ws.push_back(0.002f + 0.0007f * static_cast<float>(n));
  const float xs = 0.01f;
  std::vector<int32_t> b;
  std::vector<float> bf, bs;
  for (int64_t n = 0; n < kN; ++n) {
    b.push_back(static_cast<int32_t>(n * 97 - 300));
    bs.push_back(xs * ws[c.per_channel ? static_cast<size_t>(n) : 0]);
    bf.push_back(0.03f * static_cast<float>(n) - 0.1f);
  }
  const Shape w_shape = c.trans_b ? Shape{kN, kK} : Shape{kK, kN};
  if (!c.trans_b) {  // the same matrix, stored transposed
    std::vector<int8_t> t(w.size());
    for (int64_t n = 0; n < kN; ++n) {
      for (int64_t k = 0; k < kK; ++k) t[static_cast<size_t>(k * kN + n)] = w[static_cast<size_t>(n * kK + k)];
    }
    w = t;
  }
  GraphBuilder gb;
  gb.input("x", ftype({3, 4, 5}))
      .init("xs", Tensor::scalar<float>(DType::kFloat32, xs))
      .init("xzp", Tensor::scalar<uint8_t>(DType::kUInt8, 128))
      .init("w", Tensor::from_vector(DType::kInt8, w_shape, w))
      .init("ws", c.per_channel ? f32({kN}, ws) : Tensor::scalar<float>(DType::kFloat32, ws[0]))
      .init("wzp", c.per_channel ? Tensor::from_vector(DType::kInt8, {kN}, std::vector<int8_t>(kN, c.w_zero_point))
                                 : Tensor::scalar<int8_t>(DType::kInt8, c.w_zero_point))
      .init("b", Tensor::from_vector(DType::kInt32, {kN}, b))
      .init("bs", f32({kN}, bs))
      .init("bf", f32({kN}, bf))
      .init("ys", Tensor::scalar<float>(DType::kFloat32, kYScale))
      .init("yzp", Tensor::scalar<int8_t>(DType::kInt8, 3))
      .node("QuantizeLinear", 13, {"x", "xs", "xzp"}, {"xq"})
      .node("DequantizeLinear", 13, {"xq", "xs", "xzp"}, {"xd"})
      .node("Flatten", 13, {"xd"}, {"xf"}, {{"axis", int_attr(1)}})
      .node("QuantizeLinear", 13, {"xf", "xs", "xzp"}, {"xfq"})
      .node("DequantizeLinear", 13, {"xfq", "xs", "xzp"}, {"xfd"})
      .node("DequantizeLinear", 13, {"w", "ws", "wzp"}, {"wd"}, {{"axis", int_attr(c.trans_b ? 0 : 1)}})
      .node("DequantizeLinear", 13, {"b", "bs"}, {"bd"}, {{"axis", int_attr(0)}});
  std::vector<std::string> inputs = {"xfd", "wd"};
  if (!c.bias.empty()) inputs.push_back(c.bias == "dq" ? "bd" : "bf");
  gb.node("Gemm", 13, inputs, {"g"}, {{"transB", int_attr(c.trans_b ? 1 : 0)}, {"alpha", float_attr(c.alpha)}})
      .node("QuantizeLinear", 13, {"g", "ys", "yzp"}, {"gq"})
      .node("DequantizeLinear", 13, {"gq", "ys", "yzp"}, {"y"})
      .output("y");
  return gb.build();
}

// The QDQ graph as written (reference kernels) and `after` (fast kernels): within one step, mostly equal.
void expect_within_one_step(const Model& before, const Model& after) {
  const OneStepAgreement r = compare_within_one_step(before, after, rand_f32({3, 4, 5}, 7, -1.2f, 1.25f), kYScale);
  EXPECT_GT(r.distinct, r.elements / 2);
  EXPECT_GE(r.exact, r.elements * 9 / 10);
}

TEST(QdqFusionGemm, ClassifierHeadBecomesOnePixelQLinearConv) {
  for (bool trans_b : {true, false}) {
    for (bool per_channel : {true, false}) {
      for (const char* bias : {"", "dq", "float"}) {
        HeadCase c;
        c.trans_b = trans_b, c.per_channel = per_channel, c.bias = bias;
        SCOPED_TRACE(testing::Message() << "transB " << trans_b << " per_channel " << per_channel << " bias '"
                                        << bias << "'");
        Model before = head_model(c);
        Model after = clone_model(before);
        EXPECT_EQ(run_pass(after, make_qdq_fusion()), 2);  // Flatten, Gemm
        EXPECT_EQ(count_op(*after.graph, "Gemm"), 0u);
        EXPECT_EQ(count_op(*after.graph, "QLinearConv"), 1u);
        for (const Node& n : after.graph->nodes) {
          if (n.op_type == "Flatten") {
            EXPECT_EQ(after.graph->values[static_cast<size_t>(n.inputs[0])].type.dtype, DType::kUInt8);
          }
        }
        expect_within_one_step(before, after);
      }
    }
  }
}

TEST(QdqFusionGemm, PipelineRunsTheHeadOnTheGemvKernel) {
  Model before = head_model(HeadCase{});
  Model after = optimized(before);
  EXPECT_EQ(count_op(*after.graph, "QLinearConv"), 1u);
  expect_within_one_step(before, after);
  SessionOptions opts;
  std::vector<NodeProfile> profile;
  Session::from_model(clone_model(before), opts)->run_profiled({{"x", rand_f32({3, 4, 5}, 8)}}, profile);
  bool gemv = false;
  for (const NodeProfile& p : profile) gemv |= p.kernel.rfind("qconv.gemv_", 0) == 0;
  EXPECT_TRUE(gemv);
}

TEST(QdqFusionGemm, LeftAloneWhereNotCovered) {
  HeadCase scaled;
  scaled.alpha = 0.5f;
  HeadCase shifted;
  shifted.w_zero_point = 2;
  for (const HeadCase& c : {scaled, shifted}) {
    Model m = head_model(c);
    EXPECT_EQ(run_pass(m, make_qdq_fusion()), 1);  // the Flatten only
    EXPECT_EQ(count_op(*m.graph, "Gemm"), 1u);
  }
}

}  // namespace
}  // namespace ef::test
