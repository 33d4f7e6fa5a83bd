// Activation statistics gathered during calibration and the range each calibration method derives from them.
//
// TensorStats keeps the running min/max and, when a method needs it, a histogram of the values' magnitudes: 2048
// bins over [0, R) for positive and for negative values, where R grows by powers of two (merging bin pairs) when a
// larger value arrives, so one pass over the data suffices. Percentile and entropy pick a threshold T on |x|; the
// range is then the observed [min, max] clipped to [-T, T].
#pragma once
#include <cstdint>
#include <vector>

namespace ef {

enum class CalibrationMethod { kMinMax, kPercentile, kEntropy };
const char* calibration_method_name(CalibrationMethod m);

struct TensorRange {
  float min = 0, max = 0;
};

class TensorStats {
 public:
  static constexpr int kBins = 2048;
  explicit TensorStats(bool with_histogram) : with_histogram_(with_histogram) {}

  void add(const float* data, int64_t n);
  bool empty() const { return count_ == 0; }
  float min() const { return min_; }
  float max() const { return max_; }

  // [min, max] clipped to [-T, T] for the method's threshold T (minmax: unclipped). Non-finite values are
  // ignored; a tensor that was never seen gives [0, 0].
  TensorRange range(CalibrationMethod method, double percentile) const;

  // Magnitude histogram (positive + negative halves folded) and its bin width; for tests and the KL search.
  std::vector<double> magnitude_histogram() const;
  double bin_width() const { return limit_ / kBins; }

 private:
  void grow_to(double magnitude);

  bool with_histogram_;
  int64_t count_ = 0;
  float min_ = 0, max_ = 0;
  double limit_ = 0;  // R: the histogram covers magnitudes [0, R)
  std::vector<double> pos_, neg_;
};

// Threshold on |x| keeping `percentile` percent of the histogram's mass below it.
double percentile_threshold(const std::vector<double>& hist, double bin_width, double percentile);
// TensorRT's entropy calibration: the threshold whose clipped, 128-level quantized distribution is closest to the
// original in KL divergence.
double entropy_threshold(const std::vector<double>& hist, double bin_width, int quantized_bins = 128);

}  // namespace ef
