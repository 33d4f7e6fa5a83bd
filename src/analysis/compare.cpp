// Accuracy metrics between tensors (see compare.h). Values are read as double so every numeric dtype compares;
// float32, the common case, takes a direct path.
#include "analysis/compare.h"

#include <cmath>
#include <limits>

namespace ef {

namespace {

// Element i as double; float32 read directly (value_as_double dispatches on dtype per call).
struct Reader {
  const Tensor& t;
  const float* f32 = t.dtype() == DType::kFloat32 ? t.data<float>() : nullptr;
  double operator()(int64_t i) const { return f32 ? static_cast<double>(f32[i]) : t.value_as_double(i); }
};

bool numeric(DType d) { return d != DType::kString && d != DType::kUndefined; }

}  // namespace

double sqnr_db(double signal_sq, double noise_sq) {
  if (noise_sq == 0) return std::numeric_limits<double>::infinity();
  if (signal_sq == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal_sq / noise_sq);
}

std::vector<int64_t> argmax_last_axis(const Tensor& t) {
  std::vector<int64_t> out;
  if (t.numel() == 0) return out;
  const int64_t cols = t.rank() == 0 ? 1 : t.shape().back();
  const int64_t rows = t.numel() / cols;
  Reader read{t};
  out.reserve(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    double best_v = -std::numeric_limits<double>::infinity();
    bool found = false;
    for (int64_t c = 0; c < cols; ++c) {
      double v = read(r * cols + c);
      if (std::isnan(v)) continue;
      if (!found || v > best_v) {
        best = c;
        best_v = v;
        found = true;
      }
    }
    out.push_back(best);
  }
  return out;
}

void DiffAccumulator::add(const Tensor& ref, const Tensor& cand, const std::string& what) {
  EF_CHECK(numeric(ref.dtype()) && numeric(cand.dtype()), kInvalidArgument, "{}: cannot compare {} with {}", what,
           dtype_name(ref.dtype()), dtype_name(cand.dtype()));
  EF_CHECK(ref.shape() == cand.shape(), kInvalidArgument, "{}: shapes differ, reference {} vs candidate {}", what,
           shape_str(ref.shape()), shape_str(cand.shape()));
  Reader r{ref}, c{cand};
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double a = r(i), b = c(i);
    ++elements_;
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) && std::isnan(b)) {
        ++within_;
      } else {
        ++nan_mismatches_;
      }
      continue;
    }
    const double d = a == b ? 0.0 : a - b;  // inf == inf is an exact match, not NaN
    const double ad = std::fabs(d);
    dot_ += a * b;
    ref_sq_ += a * a;
    cand_sq_ += b * b;
    noise_sq_ += d * d;
    abs_sum_ += ad;
    if (ad > max_abs_) max_abs_ = ad;
    if (ad <= tolerance_ + 1e-6 * std::fabs(a)) ++within_;
  }
  if (ref.numel() > 0) {
    std::vector<int64_t> ra = argmax_last_axis(ref), ca = argmax_last_axis(cand);
    for (size_t i = 0; i < ra.size(); ++i) top1_agree_ += ra[i] == ca[i];
    top1_rows_ += static_cast<int64_t>(ra.size());
  }
}

TensorDiff DiffAccumulator::result() const {
  TensorDiff d;
  d.elements = elements_;
  d.tolerance = tolerance_;
  d.nan_mismatches = nan_mismatches_;
  d.top1_rows = top1_rows_;
  d.top1_agree = top1_agree_;
  if (elements_ == 0) {
    d.sqnr_db = std::numeric_limits<double>::infinity();
    return d;
  }
  if (noise_sq_ == 0 || (ref_sq_ == 0 && cand_sq_ == 0)) {  // equal vectors: exactly 1, not 1 - rounding
    d.cosine = 1;
  } else if (ref_sq_ == 0 || cand_sq_ == 0) {
    d.cosine = 0;
  } else {
    d.cosine = dot_ / (std::sqrt(ref_sq_) * std::sqrt(cand_sq_));
  }
  d.sqnr_db = sqnr_db(ref_sq_, noise_sq_);
  d.max_abs_error = max_abs_;
  const int64_t counted = elements_ - nan_mismatches_;
  d.mean_abs_error = counted > 0 ? abs_sum_ / static_cast<double>(counted) : 0;
  d.within_tolerance = static_cast<double>(within_) / static_cast<double>(elements_);
  return d;
}

TensorDiff compare_tensors(const Tensor& ref, const Tensor& cand, double tolerance) {
  DiffAccumulator acc(tolerance);
  acc.add(ref, cand);
  return acc.result();
}

}  // namespace ef
