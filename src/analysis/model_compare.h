// Running a reference and a candidate model (FP32 vs quantized, level 0 vs level 2, ...) on the same inputs and
// measuring how far the candidate's outputs -- and, layer by layer, its intermediate values -- are from the
// reference's. Used by `edgeforge compare`; usable by accuracy-aware quantization. Depends on runtime.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "analysis/compare.h"
#include "edgeforge/session.h"
#include "ir/graph.h"

namespace ef {

// Input set number i (0-based) of the comparison; both models get the same tensors.
using SampleSource = std::function<NamedTensors(size_t)>;

// Throws kInvalidArgument when the two models do not take the same inputs (names, dtypes, known dims) or do not
// produce the same outputs (names, dtypes): their results could not be compared element by element.
void check_same_interface(const Session& ref, const Session& cand);

struct OutputComparison {
  std::string name;
  TensorDiff diff;  // accumulated over all samples
};

struct ModelComparison {
  size_t samples = 0;
  std::vector<OutputComparison> outputs;  // in the reference's output order
  // Argmax over the last axis of the first output, per row, over all samples in order (one row per sample for
  // batch-1 classifiers): what accuracy against labels is computed from.
  std::vector<int64_t> ref_top1, cand_top1;
};

ModelComparison compare_outputs(Session& ref, Session& cand, size_t samples, const SampleSource& source,
                                double tolerance = 0);

struct LayerComparison {
  std::string name;      // the value's name in the reference graph
  std::string compared;  // the candidate value it was compared with (the dequantized one after a Q/DQ pair)
  std::string op_type;   // op of the reference node producing it
  TensorDiff diff;
  // SQNR of the worst input of the producing node (+inf for graph inputs and weights; for an input the candidate
  // does not compute under that name, the SQNR reaching it from further up), and what this layer lost:
  // min(input, cap) - min(own, cap) with cap = kSqnrCapDb, so exact values do not swamp the ranking.
  double input_sqnr_db = 0;
  double sqnr_drop_db = 0;
};
constexpr double kSqnrCapDb = 100;

struct LayerReport {
  std::vector<LayerComparison> layers;  // ranked, largest SQNR drop first
  size_t skipped = 0;  // values computed by both but not comparable (not floating point, or shapes differ)
};

// Matches the values computed by both graphs by name and compares them over the samples. The models are the
// imported (unoptimized) ones; each runs with all matched values exposed as graph outputs, under `options`. In the
// candidate, a value that feeds a QuantizeLinear -> DequantizeLinear pair is compared after that pair (what its
// consumers see).
LayerReport compare_layers(const Model& ref, const Model& cand, const SessionOptions& options, size_t samples,
                           const SampleSource& source);

}  // namespace ef
