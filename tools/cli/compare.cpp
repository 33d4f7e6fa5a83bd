// `edgeforge compare REF CAND`: run two models on the same inputs and report how far the candidate's outputs are
// from the reference's (cosine, SQNR, errors, top-1 agreement), optionally accuracy against labels and a
// layer-by-layer ranking of where the error comes from (analysis/model_compare.h).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/model_compare.h"
#include "cli_common.h"
#include "io/npy.h"
#include "onnx/model_io.h"
#include "quant/calib_data.h"

namespace ef::cli {
namespace {

struct CompareFlags {
  std::string ref, cand, data, labels;
  size_t samples = 0;  // 0: every sample in --data, or 8 random ones
  bool per_layer = false, json = false;
  size_t top = 15;
  double tolerance = 0;
  InputFlags inputs;
  ExecFlags exec;
};

// Labels from a .npy of integers or a text file of integers (whitespace or newline separated).
std::vector<int64_t> read_labels(const std::string& path) {
  if (std::filesystem::path(path).extension() == ".npy") {
    Tensor t = read_npy(path);
    EF_CHECK(t.dtype() != DType::kFloat32 && t.dtype() != DType::kFloat64 && t.dtype() != DType::kFloat16 &&
                 t.dtype() != DType::kBFloat16 && t.dtype() != DType::kString,
             kInvalidArgument, "--labels {}: expected an integer array, got {}", path, dtype_name(t.dtype()));
    return t.to_int64_vector();
  }
  std::ifstream in(path);
  EF_CHECK(in.good(), kIo, "--labels {}: cannot open", path);
  std::vector<int64_t> labels;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    EF_CHECK(used == word.size(), kInvalidArgument, "--labels {}: '{}' (label {}) is not an integer", path, word,
             labels.size() + 1);
    labels.push_back(v);
  }
  return labels;
}

std::string db(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.2f}", v);
}
nlohmann::json db_json(double v) { return std::isinf(v) ? nlohmann::json(v > 0 ? "inf" : "-inf") : nlohmann::json(v); }

nlohmann::json diff_json(const TensorDiff& d, bool with_top1) {
  nlohmann::json j = {{"elements", d.elements},          {"cosine", d.cosine},
                      {"sqnr_db", db_json(d.sqnr_db)},   {"max_abs_error", d.max_abs_error},
                      {"mean_abs_error", d.mean_abs_error}, {"nan_mismatches", d.nan_mismatches}};
  if (d.tolerance > 0) {
    j["tolerance"] = d.tolerance;
    j["within_tolerance"] = d.within_tolerance;
  }
  if (with_top1) j["top1_agreement"] = d.top1_agreement();
  return j;
}

// Top-1 agreement is shown for classifier-like outputs: several classes on the last axis.
bool classifier_like(const Session& s, size_t k) {
  const IoInfo& info = s.outputs()[k];
  return info.has_shape && !info.dims.empty() && info.dims.back() > 1;
}

double accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels) {
  size_t hits = 0;
  for (size_t i = 0; i < labels.size(); ++i) hits += predicted[i] == labels[i];
  return labels.empty() ? 0 : static_cast<double>(hits) / static_cast<double>(labels.size());
}

