#include <gtest/gtest.h>

#include "onnx/model_builder.h"
#include "providers/provider_test_util.h"

namespace ef::test {
namespace cpu_activation_kernels_test {

onnx::ModelProto unary_model(const std::string& op, const std::vector<int64_t>& dims, int opset = 13) {
  onnx::ModelProto m = make_model(opset);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, dims);
  add_io(g, false, "y", onnx::TensorProto::FLOAT, dims);
  add_node(g, op, {"x"}, {"y"});
  return m;
}

TEST(CpuProviderActivation, EveryActivationTakesTheFastPathAndMatches) {
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "HardSigmoid"}) {
    for (int threads : {1, 2}) {
      Shape shape{3, 7, 1001};
      auto r = compare_fast_to_reference(unary_model(op, shape, 14), {{"x", random_float_tensor(shape, 7, -8, 8)}},
                                         threads);
      ASSERT_EQ(r.kernels.size(), 1u);
      EXPECT_EQ(r.kernels[0], std::string("eltwise.") + op) << op;
    }
  }
}

TEST(CpuProviderActivation, ClipWithConstantBoundsIsFastWithGraphBoundsFallsBack) {
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {4, 33});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {4, 33});
  add_initializer(g, "lo", {}, {0.0f});
  add_initializer(g, "hi", {}, {6.0f});
  add_node(g, "Clip", {"x", "lo", "hi"}, {"y"});
  auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({4, 33}, 3, -10, 10)}});
  EXPECT_EQ(r.kernels[0], "eltwise.Clip");

  // The bound is a graph input: unknown at plan time, so the reference kernel runs the node.
  onnx::ModelProto m2 = make_model(13);
  g = m2.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {4, 33});
  add_io(g, true, "hi", onnx::TensorProto::FLOAT, {});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {4, 33});
  add_node(g, "Clip", {"x", "", "hi"}, {"y"});
  Tensor hi = Tensor::zeros(DType::kFloat32, {});
  hi.data<float>()[0] = 1.5f;
  r = compare_fast_to_reference(m2, {{"x", random_float_tensor({4, 33}, 4, -10, 10)}, {"hi", hi}});
  EXPECT_EQ(r.kernels[0], "reference");
}

TEST(CpuProviderCopy, ReshapeFamilyIsACopy) {
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {2, 3, 5});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {30});
  add_node(g, "Flatten", {"x"}, {"f"})->add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("axis");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(0);
    return a;
  }());
  auto* t = g->add_initializer();
  t->set_name("shape");
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(1);
  t->add_int64_data(30);
  add_node(g, "Reshape", {"f", "shape"}, {"y"});
  auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({2, 3, 5}, 9)}});
  EXPECT_EQ(r.kernels, (std::vector<std::string>{"copy.Flatten", "copy.Reshape"}));
}

}  // namespace
}  // namespace ef::test

namespace ef::test {
namespace cpu_activation_kernels_test {

TEST(CpuProviderInPlace, ElementwiseChainSharesOneBuffer) {
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {4, 1000});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {4, 1000});
  add_node(g, "Relu", {"x"}, {"a"});
  add_node(g, "Sigmoid", {"a"}, {"b"});
  add_node(g, "Mul", {"b", "b"}, {"c"});
  add_node(g, "Tanh", {"c"}, {"y"});
  auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({4, 1000}, 1)}}, 1);
  EXPECT_EQ(r.kernels[2], "binary.Mul.same");
  std::string bytes;
  m.SerializeToString(&bytes);
  SessionOptions fast, ref;
  fast.optimization_level = ref.optimization_level = 0;
  ref.reference_kernels = true;
  // x is a graph input (never overwritten): a, b and c share one 16000-byte buffer on the fast path.
  EXPECT_EQ(Session::from_model(load_model_from_bytes(bytes, "."), fast)->planned_arena_bytes(), 16000u);
  EXPECT_GT(Session::from_model(load_model_from_bytes(bytes, "."), ref)->planned_arena_bytes(), 16000u);
}

}  // namespace
}  // namespace ef::test
