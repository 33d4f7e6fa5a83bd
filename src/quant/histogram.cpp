// Running activation statistics and the percentile / KL-divergence (entropy) threshold searches.
#include "quant/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeforge/error.h"

namespace ef {

const char* calibration_method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::kMinMax: return "minmax";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kEntropy: return "entropy";
  }
  return "?";
}

void TensorStats::grow_to(double magnitude) {
  if (limit_ == 0) {
    // First data: the range is the first batch's extent (a tiny floor keeps all-zero tensors binnable).
    limit_ = std::max(magnitude * 1.0001, 1e-30);
    pos_.assign(kBins, 0.0);
    neg_.assign(kBins, 0.0);
    return;
  }
  int factor = 1;
  while (limit_ * factor <= magnitude && factor < (1 << 30)) factor *= 2;
  if (factor == 1) return;
  for (std::vector<double>* h : {&pos_, &neg_}) {
    std::vector<double> merged(kBins, 0.0);
    for (int i = 0; i < kBins; ++i) merged[static_cast<size_t>(i / factor)] += (*h)[static_cast<size_t>(i)];
    *h = std::move(merged);
  }
  limit_ *= factor;
}

void TensorStats::add(const float* data, int64_t n) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    const float v = data[i];
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) return;  // nothing finite
  min_ = count_ == 0 ? lo : std::min(min_, lo);
  max_ = count_ == 0 ? hi : std::max(max_, hi);
  count_ += n;
  if (!with_histogram_) return;
  grow_to(std::max(std::abs(static_cast<double>(lo)), std::abs(static_cast<double>(hi))));
  const double scale = kBins / limit_;
  for (int64_t i = 0; i < n; ++i) {
    const float v = data[i];
    if (!std::isfinite(v)) continue;
    const double m = std::abs(static_cast<double>(v));
    const size_t bin = std::min(static_cast<size_t>(m * scale), static_cast<size_t>(kBins - 1));
    (v < 0 ? neg_ : pos_)[bin] += 1;
  }
}

std::vector<double> TensorStats::magnitude_histogram() const {
  std::vector<double> h(pos_.size());
  for (size_t i = 0; i < h.size(); ++i) h[i] = pos_[i] + neg_[i];
  return h;
}

TensorRange TensorStats::range(CalibrationMethod method, double percentile) const {
  if (count_ == 0) return {};
  TensorRange r{min_, max_};
  if (method == CalibrationMethod::kMinMax || !with_histogram_) return r;
  const std::vector<double> h = magnitude_histogram();
  const double t = method == CalibrationMethod::kPercentile ? percentile_threshold(h, bin_width(), percentile)
                                                             : entropy_threshold(h, bin_width());
  r.min = std::max(r.min, static_cast<float>(-t));
  r.max = std::min(r.max, static_cast<float>(t));
  return r;
}

double percentile_threshold(const std::vector<double>& hist, double bin_width, double percentile) {
  EF_CHECK(percentile > 0 && percentile <= 100, kInvalidArgument, "percentile must be in (0, 100], got {}",
           percentile);
  double total = 0;
  for (double c : hist) total += c;
  if (total == 0) return 0;
  const double target = total * percentile / 100.0;
  double seen = 0;
  for (size_t i = 0; i < hist.size(); ++i) {
    seen += hist[i];
    if (seen >= target) return static_cast<double>(i + 1) * bin_width;
  }
  return static_cast<double>(hist.size()) * bin_width;
}

namespace {

// KL(P || Q) of two unnormalized distributions over the same bins; Q is zero only where P is.
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double ps = 0, qs = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    ps += p[i];
    qs += q[i];
  }
  if (ps == 0 || qs == 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) continue;
    if (q[i] == 0) return std::numeric_limits<double>::infinity();
    const double pi = p[i] / ps, qi = q[i] / qs;
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

}  // namespace

double entropy_threshold(const std::vector<double>& hist, double bin_width, int quantized_bins) {
  const size_t n = hist.size();
  const size_t levels = static_cast<size_t>(quantized_bins);
  if (n <= levels) return static_cast<double>(n) * bin_width;
  // Ignore empty tail bins: a threshold beyond the last used bin changes nothing.
  size_t used = n;
  while (used > 0 && hist[used - 1] == 0) --used;
  if (used <= levels) return static_cast<double>(used) * bin_width;
  double best_kl = std::numeric_limits<double>::infinity();
  size_t best = used;
  std::vector<double> tail(n + 1, 0.0);  // tail[i]: mass of bins i..n-1
  for (size_t k = n; k-- > 0;) tail[k] = tail[k + 1] + hist[k];
  std::vector<double> p, q;
  for (size_t i = levels; i <= used; ++i) {
    // Reference: the first i bins, everything beyond clipped into the last one.
    p.assign(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(i));
    p[i - 1] += tail[i];
    // Candidate: the same i bins (without the clipped mass) merged into `levels` groups, each group's mass spread
    // evenly over the bins the reference uses.
    q.assign(i, 0.0);
    for (size_t g = 0; g < levels; ++g) {
      const size_t start = g * i / levels, stop = (g + 1) * i / levels;
      double mass = 0;
      size_t nonzero = 0;
      for (size_t k = start; k < stop; ++k) {
        mass += hist[k];
        nonzero += p[k] != 0;
      }
      for (size_t k = start; k < stop; ++k) {
        if (p[k] != 0) q[k] = mass / static_cast<double>(nonzero);
      }
    }
    const double kl = kl_divergence(p, q);
    if (kl < best_kl) {
      best_kl = kl;
      best = i;
    }
  }
  return static_cast<double>(best) * bin_width;
}

}  // namespace ef
