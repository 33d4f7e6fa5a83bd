// Getting a float model ready for quantization, as ONNX Runtime's pre-processing does: fix the input shapes the
// calibration data has, optimize (level 2: BatchNormalization folded into Conv, constants folded, fusions written
// back as standard ONNX), and raise the standard opset when QDQ needs it (QuantizeLinear exists from opset 10,
// per-channel DequantizeLinear from 13). The opset is raised with ONNX's own C++ version converter, after ONNX
// shape inference (some adapters, e.g. Softmax 12->13, need input ranks), on the exported proto.
#pragma once
#include <map>
#include <string>

#include "ir/graph.h"

namespace ef {

struct PrepareOptions {
  std::map<std::string, Shape> input_shapes;  // fixed before optimizing (dynamic dims otherwise stay symbolic)
  int64_t min_opset = 10;                     // raise the standard opset to at least this
};

struct PrepareReport {
  int64_t opset_before = 0, opset_after = 0;
  size_t nodes_before = 0, nodes_after = 0;
};

// Optimized, opset-raised copy; every value typed (infer_types). Throws kUnsupported when the version converter
// cannot convert the model.
Model prepare_for_quantization(const Model& model, const PrepareOptions& options, PrepareReport* report = nullptr);

// The model's standard opset raised to `opset` with ONNX's version converter (re-imported).
Model convert_opset(const Model& model, int64_t opset);

}  // namespace ef
