// `edgeforge compare`: metrics, accuracy against labels, per-layer matching, and clear errors for pairs or data
// that cannot be compared.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "cli/cli_runner.h"
#include "io/npy.h"
#include "onnx/model_builder.h"

namespace ef::test {
namespace cli_compare_test {

// add_relu with another bias: y = relu(x + bias).
onnx::ModelProto add_relu_with_bias(const std::vector<float>& bias) {
  onnx::ModelProto m = make_add_relu_model();
  m.mutable_graph()->mutable_initializer(0)->set_raw_data(bias.data(), bias.size() * sizeof(float));
  return m;
}

class CompareCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ef_compare_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "data");
    ref_ = write_model("ref.onnx", make_add_relu_model());
    cand_ = write_model("cand.onnx", add_relu_with_bias({1.0f, -2.0f, 0.75f}));
    // Three samples whose reference argmax is 0, 1, 2.
    const std::vector<std::vector<float>> xs = {{5, 0, 0}, {0, 9, 0}, {0, 0, 9}};
    for (size_t i = 0; i < xs.size(); ++i) {
      write_npy(Tensor::from_vector(DType::kFloat32, {1, 3}, xs[i]), path("data/s" + std::to_string(i) + ".npy"));
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write_model(const std::string& name, const onnx::ModelProto& m) const {
    std::ofstream(path(name), std::ios::binary) << serialize(m);
    return path(name);
  }
  std::string write_text(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }

  std::filesystem::path dir_;
  std::string ref_, cand_;
};

TEST_F(CompareCliTest, IdenticalModelsMatchExactly) {
  CommandResult r = run_cli("compare " + ref_ + " " + ref_ + " --shape x=2,3 --samples 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["samples"], 3);
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["name"], "y");
  EXPECT_EQ(j["outputs"][0]["sqnr_db"], "inf");
  EXPECT_EQ(j["outputs"][0]["cosine"], 1.0);
  EXPECT_EQ(j["outputs"][0]["elements"], 3 * 2 * 3);
  EXPECT_EQ(j["outputs"][0]["top1_agreement"], 1.0);
}

TEST_F(CompareCliTest, ReportsErrorsOfACandidate) {
  // Only element 2 differs, by 0.25 wherever x + 0.5 > 0 (random x in [0,1)).
  CommandResult r = run_cli("compare " + ref_ + " " + cand_ + " --shape x=1,3 --json --tolerance 0.3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output)["outputs"][0];
  EXPECT_NEAR(j["max_abs_error"].get<double>(), 0.25, 1e-6);
  EXPECT_LT(j["sqnr_db"].get<double>(), 30.0);
  EXPECT_LT(j["cosine"].get<double>(), 1.0);
  EXPECT_EQ(j["within_tolerance"], 1.0);
  r = run_cli("compare " + ref_ + " " + cand_ + " --shape x=1,3");  // text form
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("SQNR dB"), std::string::npos) << r.output;
}

TEST_F(CompareCliTest, AccuracyFromLabelFiles) {
  write_npy(Tensor::from_vector(DType::kInt64, {3}, std::vector<int64_t>{0, 1, 2}), path("labels.npy"));
  CommandResult r = run_cli("compare " + ref_ + " " + cand_ + " --data " + path("data") + " --labels " +
                            path("labels.npy") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["samples"], 3);
  EXPECT_EQ(j["accuracy"]["labels"], 3);
  EXPECT_EQ(j["accuracy"]["ref"], 1.0);
  EXPECT_EQ(j["accuracy"]["cand"], 1.0);

  r = run_cli("compare " + ref_ + " " + cand_ + " --data " + path("data") + " --labels " +
              write_text("labels.txt", "0\n1\n1\n") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NEAR(nlohmann::json::parse(r.output)["accuracy"]["ref"].get<double>(), 2.0 / 3.0, 1e-9);
  // --samples takes the first samples and their labels.
  r = run_cli("compare " + ref_ + " " + cand_ + " --data " + path("data") + " --samples 2 --labels " +
              path("labels.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("accuracy on 2 labels: REF 100.00%"), std::string::npos) << r.output;
}

TEST_F(CompareCliTest, PerLayerMatchesIntermediatesByName) {
  CommandResult r = run_cli("compare " + ref_ + " " + cand_ + " --data " + path("data") + " --per-layer --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto layers = nlohmann::json::parse(r.output)["layers"];
  ASSERT_EQ(layers.size(), 1u);  // 't', the Add result; 'y' is an output
  EXPECT_EQ(layers[0]["name"], "t");
  EXPECT_EQ(layers[0]["op_type"], "Add");
  EXPECT_EQ(layers[0]["input_sqnr_db"], "inf");
  EXPECT_GT(layers[0]["sqnr_drop_db"].get<double>(), 0.0);
}

TEST_F(CompareCliTest, ClearErrors) {
  auto expect_error = [](const CommandResult& r, const std::string& text) {
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_NE(r.output.find(text), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  };
  onnx::ModelProto other = make_add_relu_model();
  other.mutable_graph()->mutable_input(0)->set_name("z");
  other.mutable_graph()->mutable_node(0)->set_input(0, "z");
  expect_error(run_cli("compare " + ref_ + " " + write_model("other.onnx", other)),
               "REF has input 'x'");

  std::filesystem::create_directories(dir_ / "empty");
  expect_error(run_cli("compare " + ref_ + " " + cand_ + " --data " + path("empty")), "holds no .npy files");
  expect_error(run_cli("compare " + ref_ + " " + cand_ + " --data " + path("missing")), "is not a folder");
  std::filesystem::create_directories(dir_ / "wide");
  write_npy(Tensor::zeros(DType::kFloat32, {1, 4}), path("wide/a.npy"));
  expect_error(run_cli("compare " + ref_ + " " + cand_ + " --data " + path("wide")), "shape [1,4] does not fit input 'x'");
  std::filesystem::create_directories(dir_ / "mixed/sample");
  write_npy(Tensor::zeros(DType::kFloat32, {1, 3}), path("mixed/a.npy"));
  expect_error(run_cli("compare " + ref_ + " " + cand_ + " --data " + path("mixed")), "use one layout");
  expect_error(run_cli("compare " + ref_ + " " + cand_ + " --data " + path("data") + " --samples 9"), "only 3");
  expect_error(run_cli("compare " + ref_ + " " + cand_ + " --data " + path("data") + " --labels " +
                       write_text("two.txt", "0 1")),
               "holds 2 labels but the 3 samples give 3 predictions");
  expect_error(run_cli("compare " + ref_ + " " + cand_ + " --data " + path("data") + " --labels " +
                       write_text("bad.txt", "0 one 2")),
               "'one' (label 2) is not an integer");
}

}  // namespace
}  // namespace ef::test
