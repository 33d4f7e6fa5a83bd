// Accuracy-aware static quantization (`--max-sqnr-drop DB`, `--keep-fp32 auto|N`): keeps the layers that quantize
// worst in float, chosen by measured sensitivity, until the quantized model's outputs are close enough to FP32.
//
// Metric: the SQNR drop of an output = (SQNR of the FP32 output rounded to 8 bits over its own range -- the best
// any INT8 model can do for that output) - (SQNR of the quantized model's output against FP32), in dB; the worst
// output counts. Sensitivity of a layer: how much the drop shrinks when only that layer stays float. The layers
// are then kept float one at a time, most sensitive first, until the drop is within the budget (or N layers for
// `--keep-fp32 N`). Measured on the first calibration samples (analysis/compare.h metrics).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "edgeforge/session.h"
#include "quant/qdq_rewrite.h"

namespace ef {

struct AccuracyOptions {
  double max_sqnr_drop_db = -1;  // < 0: no target (then keep_fp32 > 0 must say how many layers)
  int keep_fp32 = -1;            // -1: as many as the target needs; N >= 0: exactly the N most sensitive
  size_t samples = 8;            // evaluation samples (the first calibration samples)
};

struct LayerSensitivity {
  std::string node;
  double drop_db = 0;  // output SQNR drop with only this layer kept float
};

struct AccuracyReport {
  double baseline_drop_db = 0;  // everything quantized
  double final_drop_db = 0;
  double target_drop_db = -1;
  bool target_met = true;
  std::vector<LayerSensitivity> ranking;  // most sensitive first
  std::vector<std::string> kept_fp32;     // node names left float, in the order they were chosen
  size_t samples = 0;
  int models_evaluated = 0;
};

// Quantizes `prepared` (the float model after prepare_for_quantization) with `ranges`, keeping float the nodes the
// search selects on top of `config`'s exclusions. `sample(i)` gives evaluation input set i (< `available`).
// Returns the quantized model; fills `report`.
Model quantize_accuracy_aware(const Model& prepared, const RangeMap& ranges, const QuantConfig& config,
                              const AccuracyOptions& options, size_t available,
                              const std::function<NamedTensors(size_t)>& sample, AccuracyReport& report,
                              QdqReport& qdq);

// The model `prepared` quantized with `config` (plan + rewrite + unused initializers dropped).
Model quantize_with_config(const Model& prepared, const RangeMap& ranges, const QuantConfig& config,
                           QdqReport* qdq = nullptr, std::vector<std::string>* excluded = nullptr);

}  // namespace ef
