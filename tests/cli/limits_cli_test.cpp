// The resource-limit flags of `edgeforge run` / `bench` (--max-memory, --max-tensor-elements, --max-nodes,
// --max-initializer-bytes): parsing of byte sizes, and exit code 5 (out of memory) with a one-line error.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "onnx/model_builder.h"
#include "cli/cli_runner.h"

namespace ef::test {
namespace limits_cli_test {

class LimitsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ef_limits_cli_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    model_ = (dir_ / "add_relu.onnx").string();
    std::ofstream(model_, std::ios::binary) << serialize(make_add_relu_model());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string model_;
};

TEST_F(LimitsCliTest, MaxMemoryTakesSizeSuffixes) {
  std::string out = (dir_ / "out").string();
  CommandResult r = run_cli("run " + model_ + " --shape x=100000,3 --opt-level 0 --max-memory 1M -o " + out);
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("memory limit of 1048576 bytes"), std::string::npos) << r.output;
  r = run_cli("run " + model_ + " --shape x=100000,3 --opt-level 0 --max-memory 3M -o " + out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("run " + model_ + " --max-memory 12Q -o " + out);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("unknown size suffix"), std::string::npos) << r.output;
}

TEST_F(LimitsCliTest, ElementAndNodeCaps) {
  std::string out = (dir_ / "out").string();
  CommandResult r = run_cli("run " + model_ + " --shape x=100,3 --max-tensor-elements 299 -o " + out);
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("299"), std::string::npos) << r.output;
  r = run_cli("bench " + model_ + " --shape x=2,3 --iterations 1 --warmup 0 --max-nodes 1");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("nodes"), std::string::npos) << r.output;
  r = run_cli("run " + model_ + " --shape x=2,3 --max-initializer-bytes 8 -o " + out);
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("initializer 'bias'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ef::test
