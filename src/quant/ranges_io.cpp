// Reading and writing calibration range files (format in ranges_io.h).
#include "quant/ranges_io.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/file_util.h"

namespace ef {

void save_ranges(const RangesFile& file, const std::string& path) {
  nlohmann::json j;
  j["format"] = "edgeforge-ranges";
  j["version"] = 1;
  j["method"] = file.method;
  j["input_shapes"] = nlohmann::json::object();
  for (const auto& [name, shape] : file.input_shapes) j["input_shapes"][name] = shape;
  j["tensors"] = nlohmann::json::object();
  for (const auto& [name, r] : file.ranges) j["tensors"][name] = {{"min", r.min}, {"max", r.max}};
  write_file_bytes(path, j.dump(1) + "\n");
}

RangesFile load_ranges(const std::string& path) {
  const std::string text = read_file_bytes(path, uint64_t{256} << 20);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail(ErrorCode::kInvalidArgument, fmt::format("ranges file '{}' is not valid JSON: {}", path, e.what()));
  }
  EF_CHECK(j.is_object() && j.value("format", "") == "edgeforge-ranges", kInvalidArgument,
           "ranges file '{}' is not an edgeforge ranges file (\"format\": \"edgeforge-ranges\" missing)", path);
  EF_CHECK(j.value("version", 0) == 1, kInvalidArgument, "ranges file '{}': unsupported version", path);
  RangesFile file;
  file.method = j.value("method", "");
  try {
    if (j.contains("input_shapes")) {
      for (const auto& [name, dims] : j.at("input_shapes").items()) {
        file.input_shapes[name] = dims.get<Shape>();
      }
    }
    for (const auto& [name, r] : j.at("tensors").items()) {
      const float lo = r.at("min").get<float>(), hi = r.at("max").get<float>();
      EF_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, kInvalidArgument,
               "ranges file '{}': tensor '{}' has range [{}, {}]", path, name, lo, hi);
      file.ranges[name] = {lo, hi};
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kInvalidArgument, fmt::format("ranges file '{}' is malformed: {}", path, e.what()));
  }
  return file;
}

}  // namespace ef
