// Runs the real `edgeforge` binary: exit codes, one-line errors and the JSON contract scripts rely on.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/cli_runner.h"
#include "onnx/model_builder.h"

namespace ef::test {
namespace cli_test {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ef_cli_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    model_ = (dir_ / "add_relu.onnx").string();
    std::ofstream(model_, std::ios::binary) << serialize(make_add_relu_model());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string model_;
};

TEST_F(CliTest, InspectJsonHasTheDocumentedFields) {
  CommandResult r = run_cli("inspect " + model_ + " --json --shape x=4,3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["inputs"][0]["name"], "x");
  EXPECT_EQ(j["inputs"][0]["shape"][0], "N");
  EXPECT_EQ(j["op_histogram"]["Add"], 1);
  EXPECT_EQ(j["parameters"]["count"], 3);
  EXPECT_EQ(j["peak_activation_bytes"], 64);
  EXPECT_EQ(j["layers"].size(), 2u);
}

TEST_F(CliTest, RunWritesNamedOutputs) {
  CommandResult r = run_cli("run " + model_ + " --shape x=2,3 -o " + (dir_ / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "out" / "y.npy"));
  EXPECT_NE(r.output.find("float32[2,3]"), std::string::npos) << r.output;
}

TEST_F(CliTest, BenchJsonContract) {
  CommandResult r = run_cli("bench " + model_ + " --shape x=2,3 --iterations 5 --warmup 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  for (const char* k : {"min", "p50", "p90", "p99", "max"}) EXPECT_TRUE(j["latency_ms"].contains(k)) << k;
  for (const char* k : {"throughput_per_s", "session_create_ms", "peak_rss_mb", "threads", "iterations"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_EQ(j["iterations"], 5);
}

TEST_F(CliTest, BadInputsGiveOneLineAndNonZeroExit) {
  std::string lfs = (dir_ / "lfs.onnx").string();
  std::ofstream(lfs) << "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 9\n";
  CommandResult r = run_cli("inspect " + lfs);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("Git LFS"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;

  r = run_cli("run " + (dir_ / "missing.onnx").string());
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;

  r = run_cli("run " + model_ + " --shape x=2,5");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.output.find("input 'x'"), std::string::npos) << r.output;

  r = run_cli("run " + model_ + " --shape nope=1");
  EXPECT_EQ(r.exit_code, 3);
  r = run_cli("run " + model_ + " --input x=" + (dir_ / "missing.npy").string());
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace ef::test
