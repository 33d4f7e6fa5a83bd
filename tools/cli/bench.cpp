// `edgeforge bench MODEL`: latency percentiles, throughput, session creation time and peak RSS.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"

namespace ef::cli {
namespace {

struct BenchFlags {
  std::string model;
  InputFlags inputs;
  int threads = 0;
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

void run_bench(const BenchFlags& f) {
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  EF_CHECK(f.iterations >= 0 && f.warmup >= 0 && f.duration_s >= 0, kInvalidArgument,
           "--iterations, --warmup and --duration must not be negative");
  auto t0 = clock::now();
  SessionOptions opts;
  opts.num_threads = f.threads;
  opts.input_shapes = f.inputs.parsed_shapes();
  auto session = Session::load(f.model, opts);
  NamedTensors inputs = build_inputs(*session, f.inputs, f.json);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : inputs) shapes[name] = t.shape();
  session->prepare(shapes);
  double create_ms = ms_since(t0);

  for (int i = 0; i < f.warmup; ++i) session->run(inputs);
  int iterations = f.iterations > 0 ? f.iterations : (f.duration_s > 0 ? 0 : 50);
  std::vector<double> lat;
  auto start = clock::now();
  while (true) {
    if (iterations > 0 && static_cast<int>(lat.size()) >= iterations) break;
    if (iterations == 0 && ms_since(start) >= f.duration_s * 1000.0 && !lat.empty()) break;
    auto t = clock::now();
    session->run(inputs);
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
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (lat.size() >= 100) std::cerr << "\r";
  std::cout << fmt::format("model            {}\n", f.model);
  std::cout << fmt::format("threads          {}\n", session->num_threads());
  std::cout << fmt::format("session create   {:.2f} ms\n", create_ms);
  std::cout << fmt::format("iterations       {} (warmup {})\n", lat.size(), f.warmup);
  std::cout << fmt::format("latency ms       min {:.3f}  p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  max {:.3f}\n",
                           sorted.front(), percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99),
                           sorted.back());
  std::cout << fmt::format("throughput       {:.2f} runs/s\n", throughput);
  std::cout << fmt::format("peak RSS         {:.1f} MiB\n", peak_rss_mb());
  std::cout << fmt::format("planned arena    {:.2f} MiB\n", static_cast<double>(session->planned_arena_bytes()) / 1048576.0);
}

}  // namespace

CLI::App* add_bench(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* sub = app.add_subcommand("bench", "Measure latency percentiles, throughput, session creation time and "
                                              "peak memory");
  sub->add_option("model", flags->model, "ONNX model file")->required();
  flags->inputs.add_to(*sub);
  sub->add_option("--threads", flags->threads, "Intra-op threads (0: one per core)")->default_val(0);
  sub->add_option("--warmup", flags->warmup, "Untimed runs before measuring")->default_val(5);
  auto* it = sub->add_option("--iterations,-n", flags->iterations, "Timed runs (default 50)");
  sub->add_option("--duration", flags->duration_s, "Measure for this many seconds instead")->excludes(it);
  sub->add_flag("--json", flags->json, "Print one JSON object");
  sub->callback([flags] { run_bench(*flags); });
  return sub;
}

}  // namespace ef::cli
