// `edgeforge quantize` end to end: the real binary on a small conv net, the JSON summary, ranges files, and one
// clear error (exit code 3, invalid argument) for bad calibration data.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "io/npy.h"
#include "onnx/model_io.h"
#include "cli/cli_runner.h"
#include "quant/quant_test_util.h"

namespace ef::test {
namespace cli_quantize_test {

TEST(QuantizeCli, StaticJsonSummaryAndRangesRoundTrip) {
  auto dir = temp_dir("cli");
  const std::string model = write_file(dir / "net.onnx", serialize(make_small_convnet()));
  write_npy_samples(dir / "calib", 6, {1, 3, 8, 8});
  const std::string out = (dir / "q.onnx").string(), ranges = (dir / "r.json").string();
  auto [code, text] = run_cli(fmt::format("quantize {} -o {} --calib {} --per-channel --method percentile --json "
                                          "--save-ranges {}", model, out, (dir / "calib").string(), ranges));
  ASSERT_EQ(code, 0) << text;
  nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["mode"], "static");
  EXPECT_EQ(j["calibration"]["samples"], 6);
  EXPECT_EQ(j["calibration"]["method"], "percentile");
  EXPECT_GT(j["nodes"]["quantized"].get<int>(), 4);
  EXPECT_GT(j["file_bytes"]["after"].get<int>(), 0);
  EXPECT_NO_THROW(load_model(out));
  auto [code2, text2] = run_cli(fmt::format("quantize {} -o {} --ranges {} --per-channel", model,
                                            (dir / "q2.onnx").string(), ranges));
  ASSERT_EQ(code2, 0) << text2;
  EXPECT_NE(text2.find("ranges file"), std::string::npos) << text2;
  auto [code3, text3] = run_cli(fmt::format("run {} -o {}", out, (dir / "outs").string()));
  EXPECT_EQ(code3, 0) << text3;
  std::filesystem::remove_all(dir);
}

TEST(QuantizeCli, BadCalibrationDataExitsWithOneLine) {
  auto dir = temp_dir("cli_bad");
  const std::string model = write_file(dir / "net.onnx", serialize(make_small_convnet()));
  std::filesystem::create_directories(dir / "empty");
  auto [code, text] = run_cli(fmt::format("quantize {} -o {} --calib {}", model, (dir / "q.onnx").string(),
                                          (dir / "empty").string()));
  EXPECT_EQ(code, 3) << text;
  EXPECT_EQ(text.rfind("edgeforge: error: calibration folder", 0), 0u) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  auto [code2, text2] = run_cli(fmt::format("quantize {} -o {} --calib {} --image-size 0,5", model,
                                            (dir / "q.onnx").string(), (dir / "empty").string()));
  EXPECT_EQ(code2, 3) << text2;
  auto [code3, text3] = run_cli(fmt::format("quantize {} -o {}", model, (dir / "q.onnx").string()));
  EXPECT_EQ(code3, 3) << text3;
  std::filesystem::remove_all(dir);
}

// Every kind of bad calibration data through the real binary: exit code 3 and one line naming what is wrong.
TEST(QuantizeCli, EachBadCalibrationInputIsOneClearLine) {
  auto dir = temp_dir("cli_bad_each");
  const std::string model = write_file(dir / "net.onnx", serialize(make_small_convnet()));
  write_npy_samples(dir / "shape", 2, {1, 3, 4, 4});
  std::filesystem::create_directories(dir / "dtype");
  write_npy(Tensor::zeros(DType::kFloat64, {1, 3, 8, 8}), (dir / "dtype" / "a.npy").string());
  write_npy_samples(dir / "count", 2, {1, 3, 8, 8});
  write_file(dir / "image" / "a.png", "not a png");
  write_file(dir / "broken" / "a.npy", "not numpy");
  std::filesystem::create_directories(dir / "empty");
  struct Case {
    std::string flags, expected;
  };
  const std::vector<Case> cases = {
      {"--calib " + (dir / "shape").string(), "does not fit input 'x'"},
      {"--calib " + (dir / "dtype").string(), "dtype float64"},
      {"--calib " + (dir / "count").string() + " --calib-samples 5", "holds only 2 samples"},
      {"--calib " + (dir / "image").string(), "a.png"},
      {"--calib " + (dir / "broken").string(), "a.npy"},
      {"--calib " + (dir / "empty").string(), "calibration folder"},
      {"--calib " + (dir / "missing").string(), "is not a folder"},
      {"--calib " + (dir / "count").string() + " --full-range --reduce-range", "contradict"},
  };
  for (const Case& c : cases) {
    auto [code, text] = run_cli(fmt::format("quantize {} -o {} {}", model, (dir / "q.onnx").string(), c.flags));
    // An image that does not decode is an I/O error (6); everything else an invalid argument (3).
    EXPECT_EQ(code, c.expected == "a.png" ? 6 : 3) << c.flags << ": " << text;
    EXPECT_NE(text.find(c.expected), std::string::npos) << c.flags << ": " << text;
    EXPECT_EQ(text.rfind("edgeforge: error: ", 0), 0u) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ef::test
