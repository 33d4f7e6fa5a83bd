#include "cli_common.h"

#include "kernels/cpu/isa.h"

#include <cmath>
#include <iostream>
#include <random>

#include <fmt/format.h>

#include "core/dispatch.h"
#include "io/npy.h"

namespace ef::cli {

namespace {
std::pair<std::string, std::string> split_assignment(const std::string& s, const char* flag) {
  size_t eq = s.find('=');
  EF_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < s.size(), kInvalidArgument,
           "{} expects NAME=VALUE, got '{}'", flag, s);
  return {s.substr(0, eq), s.substr(eq + 1)};
}
}  // namespace

void ExecFlags::add_to(CLI::App& app) {
  app.add_option("--threads", threads, "Intra-op threads (0: one per core)")->default_val(0);
  app.add_option("--opt-level", opt_level,
                 "Graph optimization before running: 0 none, 1 basic, 2 extended (fusions)")
      ->default_val(2)
      ->check(CLI::IsMember({0, 1, 2}));
  app.add_option("--isa", isa,
                 "Cap the SIMD instruction set of the CPU kernels (e.g. AVX2, SSE4; default: the best this CPU has)");
  app.add_flag("--reference-kernels", reference_kernels,
               "Run every node on its plain reference kernel instead of the fast CPU kernels (for debugging)");
  app.add_option("--max-memory", max_memory,
                 "Refuse models whose weights plus planned activation memory exceed BYTES (K/M/G/T suffixes; "
                 "default: physical memory)");
  app.add_option("--max-initializer-bytes", max_initializer_bytes,
                 "Refuse models whose initializers take more than BYTES in total (default: --max-memory)");
  app.add_option("--max-tensor-elements", max_tensor_elements, "Refuse any one tensor with more elements than N")
      ->default_val(max_tensor_elements)
      ->check(CLI::PositiveNumber);
  app.add_option("--max-nodes", max_nodes, "Refuse models with more than N nodes (subgraphs included)")
      ->default_val(max_nodes)
      ->check(CLI::PositiveNumber);
}

uint64_t parse_byte_size(const std::string& text, const char* flag) {
  size_t used = 0;
  unsigned long long value = 0;
  try {
    if (!text.empty() && text[0] != '-') value = std::stoull(text, &used);
  } catch (const std::logic_error&) {
    used = 0;
  }
  EF_CHECK(used > 0, kInvalidArgument, "{} {}: expected a byte count such as 4096, 512M or 2G", flag, text);
  std::string suffix = text.substr(used);
  if (suffix.size() == 2 && (suffix[1] == 'B' || suffix[1] == 'b')) suffix.pop_back();  // "512MB"
  int shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (suffix == "T" || suffix == "t") shift = 40;
  else EF_CHECK(suffix.empty(), kInvalidArgument, "{} {}: unknown size suffix '{}' (K, M, G, T)", flag, text, suffix);
  EF_CHECK(value <= (~0ULL >> shift), kInvalidArgument, "{} {}: too large", flag, text);
  return static_cast<uint64_t>(value) << shift;
}

SessionOptions ExecFlags::session_options(const InputFlags& inputs) const {
  if (!isa.empty() && !cpu::limit_isa(isa)) {
    std::string names;
    for (const std::string& n : cpu::available_isas()) names += (names.empty() ? "" : ", ") + n;
    fail(ErrorCode::kInvalidArgument, fmt::format("--isa {}: not available on this CPU (available: {})", isa, names));
  }
  SessionOptions opts;
  opts.num_threads = threads;
  opts.optimization_level = opt_level;
  opts.reference_kernels = reference_kernels;
  if (!max_memory.empty()) opts.max_memory_bytes = parse_byte_size(max_memory, "--max-memory");
  if (!max_initializer_bytes.empty()) {
    opts.max_initializer_bytes = parse_byte_size(max_initializer_bytes, "--max-initializer-bytes");
  }
  opts.max_tensor_elements = max_tensor_elements;
  opts.max_nodes = max_nodes;
  opts.input_shapes = inputs.parsed_shapes();
  return opts;
}

