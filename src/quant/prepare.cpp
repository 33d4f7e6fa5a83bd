// Optimization and opset conversion before quantization (see prepare.h).
#include "quant/prepare.h"

#include <memory>

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>

#include "onnx/model_io.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

void optimize_standard(Model& model) {
  PassOptions options;
  options.level = 2;
  optimize_model(model, options);
  unfuse_model(model);
}

}  // namespace

Model convert_opset(const Model& model, int64_t opset) {
  onnx::ModelProto mp;
  const std::string bytes = export_model_bytes(model);
  EF_CHECK(mp.ParseFromString(bytes), kInternal, "cannot re-parse the exported model");
  onnx::ModelProto converted;
  try {
    onnx::shape_inference::InferShapes(mp);
    converted = onnx::version_conversion::ConvertVersion(mp, static_cast<int>(opset));
  } catch (const std::exception& e) {
    fail(ErrorCode::kUnsupported, fmt::format("cannot convert the model from opset {} to {} (ONNX version "
                                              "converter: {})", model.opset(""), opset, e.what()));
  }
  std::string out;
  EF_CHECK(converted.SerializeToString(&out), kInternal, "cannot serialize the converted model");
  Model result = load_model_from_bytes(out, "");
  result.path = model.path;
  return result;
}

Model prepare_for_quantization(const Model& model, const PrepareOptions& options, PrepareReport* report) {
  Model m = model;
  m.graph = std::make_shared<Graph>(*model.graph);
  PrepareReport r;
  r.opset_before = m.opset("");
  r.nodes_before = m.graph->nodes.size();
  fix_input_shapes(*m.graph, options.input_shapes);
  optimize_standard(m);
  if (m.opset("") < options.min_opset) {
    m = convert_opset(m, options.min_opset);
    optimize_standard(m);
  }
  infer_types(*m.graph);
  r.opset_after = m.opset("");
  r.nodes_after = m.graph->nodes.size();
  if (report) *report = r;
  return m;
}

}  // namespace ef
