// `edgeforge run MODEL`: run once and save the outputs.
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli_common.h"
#include "io/npy.h"

namespace ef::cli {
namespace {

struct RunFlags {
  std::string model;
  std::string output_dir;
  std::string save_inputs_dir;
  InputFlags inputs;
  ExecFlags exec;
};

void run_run(const RunFlags& f) {
  auto session = Session::load(f.model, f.exec.session_options(f.inputs));
  NamedTensors inputs = build_inputs(*session, f.inputs, false);
  if (!f.save_inputs_dir.empty()) std::filesystem::create_directories(f.save_inputs_dir);
  for (const auto& [name, t] : inputs) {
    std::cout << fmt::format("input  {:<24} {}\n", name, tensor_summary(t));
    if (!f.save_inputs_dir.empty()) {
      write_npy(t, (std::filesystem::path(f.save_inputs_dir) / (sanitize_name(name) + ".npy")).string());
    }
  }
  NamedTensors outputs = session->run_named(inputs);
  if (!f.output_dir.empty()) std::filesystem::create_directories(f.output_dir);
  for (const auto& [name, t] : outputs) {
    std::cout << fmt::format("output {:<24} {}\n", name, tensor_summary(t));
    if (!f.output_dir.empty()) {
      write_npy(t, (std::filesystem::path(f.output_dir) / (sanitize_name(name) + ".npy")).string());
    }
  }
  if (!f.output_dir.empty()) std::cout << fmt::format("wrote {} outputs to {}\n", outputs.size(), f.output_dir);
}

}  // namespace

CLI::App* add_run(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* sub = app.add_subcommand("run", "Run a model once; print a summary of each output and optionally save "
                                            "them as DIR/<output name>.npy");
  sub->add_option("model", flags->model, "ONNX model file")->required();
  flags->inputs.add_to(*sub);
  sub->add_option("--output-dir,-o", flags->output_dir, "Folder for the outputs ('/' and ':' in names become '_')");
  sub->add_option("--save-inputs", flags->save_inputs_dir,
                  "Also save the inputs used (given or random) as DIR/<input name>.npy, to replay elsewhere");
  flags->exec.add_to(*sub);
  sub->callback([flags] { run_run(*flags); });
  return sub;
}

}  // namespace ef::cli
