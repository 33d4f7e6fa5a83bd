// `edgeforge optimize` end to end: the real binary on a small ONNX file, JSON contract and --verify.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "onnx/model_builder.h"
#include "onnx/model_io.h"
#include "cli/cli_runner.h"

namespace ef::test {
namespace optimize_test {

// x + (b1 + b2) -> Identity -> y, plus an unused initializer: three rewrites' worth of waste.
std::string write_model(const std::filesystem::path& dir) {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {-1, 3});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {-1, 3});
  add_initializer(g, "b1", {3}, {1, 2, 3});
  add_initializer(g, "b2", {3}, {0.5f, 0.5f, 0.5f});
  add_initializer(g, "unused", {1}, {0});
  add_node(g, "Add", {"b1", "b2"}, {"b"}, "fold_me");
  add_node(g, "Add", {"x", "b"}, {"s"}, "add");
  add_node(g, "Identity", {"s"}, {"y"}, "copy");
  std::string path = (dir / "waste.onnx").string();
  std::ofstream(path, std::ios::binary) << serialize(m);
  return path;
}

TEST(OptimizeCli, JsonReportAndVerify) {
  auto dir = std::filesystem::temp_directory_path() / ("ef_opt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string in = write_model(dir);
  std::string out = (dir / "out.onnx").string();
  auto [code, output] = run_cli("optimize " + in + " -o " + out + " --verify --json --shape x=4,3", false);
  ASSERT_EQ(code, 0) << output;
  auto j = nlohmann::json::parse(output);
  EXPECT_EQ(j["nodes"]["before"], 3);
  EXPECT_EQ(j["nodes"]["after"], 1);
  EXPECT_EQ(j["initializers"]["after"], 1);
  EXPECT_EQ(j["verify"]["passed"], true);
  int64_t total = 0;
  for (const auto& p : j["passes"]) total += p["rewrites"].get<int64_t>();
  EXPECT_EQ(total, j["total_rewrites"].get<int64_t>());
  Model m = load_model(out);
  ASSERT_EQ(m.graph->nodes.size(), 1u);
  EXPECT_EQ(m.graph->values[static_cast<size_t>(m.graph->outputs[0])].name, "y");

  auto [bad_code, bad_output] = run_cli("optimize " + in + " -o " + out + " --level 3");
  EXPECT_NE(bad_code, 0);
  auto [missing_code, missing_output] = run_cli("optimize " + (dir / "nope.onnx").string() + " -o " + out);
  EXPECT_EQ(missing_code, 6) << missing_output;  // I/O error
  std::filesystem::remove_all(dir);
}

// x -> MatMul -> Add(bias) -> Relu -> y with x [batch, 4]: MatMul + Add fuse to Gemm, Relu fuses into it.
std::string write_gemm_relu_model(const std::filesystem::path& dir) {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {2, 4});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {2, 3});
  add_initializer(g, "w", {4, 3}, {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f, -0.9f, 1.0f, 1.1f, 1.2f});
  add_initializer(g, "b", {3}, {0.1f, -1.0f, 0.5f});
  add_node(g, "MatMul", {"x", "w"}, {"m"}, "mm");
  add_node(g, "Add", {"m", "b"}, {"a"}, "bias");
  add_node(g, "Relu", {"a"}, {"y"}, "relu");
  std::string path = (dir / "gemm_relu.onnx").string();
  std::ofstream(path, std::ios::binary) << serialize(m);
  return path;
}

TEST(OptimizeCli, KeepFusedWritesOurDomainAndVerifiesWithOurRuntime) {
  auto dir = std::filesystem::temp_directory_path() / ("ef_optk_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string in = write_gemm_relu_model(dir);
  std::string std_out = (dir / "std.onnx").string();
  std::string fused_out = (dir / "fused.onnx").string();
  auto [code, output] = run_cli("optimize " + in + " -o " + std_out + " --level 2 --verify --json", false);
  ASSERT_EQ(code, 0) << output;
  auto j = nlohmann::json::parse(output);
  EXPECT_EQ(j["nodes"]["optimized"], 1);  // FusedGemm in memory
  EXPECT_EQ(j["nodes"]["after"], 2);      // Gemm + Relu written
  Model standard = load_model(std_out);
  EXPECT_EQ(standard.opset("ai.edgeforge"), 0);
  for (const Node& n : standard.graph->nodes) EXPECT_TRUE(n.domain.empty());

  auto [kcode, koutput] =
      run_cli("optimize " + in + " -o " + fused_out + " --level 2 --keep-fused --verify --json", false);
  ASSERT_EQ(kcode, 0) << koutput;
  auto k = nlohmann::json::parse(koutput);
  EXPECT_EQ(k["nodes"]["after"], 1);
  EXPECT_EQ(k["verify"]["passed"], true);
  Model fused = load_model(fused_out);
  EXPECT_EQ(fused.opset("ai.edgeforge"), 1);
  ASSERT_EQ(fused.graph->nodes.size(), 1u);
  EXPECT_EQ(fused.graph->nodes[0].op_type, "FusedGemm");
  EXPECT_EQ(fused.graph->nodes[0].attr_string("activation", ""), "Relu");
  std::filesystem::remove_all(dir);
}

TEST(OptimizeCli, InputShapeFixesDynamicDims) {
  auto dir = std::filesystem::temp_directory_path() / ("ef_opts_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string in = write_model(dir);  // x is [-1, 3]
  std::string out = (dir / "out.onnx").string();
  auto [code, output] = run_cli("optimize " + in + " -o " + out + " --input-shape x=5,3 --verify --json", false);
  ASSERT_EQ(code, 0) << output;
  Model m = load_model(out);
  const ValueType& x = m.graph->values[static_cast<size_t>(m.graph->inputs[0])].type;
  ASSERT_TRUE(x.concrete_shape().has_value());
  EXPECT_EQ(*x.concrete_shape(), (Shape{5, 3}));
  auto [bad, bad_output] = run_cli("optimize " + in + " -o " + out + " --input-shape x=5,4");
  EXPECT_EQ(bad, 3) << bad_output;  // contradicts the declared dim
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ef::test
