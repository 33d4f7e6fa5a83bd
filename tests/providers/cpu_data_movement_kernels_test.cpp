// Transpose, Slice, Concat and Softmax on the CPU provider against the reference kernels.
#include <gtest/gtest.h>

#include "onnx/model_builder.h"
#include "providers/provider_test_util.h"

namespace ef::test {
namespace cpu_data_movement_kernels_test {

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

// The planner lets a Concat's inputs live in their slices of its output when the axis has only size-1 dims
// before it and nothing reads the input afterwards (runtime/planner.cpp, nest_concat_inputs). Each graph mixes
// inputs that qualify with ones that must still be copied: a graph input, an input read again after the
// Concat, the same value twice, an in-place chain (Relu over an Add), a Concat of a Concat, slices not on the
// 64-byte arena alignment, batch 2. Results must match the reference kernels (to the activations' last bits: the copies are exact).
TEST(CpuProviderDataMovement, ConcatInputsPlannedInPlace) {
  uint32_t seed = 90;
  struct Case {
    Shape x;
    int64_t axis;
  };
  for (const Case& c : {Case{{1, 16, 4, 4}, 1}, Case{{1, 5, 3, 3}, 1}, Case{{2, 16, 4, 4}, 1},
                        Case{{1, 1, 16, 16}, 2}, Case{{1, 16, 4, 4}, -1}}) {
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    add_io(g, true, "x", onnx::TensorProto::FLOAT, c.x);
    add_untyped_output(g, "y");
    add_untyped_output(g, "z");
    add_node(g, "Relu", {"x"}, {"a"});
    add_node(g, "Sigmoid", {"x"}, {"b"});
    add_node(g, "Add", {"x", "x"}, {"s"});
    add_node(g, "Relu", {"s"}, {"e"});  // may run in place over s: the chain moves into the concat whole
    add_node(g, "Neg", {"x"}, {"f"});
    set_int(add_node(g, "Concat", {"a", "e", "b", "x", "f", "f"}, {"c1"}), "axis", c.axis);
    add_node(g, "Add", {"c1", "c1"}, {"r"});  // in place over c1: would clobber any input still needed
    auto* mean = add_node(g, "ReduceMean", {"r"}, {"rm"});
    set_ints(mean, "axes", {c.axis});
    set_int(mean, "keepdims", 1);
    add_node(g, "Add", {"b", "rm"}, {"t"});  // b is read after the Concat (and after r): keeps its own buffer
    set_int(add_node(g, "Concat", {"r", "t"}, {"c2"}), "axis", c.axis);
    add_node(g, "Abs", {"c2"}, {"y"});
    add_node(g, "Add", {"a", "rm"}, {"z"});  // likewise a
    auto r = compare_fast_to_reference(m, {{"x", random_float_tensor(c.x, ++seed)}}, 2, 1e-5);
    if (HasFailure()) return;
  }
  // Where nothing else interferes the inputs take no memory of their own: Concat(Relu(x), Sigmoid(x)) then
  // Relu needs the Concat's output buffer only (the graph output y is not in the arena).
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {1, 16, 4, 4});
  add_untyped_output(g, "y");
  add_node(g, "Relu", {"x"}, {"a"});
  add_node(g, "Sigmoid", {"x"}, {"b"});
  set_int(add_node(g, "Concat", {"a", "b"}, {"c"}), "axis", 1);
  add_node(g, "Relu", {"c"}, {"y"});
  const Tensor x = random_float_tensor({1, 16, 4, 4}, 99);
  auto fast = compare_fast_to_reference(m, {{"x", x}}, 1, 1e-5);
  EXPECT_EQ(fast.kernels[2], "concat.strided");
  std::string bytes;
  m.SerializeToString(&bytes);
  SessionOptions opts;
  opts.optimization_level = 0;
  auto session = Session::from_model(load_model_from_bytes(bytes, "."), opts);
  EXPECT_EQ(session->prepare({{"x", {1, 16, 4, 4}}}), 2u * 256u * sizeof(float));
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
