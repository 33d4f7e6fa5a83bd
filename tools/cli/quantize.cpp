// `edgeforge quantize MODEL -o OUT --mode static|dynamic`: post-training quantization into standard ONNX (QDQ for
// static, DynamicQuantizeLinear + MatMulInteger for dynamic). The work is in src/quant/; this file maps flags to
// QuantizeOptions, draws the calibration progress bar and prints the summary.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "onnx/model_io.h"
#include "quant/quantize.h"

namespace ef::cli {
namespace {

struct QuantizeFlags {
  std::string model, output, mode = "static";
  std::string calib, method = "minmax", ranges, save_ranges;
  size_t calib_samples = 0;
  double percentile = 99.99;
  std::string image_size, mean, std, layout;
  bool bgr = false;
  bool per_channel = false, symmetric_activations = false, reduce_range = false, full_range = false,
       independent_add_scales = false, strip_names = false;
  std::string activation_type = "uint8", weight_type = "int8";
  std::vector<std::string> exclude_ops, exclude_nodes;
  double max_sqnr_drop = -1;
  std::string keep_fp32;  // "auto" or a layer count
  size_t sensitivity_samples = 8;
  int threads = 0;
  bool quiet = false, json = false;
};

std::vector<float> parse_floats(const std::string& text, const char* flag) {
  std::vector<float> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      size_t used = 0;
      out.push_back(std::stof(item, &used));
      EF_CHECK(used == item.size(), kInvalidArgument, "{} '{}': '{}' is not a number", flag, text, item);
    } catch (const std::logic_error&) {
      fail(ErrorCode::kInvalidArgument, fmt::format("{} '{}': '{}' is not a number", flag, text, item));
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// --mean / --std: one value for every channel or one per channel.
std::array<float, 3> per_channel_values(const std::string& text, const char* flag, float fallback) {
  if (text.empty()) return {fallback, fallback, fallback};
  std::vector<float> v = parse_floats(text, flag);
  EF_CHECK(v.size() == 1 || v.size() == 3, kInvalidArgument, "{} takes 1 or 3 values, got {}", flag, v.size());
  if (v.size() == 1) return {v[0], v[0], v[0]};
  return {v[0], v[1], v[2]};
}

DType parse_qtype(const std::string& s, const char* flag) {
  if (s == "uint8") return DType::kUInt8;
  if (s == "int8") return DType::kInt8;
  fail(ErrorCode::kInvalidArgument, fmt::format("{} must be uint8 or int8, not '{}'", flag, s));
}

// "[#######.......]  12/32  ETA 3s" redrawn in place on a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void update(size_t done, size_t total) {
    if (!enabled_) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : 0;
    const size_t width = 30, filled = total ? done * width / total : width;
    std::fprintf(stderr, "\rcalibrating [%s%s] %zu/%zu  %s %.0fs ", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, total, done == total ? "took" : "ETA",
                 done == total ? elapsed : eta);
    if (done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

QuantizeOptions to_options(const QuantizeFlags& f) {
  QuantizeOptions o;
  o.mode = f.mode == "dynamic" ? QuantMode::kDynamic : QuantMode::kStatic;
  o.config.per_channel = f.per_channel;
  o.config.activation_type = parse_qtype(f.activation_type, "--activation-type");
  o.config.weight_type = parse_qtype(f.weight_type, "--weight-type");
  o.config.symmetric_activations = f.symmetric_activations;
  EF_CHECK(!(f.full_range && f.reduce_range), kInvalidArgument, "--full-range and --reduce-range contradict each other");
  o.config.reduce_range = !f.full_range;  // the default: see --full-range
  o.config.exact_add_scales = !f.independent_add_scales;
  o.config.exclude_ops.insert(f.exclude_ops.begin(), f.exclude_ops.end());
  o.config.exclude_nodes.insert(f.exclude_nodes.begin(), f.exclude_nodes.end());
  o.ranges_file = f.ranges;
  o.strip_names = f.strip_names;
  o.save_ranges_file = f.save_ranges;
  o.calibration.num_threads = f.threads;
  o.calibration.percentile = f.percentile;
  o.calibration.method = f.method == "percentile" ? CalibrationMethod::kPercentile
                         : f.method == "entropy"  ? CalibrationMethod::kEntropy
                                                  : CalibrationMethod::kMinMax;
  if (o.mode == QuantMode::kDynamic) {
    EF_CHECK(f.calib.empty() && f.ranges.empty() && f.save_ranges.empty(), kInvalidArgument,
             "--calib, --ranges and --save-ranges apply to --mode static only");
  }
  if (f.max_sqnr_drop >= 0 || !f.keep_fp32.empty()) {
    EF_CHECK(o.mode == QuantMode::kStatic, kInvalidArgument, "--max-sqnr-drop / --keep-fp32 apply to --mode static");
    AccuracyOptions a;
    a.max_sqnr_drop_db = f.max_sqnr_drop;
    a.samples = f.sensitivity_samples;
    if (!f.keep_fp32.empty() && f.keep_fp32 != "auto") {
      try {
        size_t used = 0;
        a.keep_fp32 = std::stoi(f.keep_fp32, &used);
        EF_CHECK(used == f.keep_fp32.size() && a.keep_fp32 >= 0, kInvalidArgument, "bad count");
      } catch (const std::exception&) {
        fail(ErrorCode::kInvalidArgument,
             fmt::format("--keep-fp32 takes 'auto' or a layer count, not '{}'", f.keep_fp32));
      }
    }
    EF_CHECK(a.samples > 0, kInvalidArgument, "--sensitivity-samples must be positive");
    o.accuracy = a;
  }
  if (!f.calib.empty()) {
    EF_CHECK(f.ranges.empty(), kInvalidArgument, "give either --calib or --ranges, not both");
    CalibrationSpec spec;
    spec.dir = f.calib;
    spec.max_samples = f.calib_samples;
    if (!f.image_size.empty()) {
      std::vector<float> hw = parse_floats(f.image_size, "--image-size");
      EF_CHECK(hw.size() == 2 && hw[0] >= 1 && hw[1] >= 1 && hw[0] <= 65536 && hw[1] <= 65536 &&
                   hw[0] == static_cast<int>(hw[0]) && hw[1] == static_cast<int>(hw[1]),
               kInvalidArgument, "--image-size takes H,W (positive integers), got '{}'", f.image_size);
      spec.image.height = static_cast<int>(hw[0]);
      spec.image.width = static_cast<int>(hw[1]);
    }
    spec.image.mean = per_channel_values(f.mean, "--mean", 0.0f);
    spec.image.std = per_channel_values(f.std, "--std", 1.0f);
    for (float s : spec.image.std) EF_CHECK(s != 0, kInvalidArgument, "--std values must be non-zero");
    spec.image.bgr = f.bgr;
    if (!f.layout.empty()) spec.nchw = f.layout == "NCHW";
    o.calibration_data = spec;
  }
  return o;
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

void run_quantize(const QuantizeFlags& f) {
  QuantizeOptions options = to_options(f);
  ProgressBar bar(!f.quiet && !f.json && isatty(STDERR_FILENO));
  options.calibration.progress = [&bar](size_t done, size_t total) { bar.update(done, total); };
  const auto start = std::chrono::steady_clock::now();
  Model model = load_model(f.model);
  QuantizeResult r = quantize_model(model, options);
  save_model(r.model, f.output);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t in_bytes = file_size_or_zero(f.model), out_bytes = file_size_or_zero(f.output);
  const std::vector<std::string>& quantized = options.mode == QuantMode::kStatic ? r.qdq.quantized : r.dynamic_nodes;

  if (f.json) {
    nlohmann::json j;
    j["model"] = f.model;
    j["output"] = f.output;
    j["mode"] = f.mode;
    j["per_channel"] = f.per_channel;
    j["weight_bits"] = f.full_range ? 8 : 7;
    j["activation_type"] = f.activation_type;
    j["weight_type"] = f.weight_type;
    j["opset"] = {{"before", r.prepare.opset_before}, {"after", r.prepare.opset_after}};
    j["nodes"] = {{"before", r.prepare.nodes_before}, {"optimized", r.prepare.nodes_after},
                  {"quantized", quantized.size()}, {"written", r.model.graph->nodes.size()}};
    j["quantized_nodes"] = quantized;
    j["folded_activations"] = r.qdq.folded;
    j["excluded_nodes"] = r.excluded;
    j["activation_qdq_pairs"] = r.qdq.activation_pairs;
    j["weights_quantized"] = r.qdq.weights;
    j["biases_quantized"] = r.qdq.biases;
    if (options.mode == QuantMode::kStatic) {
      j["calibration"] = {{"source", r.calibration_kind}, {"samples", r.samples}, {"method", f.method},
                          {"tensors", r.ranges.size()}};
    }
    if (r.accuracy) {
      nlohmann::json ranking = nlohmann::json::array();
      for (const LayerSensitivity& l : r.accuracy->ranking) ranking.push_back({{"node", l.node}, {"drop_db", l.drop_db}});
      j["accuracy"] = {{"target_drop_db", r.accuracy->target_drop_db}, {"baseline_drop_db", r.accuracy->baseline_drop_db},
                       {"final_drop_db", r.accuracy->final_drop_db}, {"target_met", r.accuracy->target_met},
                       {"kept_fp32", r.accuracy->kept_fp32}, {"samples", r.accuracy->samples},
                       {"models_evaluated", r.accuracy->models_evaluated}, {"sensitivity", ranking}};
    }
    j["file_bytes"] = {{"before", in_bytes}, {"after", out_bytes},
                       {"ratio", in_bytes ? static_cast<double>(out_bytes) / static_cast<double>(in_bytes) : 0.0}};
    j["seconds"] = seconds;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("quantized {} -> {} ({}{}, {}-bit weights, {:.1f} s)\n", f.model, f.output, f.mode,
                           f.per_channel ? ", per-channel" : "", f.full_range ? 8 : 7, seconds);
  if (r.prepare.opset_before != r.prepare.opset_after) {
    std::cout << fmt::format("opset        {:>10} -> {} (ONNX version converter)\n", r.prepare.opset_before,
                             r.prepare.opset_after);
  }
  if (options.mode == QuantMode::kStatic) {
    std::cout << fmt::format("calibration  {} ({} samples, {}), {} tensors\n", r.calibration_kind, r.samples,
                             f.method, r.ranges.size());
  }
  std::cout << fmt::format("nodes        {:>10} -> {} optimized, {} quantized", r.prepare.nodes_before,
                           r.prepare.nodes_after, quantized.size());
  if (!r.qdq.folded.empty()) std::cout << fmt::format(" ({} Relu/Clip folded)", r.qdq.folded.size());
  if (!r.excluded.empty()) std::cout << fmt::format(", {} excluded", r.excluded.size());
  std::cout << "\n";
  if (options.mode == QuantMode::kDynamic) {
    std::cout << "             (MatMul/Gemm with constant weights -> DynamicQuantizeLinear + MatMulInteger; Conv stays "
                 "float)\n";
  }
  if (r.accuracy) {
    const AccuracyReport& a = *r.accuracy;
    std::cout << fmt::format("accuracy     output SQNR drop {:.2f} dB -> {:.2f} dB", a.baseline_drop_db, a.final_drop_db);
    if (a.target_drop_db >= 0) {
      std::cout << fmt::format(" (target {:.2f} dB: {})", a.target_drop_db, a.target_met ? "met" : "NOT met");
    }
    std::cout << fmt::format(", {} models evaluated on {} samples\n", a.models_evaluated, a.samples);
    std::cout << fmt::format("kept float   {}\n", a.kept_fp32.empty() ? std::string("(none)")
                                                                        : fmt::format("{}", fmt::join(a.kept_fp32, ", ")));
  }
  std::cout << fmt::format("file bytes   {:>10} -> {} ({:.2f}x)\n", in_bytes, out_bytes,
                           in_bytes ? static_cast<double>(out_bytes) / static_cast<double>(in_bytes) : 0.0);
}

}  // namespace

CLI::App* add_quantize(CLI::App& app) {
  auto f = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = app.add_subcommand("quantize", "Post-training quantization to INT8 (standard ONNX: QDQ for static, "
                                                 "DynamicQuantizeLinear + MatMulInteger for dynamic)");
  cmd->add_option("model", f->model, "ONNX model file")->required();
  cmd->add_option("--output,-o", f->output, "Where to write the quantized model")->required();
  cmd->add_option("--mode", f->mode, "static: calibrated activation ranges; dynamic: int8 weights, activations "
                                     "quantized at run time")
      ->default_val("static")
      ->check(CLI::IsMember({"static", "dynamic"}));
  cmd->add_option("--calib", f->calib,
                  "Calibration data folder: .npy files (one sample each), one sub-folder per sample with "
                  "<input name>.npy, or images");
  cmd->add_option("--calib-samples", f->calib_samples, "Use the first N samples (sorted by name; 0: all)");
  cmd->add_option("--method", f->method, "Activation range: minmax, percentile or entropy (KL divergence)")
      ->default_val("minmax")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy"}));
  cmd->add_option("--percentile", f->percentile, "Percentile of |x| kept by --method percentile")
      ->default_val(99.99)
      ->check(CLI::Range(1e-6, 100.0));
  cmd->add_option("--image-size", f->image_size, "Images: resize to H,W (default: the input's static dims)");
  cmd->add_option("--mean", f->mean, "Images: per-channel mean subtracted from pixel/255 (1 or 3 values)");
  cmd->add_option("--std", f->std, "Images: per-channel std dividing (pixel/255 - mean) (1 or 3 values)");
  cmd->add_option("--layout", f->layout, "Images: tensor layout (default: guessed from the input's shape)")
      ->check(CLI::IsMember({"NCHW", "NHWC"}));
  cmd->add_flag("--bgr", f->bgr, "Images: channels in BGR order");
  cmd->add_flag("--per-channel", f->per_channel, "One weight scale per output channel (needs opset 13; older "
                                                 "models are converted)");
  cmd->add_option("--activation-type", f->activation_type, "uint8 or int8")->default_val("uint8");
  cmd->add_option("--weight-type", f->weight_type, "int8 (symmetric) or uint8 (asymmetric)")->default_val("int8");
  cmd->add_flag("--symmetric-activations", f->symmetric_activations, "Activation zero point 0 (int8) / 128 (uint8)");
  cmd->add_flag("--reduce-range", f->reduce_range,
                                "7-bit weights (the default): ONNX Runtime's u8 x s8 kernels on x86 CPUs without VNNI "
                                "then never saturate; costs 1 bit of weight precision");
  cmd->add_flag("--full-range", f->full_range,
                "8-bit weights in [-127, 127]: for EdgeForge, VNNI or ARM targets (other runtimes' AVX2 int8 kernels "
                "saturate on them)");
  cmd->add_flag("--strip-names", f->strip_names,
                "Short names for every tensor but the graph inputs and outputs (smaller file; compare --per-layer then "
                "matches nothing)");
  cmd->add_flag("--independent-add-scales", f->independent_add_scales,
                "Add inputs keep their own scales (default: integer multiples of the output's, so integer Adds are exact)");
  cmd->add_option("--exclude-op", f->exclude_ops, "Leave every node of this op type in float (repeatable)");
  cmd->add_option("--exclude-node", f->exclude_nodes, "Leave this node in float (repeatable)");
  cmd->add_option("--max-sqnr-drop", f->max_sqnr_drop,
                  "Accuracy target: keep the most sensitive layers float until every output's SQNR vs FP32 is "
                  "within DB of an ideally rounded 8-bit output (measured on the first calibration samples)");
  cmd->add_option("--keep-fp32", f->keep_fp32,
                  "'auto': as many float layers as --max-sqnr-drop needs; N: the N most sensitive layers");
  cmd->add_option("--sensitivity-samples", f->sensitivity_samples,
                  "Calibration samples the accuracy-aware search evaluates on")
      ->default_val(8);
  cmd->add_option("--ranges", f->ranges, "Use calibration ranges saved by --save-ranges instead of calibrating");
  cmd->add_option("--save-ranges", f->save_ranges, "Write the calibration ranges as JSON");
  cmd->add_option("--threads", f->threads, "Threads for calibration runs (0: physical cores)")->default_val(0);
  cmd->add_flag("--quiet,-q", f->quiet, "No progress bar");
  cmd->add_flag("--json", f->json, "Print one JSON object");
  cmd->callback([f] { run_quantize(*f); });
  return cmd;
}

}  // namespace ef::cli
