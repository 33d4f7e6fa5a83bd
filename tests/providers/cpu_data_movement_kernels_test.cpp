// Transpose, Slice, Concat and Softmax on the CPU provider against the reference kernels.
#include <gtest/gtest.h>

#include "onnx/model_builder.h"
#include "providers/provider_test_util.h"

namespace ef::test {
namespace {

onnx::ValueInfoProto* add_untyped_output(onnx::GraphProto* g, const std::string& name) {
  auto* out = g->add_output();
  out->set_name(name);
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return out;
}

void add_ints_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
}

TEST(CpuProviderDataMovement, TransposeEveryPermutationOfRank4) {
  std::vector<int64_t> perm{0, 1, 2, 3};
  uint32_t seed = 0;
  do {
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    add_io(g, true, "x", onnx::TensorProto::FLOAT, {3, 5, 7, 9});
    add_untyped_output(g, "y");
    set_ints(add_node(g, "Transpose", {"x"}, {"y"}), "perm", perm);
    auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({3, 5, 7, 9}, ++seed)}}, 2, 0.0);
    EXPECT_EQ(r.kernels[0].rfind("transpose.", 0), 0u);
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(CpuProviderDataMovement, SliceStepsAndNegativeAxes) {
  struct Case {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  const std::vector<Case> cases{
      {{1}, {4}, {1}, {1}},           {{0, 2}, {3, 100}, {0, 3}, {2, 3}}, {{-1}, {-100}, {2}, {-1}},
      {{5, 1}, {0, 6}, {-1, 1}, {-2, 2}}, {{0}, {2}, {0}, {1}},
  };
  uint32_t seed = 10;
  for (const Case& c : cases) {
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    add_io(g, true, "x", onnx::TensorProto::FLOAT, {4, 7, 6, 11});
    add_ints_initializer(g, "starts", c.starts);
    add_ints_initializer(g, "ends", c.ends);
    add_ints_initializer(g, "axes", c.axes);
    add_ints_initializer(g, "steps", c.steps);
    add_untyped_output(g, "y");
    add_node(g, "Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
    auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({4, 7, 6, 11}, ++seed)}}, 2, 0.0);
    EXPECT_EQ(r.kernels[0], "slice.strided");
  }
}

TEST(CpuProviderDataMovement, ConcatOnEveryAxis) {
  uint32_t seed = 20;
  for (int64_t axis : {0, 1, 2, -1}) {
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    std::vector<int64_t> a{2, 3, 4}, b{2, 3, 4};
    const size_t ax = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
    b[ax] = 5;
    add_io(g, true, "a", onnx::TensorProto::FLOAT, a);
    add_io(g, true, "b", onnx::TensorProto::FLOAT, b);
    add_untyped_output(g, "y");
    set_int(add_node(g, "Concat", {"a", "b", "a"}, {"y"}), "axis", axis);
    auto r = compare_fast_to_reference(
        m, {{"a", random_float_tensor(a, ++seed)}, {"b", random_float_tensor(b, ++seed)}}, 2, 0.0);
    EXPECT_EQ(r.kernels[0], "concat.strided");
  }
}

TEST(CpuProviderDataMovement, ConstantPadAndReflectFallback) {
  uint32_t seed = 60;
  for (const char* mode : {"constant", "reflect"}) {
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    add_io(g, true, "x", onnx::TensorProto::FLOAT, {2, 3, 5, 4});
    add_ints_initializer(g, "pads", {0, 2, 1, 0, 0, 1, 2, 3});
    add_initializer(g, "value", {}, {1.5f});
    add_untyped_output(g, "y");
    std::vector<std::string> inputs{"x", "pads"};
    if (std::string(mode) == "constant") inputs.push_back("value");
    set_string(add_node(g, "Pad", inputs, {"y"}), "mode", mode);
    auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({2, 3, 5, 4}, ++seed)}}, 2, 0.0);
    EXPECT_EQ(r.kernels[0], std::string(mode) == "constant" ? "pad.constant" : "reference");
  }
}

TEST(CpuProviderDataMovement, SoftmaxAxesAndOldOpsetFlattening) {
  uint32_t seed = 30;
  for (int opset : {11, 13}) {
    for (int64_t axis : {0, 1, -1}) {
      for (const char* op : {"Softmax", "LogSoftmax"}) {
        onnx::ModelProto m = make_model(opset);
        auto* g = m.mutable_graph();
        add_io(g, true, "x", onnx::TensorProto::FLOAT, {3, 17, 5});
        add_untyped_output(g, "y");
        set_int(add_node(g, op, {"x"}, {"y"}), "axis", axis);
        auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({3, 17, 5}, ++seed, -10, 10)}}, 2);
        EXPECT_EQ(r.kernels[0], std::string("softmax.") + op);
      }
    }
  }
}

}  // namespace
}  // namespace ef::test
