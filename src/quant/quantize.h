// Post-training quantization, the library entry point behind `edgeforge quantize`.
//
// Static: prepare (prepare.h) -> choose nodes and tensors (qdq_plan.h) -> calibrate their ranges on sample data
// with our Session (calibrate.h), or read them from a ranges file -> rewrite into standard ONNX QDQ
// (qdq_rewrite.h). Dynamic: weights to int8, MatMul/Gemm activations quantized at run time (dynamic.h).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "quant/accuracy.h"
#include "quant/calib_data.h"
#include "quant/calibrate.h"
#include "quant/prepare.h"
#include "quant/qdq_rewrite.h"

namespace ef {

enum class QuantMode { kStatic, kDynamic };

struct QuantizeOptions {
  QuantMode mode = QuantMode::kStatic;
  QuantConfig config;
  std::optional<CalibrationSpec> calibration_data;  // static: the samples, unless `ranges_file` is given
  CalibrationOptions calibration;
  std::string ranges_file;       // reuse ranges saved by an earlier run
  std::string save_ranges_file;  // write the ranges used
  std::optional<AccuracyOptions> accuracy;  // static: keep the most sensitive layers float (accuracy.h)
  bool strip_names = false;  // shorten the original tensor names too (compact.h), not only generated ones
};

struct QuantizeResult {
  Model model;
  PrepareReport prepare;
  QdqReport qdq;
  RangeMap ranges;
  size_t samples = 0;
  std::string calibration_kind;  // "npy files", "images", ... or "ranges file"
  std::vector<std::string> dynamic_nodes;  // dynamic mode: MatMul/Gemm nodes rewritten
  std::vector<std::string> excluded;       // nodes left float by --exclude-op / --exclude-node
  std::optional<AccuracyReport> accuracy;
};

// The graph inputs of `g` as the public API describes them (dims < 0: dynamic).
std::vector<IoInfo> graph_input_infos(const Graph& g);

QuantizeResult quantize_model(const Model& model, const QuantizeOptions& options);

}  // namespace ef
