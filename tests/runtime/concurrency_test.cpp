// Session::run from many threads at once on one session must give exactly the single-threaded results.
// Each model runs on a fresh session, so the plans of its input shapes are created by the racing threads; the
// expected outputs come from a second session with the same options (same kernel choice), run on one thread.
// Runs per thread: EF_STRESS_RUNS (default 100; the full stress is 1,000, see docs/robustness.md).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "edgeforge/session.h"
#include "onnx/model_builder.h"
#include "onnx/model_io.h"

namespace ef::test {
namespace concurrency_test {

constexpr int kThreads = 8;

int runs_per_thread() {
  const char* env = std::getenv("EF_STRESS_RUNS");
  return env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : 100;
}

std::vector<float> pattern(size_t n, int salt) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((static_cast<int>(i) * 7 + salt * 13) % 23) / 11.5f - 1.0f;
  return v;
}

Tensor input(const Shape& shape, int salt) {
  return Tensor::from_vector(DType::kFloat32, shape, pattern(static_cast<size_t>(shape_numel(shape)), salt));
}

void set_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void set_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

// x[N,3,15,15] -> Conv 3x3 -> Relu -> depthwise Conv + residual Add -> Relu -> 1x1 Conv stride 2 ->
// GlobalAveragePool -> Flatten -> Gemm: the fast conv kernels, fusions and the intra-op pool.
std::string conv_net() {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {-1, 3, 15, 15});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {-1, 5});
  add_initializer(g, "w1", {8, 3, 3, 3}, pattern(8 * 3 * 9, 1));
  add_initializer(g, "b1", {8}, pattern(8, 2));
  add_initializer(g, "w2", {8, 1, 3, 3}, pattern(8 * 9, 3));
  add_initializer(g, "w3", {4, 8, 1, 1}, pattern(4 * 8, 4));
  add_initializer(g, "wg", {5, 4}, pattern(20, 5));
  add_initializer(g, "bg", {5}, pattern(5, 6));
  auto* c1 = add_node(g, "Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  set_ints(c1, "pads", {1, 1, 1, 1});
  add_node(g, "Relu", {"c1"}, {"r1"}, "relu1");
  auto* c2 = add_node(g, "Conv", {"r1", "w2"}, {"c2"}, "dwconv");
  set_ints(c2, "pads", {1, 1, 1, 1});
  set_int(c2, "group", 8);
  add_node(g, "Add", {"c2", "r1"}, {"s"}, "residual");
  add_node(g, "Relu", {"s"}, {"r2"}, "relu2");
  auto* c3 = add_node(g, "Conv", {"r2", "w3"}, {"c3"}, "conv3");
  set_ints(c3, "strides", {2, 2});
  add_node(g, "GlobalAveragePool", {"c3"}, {"p"}, "gap");
  add_node(g, "Flatten", {"p"}, {"f"}, "flatten");
  auto* gemm = add_node(g, "Gemm", {"f", "wg", "bg"}, {"y"}, "fc");
  set_int(gemm, "transB", 1);
  return serialize(m);
}

// x[N,37]: a chain of element-wise ops whose intermediates die at their only reader (in-place candidates), a
// value read twice, and a second output taken from the middle of the chain.
std::string eltwise_chain() {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {-1, 37});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {-1, 37});
  add_io(g, false, "mid", onnx::TensorProto::FLOAT, {-1, 37});
  add_initializer(g, "bias", {37}, pattern(37, 7));
  add_initializer(g, "scale", {37}, pattern(37, 8));
  add_node(g, "Add", {"x", "bias"}, {"a"}, "add");
  add_node(g, "Relu", {"a"}, {"r"}, "relu");
  add_node(g, "Mul", {"r", "scale"}, {"m"}, "mul");
  add_node(g, "Sigmoid", {"m"}, {"s"}, "sigmoid");
  add_node(g, "Sub", {"s", "x"}, {"d"}, "sub");
  add_node(g, "Tanh", {"d"}, {"mid"}, "tanh");
  add_node(g, "Mul", {"mid", "mid"}, {"sq"}, "square");
  add_node(g, "Neg", {"sq"}, {"n"}, "neg");
  add_node(g, "Exp", {"n"}, {"e"}, "exp");
  add_node(g, "Add", {"e", "x"}, {"y"}, "add2");
  return serialize(m);
}

struct Case {
  std::string name;
  std::string bytes;
  std::vector<Shape> shapes;  // of the one input; several shapes give several plans
  int num_threads;            // the session's intra-op pool, shared by the racing runs
};

bool same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].dtype() != b[i].dtype() || a[i].shape() != b[i].shape() ||
        std::memcmp(a[i].raw(), b[i].raw(), a[i].nbytes()) != 0) {
      return false;
    }
  }
  return true;
}

void stress(const Case& c) {
  SessionOptions options;
  options.num_threads = c.num_threads;
  std::vector<Tensor> inputs;
  std::vector<std::vector<Tensor>> expected;
  std::string name;
  {
    auto reference = Session::from_model(load_model_from_bytes(c.bytes, ""), options);
    name = reference->inputs()[0].name;
    for (size_t k = 0; k < c.shapes.size() * 2; ++k) {
      inputs.push_back(input(c.shapes[k % c.shapes.size()], static_cast<int>(k)));
      expected.push_back(reference->run({{name, inputs.back()}}));
    }
  }
  auto session = Session::from_model(load_model_from_bytes(c.bytes, ""), options);
  const int runs = runs_per_thread();
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < runs; ++r) {
        const size_t k = static_cast<size_t>(t + r) % inputs.size();
        try {
          if (!same(session->run({{name, inputs[k]}}), expected[k])) ++mismatches;
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0) << c.name << ": outputs differ from the single-threaded run";
  EXPECT_EQ(errors.load(), 0) << c.name;
}

TEST(Concurrency, ConvNetWithIntraOpPool) {
  stress({"conv_net", conv_net(), {{1, 3, 15, 15}, {3, 3, 15, 15}}, 2});
}

TEST(Concurrency, ElementwiseChainInPlace) {
  stress({"eltwise_chain", eltwise_chain(), {{2, 37}, {5, 37}}, 1});
}

TEST(Concurrency, ConformanceConv2d) {
  const std::string path = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx";
  std::ifstream file(path, std::ios::binary);
  ASSERT_TRUE(file) << path << " is missing: scripts/install-deps installs Debian's libonnx-testdata";
  std::string bytes((std::istreambuf_iterator<char>(file)), {});
  stress({"test_Conv2d", bytes, {{2, 3, 7, 5}}, 1});
}

}  // namespace
}  // namespace ef::test
