// Tests of the Softmax / LogSoftmax kernels (kernels/cpu/softmax.cpp) against a double-precision loop over the
// [outer, axis, inner] view: last axis and middle axis, odd sizes, in place, large magnitudes, -inf and NaN
// entries, threaded runs. Prints the speedup over a scalar float loop (informational only).
#include "kernels/cpu/softmax.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "hwy/targets.h"

#include "core/thread_pool.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace softmax_test {

std::vector<float> reference(SoftmaxKind kind, const std::vector<float>& x, int64_t outer, int64_t n,
                             int64_t inner) {
  std::vector<float> y(x.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      auto at = [&](int64_t i) { return static_cast<size_t>((o * n + i) * inner + j); };
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < n; ++i) max = std::max(max, static_cast<double>(x[at(i)]));
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += std::exp(x[at(i)] - max);
      for (int64_t i = 0; i < n; ++i) {
        const double v = x[at(i)] - max;
        y[at(i)] = static_cast<float>(kind == SoftmaxKind::kSoftmax ? std::exp(v) / sum : v - std::log(sum));
      }
    }
  }
  return y;
}

std::vector<float> random_data(size_t n, float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Softmax: relative to the value, growing with |log y|: the float rounding of x - max alone costs
// ulp(x - max)/2 relative, i.e. about 6e-8 * |log y| (the reference subtracts in double). LogSoftmax: relative to
// max(1, |value|). `worst` collects err / scale.
void expect_close(SoftmaxKind kind, const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what, double* worst) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want[i];
    const double err = std::abs(static_cast<double>(got[i]) - w);
    const double scale = kind == SoftmaxKind::kSoftmax ? std::abs(w) * (1.0 + std::abs(std::log(std::abs(w) + 1e-300)))
                                                       : std::max(1.0, std::abs(w));
    if (scale > 1e-30) *worst = std::max(*worst, err / scale);
    ASSERT_LE(err, 1e-6 * scale + 1e-37) << what << " at " << i << ": " << got[i] << " vs " << want[i];
  }
}

struct Dims {
  int64_t outer, n, inner;
};

TEST(CpuSoftmax, MatchesDoubleReferenceLastAndMiddleAxis) {
  std::mt19937 rng(13);
  ThreadPool inline_pool(1), pool(3);
  const Dims cases[] = {{1, 1, 1},    {1, 7, 1},    {3, 8, 1},    {5, 17, 1},  {2, 1000, 1}, {64, 33, 1},
                        {1, 100003, 1}, {300, 257, 1}, {2, 5, 3},   {3, 17, 257}, {1, 1, 9},   {4, 2, 513},
                        {2, 300, 40},  {1, 3, 100000}, {1000, 2, 1},  {257, 16, 1}, {130, 5, 1},
                        {20000, 2, 1}};
  for (SoftmaxKind kind : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
    double worst = 0;
    for (const Dims& c : cases) {
      for (float scale : {1.0f, 30.0f}) {
        const auto x = random_data(static_cast<size_t>(c.outer * c.n * c.inner), scale, rng);
        const auto want = reference(kind, x, c.outer, c.n, c.inner);
        const std::string what = std::to_string(c.outer) + "x" + std::to_string(c.n) + "x" + std::to_string(c.inner);
        std::vector<float> y(x.size(), -7.0f);
        softmax(kind, x.data(), y.data(), c.outer, c.n, c.inner, inline_pool);
        expect_close(kind, y, want, what, &worst);
        auto in_place = x;
        softmax(kind, in_place.data(), in_place.data(), c.outer, c.n, c.inner, pool);
        expect_close(kind, in_place, want, what + " in place, threaded", &worst);
      }
    }
    std::printf("[ info ] %s worst error %.3g (relative to |y|*(1+|ln y|), LogSoftmax: max(1,|y|))\n", kind == SoftmaxKind::kSoftmax ? "Softmax" : "LogSoftmax",
                worst);
  }
}

