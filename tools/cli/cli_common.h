// Pieces every `edgeforge` subcommand shares: the --input/--shape flags, random input generation, summaries.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "edgeforge/session.h"

namespace ef::cli {

// Flags that pick the model's inputs, shared by run and bench.
struct InputFlags {
  std::vector<std::string> inputs;  // NAME=FILE
  std::vector<std::string> shapes;  // NAME=d0,d1,...
  uint64_t seed = 0;
  void add_to(CLI::App& app);
  std::map<std::string, Shape> parsed_shapes() const;
};

// Flags that shape how a session executes, shared by run and bench.
struct ExecFlags {
  int threads = 0;
  int opt_level = 2;
  bool reference_kernels = false;
  std::string isa;  // empty: the best the CPU supports
  // Resource limits (SessionOptions::max_*); byte sizes as given ("512M", "2G"), parsed by session_options.
  std::string max_memory;
  std::string max_initializer_bytes;
  int64_t max_tensor_elements = int64_t{1} << 32;
  int64_t max_nodes = 1'000'000;
  void add_to(CLI::App& app);
  // Also applies --isa (process-wide), so call it once, before creating the session.
  SessionOptions session_options(const InputFlags& inputs) const;
};

// Builds a full input set: files given with --input, the rest random (seeded) with the shape from --shape, the
// model's declared shape, or 1 for dynamic dims (reported on stderr). Validates names, dtypes and shapes.
NamedTensors build_inputs(const Session& session, const InputFlags& flags, bool quiet);

// Random tensor of `dtype`/`shape`: floats uniform in [0,1), integers in [0,10), bools fair coin.
Tensor random_tensor(DType dtype, const Shape& shape, uint64_t seed);

// "float32[1,1000] min=-3.2 max=9.1 mean=0.0012"
std::string tensor_summary(const Tensor& t);
struct TensorStatsValues {
  double min = 0, max = 0, mean = 0;
  int64_t nan_count = 0;
};
TensorStatsValues tensor_stats(const Tensor& t);

// "4096", "64K", "512M", "2G", "1T" (binary multiples) -> bytes; throws kInvalidArgument naming `flag`.
uint64_t parse_byte_size(const std::string& text, const char* flag);

// "name/with:chars" -> "name_with_chars" (output file names).
std::string sanitize_name(const std::string& name);

// Subcommand registration: each adds itself to `app` and returns the flag the dispatcher checks.
CLI::App* add_inspect(CLI::App& app);
CLI::App* add_run(CLI::App& app);
CLI::App* add_bench(CLI::App& app);
CLI::App* add_optimize(CLI::App& app);
CLI::App* add_quantize(CLI::App& app);
CLI::App* add_compare(CLI::App& app);

}  // namespace ef::cli
