// `edgeforge optimize` end to end: the real binary on a small ONNX file, JSON contract and --verify.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "onnx/model_builder.h"
#include "onnx/model_io.h"

namespace ef::test {
namespace {

std::pair<int, std::string> run_edgeforge(const std::string& args, bool with_stderr = true) {
  std::string cmd = std::string(EF_CLI_PATH) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

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
  auto [code, output] = run_edgeforge("optimize " + in + " -o " + out + " --verify --json --shape x=4,3", false);
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

  auto [bad_code, bad_output] = run_edgeforge("optimize " + in + " -o " + out + " --level 3");
  EXPECT_NE(bad_code, 0);
  auto [missing_code, missing_output] = run_edgeforge("optimize " + (dir / "nope.onnx").string() + " -o " + out);
  EXPECT_EQ(missing_code, 6) << missing_output;  // I/O error
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ef::test
