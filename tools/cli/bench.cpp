// `edgeforge bench MODEL`: latency percentiles, throughput, session creation time and peak RSS.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "kernels/cpu/isa.h"

namespace ef::cli {
namespace {

struct BenchFlags {
  std::string model;
  InputFlags inputs;
  ExecFlags exec;
  bool profile = false;
  int profile_top = 25;
  int warmup = 5;
  int iterations = 0;
  double duration_s = 0;
  bool json = false;
};

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double pos = p / 100.0 * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<size_t>(pos);
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

struct OpTotal {
  std::string op_type, kernel;
  int nodes = 0;
  double seconds = 0;
};

// Time per (op type, kernel), largest first.
std::vector<OpTotal> by_op(const std::vector<NodeProfile>& profile) {
  std::map<std::pair<std::string, std::string>, OpTotal> totals;
  for (const NodeProfile& p : profile) {
    OpTotal& t = totals[{p.op_type, p.kernel}];
    t.op_type = p.op_type;
    t.kernel = p.kernel;
    t.nodes++;
    t.seconds += p.seconds;
  }
  std::vector<OpTotal> out;
  for (auto& [key, t] : totals) out.push_back(t);
  std::sort(out.begin(), out.end(), [](const OpTotal& a, const OpTotal& b) { return a.seconds > b.seconds; });
  return out;
}

nlohmann::json profile_json(const std::vector<NodeProfile>& profile, size_t runs) {
  nlohmann::json j;
  const double per_run = 1000.0 / static_cast<double>(std::max<size_t>(runs, 1));
  for (const OpTotal& t : by_op(profile)) {
    j["ops"].push_back({{"op_type", t.op_type}, {"kernel", t.kernel}, {"nodes", t.nodes}, {"ms", t.seconds * per_run}});
  }
  for (const NodeProfile& p : profile) {
    j["nodes"].push_back({{"node", p.node},
                          {"op_type", p.op_type},
                          {"kernel", p.kernel},
                          {"input_shapes", p.input_shapes},
                          {"output_shapes", p.output_shapes},
                          {"ms", p.seconds * per_run}});
  }
  return j;
}

void print_profile(const std::vector<NodeProfile>& profile, size_t runs, int top) {
  const double per_run = 1000.0 / static_cast<double>(std::max<size_t>(runs, 1));
  double total = 0;
  for (const NodeProfile& p : profile) total += p.seconds;
  std::cout << fmt::format("\nper op type (mean ms per run)\n  {:<24} {:<28} {:>5} {:>9} {:>6}\n", "op", "kernel",
                           "nodes", "ms", "%");
  for (const OpTotal& t : by_op(profile)) {
    std::cout << fmt::format("  {:<24} {:<28} {:>5} {:>9.3f} {:>5.1f}%\n", t.op_type, t.kernel, t.nodes,
                             t.seconds * per_run, total > 0 ? 100.0 * t.seconds / total : 0.0);
  }
  std::vector<const NodeProfile*> nodes;
  for (const NodeProfile& p : profile) nodes.push_back(&p);
  std::sort(nodes.begin(), nodes.end(), [](const NodeProfile* a, const NodeProfile* b) { return a->seconds > b->seconds; });
  std::cout << fmt::format("\nslowest nodes\n");
  for (size_t i = 0; i < nodes.size() && static_cast<int>(i) < top; ++i) {
    std::cout << fmt::format("  {:<40} {:<18} {:<28} {:>9.3f}\n", nodes[i]->node.substr(0, 40), nodes[i]->op_type,
                             nodes[i]->kernel, nodes[i]->seconds * per_run);
  }
}

void run_bench(const BenchFlags& f) {
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  EF_CHECK(f.iterations >= 0 && f.warmup >= 0 && f.duration_s >= 0, kInvalidArgument,
           "--iterations, --warmup and --duration must not be negative");
  auto t0 = clock::now();
  auto session = Session::load(f.model, f.exec.session_options(f.inputs));
  NamedTensors inputs = build_inputs(*session, f.inputs, f.json);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : inputs) shapes[name] = t.shape();
  session->prepare(shapes);
  double create_ms = ms_since(t0);

