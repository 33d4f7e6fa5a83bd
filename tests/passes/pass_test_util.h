// Helpers for optimizer pass tests: build small graphs directly in our IR, run one pass through the PassManager
// (so every rewrite is verified), and check the rewritten model computes what the original did.
#pragma once
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "edgeforge/session.h"
#include "ir/graph.h"
#include "ops/op_test_util.h"  // f32, i64
#include "passes/graph_edit.h"
#include "passes/pass.h"

namespace ef::test {

inline Attribute int_attr(int64_t v) { return Attribute::of_int(v); }
inline Attribute ints_attr(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
inline Attribute float_attr(float v) { return Attribute::of_float(v); }
inline Attribute tensor_attr(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}
inline Attribute graph_attr(std::shared_ptr<Graph> g) {
  Attribute a;
  a.kind = Attribute::Kind::kGraph;
  a.g = std::move(g);
  return a;
}

inline ValueType ftype(Dims dims) { return ValueType{DType::kFloat32, std::move(dims)}; }

// Values are named; a node input "" is an omitted optional input. Opset 13, so versions are opset-13 versions.
class GraphBuilder {
 public:
  GraphBuilder() : g_(std::make_shared<Graph>()) {
    g_->name = "test";
    model_.opsets[""] = 13;
    model_.graph = g_;
  }
  Graph& graph() { return *g_; }

  GraphBuilder& input(const std::string& name, ValueType type) {
    g_->inputs.push_back(g_->add_value(name, std::move(type)));
    return *this;
  }
  GraphBuilder& init(const std::string& name, Tensor t) {
    int v = value(name);
    g_->values[static_cast<size_t>(v)].type = ValueType{t.dtype(), dims_of(t.shape())};
    g_->values[static_cast<size_t>(v)].initializer = std::move(t);
    return *this;
  }
  GraphBuilder& node(const std::string& op, int version, const std::vector<std::string>& ins,
                     const std::vector<std::string>& outs, std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = op + "_" + std::to_string(g_->nodes.size());
    n.op_type = op;
    n.version = version;
    n.attrs = std::move(attrs);
    for (const auto& i : ins) n.inputs.push_back(i.empty() ? kNoValue : value(i));
    for (const auto& o : outs) n.outputs.push_back(o.empty() ? kNoValue : value(o));
    g_->nodes.push_back(std::move(n));
    return *this;
  }
  GraphBuilder& output(const std::string& name, ValueType type = {}) {
    int v = value(name);
    if (type.dtype != DType::kUndefined) g_->values[static_cast<size_t>(v)].type = std::move(type);
    g_->outputs.push_back(v);
    return *this;
  }
  Model build() {
    refresh_producers(*g_);
    return model_;
  }

 private:
  int value(const std::string& name) {
    int v = g_->find_value(name);
    return v != kNoValue ? v : g_->add_value(name);
  }
  Model model_;
  std::shared_ptr<Graph> g_;
};

// A model whose graph can be rewritten without touching `m` (tensors are shared; passes never write into them).
inline Model clone_model(const Model& m) {
  Model copy = m;
  copy.graph = std::make_shared<Graph>(*m.graph);
  return copy;
}

// Runs `pass` alone through a PassManager (verification after each change); returns its rewrite count.
inline int64_t run_pass(Model& m, std::unique_ptr<Pass> pass, PassOptions options = {}) {
  std::vector<std::unique_ptr<Pass>> passes;
  passes.push_back(std::move(pass));
  PassReport report = PassManager(std::move(passes)).run(*m.graph, options);
  return report.passes.at(0).rewrites;
}

inline size_t count_op(const Graph& g, const std::string& op) {
  size_t n = 0;
  for (const Node& node : g.nodes) n += node.op_type == op;
  return n;
}

// Runs both models on the same random inputs (symbolic dims set to 2) and expects equal outputs.
inline void expect_same_outputs(const Model& before, const Model& after, uint64_t seed = 7) {
  auto a = Session::from_model(clone_model(before));
  auto b = Session::from_model(clone_model(after));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  NamedTensors inputs;
  for (const IoInfo& info : a->inputs()) {
    Shape shape;
    for (int64_t d : info.dims) shape.push_back(d >= 0 ? d : 2);
    ASSERT_EQ(info.dtype, DType::kFloat32) << "test inputs are float";
    Tensor t = Tensor::zeros(info.dtype, shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = uniform(rng);
    inputs.emplace_back(info.name, t);
  }
  ASSERT_EQ(b->outputs().size(), a->outputs().size());
  for (size_t i = 0; i < a->outputs().size(); ++i) EXPECT_EQ(b->outputs()[i].name, a->outputs()[i].name);
  std::vector<Tensor> ra = a->run(inputs);
  std::vector<Tensor> rb = b->run(inputs);
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    ASSERT_EQ(ra[i].dtype(), rb[i].dtype()) << "output " << i;
    ASSERT_EQ(ra[i].shape(), rb[i].shape()) << "output " << i;
    for (int64_t k = 0; k < ra[i].numel(); ++k) {
      double x = ra[i].value_as_double(k), y = rb[i].value_as_double(k);
      EXPECT_NEAR(x, y, 1e-5 * std::max(1.0, std::abs(x))) << "output " << i << " element " << k;
    }
  }
}

}  // namespace ef::test
