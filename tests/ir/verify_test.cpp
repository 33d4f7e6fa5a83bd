#include "ir/verify.h"

#include <gtest/gtest.h>

namespace ef {
namespace verify_test {

// x -> Relu -> r -> Neg -> y, with producers set.
Graph valid_graph() {
  Graph g;
  g.name = "g";
  int x = g.add_value("x", ValueType{DType::kFloat32, Dims{3}});
  int r = g.add_value("r");
  int y = g.add_value("y");
  g.inputs = {x};
  Node relu;
  relu.name = "relu";
  relu.op_type = "Relu";
  relu.inputs = {x};
  relu.outputs = {r};
  Node neg;
  neg.name = "neg";
  neg.op_type = "Neg";
  neg.inputs = {r};
  neg.outputs = {y};
  g.nodes = {relu, neg};
  g.values[static_cast<size_t>(r)].producer = 0;
  g.values[static_cast<size_t>(y)].producer = 1;
  g.outputs = {y};
  return g;
}

std::string error_of(const Graph& g) {
  try {
    verify_graph(g);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    return e.what();
  }
  return "";
}

TEST(VerifyGraph, AcceptsValidGraphAndOrphans) {
  Graph g = valid_graph();
  g.add_value("orphan");
  EXPECT_EQ(error_of(g), "");
}

TEST(VerifyGraph, RejectsUseBeforeDefinition) {
  Graph g = valid_graph();
  std::swap(g.nodes[0], g.nodes[1]);
  g.values[1].producer = 1;
  g.values[2].producer = 0;
  EXPECT_NE(error_of(g).find("'r' is not produced by an earlier node"), std::string::npos);
}

TEST(VerifyGraph, RejectsDuplicateProducers) {
  Graph g = valid_graph();
  g.nodes[1].outputs = {1};  // Neg writes r too
  EXPECT_NE(error_of(g).find("already defined"), std::string::npos);
  Graph h = valid_graph();
  h.values[1].initializer = Tensor::zeros(DType::kFloat32, {3});  // r is an initializer and Relu's output
  EXPECT_NE(error_of(h).find("already defined"), std::string::npos);
}

TEST(VerifyGraph, RejectsMissingOutputsAndBadIndices) {
  Graph g = valid_graph();
  g.outputs.push_back(g.add_value("ghost"));
  EXPECT_NE(error_of(g).find("graph output 'ghost'"), std::string::npos);
  Graph h = valid_graph();
  h.nodes[0].inputs = {42};
  EXPECT_NE(error_of(h).find("#42"), std::string::npos);
  Graph k = valid_graph();
  k.values[2].name = "r";
  EXPECT_NE(error_of(k).find("used twice"), std::string::npos);
}

TEST(VerifyGraph, RejectsStaleProducer) {
  Graph g = valid_graph();
  g.values[2].producer = 0;
  EXPECT_NE(error_of(g).find("records producer"), std::string::npos);
}

}  // namespace
}  // namespace ef