  for (int i = 0; i < f.warmup; ++i) session->run(inputs);
  int iterations = f.iterations > 0 ? f.iterations : (f.duration_s > 0 ? 0 : 50);
  std::vector<double> lat;
  std::vector<NodeProfile> profile;
  auto start = clock::now();
  while (true) {
    if (iterations > 0 && static_cast<int>(lat.size()) >= iterations) break;
    if (iterations == 0 && ms_since(start) >= f.duration_s * 1000.0 && !lat.empty()) break;
    auto t = clock::now();
    if (f.profile) {
      session->run_profiled(inputs, profile);
    } else {
      session->run(inputs);
    }
    lat.push_back(ms_since(t));
    if (!f.json && lat.size() % 100 == 0) std::cerr << fmt::format("\r{} runs...", lat.size()) << std::flush;
  }
  double total_ms = ms_since(start);
  std::vector<double> sorted = lat;
  std::sort(sorted.begin(), sorted.end());
  double throughput = static_cast<double>(lat.size()) / (total_ms / 1000.0);
  if (f.json) {
    nlohmann::json j;
    j["model"] = f.model;
    j["latency_ms"] = {{"min", sorted.front()},          {"p50", percentile(sorted, 50)},
                       {"p90", percentile(sorted, 90)},  {"p99", percentile(sorted, 99)},
                       {"max", sorted.back()},           {"mean", total_ms / static_cast<double>(lat.size())}};
    j["throughput_per_s"] = throughput;
    j["session_create_ms"] = create_ms;
    j["peak_rss_mb"] = peak_rss_mb();
    j["threads"] = session->num_threads();
    j["iterations"] = lat.size();
    j["warmup"] = f.warmup;
    j["planned_arena_bytes"] = session->planned_arena_bytes();
    j["optimization_level"] = f.exec.opt_level;
    j["isa"] = f.exec.reference_kernels ? "reference" : cpu::active_isa();
    if (f.profile) j["profile"] = profile_json(profile, lat.size());
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (lat.size() >= 100) std::cerr << "\r";
  std::cout << fmt::format("model            {}\n", f.model);
  std::cout << fmt::format("threads          {}\n", session->num_threads());
  std::cout << fmt::format("kernels          {}\n", f.exec.reference_kernels ? "reference" : "cpu (" + cpu::active_isa() + ")");
  std::cout << fmt::format("session create   {:.2f} ms\n", create_ms);
  std::cout << fmt::format("iterations       {} (warmup {})\n", lat.size(), f.warmup);
  std::cout << fmt::format("latency ms       min {:.3f}  p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  max {:.3f}\n",
                           sorted.front(), percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99),
                           sorted.back());
  std::cout << fmt::format("throughput       {:.2f} runs/s\n", throughput);
  std::cout << fmt::format("peak RSS         {:.1f} MiB\n", peak_rss_mb());
  std::cout << fmt::format("planned arena    {:.2f} MiB\n", static_cast<double>(session->planned_arena_bytes()) / 1048576.0);
  if (f.profile) print_profile(profile, lat.size(), f.profile_top);
}

}  // namespace

CLI::App* add_bench(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* sub = app.add_subcommand("bench", "Measure latency percentiles, throughput, session creation time and "
                                              "peak memory");
  sub->add_option("model", flags->model, "ONNX model file")->required();
  flags->inputs.add_to(*sub);
  flags->exec.add_to(*sub);
  sub->add_flag("--profile", flags->profile, "Time every node; print the time per op type and the slowest nodes");
  sub->add_option("--profile-top", flags->profile_top, "Slowest nodes to list with --profile")->default_val(25);
  sub->add_option("--warmup", flags->warmup, "Untimed runs before measuring")->default_val(5);
  auto* it = sub->add_option("--iterations,-n", flags->iterations, "Timed runs (default 50)");
  sub->add_option("--duration", flags->duration_s, "Measure for this many seconds instead")->excludes(it);
  sub->add_flag("--json", flags->json, "Print one JSON object");
  sub->callback([flags] { run_bench(*flags); });
  return sub;
}

}  // namespace ef::cli
