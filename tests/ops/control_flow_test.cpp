// If/Loop/Scan tests. Subgraphs run through a small evaluator defined here (node by node through the registry,
// outer-scope names looked up in the enclosing scopes), so these tests do not depend on the executor.
#include <memory>

#include "ops/op_test_util.h"

namespace ef::test {
namespace control_flow_test {

using Scope = std::map<std::string, Tensor>;

std::vector<Tensor> eval_graph(const Graph& g, const std::vector<Tensor>& inputs, const Scope& outer);

SubgraphRunner runner_for(const Scope& scope) {
  return [scope](const Graph& g, const std::vector<Tensor>& inputs) { return eval_graph(g, inputs, scope); };
}

std::vector<Tensor> eval_graph(const Graph& g, const std::vector<Tensor>& inputs, const Scope& outer) {
  std::vector<Tensor> vals(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (g.values[v].initializer.defined()) vals[v] = g.values[v].initializer;
    if (g.values[v].is_outer) vals[v] = outer.at(g.values[v].name);
  }
  EXPECT_EQ(inputs.size(), g.inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) vals[g.inputs[i]] = inputs[i];
  for (const Node& node : g.nodes) {
    Scope scope = outer;
    for (size_t v = 0; v < vals.size(); ++v) {
      if (vals[v].defined()) scope[g.values[v].name] = vals[v];
    }
    std::vector<const Tensor*> ptrs;
    for (int v : node.inputs) ptrs.push_back(v == kNoValue ? nullptr : &vals[v]);
    std::vector<Tensor> outs;
    run_node(OpRegistry::global().resolve(node), node, ptrs, outs, runner_for(scope), 1);
    for (size_t k = 0; k < outs.size(); ++k) vals[node.outputs[k]] = outs[k];
  }
  std::vector<Tensor> results;
  for (int v : g.outputs) results.push_back(vals[v]);
  return results;
}

// Builds graphs by value name.
struct Builder {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  int value(const std::string& name) {
    int v = g->find_value(name);
    return v != kNoValue ? v : g->add_value(name);
  }
  Builder& input(const std::string& name, DType dtype, Dims dims) {
    g->inputs.push_back(value(name));
    g->values[g->inputs.back()].type = ValueType{dtype, dims};
    return *this;
  }
  Builder& outer(const std::string& name) {
    g->values[value(name)].is_outer = true;
    return *this;
  }
  Builder& constant(const std::string& name, Tensor t) {
    g->values[value(name)].initializer = t;
    return *this;
  }
  Builder& node(const std::string& op, int version, std::vector<std::string> ins, std::vector<std::string> outs,
                std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = op + std::to_string(g->nodes.size());
    n.op_type = op;
    n.version = version;
    n.attrs = std::move(attrs);
    for (const auto& s : ins) n.inputs.push_back(value(s));
    for (const auto& s : outs) n.outputs.push_back(value(s));
    g->nodes.push_back(n);
    return *this;
  }
  Builder& output(const std::string& name, DType dtype, std::optional<Dims> dims) {
    g->outputs.push_back(value(name));
    g->values[g->outputs.back()].type = ValueType{dtype, dims};
    return *this;
  }
};

Attribute graph_attr(const Builder& b) {
  Attribute a;
  a.kind = Attribute::Kind::kGraph;
  a.g = b.g;
  return a;
}

// Runs one control-flow node with the test evaluator as its subgraph runner.
std::vector<Tensor> run_cf(const std::string& op, int version, std::map<std::string, Attribute> attrs,
                           const std::vector<Tensor>& inputs, size_t num_outputs, const Scope& outer = {}) {
  Node node;
  node.name = "test_" + op;
  node.op_type = op;
  node.version = version;
  node.attrs = std::move(attrs);
  std::vector<const Tensor*> ptrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    node.inputs.push_back(inputs[i].defined() ? static_cast<int>(i) : kNoValue);
    ptrs.push_back(inputs[i].defined() ? &inputs[i] : nullptr);
  }
  for (size_t i = 0; i < num_outputs; ++i) node.outputs.push_back(static_cast<int>(inputs.size() + i));
  std::vector<Tensor> outputs;
  run_node(OpRegistry::global().resolve(node), node, ptrs, outputs, runner_for(outer), 1);
  return outputs;
}

Tensor boolean(bool v) { return Tensor::scalar<bool>(DType::kBool, v); }
Tensor i64_scalar(int64_t v) { return Tensor::scalar<int64_t>(DType::kInt64, v); }

TEST(If, RunsTheChosenBranchWithOuterValues) {
  Builder then_b, else_b;
  then_b.outer("x")
      .constant("one", f32({1}, {1}))
      .node("Add", 14, {"x", "one"}, {"y"})
      .output("y", DType::kFloat32, Dims{2});
  else_b.outer("x").node("Neg", 13, {"x"}, {"y"}).output("y", DType::kFloat32, Dims{2});
  std::map<std::string, Attribute> attrs = {{"then_branch", graph_attr(then_b)}, {"else_branch", graph_attr(else_b)}};
  Scope outer = {{"x", f32({2}, {3, -5})}};
  auto yes = run_cf("If", 16, attrs, {boolean(true)}, 1, outer);
  EXPECT_EQ(values<float>(yes[0]), (std::vector<float>{4, -4}));
  auto no = run_cf("If", 1, attrs, {boolean(false)}, 1, outer);
  EXPECT_EQ(values<float>(no[0]), (std::vector<float>{-3, 5}));
  // The result is a copy, not the outer value itself.
  Builder pass;
  pass.outer("x").output("x", DType::kFloat32, Dims{2});
  auto same = run_cf("If", 11, {{"then_branch", graph_attr(pass)}, {"else_branch", graph_attr(pass)}}, {boolean(true)},
                     1, outer);
  EXPECT_NE(same[0].raw(), outer["x"].raw());
  EXPECT_EQ(values<float>(same[0]), (std::vector<float>{3, -5}));
}

TEST(If, CondMustBeOneElement) {
  Builder b;
  b.outer("x").output("x", DType::kFloat32, Dims{2});
  Tensor two = Tensor::from_vector<uint8_t>(DType::kBool, {2}, {1, 1});
  try {
    run_cf("If", 16, {{"then_branch", graph_attr(b)}, {"else_branch", graph_attr(b)}}, {two}, 1,
           {{"x", f32({2}, {1, 2})}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

// Body: y_out = y_in + i, cond_out = i < limit, scan = y_out.
Builder sum_body(int64_t limit) {
  Builder b;
  b.input("i", DType::kInt64, Dims{}).input("cond_in", DType::kBool, Dims{}).input("y_in", DType::kInt64, Dims{1});
  b.constant("limit", i64_scalar(limit));
  b.node("Add", 14, {"y_in", "i"}, {"y_out"}).node("Less", 13, {"i", "limit"}, {"cond_out"});
  b.node("Identity", 16, {"y_out"}, {"scan"});
  b.output("cond_out", DType::kBool, Dims{}).output("y_out", DType::kInt64, Dims{1});
  b.output("scan", DType::kInt64, Dims{1});
  return b;
}

TEST(Loop, TripCountCarriesAndStacks) {
  auto out =
      run_cf("Loop", 16, {{"body", graph_attr(sum_body(100))}}, {i64_scalar(3), boolean(true), i64({1}, {1})}, 2);
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{4}));  // 1 + 0 + 1 + 2
  EXPECT_EQ(out[1].shape(), (Shape{3, 1}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{1, 2, 4}));
}

TEST(Loop, StopsOnBodyConditionWithoutTripCount) {
  // cond_out = i < 1 is true after iteration 0 and false after iteration 1.
  auto out = run_cf("Loop", 11, {{"body", graph_attr(sum_body(1))}}, {Tensor(), boolean(true), i64({1}, {10})}, 2);
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{11}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{10, 11}));
}

TEST(Loop, ZeroIterationsPassInitialValuesThrough) {
  auto out = run_cf("Loop", 1, {{"body", graph_attr(sum_body(100))}}, {i64_scalar(0), boolean(true), i64({1}, {7})}, 2);
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{7}));
  EXPECT_EQ(out[1].shape(), (Shape{0, 1}));
  EXPECT_EQ(out[1].dtype(), DType::kInt64);
}

