// Accuracy metrics between a reference and a candidate tensor (FP32 vs quantized, ours vs another runtime):
// cosine similarity, SQNR, absolute errors, agreement within a tolerance (e.g. one quantization step) and top-1
// agreement of classifier outputs. Used by `edgeforge compare` and by accuracy-aware quantization. Depends on core.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "edgeforge/tensor.h"

namespace ef {

struct TensorDiff {
  int64_t elements = 0;
  // dot(ref, cand) / (|ref| |cand|); 1 when both are all zero, 0 when exactly one is.
  double cosine = 1;
  // 10 log10(sum ref^2 / sum (ref - cand)^2): +inf for an exact match (zero signal included), -inf for a zero
  // reference against a non-zero candidate.
  double sqnr_db = 0;
  double max_abs_error = 0;
  double mean_abs_error = 0;
  // Fraction of elements with |ref - cand| <= tolerance (+ 1e-6 |ref| for float rounding of equal steps).
  double tolerance = 0;
  double within_tolerance = 1;
  // Positions where exactly one side is NaN (excluded from the sums above; NaN on both sides counts as equal).
  int64_t nan_mismatches = 0;
  // Argmax over the last axis per row (rows = elements / last dim); meaningful for [N, classes] outputs.
  int64_t top1_rows = 0;
  int64_t top1_agree = 0;
  double top1_agreement() const { return top1_rows > 0 ? static_cast<double>(top1_agree) / top1_rows : 1.0; }
};

// Sums over many (ref, cand) pairs -- e.g. one output over all samples -- so SQNR and cosine are computed over
// everything seen, not averaged per sample.
class DiffAccumulator {
 public:
  explicit DiffAccumulator(double tolerance = 0) : tolerance_(tolerance) {}
  // Throws kInvalidArgument naming `what` when the shapes differ or a dtype is not numeric.
  void add(const Tensor& ref, const Tensor& cand, const std::string& what = "tensor");
  TensorDiff result() const;

 private:
  double tolerance_;
  int64_t elements_ = 0, within_ = 0, nan_mismatches_ = 0, top1_rows_ = 0, top1_agree_ = 0;
  double dot_ = 0, ref_sq_ = 0, cand_sq_ = 0, noise_sq_ = 0, abs_sum_ = 0, max_abs_ = 0;
};

TensorDiff compare_tensors(const Tensor& ref, const Tensor& cand, double tolerance = 0);

// SQNR from summed squares with the conventions above.
double sqnr_db(double signal_sq, double noise_sq);

// Index of the largest element of each row of the last axis (first one on ties, NaN never wins).
std::vector<int64_t> argmax_last_axis(const Tensor& t);

}  // namespace ef
