// The quantization pipeline (stages in quantize.h).
#include "quant/quantize.h"

#include <memory>

#include "quant/compact.h"
#include "quant/dynamic.h"
#include "quant/ranges_io.h"

namespace ef {
namespace {

void check_float_input(const Model& model) {
  for (int v : model.graph->inputs) {
    if (model.graph->values[static_cast<size_t>(v)].type.dtype == DType::kFloat32) return;
  }
  fail(ErrorCode::kInvalidArgument, "the model has no float32 input: static quantization calibrates float models");
}

QuantizeResult quantize_static(const Model& model, const QuantizeOptions& options) {
  check_float_input(model);
  QuantizeResult result;
  std::optional<RangesFile> saved;
  std::optional<CalibrationData> data;
  PrepareOptions prep;
  prep.min_opset = options.config.per_channel ? 13 : 10;
  if (!options.ranges_file.empty()) {
    saved = load_ranges(options.ranges_file);
    prep.input_shapes = saved->input_shapes;
    result.calibration_kind = "ranges file";
  } else {
    EF_CHECK(options.calibration_data.has_value(), kInvalidArgument,
             "static quantization needs calibration data (--calib DIR) or a ranges file (--ranges FILE)");
    data = CalibrationData::open(*options.calibration_data, graph_input_infos(*model.graph));
    // The first sample fixes the input shapes the model is optimized for.
    for (const auto& [name, t] : data->load(0)) prep.input_shapes[name] = t.shape();
    result.calibration_kind = calibration_kind_name(data->kind());
  }
  Model prepared = prepare_for_quantization(model, prep, &result.prepare);
  const QdqPlan plan = plan_qdq(*prepared.graph, options.config);
  if (saved) {
    result.ranges = saved->ranges;
  } else {
    result.ranges = calibrate(prepared, plan.calibration_tensors(*prepared.graph), *data, options.calibration);
    result.samples = data->size();
  }
  if (!options.save_ranges_file.empty()) {
    RangesFile out;
    out.method = saved ? saved->method : calibration_method_name(options.calibration.method);
    out.input_shapes = prep.input_shapes;
    out.ranges = result.ranges;
    save_ranges(out, options.save_ranges_file);
  }
  if (options.accuracy) {
    AccuracyReport report;
    auto sample = [&](size_t i) { return data->load(i); };
    result.model = quantize_accuracy_aware(prepared, result.ranges, options.config, *options.accuracy,
                                           data ? data->size() : 0, sample, report, result.qdq);
    result.accuracy = report;
  } else {
    result.model = quantize_with_config(prepared, result.ranges, options.config, &result.qdq);
  }
  result.excluded = plan.excluded;
  compact_quantized_model(result.model, *model.graph, options.strip_names);
  return result;
}

}  // namespace

std::vector<IoInfo> graph_input_infos(const Graph& g) {
  std::vector<IoInfo> infos;
  for (int v : g.inputs) {
    const Value& value = g.values[static_cast<size_t>(v)];
    IoInfo info;
    info.name = value.name;
    info.dtype = value.type.dtype;
    info.has_shape = value.type.has_rank();
    if (value.type.dims) {
      for (const Dim& d : *value.type.dims) {
        info.dims.push_back(d.known() ? d.value : -1);
        info.dim_params.push_back(d.param);
      }
    }
    infos.push_back(std::move(info));
  }
  return infos;
}

QuantizeResult quantize_model(const Model& model, const QuantizeOptions& options) {
  check_exclusions(*model.graph, options.config);
  if (options.mode == QuantMode::kStatic) return quantize_static(model, options);
  QuantizeResult result;
  PrepareOptions prep;
  prep.min_opset = 11;  // DynamicQuantizeLinear
  Model prepared = prepare_for_quantization(model, prep, &result.prepare);
  DynamicReport report = quantize_dynamic(prepared, options.config);
  result.dynamic_nodes = report.nodes;
  result.excluded = report.excluded;
  drop_unused_values(*prepared.graph);
  result.model = std::move(prepared);
  compact_quantized_model(result.model, *model.graph, options.strip_names);
  return result;
}

}  // namespace ef
