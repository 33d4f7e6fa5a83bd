// Running calibration samples through the float model and reducing the observed tensors to ranges.
#include "quant/calibrate.h"

#include <algorithm>
#include <memory>
#include <set>

#include "edgeforge/session.h"

namespace ef {

Model with_extra_outputs(const Model& model, const std::vector<std::string>& tensors) {
  Model copy = model;
  copy.graph = std::make_shared<Graph>(*model.graph);
  Graph& g = *copy.graph;
  std::set<int> outputs(g.outputs.begin(), g.outputs.end());
  const std::set<int> inputs(g.inputs.begin(), g.inputs.end());
  for (const std::string& name : tensors) {
    const int v = g.find_value(name);
    EF_CHECK(v != kNoValue, kInternal, "calibration tensor '{}' is not in the graph", name);
    if (inputs.count(v) || outputs.count(v)) continue;
    EF_CHECK(g.values[static_cast<size_t>(v)].producer >= 0, kInternal,
             "calibration tensor '{}' is neither a graph input nor a node output", name);
    g.outputs.push_back(v);
    outputs.insert(v);
  }
  return copy;
}

std::map<std::string, TensorRange> calibrate(const Model& model, const std::vector<std::string>& tensors,
                                             CalibrationData& data, const CalibrationOptions& options) {
  EF_CHECK(data.size() > 0, kInvalidArgument, "no calibration samples");
  SessionOptions session_options;
  session_options.num_threads = options.num_threads;
  session_options.optimization_level = 0;  // the model is already optimized; fusions would hide observed tensors
  auto session = Session::from_model(with_extra_outputs(model, tensors), session_options);

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
