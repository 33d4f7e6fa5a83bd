// Calibration: runs the float model with our Session on each sample and gathers statistics of chosen intermediate
// tensors. The tensors are observed by listing them as extra graph outputs of a copy of the model
// (runtime/value_capture.h: the executor's hot path knows nothing about calibration, and no pass fuses them away),
// run without optimization.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/calib_data.h"
#include "quant/histogram.h"

namespace ef {

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  double percentile = 99.99;
  int num_threads = 0;
  // Called after each sample with (samples done, total).
  std::function<void(size_t, size_t)> progress;
};

// Ranges of `tensors` (names of float32 values of `model`'s graph: graph inputs or node outputs) over every sample.
std::map<std::string, TensorRange> calibrate(const Model& model, const std::vector<std::string>& tensors,
                                             CalibrationData& data, const CalibrationOptions& options);

}  // namespace ef
