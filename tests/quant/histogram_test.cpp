#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "edgeforge/error.h"
#include "quant/histogram.h"

namespace ef {
namespace histogram_test {

TEST(QuantHistogram, MinMaxIgnoresNonFiniteValues) {
  TensorStats s(false);
  std::vector<float> v = {1.0f, -2.0f, NAN, INFINITY, 3.5f};
  s.add(v.data(), static_cast<int64_t>(v.size()));
  TensorRange r = s.range(CalibrationMethod::kMinMax, 99.9);
  EXPECT_EQ(r.min, -2.0f);
  EXPECT_EQ(r.max, 3.5f);
  EXPECT_EQ(TensorStats(false).range(CalibrationMethod::kMinMax, 99).max, 0.0f);  // never seen: [0, 0]
}

TEST(QuantHistogram, GrowingRangeKeepsEveryCount) {
  TensorStats s(true);
  std::vector<float> small(1000, 0.5f), large = {100.0f, -37.0f};
  s.add(small.data(), 1000);
  s.add(large.data(), 2);
  std::vector<double> h = s.magnitude_histogram();
  double total = 0;
  for (double c : h) total += c;
  EXPECT_EQ(total, 1002);
  EXPECT_GE(s.bin_width() * TensorStats::kBins, 100.0);
  // 0.5 stays in a bin whose interval contains it.
  for (size_t i = 0; i < h.size(); ++i) {
    if (h[i] == 1000) {
      EXPECT_LE(static_cast<double>(i) * s.bin_width(), 0.5);
      EXPECT_GT(static_cast<double>(i + 1) * s.bin_width(), 0.5);
    }
  }
}

TEST(QuantHistogram, PercentileClipsOutliers) {
  std::vector<float> v(100000);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& x : v) x = dist(rng);
  v[0] = 50.0f;  // one outlier
  TensorStats s(true);
  s.add(v.data(), static_cast<int64_t>(v.size()));
  TensorRange minmax = s.range(CalibrationMethod::kMinMax, 0);
  TensorRange p = s.range(CalibrationMethod::kPercentile, 99.9);
  EXPECT_EQ(minmax.max, 50.0f);
  // 99.9% of |N(0,1)| lies below ~3.29.
  EXPECT_NEAR(p.max, 3.29, 0.15);
  EXPECT_NEAR(p.min, -3.29, 0.15);
}

TEST(QuantHistogram, EntropyThresholdIsBelowTheOutlierAndAboveTheBulk) {
  std::vector<float> v(200000);
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& x : v) x = std::max(0.0f, dist(rng));  // post-ReLU
  for (int i = 0; i < 5; ++i) v[static_cast<size_t>(i)] = 40.0f;
  TensorStats s(true);
  s.add(v.data(), static_cast<int64_t>(v.size()));
  TensorRange r = s.range(CalibrationMethod::kEntropy, 0);
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_GT(r.max, 2.0f);
  EXPECT_LT(r.max, 10.0f);
}

TEST(QuantHistogram, EntropyOfAFewUsedBinsKeepsThemAll) {
  std::vector<double> h(2048, 0.0);
  h[3] = 10;
  h[50] = 5;
  EXPECT_DOUBLE_EQ(entropy_threshold(h, 0.1), 51 * 0.1);
  EXPECT_DOUBLE_EQ(percentile_threshold(h, 0.1, 100), 51 * 0.1);
  EXPECT_THROW(percentile_threshold(h, 0.1, 0), Error);
}

}  // namespace
}  // namespace ef
