// Input samples from a folder, in the layout `edgeforge quantize --calib` reads: `.npy` files, one sample each
// (single-input models), or one sub-folder per sample holding `<input name>.npy` ('/', ':' -> '_'). Samples are
// taken in file-name order. Each tensor is checked against the model's declared input (dtype, rank, known dims).
// (Header-only stand-in until the calibration-data reader of src/quant is shared.)
#pragma once
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_common.h"
#include "io/npy.h"

namespace ef::cli {

class SampleFolder {
 public:
  static SampleFolder open(const std::string& dir, const std::vector<IoInfo>& inputs) {
    namespace fs = std::filesystem;
    std::error_code ec;
    EF_CHECK(fs::is_directory(dir, ec), kInvalidArgument, "--data {}: not a folder", dir);
    SampleFolder f;
    f.dir_ = dir;
    f.inputs_ = inputs;
    size_t files = 0, folders = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      if (e.is_directory()) {
        ++folders;
      } else {
        EF_CHECK(e.path().extension() == ".npy", kInvalidArgument,
                 "--data {}: '{}' is neither a .npy sample nor a sample folder", dir, name);
        ++files;
      }
      f.samples_.push_back(e.path().string());
    }
    EF_CHECK(!f.samples_.empty(), kInvalidArgument, "--data {}: no samples (.npy files or sample folders)", dir);
    EF_CHECK(files == 0 || folders == 0, kInvalidArgument,
             "--data {}: mixes {} .npy files and {} sample folders; use one layout", dir, files, folders);
    f.folders_ = folders > 0;
    EF_CHECK(f.folders_ || inputs.size() == 1, kInvalidArgument,
             "--data {}: the model has {} inputs, so each sample must be a folder holding <input name>.npy", dir,
             inputs.size());
    std::sort(f.samples_.begin(), f.samples_.end());
    return f;
  }

  size_t size() const { return samples_.size(); }

  NamedTensors load(size_t i) const {
    NamedTensors out;
    for (const IoInfo& info : inputs_) {
      std::string file = folders_ ? (std::filesystem::path(samples_[i]) / (sanitize_name(info.name) + ".npy")).string()
                                  : samples_[i];
      EF_CHECK(!folders_ || std::filesystem::exists(file), kInvalidArgument,
               "--data: sample folder {} has no {} for input '{}'", samples_[i],
               sanitize_name(info.name) + ".npy", info.name);
      Tensor t = read_npy(file);
      EF_CHECK(t.dtype() == info.dtype, kInvalidArgument, "--data: {} is {} but input '{}' is {}", file,
               dtype_name(t.dtype()), info.name, dtype_name(info.dtype));
      bool fits = !info.has_shape || t.rank() == info.dims.size();
      for (size_t d = 0; fits && info.has_shape && d < info.dims.size(); ++d) {
        fits = info.dims[d] < 0 || info.dims[d] == t.dim(d);
      }
      EF_CHECK(fits, kInvalidArgument, "--data: {} has shape {} but input '{}' is {}", file, shape_str(t.shape()),
               info.name, info.shape_str());
      out.emplace_back(info.name, t);
    }
    return out;
  }

 private:
  std::string dir_;
  std::vector<IoInfo> inputs_;
  std::vector<std::string> samples_;
  bool folders_ = false;
};

}  // namespace ef::cli
