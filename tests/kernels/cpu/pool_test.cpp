// Tests of the ef::cpu pooling kernels against the reference pooling (kernels/reference/pool.h): randomized
// geometry with ceil_mode sizes, NaN/infinity handling, global pools and thread-count determinism.
#include "kernels/cpu/conv_test_util.h"
#include "kernels/cpu/pool.h"

#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "kernels/reference/pool.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace cpu_pool_test {

PoolParams to_pool_reference(const Conv2dParams& p) {
  PoolParams r;
  r.batch = p.N;
  r.channels = p.C;
  r.in_spatial = {p.H, p.W};
  r.out_spatial = {p.OH, p.OW};
  r.axes = {WindowAxis{p.kh, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom},
            WindowAxis{p.kw, p.stride_w, p.dilation_w, p.pad_left, p.pad_right}};
  return r;
}

// OH/OW the way the op computes them, so ceil_mode windows past the end padding are exercised.
bool set_output_size(Conv2dParams& p, bool ceil_mode) {
  WindowAxis h{p.kh, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom};
  WindowAxis w{p.kw, p.stride_w, p.dilation_w, p.pad_left, p.pad_right};
  p.OH = window_output_size(p.H, h, AutoPad::kNotSet, ceil_mode);
  p.OW = window_output_size(p.W, w, AutoPad::kNotSet, ceil_mode);
  return p.OH >= 1 && p.OW >= 1;
}

std::string describe(const Conv2dParams& p) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "N=%lld C=%lld HxW=%lldx%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld pads=%lld,%lld,%lld,%lld out=%lldx%lld",
                (long long)p.N, (long long)p.C, (long long)p.H, (long long)p.W, (long long)p.kh, (long long)p.kw,
                (long long)p.stride_h, (long long)p.stride_w, (long long)p.dilation_h, (long long)p.dilation_w,
                (long long)p.pad_top, (long long)p.pad_left, (long long)p.pad_bottom, (long long)p.pad_right,
                (long long)p.OH, (long long)p.OW);
  return buf;
}

void check_max(const Conv2dParams& p, const std::vector<float>& x, ThreadPool& pool) {
  std::vector<float> got(static_cast<size_t>(p.N * p.C * p.OH * p.OW), -999.0f), want(got.size());
  max_pool2d(p, x.data(), got.data(), pool);
  max_pool_reference(to_pool_reference(p), x.data(), want.data(), nullptr, false);
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << describe(p) << " at " << i;
    } else {
      ASSERT_EQ(got[i], want[i]) << describe(p) << " at " << i;
    }
  }
}

void check_average(const Conv2dParams& p, bool include_pad, const std::vector<float>& x, ThreadPool& pool) {
  std::vector<float> got(static_cast<size_t>(p.N * p.C * p.OH * p.OW), -999.0f), want(got.size());
  average_pool2d(p, include_pad, x.data(), got.data(), pool);
  average_pool_reference(to_pool_reference(p), include_pad, x.data(), want.data());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::fabs(want[i])))
        << describe(p) << " include_pad=" << include_pad << " at " << i;
  }
}

Conv2dParams random_geometry(std::mt19937& rng, bool dilation) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Conv2dParams p;
  p.N = pick(1, 2);
  p.C = pick(1, 4);
  p.H = pick(1, 21);
  p.W = pick(0, 3) == 0 ? pick(41, 90) : pick(1, 40);
  p.kh = pick(1, 5);
  p.kw = pick(0, 2) ? p.kh : pick(1, 5);
  p.stride_h = pick(1, 3);
  p.stride_w = pick(0, 1) ? p.stride_h : pick(1, 3);
  p.dilation_h = dilation && pick(0, 2) == 0 ? 2 : 1;
  p.dilation_w = dilation && pick(0, 2) == 0 ? 2 : 1;
  p.pad_top = pick(0, 3), p.pad_left = pick(0, 3), p.pad_bottom = pick(0, 3), p.pad_right = pick(0, 3);
  return p;
}

