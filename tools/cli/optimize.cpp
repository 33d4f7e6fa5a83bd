// `edgeforge optimize MODEL -o OUT`: run the graph optimizer's pass pipeline and write the optimized ONNX model,
// optionally checking on seeded random inputs that it computes what the original did.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "onnx/model_io.h"
#include "ops/fused.h"
#include "passes/pass.h"

namespace ef::cli {
namespace {

struct OptimizeFlags {
  std::string model;
  std::string output;
  int level = 1;
  bool verify = false;
  bool json = false;
  int64_t max_rewrites = -1;
  int64_t fold_max_elements = int64_t{1} << 20;
  double rtol = 1e-4;
  bool keep_fused = false;
  std::vector<std::string> input_shapes;  // NAME=d0,d1,... fixed before the passes
  InputFlags inputs;
};

struct ModelSize {
  size_t nodes = 0;
  size_t initializers = 0;
  uint64_t file_bytes = 0;
};

ModelSize size_of(const Model& m, const std::string& path) {
  ModelSize s;
  s.nodes = m.graph->nodes.size();
  for (const Value& v : m.graph->values) s.initializers += v.initializer.defined();
  std::error_code ec;
  s.file_bytes = std::filesystem::file_size(path, ec);
  return s;
}

// Largest |diff| over all outputs relative to its tolerance; throws naming the first output out of tolerance.
double compare_outputs(const NamedTensors& ref, const NamedTensors& got, double rtol) {
  EF_CHECK(ref.size() == got.size(), kInternal, "verification failed: the optimized model has {} outputs, not {}",
           got.size(), ref.size());
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const auto& [name, a] = ref[i];
    const Tensor& b = got[i].second;
    EF_CHECK(got[i].first == name, kInternal, "verification failed: output {} is '{}' instead of '{}'", i,
             got[i].first, name);
    EF_CHECK(a.dtype() == b.dtype() && a.shape() == b.shape(), kInternal,
             "verification failed: output '{}' is {}{} instead of {}{}", name, dtype_name(b.dtype()),
             shape_str(b.shape()), dtype_name(a.dtype()), shape_str(a.shape()));
    double ref_max = 0;
    for (int64_t k = 0; k < a.numel(); ++k) {
      double v = std::abs(a.value_as_double(k));
      if (std::isfinite(v)) ref_max = std::max(ref_max, v);
    }
    const double tol = rtol * std::max(1.0, ref_max);
    for (int64_t k = 0; k < a.numel(); ++k) {
      double x = a.value_as_double(k), y = b.value_as_double(k);
      if (std::isnan(x) && std::isnan(y)) continue;
      double diff = x == y ? 0.0 : std::abs(x - y);  // equal infinities are a match
      EF_CHECK(diff <= tol, kInternal,
               "verification failed: output '{}' differs at element {}: original {:.9g}, optimized {:.9g} (|diff| "
               "{:.3g} > {:.3g} = {} * max(1, max|ref|)); bisect with --max-rewrites",
               name, k, x, y, diff, tol, rtol);
      worst = std::max(worst, diff);
    }
  }
  return worst;
}

// --input-shape values, parsed like --shape.
std::map<std::string, Shape> fixed_shapes(const OptimizeFlags& f) {
  InputFlags tmp;
  tmp.shapes = f.input_shapes;
  return tmp.parsed_shapes();
}

// Runs the original (in memory) and the optimized model (re-read from disk, so the export is checked too; with
// --keep-fused that load resolves the ai.edgeforge nodes through our registry and runs our fused kernels).
double verify_models(Model original, const OptimizeFlags& f) {
  // The random inputs take the --input-shape dims (the optimized model accepts only those) unless --shape says.
  InputFlags input_flags = f.inputs;
  const std::map<std::string, Shape> given = input_flags.parsed_shapes();
  for (const std::string& spec : f.input_shapes) {
    if (given.count(spec.substr(0, spec.find('='))) == 0) input_flags.shapes.push_back(spec);
  }
  // Neither session optimizes again; the original runs on the reference kernels (the oracle), the optimized model
  // on the fast kernels it will be deployed with.
  SessionOptions opts;
  opts.input_shapes = input_flags.parsed_shapes();
  opts.optimization_level = 0;
  SessionOptions ref_opts = opts;
  ref_opts.reference_kernels = true;
  auto ref = Session::from_model(std::move(original), ref_opts);
  auto opt = Session::load(f.output, opts);
  NamedTensors inputs = build_inputs(*ref, input_flags, f.json);
  return compare_outputs(ref->run_named(inputs), opt->run_named(inputs), f.rtol);
}

void run_optimize(const OptimizeFlags& f) {
  Model model = load_model(f.model);
  ModelSize before = size_of(model, f.model);
  Model original = model;
  original.graph = std::make_shared<Graph>(*model.graph);  // passes rewrite `model`'s graph in place
  fix_input_shapes(*model.graph, fixed_shapes(f));
  PassOptions options;
  options.level = f.level;
  options.max_rewrites = f.max_rewrites;
  options.fold_max_elements = f.fold_max_elements;
  auto start = std::chrono::steady_clock::now();
  PassReport report = optimize_model(model, options);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  size_t fused_nodes = 0;
  for (const Node& n : model.graph->nodes) fused_nodes += n.domain == kEdgeForgeDomain;
  const size_t optimized_nodes = model.graph->nodes.size();
  int unfused = f.keep_fused ? 0 : unfuse_model(model);
  save_model(model, f.output);
  ModelSize after = size_of(model, f.output);
  double max_diff = 0;
  if (f.verify) max_diff = verify_models(std::move(original), f);

  if (f.json) {
    nlohmann::json j;
    j["model"] = f.model;
    j["output"] = f.output;
    j["level"] = f.level;
    j["iterations"] = report.iterations;
    j["converged"] = report.converged;
    j["budget_exhausted"] = report.budget_exhausted;
    j["total_rewrites"] = report.total_rewrites;
    j["optimize_ms"] = ms;
    for (const PassCount& p : report.passes) j["passes"].push_back({{"name", p.name}, {"rewrites", p.rewrites}});
    j["nodes"] = {{"before", before.nodes}, {"after", after.nodes}, {"optimized", optimized_nodes},
                  {"fused", fused_nodes}, {"unfused", unfused}};
    j["keep_fused"] = f.keep_fused;
    j["initializers"] = {{"before", before.initializers}, {"after", after.initializers}};
    j["file_bytes"] = {{"before", before.file_bytes}, {"after", after.file_bytes}};
    if (f.verify) j["verify"] = {{"passed", true}, {"max_abs_diff", max_diff}, {"seed", f.inputs.seed}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("optimized {} -> {} (level {}, {} rounds{}, {:.1f} ms)\n", f.model, f.output, f.level,
                           report.iterations, report.converged ? "" : ", not converged", ms);
  if (report.budget_exhausted) std::cout << fmt::format("stopped at --max-rewrites {}\n", f.max_rewrites);
  std::cout << fmt::format("  {:<36} {:>8}\n", "pass", "rewrites");
  for (const PassCount& p : report.passes) std::cout << fmt::format("  {:<36} {:>8}\n", p.name, p.rewrites);
  std::cout << fmt::format("nodes        {:>10} -> {}", before.nodes, after.nodes);
  if (fused_nodes > 0) {
    if (f.keep_fused) {
      std::cout << fmt::format(" ({} ai.edgeforge fused nodes kept)", fused_nodes);
    } else {
      std::cout << fmt::format(" ({} in memory, {} fused nodes expanded to standard ONNX; --keep-fused keeps them)",
                               optimized_nodes, fused_nodes);
    }
  }
  std::cout << "\n";
  std::cout << fmt::format("initializers {:>10} -> {}\n", before.initializers, after.initializers);
  std::cout << fmt::format("file bytes   {:>10} -> {}\n", before.file_bytes, after.file_bytes);
  if (f.verify) {
    std::cout << fmt::format("verify: outputs match on seeded random inputs (max |diff| {:.3g}, seed {})\n", max_diff,
                             f.inputs.seed);
  }
}

}  // namespace

CLI::App* add_optimize(CLI::App& app) {
  auto flags = std::make_shared<OptimizeFlags>();
  CLI::App* sub = app.add_subcommand("optimize", "Optimize a model's graph (constant folding, no-ops, duplicates, "
                                                 "dead code; level 2: folding into weights, fusions) and write it as ONNX");
  sub->add_option("model", flags->model, "ONNX model file")->required();
  sub->add_option("--output,-o", flags->output, "Where to write the optimized model")->required();
  sub->add_option("--level", flags->level,
                  "1: basic passes; 2: extended (level 1 plus BatchNormalization/affine folding, fusions)")
      ->default_val(1)
      ->check(CLI::IsMember({1, 2}));
  sub->add_flag("--verify", flags->verify,
                "Run the original and the optimized model on the same seeded random inputs and fail if any output "
                "differs by more than --rtol relative");
  sub->add_option("--rtol", flags->rtol, "Tolerance for --verify: |diff| <= rtol * max(1, max |original|)")
      ->default_val(1e-4);
  sub->add_flag("--json", flags->json, "Print one JSON object");
  sub->add_option("--max-rewrites", flags->max_rewrites, "Stop after N rewrites (to bisect a bad rewrite; -1: all)")
      ->default_val(-1);
  sub->add_option("--fold-max-elements", flags->fold_max_elements,
                  "Constant folding skips nodes whose outputs hold more elements than this")
      ->default_val(int64_t{1} << 20);
  sub->add_option("--input-shape", flags->input_shapes,
                  "Fix an input's dims before optimizing, NAME=d0,d1,... (repeatable); without it dynamic dims stay "
                  "symbolic and no pass assumes a size for them");
  sub->add_flag("--keep-fused", flags->keep_fused,
                "Write ai.edgeforge fused nodes (FusedConv, FusedConvMaxPool, FusedConvDepthwise, FusedGemm, Gelu) "
                "instead of expanding them to standard ONNX; only EdgeForge runs such a model");
  flags->inputs.add_to(*sub);
  sub->callback([flags] { run_optimize(*flags); });
  return sub;
}

}  // namespace ef::cli