void run_compare(const CompareFlags& f) {
  SessionOptions opts = f.exec.session_options(f.inputs);
  auto ref = Session::load(f.ref, opts);
  auto cand = Session::load(f.cand, opts);
  check_same_interface(*ref, *cand);

  SampleSource source;
  size_t samples = f.samples;
  std::string source_desc;
  if (!f.data.empty()) {
    EF_CHECK(f.inputs.inputs.empty(), kInvalidArgument, "--data and --input cannot be combined");
    // The calibration-data reader of `quantize --calib`: same layouts, same checks; errors get the flag's name.
    auto with_context = [dir = f.data](auto&& fn) {
      try {
        return fn();
      } catch (const Error& e) {
        throw e.with_context("--data " + dir);
      }
    };
    CalibrationSpec spec;
    spec.dir = f.data;
    auto data = std::make_shared<CalibrationData>(
        with_context([&] { return CalibrationData::open(spec, ref->inputs()); }));
    EF_CHECK(samples <= data->size(), kInvalidArgument, "--samples {}: --data {} holds only {} samples", samples,
             f.data, data->size());
    if (samples == 0) samples = data->size();
    source = [data, with_context](size_t i) { return with_context([&] { return data->load(i); }); };
    source_desc = fmt::format("{} samples from {}", samples, f.data);
  } else {
    if (samples == 0) samples = 8;
    const Session& s = *ref;
    InputFlags base = f.inputs;
    source = [&s, base](size_t i) {
      InputFlags flags = base;
      flags.seed = base.seed + i * 1000;  // distinct seeds per sample, and per input within it
      return build_inputs(s, flags, i > 0);
    };
    source_desc = fmt::format("{} random samples (seed {})", samples, f.inputs.seed);
  }
  std::vector<int64_t> labels;
  if (!f.labels.empty()) labels = read_labels(f.labels);

  ModelComparison result = compare_outputs(*ref, *cand, samples, source, f.tolerance);
  if (!f.labels.empty()) {
    // --samples may take the first N samples of a labeled folder: then the first N labels apply.
    if (f.samples > 0 && labels.size() > result.ref_top1.size()) labels.resize(result.ref_top1.size());
    EF_CHECK(labels.size() == result.ref_top1.size(), kInvalidArgument,
             "--labels {} holds {} labels but the {} samples give {} predictions (rows of output '{}')", f.labels,
             labels.size(), samples, result.ref_top1.size(), result.outputs.at(0).name);
  }
  LayerReport layers;
  if (f.per_layer) layers = compare_layers(load_model(f.ref), load_model(f.cand), opts, samples, source);

  if (f.json) {
    nlohmann::json j = {{"ref", f.ref}, {"cand", f.cand}, {"samples", samples}};
    for (size_t k = 0; k < result.outputs.size(); ++k) {
      nlohmann::json o = diff_json(result.outputs[k].diff, classifier_like(*ref, k));
      o["name"] = result.outputs[k].name;
      j["outputs"].push_back(o);
    }
    if (!labels.empty()) {
      j["accuracy"] = {{"labels", labels.size()}, {"ref", accuracy(result.ref_top1, labels)},
                       {"cand", accuracy(result.cand_top1, labels)}};
    }
    if (f.per_layer) {
      j["layers"] = nlohmann::json::array();
      for (const LayerComparison& l : layers.layers) {
        nlohmann::json o = diff_json(l.diff, false);
        o["name"] = l.name;
        o["compared"] = l.compared;
        o["op_type"] = l.op_type;
        o["input_sqnr_db"] = db_json(l.input_sqnr_db);
        o["sqnr_drop_db"] = l.sqnr_drop_db;
        j["layers"].push_back(o);
      }
      j["layers_skipped"] = layers.skipped;
    }
    std::cout << j.dump(1) << "\n";
    return;
  }
  std::cout << fmt::format("REF  {}\nCAND {}\ninputs: {}\n\n", f.ref, f.cand, source_desc);
  std::cout << fmt::format("{:<28} {:>9} {:>9} {:>12} {:>12} {:>7}{}\n", "output", "cosine", "SQNR dB", "max |err|",
                           "mean |err|", "top-1", f.tolerance > 0 ? "  within tol" : "");
  for (size_t k = 0; k < result.outputs.size(); ++k) {
    const TensorDiff& d = result.outputs[k].diff;
    std::string top1 = classifier_like(*ref, k) ? fmt::format("{:.4f}", d.top1_agreement()) : "-";
    std::string within = f.tolerance > 0 ? fmt::format("  {:.4f}", d.within_tolerance) : "";
    std::cout << fmt::format("{:<28} {:>9.6f} {:>9} {:>12.4g} {:>12.4g} {:>7}{}\n", result.outputs[k].name, d.cosine,
                             db(d.sqnr_db), d.max_abs_error, d.mean_abs_error, top1, within);
    if (d.nan_mismatches > 0) std::cout << fmt::format("  {} elements NaN on one side only\n", d.nan_mismatches);
  }
  if (!labels.empty()) {
    std::cout << fmt::format("\naccuracy on {} labels: REF {:.2f}%  CAND {:.2f}%  (difference {:+.2f} points)\n",
                             labels.size(), 100 * accuracy(result.ref_top1, labels),
                             100 * accuracy(result.cand_top1, labels),
                             100 * (accuracy(result.cand_top1, labels) - accuracy(result.ref_top1, labels)));
  }
  if (f.per_layer) {
    std::cout << fmt::format("\nlayers by SQNR lost (of {} matched{}; SQNR above {:.0f} dB counts as exact):\n",
                             layers.layers.size(),
                             layers.skipped ? fmt::format(", {} not floating point or reshaped", layers.skipped) : "",
                             kSqnrCapDb);
    std::cout << fmt::format("{:<18} {:>9} {:>9} {:>9} {:>9}  {}\n", "op", "in dB", "SQNR dB", "lost dB", "cosine",
                             "value");
    for (size_t i = 0; i < layers.layers.size() && i < f.top; ++i) {
      const LayerComparison& l = layers.layers[i];
      std::cout << fmt::format("{:<18} {:>9} {:>9} {:>9.2f} {:>9.6f}  {}\n", l.op_type, db(l.input_sqnr_db),
                               db(l.diff.sqnr_db), l.sqnr_drop_db, l.diff.cosine, l.name);
    }
  }
}

}  // namespace

CLI::App* add_compare(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* sub = app.add_subcommand(
      "compare", "Run a reference and a candidate model on the same inputs and compare their outputs (cosine, SQNR, "
                 "errors, top-1; accuracy with --labels; per-layer error with --per-layer)");
  sub->add_option("ref", flags->ref, "Reference ONNX model (e.g. FP32)")->required();
  sub->add_option("cand", flags->cand, "Candidate ONNX model (e.g. quantized)")->required();
  sub->add_option("--data", flags->data,
                  "Folder of samples, read as quantize --calib reads it: .npy files (one per sample, single-input "
                  "models), one sub-folder per sample holding <input name>.npy, or images (pixel/255 at the input's "
                  "size); samples are taken in file-name order");
  sub->add_option("--samples", flags->samples, "Samples to compare (default: all of --data, or 8 random ones)");
  sub->add_option("--labels", flags->labels,
                  "Expected class per sample (argmax of the first output): a .npy of integers or a text file with one "
                  "integer per line, in sample order; reports each model's accuracy");
  sub->add_flag("--per-layer", flags->per_layer,
                "Also compare the intermediate values both models compute (matched by name) and rank them by the SQNR "
                "each layer loses");
  sub->add_option("--top", flags->top, "Layers listed by --per-layer in text output")->default_val(15);
  sub->add_option("--tolerance", flags->tolerance,
                  "Also report the fraction of output elements with |ref - cand| <= T (e.g. one quantization step)");
  sub->add_flag("--json", flags->json, "Print one JSON object");
  flags->inputs.add_to(*sub);
  flags->exec.add_to(*sub);
  sub->callback([flags] { run_compare(*flags); });
  return sub;
}

}  // namespace ef::cli
