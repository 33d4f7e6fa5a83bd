// Calibration samples for static quantization, read from a folder in one of three layouts:
//   * `.npy` files, one sample each (single-input models);
//   * one sub-folder per sample holding `<input name>.npy` per model input (names made file-safe: '/', ':' -> '_');
//   * image files (png, jpg, bmp, ...) preprocessed into the model's single image input.
// Every sample is checked against the model's declared inputs (dtype, rank, known dims) and against the first
// sample's shapes, so bad data fails with one error naming the file instead of deep inside the model.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "edgeforge/session.h"
#include "io/image.h"

namespace ef {

struct CalibrationSpec {
  std::string dir;
  size_t max_samples = 0;  // 0: every sample in the folder
  // Images only. height/width 0: taken from the model input's static dims. nchw unset: guessed from the input's
  // dims (channels of 1 or 3 at axis 1 -> NCHW, at axis 3 -> NHWC).
  ImagePreprocess image;
  std::optional<bool> nchw;
};

class CalibrationData {
 public:
  enum class Kind { kNpyFiles, kSampleFolders, kImages };

  // Lists the samples; throws kInvalidArgument for an empty or mixed folder, a layout that does not fit the model's
  // inputs, or more samples asked for than the folder holds. `inputs` are the model's graph inputs.
  static CalibrationData open(const CalibrationSpec& spec, const std::vector<IoInfo>& inputs);

  size_t size() const { return samples_.size(); }
  Kind kind() const { return kind_; }
  const std::string& sample_path(size_t i) const { return samples_[i]; }
  // Reads and validates sample i (inputs in model order).
  NamedTensors load(size_t i);

 private:
  Tensor checked(Tensor t, size_t input, const std::string& file);

  Kind kind_ = Kind::kNpyFiles;
  CalibrationSpec spec_;
  std::vector<IoInfo> inputs_;
  std::vector<std::string> samples_;  // files, or folders for kSampleFolders
  std::vector<Shape> first_shapes_;   // shapes of the first sample loaded, per input
};

const char* calibration_kind_name(CalibrationData::Kind kind);

}  // namespace ef