void InputFlags::add_to(CLI::App& app) {
  app.add_option("--input,-i", inputs, "Input tensor NAME=FILE (.npy or ONNX TensorProto .pb); repeatable. "
                                       "Inputs not given are filled with seeded random data.");
  app.add_option("--shape", shapes, "Shape for a dynamic input NAME=d0,d1,...; repeatable");
  app.add_option("--seed", seed, "Seed for random inputs")->default_val(0);
}

std::map<std::string, Shape> InputFlags::parsed_shapes() const {
  std::map<std::string, Shape> out;
  for (const std::string& s : shapes) {
    auto [name, dims] = split_assignment(s, "--shape");
    Shape shape;
    size_t pos = 0;
    while (pos <= dims.size()) {
      size_t comma = dims.find(',', pos);
      std::string d = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      try {
        size_t used = 0;
        long long v = std::stoll(d, &used);
        EF_CHECK(used == d.size() && v >= 0, kInvalidArgument, "bad dimension '{}'", d);
        shape.push_back(v);
      } catch (const std::logic_error&) {
        fail(ErrorCode::kInvalidArgument, fmt::format("--shape {}: '{}' is not a dimension", s, d));
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    shape_numel(shape);  // rejects overflow early
    out[name] = shape;
  }
  return out;
}

Tensor random_tensor(DType dtype, const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::zeros(dtype, shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      double u = uniform(rng);
      if constexpr (std::is_same_v<T, bool>) {
        p[i] = u < 0.5;
      } else if constexpr (std::is_integral_v<T>) {
        p[i] = static_cast<T>(static_cast<int>(u * 10));
      } else {
        p[i] = static_cast<T>(static_cast<compute_t<T>>(u));
      }
    }
  });
  return t;
}

NamedTensors build_inputs(const Session& session, const InputFlags& flags, bool quiet) {
  std::map<std::string, Tensor> given;
  for (const std::string& s : flags.inputs) {
    auto [name, file] = split_assignment(s, "--input");
    bool known = false;
    for (const IoInfo& info : session.inputs()) known |= info.name == name;
    EF_CHECK(known, kInvalidArgument, "--input names '{}', which is not a model input", name);
    given[name] = read_tensor_file(file);
  }
  std::map<std::string, Shape> shapes = flags.parsed_shapes();
  NamedTensors inputs;
  uint64_t seed = flags.seed;
  for (const IoInfo& info : session.inputs()) {
    auto g = given.find(info.name);
    if (g != given.end()) {
      inputs.emplace_back(info.name, g->second);
      continue;
    }
    Shape shape;
    auto s = shapes.find(info.name);
    if (s != shapes.end()) {
      shape = s->second;
    } else {
      EF_CHECK(info.has_shape, kInvalidArgument, "input '{}' has no declared shape: give one with --shape {}=d0,d1,...",
               info.name, info.name);
      bool dynamic = false;
      for (int64_t d : info.dims) {
        shape.push_back(d >= 0 ? d : 1);
        dynamic |= d < 0;
      }
      if (dynamic && !quiet) {
        std::cerr << fmt::format("note: input '{}' {} has dynamic dims; using {} (set with --shape)\n", info.name,
                                 info.shape_str(), shape_str(shape));
      }
    }
    inputs.emplace_back(info.name, random_tensor(info.dtype, shape, seed++));
  }
  return inputs;
}

TensorStatsValues tensor_stats(const Tensor& t) {
  TensorStatsValues s;
  if (t.numel() == 0) return s;
  double sum = 0;
  s.min = INFINITY;
  s.max = -INFINITY;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.value_as_double(i);
    if (std::isnan(v)) {
      ++s.nan_count;
      continue;
    }
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    sum += v;
  }
  int64_t n = t.numel() - s.nan_count;
  s.mean = n > 0 ? sum / static_cast<double>(n) : NAN;
  return s;
}

std::string tensor_summary(const Tensor& t) {
  TensorStatsValues s = tensor_stats(t);
  std::string out = fmt::format("{}{} min={:.6g} max={:.6g} mean={:.6g}", dtype_name(t.dtype()), shape_str(t.shape()),
                                s.min, s.max, s.mean);
  if (s.nan_count) out += fmt::format(" nan={}", s.nan_count);
  return out;
}

std::string sanitize_name(const std::string& name) { return file_safe_name(name); }

}  // namespace ef::cli