TEST(Loop, BodyArityMismatchIsInvalidModel) {
  try {
    run_cf("Loop", 16, {{"body", graph_attr(sum_body(1))}}, {i64_scalar(1), boolean(true)}, 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  }
}

// Body: sum_out = sum_in + x_t, scan = sum_out.
Builder cumsum_body(Dims state) {
  Builder b;
  b.input("sum_in", DType::kFloat32, state).input("x_t", DType::kFloat32, state);
  b.node("Add", 14, {"sum_in", "x_t"}, {"sum_out"}).node("Identity", 16, {"sum_out"}, {"scan"});
  b.output("sum_out", DType::kFloat32, state).output("scan", DType::kFloat32, state);
  return b;
}

TEST(Scan, AxesAndDirections) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});  // scanned along axis 1: [1,4], [2,5], [3,6]
  std::map<std::string, Attribute> attrs = {{"body", graph_attr(cumsum_body(Dims{2}))},
                                            {"num_scan_inputs", attr_int(1)},
                                            {"scan_input_axes", attr_ints({-1})},
                                            {"scan_input_directions", attr_ints({1})},
                                            {"scan_output_axes", attr_ints({1})}};
  auto out = run_cf("Scan", 16, attrs, {f32({2}, {0, 0}), x}, 2);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{6, 15}));
  EXPECT_EQ(out[1].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{3, 5, 6, 6, 11, 15}));
  attrs["scan_output_directions"] = attr_ints({1});  // prepend: the last step lands first
  auto prepended = run_cf("Scan", 11, attrs, {f32({2}, {0, 0}), x}, 2);
  EXPECT_EQ(values<float>(prepended[1]), (std::vector<float>{6, 5, 3, 15, 11, 6}));
}