TEST(CpuPool, MaxRandomGeometryMatchesReference) {
  std::mt19937 rng(21);
  ThreadPool pool(2);
  int checked = 0;
  for (int iter = 0; iter < 400; ++iter) {
    Conv2dParams p = random_geometry(rng, true);
    if (!set_output_size(p, iter % 2 == 1)) continue;
    check_max(p, random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng), pool);
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 250);
}

TEST(CpuPool, AverageRandomGeometryMatchesReference) {
  std::mt19937 rng(22);
  ThreadPool pool(3);
  int checked = 0;
  for (int iter = 0; iter < 400; ++iter) {
    Conv2dParams p = random_geometry(rng, true);
    if (!set_output_size(p, iter % 2 == 1)) continue;
    const auto x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
    check_average(p, false, x, pool);
    check_average(p, true, x, pool);
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 250);
}

// 2x2 and 3x3 windows at stride 1 and 2 (the unrolled loops) across widths around the vector lengths.
TEST(CpuPool, FastPathsMatchReference) {
  std::mt19937 rng(23);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t k : {2, 3}) {
    for (int64_t s : {1, 2}) {
      for (int64_t pad : {0, 1}) {
        for (bool ceil_mode : {false, true}) {
          for (int64_t width : {1, 2, 3, 5, 8, 9, 16, 17, 18, 31, 32, 33, 56, 57, 64, 65, 66, 71, 130}) {
            Conv2dParams p;
            p.N = 1, p.C = 2, p.H = 5 + width % 4, p.W = width, p.kh = p.kw = k, p.stride_h = p.stride_w = s;
            p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
            if (pad >= k || !set_output_size(p, ceil_mode)) continue;
            const auto x = random_floats(static_cast<size_t>(p.H * p.W * p.C), rng);
            check_max(p, x, pool);
            check_average(p, false, x, pool);
            check_average(p, true, x, pool);
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST(CpuPool, MaxPropagatesNanAndInfinity) {
  std::mt19937 rng(24);
  // Rows narrower than a vector, with a partial last vector, and wide; strides 2 (vector) and 3 (scalar taps).
  for (int64_t width : {5, 13, 20, 70}) {
    for (int64_t stride : {2, 3}) {
      Conv2dParams p;
      p.N = 1, p.C = 4, p.H = 9, p.W = width, p.kh = p.kw = 3, p.stride_h = p.stride_w = stride;
      p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
      ASSERT_TRUE(set_output_size(p, false));
      auto x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
      auto at = [&](int64_t c, int64_t h, int64_t w) -> float& {
        return x[static_cast<size_t>((c * p.H + h) * p.W + w % width)];
      };
      at(0, 0, 5) = std::numeric_limits<float>::quiet_NaN();  // border row
      at(1, 4, 9) = std::numeric_limits<float>::infinity();   // interior
      at(2, 3, 10) = -std::numeric_limits<float>::infinity();
      at(2, 7, 11) = std::numeric_limits<float>::quiet_NaN();
      at(3, 8, width - 1) = std::numeric_limits<float>::quiet_NaN();  // last row, last column (vector tail)
      check_max(p, x, ThreadPool::inline_pool());
      if (HasFatalFailure()) return;

      std::vector<float> g(4);
      global_max_pool(4, p.H * p.W, x.data(), g.data(), ThreadPool::inline_pool());
      EXPECT_TRUE(std::isnan(g[0]));
      EXPECT_EQ(g[1], std::numeric_limits<float>::infinity());
      EXPECT_TRUE(std::isnan(g[2]));
      EXPECT_TRUE(std::isnan(g[3]));
    }
  }
}

TEST(CpuPool, GlobalPoolsMatchReference) {
  std::mt19937 rng(25);
  ThreadPool pool(2);
  for (int64_t size : {1, 2, 7, 31, 32, 33, 49, 64, 100, 3136}) {
    for (int64_t planes : {1, 3, 17}) {
      const auto x = random_floats(static_cast<size_t>(planes * size), rng);
      std::vector<float> got(static_cast<size_t>(planes)), want(got.size());
      global_average_pool(planes, size, x.data(), got.data(), pool);
      global_pool_reference(GlobalPoolKind::kAverage, 0.0, planes, size, x.data(), want.data());
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::fabs(want[i])));
      global_max_pool(planes, size, x.data(), got.data(), pool);
      global_pool_reference(GlobalPoolKind::kMax, 0.0, planes, size, x.data(), want.data());
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << size << " " << i;
    }
  }
}

TEST(CpuPool, ThreadCountsGiveBitIdenticalResults) {
  std::mt19937 rng(26);
  ThreadPool one(1), two(2), three(3);
  Conv2dParams p;
  p.N = 2, p.C = 9, p.H = 31, p.W = 45, p.kh = p.kw = 3, p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = 1, p.pad_bottom = p.pad_right = 0;
  ASSERT_TRUE(set_output_size(p, true));
  const auto x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
  const size_t out = static_cast<size_t>(p.N * p.C * p.OH * p.OW);
  for (bool include_pad : {false, true}) {
    std::vector<float> a(out), b(out), c(out);
    average_pool2d(p, include_pad, x.data(), a.data(), one);
    average_pool2d(p, include_pad, x.data(), b.data(), two);
    average_pool2d(p, include_pad, x.data(), c.data(), three);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), out * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.data(), c.data(), out * sizeof(float)));
  }
  std::vector<float> a(18), b(18);
  global_average_pool(18, p.H * p.W, x.data(), a.data(), one);
  global_average_pool(18, p.H * p.W, x.data(), b.data(), three);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

// Every SIMD target compiled in and supported here runs the same cases, not only the one dispatch picks.
TEST(CpuPool, EveryCompiledTargetMatchesReference) {
  struct RestoreTargets {
    ~RestoreTargets() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  std::mt19937 rng(32);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    for (int iter = 0; iter < 40; ++iter) {
      Conv2dParams p = random_geometry(rng, true);
      if (!set_output_size(p, iter % 2 == 1)) continue;
      const auto x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
      check_max(p, x, pool);
      check_average(p, iter % 3 == 0, x, pool);
      if (HasFatalFailure()) return;
    }
    const auto x = random_floats(3 * 75, rng);
    std::vector<float> got(3), want(3);
    global_average_pool(3, 75, x.data(), got.data(), pool);
    global_pool_reference(GlobalPoolKind::kAverage, 0.0, 3, 75, x.data(), want.data());
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[i], want[i], 1e-5f);
    global_max_pool(3, 75, x.data(), got.data(), pool);
    global_pool_reference(GlobalPoolKind::kMax, 0.0, 3, 75, x.data(), want.data());
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i], want[i]);
  }
}

