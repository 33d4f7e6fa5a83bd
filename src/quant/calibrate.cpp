// Running calibration samples through the float model and reducing the observed tensors to ranges.
#include "quant/calibrate.h"

#include <algorithm>
#include <memory>
#include <set>

#include "edgeforge/session.h"
#include "runtime/value_capture.h"

namespace ef {

std::map<std::string, TensorRange> calibrate(const Model& model, const std::vector<std::string>& tensors,
                                             CalibrationData& data, const CalibrationOptions& options) {
  EF_CHECK(data.size() > 0, kInvalidArgument, "no calibration samples");
  SessionOptions session_options;
  session_options.num_threads = options.num_threads;
  session_options.optimization_level = 0;  // the model is already optimized; fusions would hide observed tensors
  // Graph inputs are observed from the samples; everything else is captured as an extra output.
  std::vector<std::string> computed;
  std::set<std::string> inputs;
  for (int v : model.graph->inputs) inputs.insert(model.graph->values[static_cast<size_t>(v)].name);
  for (const std::string& name : tensors) {
    if (!inputs.count(name)) computed.push_back(name);
  }
  auto session = Session::from_model(with_extra_outputs(model, computed), session_options);

  const bool histogram = options.method != CalibrationMethod::kMinMax;
  std::map<std::string, TensorStats> stats;
  for (const std::string& name : tensors) stats.emplace(name, TensorStats(histogram));
  auto observe = [&](const std::string& name, const Tensor& t) {
    auto it = stats.find(name);
    if (it == stats.end()) return;
    EF_CHECK(t.dtype() == DType::kFloat32, kInternal, "calibration tensor '{}' is {}, not float32", name,
             dtype_name(t.dtype()));
    it->second.add(t.data<float>(), t.numel());
  };
  for (size_t i = 0; i < data.size(); ++i) {
    NamedTensors inputs = data.load(i);
    for (const auto& [name, t] : inputs) observe(name, t);
    NamedTensors outputs;
    try {
      outputs = session->run_named(inputs);
    } catch (const Error& e) {
      throw e.with_context(fmt::format("calibration sample '{}'", data.sample_path(i)));
    }
    for (const auto& [name, t] : outputs) observe(name, t);
    if (options.progress) options.progress(i + 1, data.size());
  }
  std::map<std::string, TensorRange> ranges;
  for (const auto& [name, s] : stats) ranges[name] = s.range(options.method, options.percentile);
  return ranges;
}

}  // namespace ef
