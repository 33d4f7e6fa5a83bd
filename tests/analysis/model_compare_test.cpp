// compare_outputs / compare_layers on small graphs whose errors are known.
#include "analysis/model_compare.h"

#include <gtest/gtest.h>

#include <cmath>

#include "onnx/model_builder.h"
#include "onnx/model_io.h"

namespace ef::test {
namespace model_compare_test {

// x[1,3] -> Add(bias) -> a -> Mul(scale) -> m -> Relu -> r -> Neg -> y; `m_name` renames m.
Model chain(float bias0, const std::string& m_name) {
  onnx::ModelProto p = make_model();
  auto* g = p.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {1, 3});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {1, 3});
  add_initializer(g, "bias", {3}, {bias0, 1, 1});
  add_initializer(g, "scale", {3}, {2, 2, 2});
  add_node(g, "Add", {"x", "bias"}, {"a"}, "add");
  add_node(g, "Mul", {"a", "scale"}, {m_name}, "mul");
  add_node(g, "Relu", {m_name}, {"r"}, "relu");
  add_node(g, "Neg", {"r"}, {"y"}, "neg");
  return load_model_from_bytes(serialize(p), "");
}

NamedTensors sample(size_t i) {
  const float v = static_cast<float>(i);
  return {{"x", Tensor::from_vector(DType::kFloat32, {1, 3}, std::vector<float>{v, v + 1, v + 2})}};
}

TEST(ModelCompare, OutputsAndTop1) {
  auto ref = Session::from_model(chain(1, "m"));
  auto cand = Session::from_model(chain(1.5f, "m"));
  check_same_interface(*ref, *cand);
  ModelComparison c = compare_outputs(*ref, *cand, 3, sample);
  ASSERT_EQ(c.outputs.size(), 1u);
  EXPECT_EQ(c.outputs[0].name, "y");
  EXPECT_DOUBLE_EQ(c.outputs[0].diff.max_abs_error, 1.0);  // 2 * 0.5 on element 0
  EXPECT_EQ(c.ref_top1.size(), 3u);
  EXPECT_EQ(c.cand_top1.size(), 3u);
}

TEST(ModelCompare, UnmatchedValuesPassTheirInputErrorOn) {
  SessionOptions opts;
  opts.optimization_level = 0;
  LayerReport report = compare_layers(chain(1, "m"), chain(1.5f, "m_renamed"), opts, 3, sample);
  EXPECT_EQ(report.skipped, 0u);
  ASSERT_EQ(report.layers.size(), 2u);  // a and r; m is not in the candidate under that name
  const LayerComparison* a = nullptr;
  const LayerComparison* r = nullptr;
  for (const LayerComparison& l : report.layers) (l.name == "a" ? a : r) = &l;
  ASSERT_TRUE(a && r);
  EXPECT_TRUE(std::isinf(a->input_sqnr_db));
  EXPECT_TRUE(std::isfinite(a->diff.sqnr_db));
  // r's input m was not matched: the SQNR reaching it is a's, not "exact".
  EXPECT_DOUBLE_EQ(r->input_sqnr_db, a->diff.sqnr_db);
  EXPECT_EQ(r->op_type, "Relu");
  EXPECT_EQ(report.layers[0].name, "a");  // ranked by SQNR lost: a loses everything, r (scale 2, same ratio) ~0
}

TEST(ModelCompare, RejectsDifferentInterfaces) {
  auto ref = Session::from_model(chain(1, "m"));
  // add_relu takes x[N,3] and gives y[N,3]: the same interface (N is dynamic) ...
  onnx::ModelProto p = make_add_relu_model();
  EXPECT_NO_THROW(check_same_interface(*ref, *Session::from_model(load_model_from_bytes(serialize(p), ""))));
  // ... until its output is called z.
  p.mutable_graph()->mutable_output(0)->set_name("z");
  p.mutable_graph()->mutable_node(1)->set_output(0, "z");
  auto other = Session::from_model(load_model_from_bytes(serialize(p), ""));
  try {
    check_same_interface(*ref, *other);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("REF has output 'y'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ef::test