// Not a pass/fail check: prints the ResNet stem max pool against the reference loop.
TEST(CpuPool, TimingAgainstReference) {
  std::mt19937 rng(27);
  Conv2dParams p;
  p.N = 1, p.C = 64, p.H = 112, p.W = 112, p.kh = p.kw = 3, p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  ASSERT_TRUE(set_output_size(p, false));
  const auto x = random_floats(static_cast<size_t>(p.C * p.H * p.W), rng);
  std::vector<float> y(static_cast<size_t>(p.C * p.OH * p.OW));
  auto time_ms = [](auto&& fn) {
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      const double t0 = thread_cpu_ms();
      fn();
      best = std::min(best, thread_cpu_ms() - t0);
    }
    return best;
  };
  const PoolParams rp = to_pool_reference(p);
  const double ref = time_ms([&] { max_pool_reference(rp, x.data(), y.data(), nullptr, false); });
  const double fast = time_ms([&] { max_pool2d(p, x.data(), y.data(), ThreadPool::inline_pool()); });
  std::printf("[ timing ] maxpool 3x3 s2 [1,64,112,112]: reference %.3f ms, kernel %.3f ms (%.1fx), 1 thread, CPU time\n", ref,
              fast, ref / fast);
}

}  // namespace
}  // namespace ef::cpu
