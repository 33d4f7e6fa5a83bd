// `edgeforge inspect MODEL`: what is in a model and what it costs.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/model_stats.h"
#include "cli_common.h"
#include "onnx/model_io.h"

namespace ef::cli {
namespace {

struct InspectFlags {
  std::string model;
  std::vector<std::string> shapes;
  bool json = false;
  bool layers = false;
};

nlohmann::json io_json(const IoInfo& io) {
  nlohmann::json dims = nlohmann::json::array();
  for (size_t i = 0; i < io.dims.size(); ++i) {
    if (io.dims[i] >= 0) {
      dims.push_back(io.dims[i]);
    } else {
      dims.push_back(io.dim_params[i].empty() ? nlohmann::json(nullptr) : nlohmann::json(io.dim_params[i]));
    }
  }
  return {{"name", io.name}, {"dtype", dtype_name(io.dtype)}, {"shape", io.has_shape ? dims : nlohmann::json(nullptr)}};
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.2f} {}", b, units[u]);
}

std::string human_count(double v) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return fmt::format("{:.2f}{}", v, units[u]);
}

void run_inspect(const InspectFlags& f) {
  Model model = load_model(f.model);
  SessionOptions opts;
  opts.num_threads = 1;
  InputFlags input_flags;
  input_flags.shapes = f.shapes;
  auto shapes = input_flags.parsed_shapes();
  auto session = Session::from_model(model, opts);
  std::vector<Shape> input_shapes;
  std::vector<std::string> assumed;
  for (const IoInfo& info : session->inputs()) {
    auto it = shapes.find(info.name);
    if (it != shapes.end()) {
      input_shapes.push_back(it->second);
      continue;
    }
    Shape s;
    for (int64_t d : info.dims) s.push_back(d >= 0 ? d : 1);
    if (s != Shape(info.dims.begin(), info.dims.end())) assumed.push_back(info.name + "=" + shape_str(s));
    input_shapes.push_back(s);
  }
  ModelStats st = compute_model_stats(session->model(), input_shapes);
  const Model& m = session->model();
  if (f.json) {
    nlohmann::json j;
    j["model"] = f.model;
    j["producer"] = {{"name", m.producer_name}, {"version", m.producer_version}};
    j["ir_version"] = m.ir_version;
    j["opsets"] = nlohmann::json::object();
    for (const auto& [d, v] : m.opsets) j["opsets"][d.empty() ? "ai.onnx" : d] = v;
    j["inputs"] = nlohmann::json::array();
    for (const auto& io : session->inputs()) j["inputs"].push_back(io_json(io));
    j["outputs"] = nlohmann::json::array();
    for (const auto& io : session->outputs()) j["outputs"].push_back(io_json(io));
    j["assumed_input_shapes"] = assumed;
    j["node_count"] = m.graph->nodes.size();
    j["op_histogram"] = st.op_histogram;
    j["parameters"] = {{"count", st.param_count}, {"bytes", st.param_bytes}};
    j["macs"] = st.total_macs;
    j["flops"] = st.total_flops;
    j["peak_activation_bytes"] = st.arena_bytes;
    j["activation_bytes_without_reuse"] = st.activation_bytes_no_reuse;
    j["shapes_complete"] = st.shapes_complete;
    j["layers"] = nlohmann::json::array();
    for (const auto& l : st.layers) {
      j["layers"].push_back({{"name", l.name}, {"op", l.op_type}, {"outputs", l.output_shapes}, {"macs", l.macs},
                             {"flops", l.flops}, {"output_bytes", l.output_bytes}, {"folded", l.folded}});
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("Model      {}\n", f.model);
  std::cout << fmt::format("Producer   {} {}\n", m.producer_name, m.producer_version);
  std::string opsets;
  for (const auto& [d, v] : m.opsets) opsets += fmt::format("{}{}={}", opsets.empty() ? "" : ", ", d.empty() ? "ai.onnx" : d, v);
  std::cout << fmt::format("IR         {}   opsets: {}\n", m.ir_version, opsets);
  for (const auto& io : session->inputs()) {
    std::cout << fmt::format("Input      {:<24} {}{}\n", io.name, dtype_name(io.dtype), io.shape_str());
  }
  for (const auto& io : session->outputs()) {
    std::cout << fmt::format("Output     {:<24} {}{}\n", io.name, dtype_name(io.dtype), io.shape_str());
  }
  if (!assumed.empty()) std::cout << fmt::format("Assumed    {} (dynamic dims set to 1; use --shape)\n", fmt::join(assumed, " "));
  std::cout << fmt::format("Nodes      {}\n", m.graph->nodes.size());
  std::cout << fmt::format("Params     {} ({})\n", human_count(static_cast<double>(st.param_count)),
                           human_bytes(static_cast<double>(st.param_bytes)));
  std::cout << fmt::format("MACs       {}   FLOPs {}{}\n", human_count(static_cast<double>(st.total_macs)),
                           human_count(static_cast<double>(st.total_flops)), st.shapes_complete ? "" : " (lower bound)");
  std::cout << fmt::format("Memory     peak activations {} (planned arena; {} without reuse)\n",
                           human_bytes(static_cast<double>(st.arena_bytes)),
                           human_bytes(static_cast<double>(st.activation_bytes_no_reuse)));
  std::cout << "Ops       ";
  for (const auto& [op, n] : st.op_histogram) std::cout << " " << op << "=" << n;
  std::cout << "\n";
  if (f.layers) {
    std::cout << fmt::format("\n{:<40} {:<20} {:>12} {:>12}  {}\n", "layer", "op", "MACs", "out bytes", "output");
    for (const auto& l : st.layers) {
      std::cout << fmt::format("{:<40} {:<20} {:>12} {:>12}  {}{}\n", l.name.substr(0, 40), l.op_type,
                               human_count(static_cast<double>(l.macs)), l.output_bytes,
                               l.output_shapes.empty() ? "" : l.output_shapes[0], l.folded ? " (folded)" : "");
    }
  }
}

}  // namespace

CLI::App* add_inspect(CLI::App& app) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* sub = app.add_subcommand("inspect", "Show a model's IO, opsets, op histogram, parameters, MACs/FLOPs "
                                                "and planned activation memory");
  sub->add_option("model", flags->model, "ONNX model file")->required();
  sub->add_option("--shape", flags->shapes, "Shape for a dynamic input NAME=d0,d1,... (default: dynamic dims = 1)");
  sub->add_flag("--json", flags->json, "Machine-readable output (includes per-layer costs)");
  sub->add_flag("--layers", flags->layers, "Print the per-layer table");
  sub->callback([flags] { run_inspect(*flags); });
  return sub;
}

}  // namespace ef::cli