TEST(CpuSoftmax, StableForHugeLogitsAndMaskedEntries) {
  ThreadPool pool(1);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1e30f, 1e30f, -1e30f, 0.0f, -inf, 80.0f, 89.0f, -inf, 88.0f};
  std::vector<float> y(x.size());
  softmax(SoftmaxKind::kSoftmax, x.data(), y.data(), 3, 3, 1, pool);
  EXPECT_FLOAT_EQ(y[0], 0.5f);
  EXPECT_FLOAT_EQ(y[1], 0.5f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[4], 0.0f);  // -inf is a masked logit, not a NaN
  EXPECT_FLOAT_EQ(y[3], std::exp(-80.0f));
  EXPECT_FLOAT_EQ(y[5], 1.0f);
  EXPECT_FLOAT_EQ(y[6], 1.0f / (1.0f + std::exp(-1.0f)));
  EXPECT_FLOAT_EQ(y[8], 1.0f / (1.0f + std::exp(1.0f)));
  EXPECT_EQ(y[7], 0.0f);
  softmax(SoftmaxKind::kLogSoftmax, x.data(), y.data(), 3, 3, 1, pool);
  EXPECT_FLOAT_EQ(y[0], -std::log(2.0f));
  EXPECT_EQ(y[4], -inf);
}

TEST(CpuSoftmax, NaNPoisonsItsSliceOnly) {
  ThreadPool pool(1);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (SoftmaxKind kind : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
    std::vector<float> x(2 * 20, 0.5f);
    x[3] = nan;
    std::vector<float> y(x.size());
    softmax(kind, x.data(), y.data(), 2, 20, 1, pool);
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(std::isnan(y[static_cast<size_t>(i)])) << i;
    for (int i = 20; i < 40; ++i) EXPECT_FALSE(std::isnan(y[static_cast<size_t>(i)])) << i;
  }
}

TEST(CpuSoftmax, EveryCompiledTargetMatchesReference) {
  ThreadPool pool(1);
  const Dims cases[] = {{3, 8, 1}, {5, 17, 1}, {2, 1000, 1}, {130, 5, 1}, {2, 5, 3}, {3, 17, 257}};
  for_each_compiled_target([&](const char* target) {
    std::mt19937 rng(4);
    for (SoftmaxKind kind : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
      double worst = 0;
      for (const Dims& c : cases) {
        const auto x = random_data(static_cast<size_t>(c.outer * c.n * c.inner), 10.0f, rng);
        std::vector<float> y(x.size());
        softmax(kind, x.data(), y.data(), c.outer, c.n, c.inner, pool);
        expect_close(kind, y, reference(kind, x, c.outer, c.n, c.inner), target, &worst);
      }
    }
  });
}

// Informational: speedup over a scalar float loop (max, exp-and-sum, scale) on typical shapes, single thread.
TEST(CpuSoftmax, PrintSpeedupOverScalar) {
  std::mt19937 rng(2);
  ThreadPool pool(1);
  const Dims cases[] = {{1, 1000, 1}, {96, 128, 1}, {1, 21, 4096}};
  for (const Dims& c : cases) {
    const size_t total = static_cast<size_t>(c.outer * c.n * c.inner);
    const auto x = random_data(total, 5.0f, rng);
    std::vector<float> y(total);
    const int reps = static_cast<int>(std::max<size_t>(5, 2000000 / total));
    auto t0 = thread_now();
    for (int r = 0; r < reps; ++r) {
      for (int64_t o = 0; o < c.outer; ++o) {
        for (int64_t j = 0; j < c.inner; ++j) {
          auto at = [&](int64_t i) { return static_cast<size_t>((o * c.n + i) * c.inner + j); };
          float max = x[at(0)], sum = 0;
          for (int64_t i = 1; i < c.n; ++i) max = std::max(max, x[at(i)]);
          for (int64_t i = 0; i < c.n; ++i) sum += (y[at(i)] = std::exp(x[at(i)] - max));
          for (int64_t i = 0; i < c.n; ++i) y[at(i)] /= sum;
        }
      }
    }
    auto t1 = thread_now();
    for (int r = 0; r < reps; ++r) softmax(SoftmaxKind::kSoftmax, x.data(), y.data(), c.outer, c.n, c.inner, pool);
    auto t2 = thread_now();
    const double scalar_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / (double(reps) * total);
    const double fast_ns = std::chrono::duration<double, std::nano>(t2 - t1).count() / (double(reps) * total);
    std::printf("[ info ] Softmax %lldx%lldx%lld: scalar %.2f ns/elem, fast %.3f ns/elem, speedup %.1fx\n",
                static_cast<long long>(c.outer), static_cast<long long>(c.n), static_cast<long long>(c.inner),
                scalar_ns, fast_ns, scalar_ns / fast_ns);
  }
}

}  // namespace
}  // namespace ef::cpu