TEST(Scan, DefaultAxisZero) {
  auto out = run_cf("Scan", 9, {{"body", graph_attr(cumsum_body(Dims{2}))}, {"num_scan_inputs", attr_int(1)}},
                    {f32({2}, {1, 1}), f32({3, 2}, {1, 2, 3, 4, 5, 6})}, 2);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{10, 13}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{2, 3, 5, 7, 10, 13}));
}

TEST(Scan, Version8BatchesWithSequenceLengths) {
  Tensor init = f32({2, 1}, {0, 100});
  Tensor x = f32({2, 3, 1}, {1, 2, 3, 4, 5, 6});
  Tensor lens = i64({2}, {3, 1});
  auto out = run_cf("Scan", 8, {{"body", graph_attr(cumsum_body(Dims{1}))}, {"num_scan_inputs", attr_int(1)}},
                    {lens, init, x}, 2);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{6, 104}));
  EXPECT_EQ(out[1].shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{1, 3, 6, 104, 0, 0}));  // row 1 padded with zeros
  auto reversed = run_cf(
      "Scan", 8,
      {{"body", graph_attr(cumsum_body(Dims{1}))}, {"num_scan_inputs", attr_int(1)}, {"directions", attr_ints({1})}},
      {Tensor(), init, x}, 2);
  EXPECT_EQ(values<float>(reversed[1]), (std::vector<float>{3, 5, 6, 106, 111, 115}));
}

// Found by the CI fuzz smoke: a Scan-8 scan input without a sequence axis indexed past the end of its dims at
// shape inference. Every version now names the missing axis instead.
TEST(Scan, ScanInputWithoutSequenceAxisIsRejected) {
  const std::map<std::string, Attribute> attrs = {{"body", graph_attr(cumsum_body(Dims{1}))},
                                                  {"num_scan_inputs", attr_int(1)}};
  for (const auto& [version, inputs] :
       std::vector<std::pair<int, std::vector<Tensor>>>{{8, {Tensor(), f32({2, 1}, {0, 0}), f32({2}, {1, 2})}},
                                                        {16, {f32({1}, {0}), f32({}, {1})}}}) {
    try {
      run_cf("Scan", version, attrs, inputs, 2);
      FAIL() << "Scan-" << version << ": expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
      EXPECT_NE(std::string(e.what()).find("needs at least"), std::string::npos) << e.what();
    }
  }
}

TEST(Scan, MismatchedSequenceLengthsThrow) {
  Builder b;
  b.input("s", DType::kFloat32, Dims{}).input("a", DType::kFloat32, Dims{}).input("c", DType::kFloat32, Dims{});
  b.node("Add", 14, {"a", "c"}, {"t"}).node("Add", 14, {"s", "t"}, {"s2"}).output("s2", DType::kFloat32, Dims{});
  try {
    run_cf("Scan", 16, {{"body", graph_attr(b)}, {"num_scan_inputs", attr_int(2)}},
           {f32({}, {0}), f32({3}, {1, 2, 3}), f32({2}, {1, 2})}, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace ef::test
