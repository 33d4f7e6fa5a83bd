// Dynamic quantization: MatMul/Gemm with constant weights become DynamicQuantizeLinear + MatMulInteger and scale
// multiplies; everything else stays float.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/compare.h"
#include "edgeforge/session.h"
#include "onnx/model_io.h"
#include "quant/quantize.h"
#include "quant_test_util.h"

namespace ef::test {
namespace dynamic_test {

// x[2,6] -> MatMul(W[6,4]) -> Relu -> Gemm(transB, W2[3,4], C[3], alpha 0.5) -> y[2,3]; a Conv-free MLP.
Model mlp() {
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {2, 6});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {2, 3});
  add_initializer(g, "w", {6, 4}, seeded_values(24, 4, 0.5f));
  add_initializer(g, "w2", {3, 4}, seeded_values(12, 5, 0.5f));
  add_initializer(g, "c", {3}, {0.1f, -0.2f, 0.3f});
  add_node(g, "MatMul", {"x", "w"}, {"h"}, "mm");
  add_node(g, "Relu", {"h"}, {"r"}, "relu");
  auto* gemm = add_node(g, "Gemm", {"r", "w2", "c"}, {"y"}, "fc");
  auto* tb = gemm->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  auto* alpha = gemm->add_attribute();
  alpha->set_name("alpha");
  alpha->set_type(onnx::AttributeProto::FLOAT);
  alpha->set_f(0.5f);
  return load_model_from_bytes(serialize(m), "");
}

int count_op(const Model& m, const std::string& op) {
  int n = 0;
  for (const Node& node : m.graph->nodes) n += node.op_type == op;
  return n;
}

TEST(QuantDynamic, MatMulAndGemmBecomeMatMulInteger) {
  for (bool per_channel : {false, true}) {
    QuantizeOptions o;
    o.mode = QuantMode::kDynamic;
    o.config.per_channel = per_channel;
    Model fp = mlp();
    QuantizeResult r = quantize_model(fp, o);
    EXPECT_EQ(r.dynamic_nodes.size(), 2u);
    EXPECT_EQ(count_op(r.model, "MatMulInteger"), 2);
    EXPECT_EQ(count_op(r.model, "DynamicQuantizeLinear"), 2);
    EXPECT_EQ(count_op(r.model, "Gemm"), 0);
    EXPECT_EQ(count_op(r.model, "MatMul"), 0);
    const std::string bytes = export_model_bytes(r.model);  // onnx::checker
    NamedTensors in = {{"x", Tensor::from_vector(DType::kFloat32, {2, 6}, seeded_values(12, 77, 1.0f))}};
    auto a = Session::from_model(fp)->run(in);
    auto b = Session::from_model(load_model_from_bytes(bytes, ""))->run(in);
    EXPECT_GT(compare_tensors(a[0], b[0]).sqnr_db, 25.0) << "per_channel " << per_channel;
  }
}

TEST(QuantDynamic, ExclusionsAndConvNets) {
  QuantizeOptions o;
  o.mode = QuantMode::kDynamic;
  o.config.exclude_nodes = {"fc"};
  QuantizeResult r = quantize_model(mlp(), o);
  EXPECT_EQ(r.dynamic_nodes.size(), 1u);
  EXPECT_EQ(r.excluded.size(), 1u);
  EXPECT_EQ(count_op(r.model, "Gemm"), 1);
  // A conv net: the final Gemm is quantized, the Convs stay float.
  QuantizeOptions c;
  c.mode = QuantMode::kDynamic;
  QuantizeResult cr = quantize_model(load_model_from_bytes(serialize(make_small_convnet(11)), ""), c);
  EXPECT_EQ(count_op(cr.model, "MatMulInteger"), 1);
  EXPECT_EQ(count_op(cr.model, "Conv"), 2);
  EXPECT_NO_THROW(export_model_bytes(cr.model));
}

}  // namespace
}  // namespace ef::test
