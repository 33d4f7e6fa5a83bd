// Tests of ef::cpu::DirectPlanesConv (stride-1 direct convolution over padded planes) against the reference
// convolution (kernels/reference/conv.h) plus the reference activation, over randomized geometry (odd sizes,
// kernels, dilations, asymmetric pads, batches), fused epilogues, thread counts and every compiled SIMD target.
#include "kernels/cpu/conv_direct_planes.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv_test_util.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace conv_direct_planes_test {

using Problem = DirectConvProblem<DirectPlanesConv>;

std::string describe(const Problem& pr) { return describe_conv_case(pr); }

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const Problem& pr) {
  expect_close_to_reference_k(got, want, pr);
}

TEST(CpuDirectPlanes, RandomGeometryMatchesReference) {
  std::mt19937 rng(2468);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool one(1), two(2), three(3);
  ThreadPool* pools[] = {&one, &two, &three};
  int checked = 0;
  for (int iter = 0; iter < 250; ++iter) {
    Problem pr;
    Conv2dParams& p = pr.p;
    p.N = pick(1, 2);
    p.C = pick(1, 40);
    p.M = pick(0, 2) == 0 ? pick(1, 30) : 12 * pick(1, 3);
    p.H = pick(1, 20);
    p.W = pick(0, 3) == 0 ? pick(30, 70) : pick(1, 29);
    p.kh = pick(1, 5);
    p.kw = pick(0, 2) == 0 ? pick(1, 5) : p.kh;
    p.dilation_h = pick(0, 3) == 0 ? 2 : 1;
    p.dilation_w = pick(0, 3) == 0 ? 2 : 1;
    p.pad_top = pick(0, 3), p.pad_left = pick(0, 3), p.pad_bottom = pick(0, 3), p.pad_right = pick(0, 3);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1) continue;
    ASSERT_TRUE(direct_planes_applicable(p)) << describe(pr);
    pr.randomize_epilogue_and_fill(pick, rng);
    expect_close(pr.run(*pools[iter % 3]), pr.expected(), pr);
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

// The model layers it is meant for: squeezenet's and resnet's 3x3 'same' convs, at plane widths around the vector
// length and the 2-vector column tile.
TEST(CpuDirectPlanes, ModelShapesMatchReference) {
  std::mt19937 rng(99);
  ThreadPool two(2);
  for (auto [c, m, hw] : {std::array<int64_t, 3>{64, 256, 13}, {48, 192, 13}, {32, 128, 27}, {16, 64, 55},
                          {512, 512, 7}, {256, 256, 14}, {24, 40, 15}, {24, 40, 16}, {24, 40, 17}, {8, 13, 31},
                          {8, 13, 32}, {8, 13, 33}}) {
    Problem pr;
    pr.p = same3x3(c, m, hw, hw);
    pr.act = {ActKind::kRelu, 0, 0};
    pr.use_residual = c == 512;
    pr.fill(rng);
    expect_close(pr.run(two), pr.expected(), pr);
    if (HasFatalFailure()) return;
  }
}

// Built for several threads, the kernel splits the rows into as many bands as give each thread an equal share
// (27x27: two bands where one fits the cache; 55x55 at three threads: three) and the channels where the rows are
// too few (13x13). Whatever the split and the pool that runs it, the result is the one-thread plan's, bit for bit.
TEST(CpuDirectPlanes, ThreadPlanSplitsGiveTheSameBits) {
  std::mt19937 rng(1357);
  ThreadPool one(1), two(2), three(3);
  ThreadPool* pools[] = {&one, &two, &three};
  for (auto [c, m, hw, n] : {std::array<int64_t, 4>{32, 128, 27, 1}, {16, 64, 55, 1}, {48, 192, 13, 1},
                             {8, 30, 40, 3}, {5, 13, 25, 2}}) {
    Problem pr;
    pr.p = same3x3(c, m, hw, hw);
    pr.p.N = n;
    pr.act = {ActKind::kRelu, 0, 0};
    pr.use_residual = m == 30;
    pr.fill(rng);
    const std::vector<float> single = pr.run(one);
    expect_close(single, pr.expected(), pr);
    for (int plan : {2, 3, 4}) {
      pr.plan_threads = plan;
      for (ThreadPool* pool : pools) {
        const std::vector<float> got = pr.run(*pool);
        ASSERT_EQ(0, std::memcmp(single.data(), got.data(), single.size() * sizeof(float)))
            << describe(pr) << " planned for " << plan << " threads, run on " << pool->num_threads();
      }
    }
    pr.plan_threads = 1;
  }
}

// Inputs too large for one band: 9 output rows as bands of 5 and 4 (the last band's rows end inside its buffer,
// whose stale rows hold NaN), with asymmetric pads, on 1 and 2 threads.
TEST(CpuDirectPlanes, BandsOfUnequalHeight) {
  std::mt19937 rng(17);
  for (int threads : {1, 2}) {
    Problem pr;
    pr.p = same3x3(100, 20, 9, 61);
    pr.p.pad_left = 2, pr.p.pad_right = 0;
    pr.p.with_output_size();
    pr.use_residual = true;
    pr.fill(rng);
    ThreadPool pool(threads);
    expect_close(pr.run(pool), pr.expected(), pr);
  }
}

TEST(CpuDirectPlanes, EachActivationKind) {
  std::mt19937 rng(7);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (const Activation& act : kAllActivations) {
    Problem pr;
    pr.p = same3x3(10, 14, 9, 23);
    pr.act = act;
    pr.use_residual = true;
    pr.fill(rng);
    expect_close(pr.run(pool), pr.expected(), pr);
  }
}

// Pads wider than the kernel: whole output rows and columns see only padding (bias alone).
TEST(CpuDirectPlanes, PaddingOnlyWindowsAndTinyImages) {
  std::mt19937 rng(5);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t h : {1, 2, 3}) {
    for (int64_t w : {1, 2, 3, 11}) {
      Problem pr;
      pr.p = same3x3(9, 5, h, w);
      pr.p.pad_top = 4, pr.p.pad_left = 5, pr.p.pad_bottom = 3, pr.p.pad_right = 6;
      pr.p.with_output_size();
      pr.use_residual = true;
      pr.fill(rng);
      expect_close(pr.run(pool), pr.expected(), pr);
    }
  }
}

TEST(CpuDirectPlanes, ThreadCountsGiveBitIdenticalResults) {
  std::mt19937 rng(11);
  for (int64_t hw : {7, 13, 30}) {
    Problem pr;
    pr.p = same3x3(20, 37, hw, hw + 2);
    pr.p.N = 2;
    pr.use_residual = true;
    pr.act = {ActKind::kSilu, 0, 0};
    pr.fill(rng);
    expect_same_bits_for_thread_counts(pr);
  }
}

TEST(CpuDirectPlanes, OutputMayAliasResidual) {
  std::mt19937 rng(13);
  Problem pr;
  pr.p = same3x3(12, 30, 19, 37);
  pr.use_residual = true;
  pr.act = {ActKind::kRelu, 0, 0};
  pr.fill(rng);
  std::vector<float> y = pr.residual;
  ThreadPool two(2);
  expect_close(pr.run(two, y.data()), pr.expected(), pr);
}

TEST(CpuDirectPlanes, RejectsUnsupportedGeometry) {
  std::vector<float> w(4 * 8 * 9, 0.0f);
  Conv2dParams p = same3x3(8, 4, 16, 16);
  p.stride_h = p.stride_w = 2;
  p.with_output_size();
  EXPECT_FALSE(direct_planes_applicable(p));
  EXPECT_THROW(DirectPlanesConv(p, w.data(), nullptr), std::invalid_argument);
  p = same3x3(8, 4, 16, 16);
  p.group = 2;
  EXPECT_FALSE(direct_planes_applicable(p));
  p = same3x3(8, 4, 16, 16);
  p.OW += 1;  // ceil-mode-like output sizes are not this kernel's
  EXPECT_FALSE(direct_planes_applicable(p));
}

// Every SIMD target compiled in and supported here runs the same cases: run-time dispatch alone would only ever
// test the best one.
TEST(CpuDirectPlanes, EveryCompiledTargetMatchesReference) {
  std::mt19937 rng(31);
  ThreadPool two(2);
  for_each_compiled_target([&](const char*) {
    for (auto [c, m, hw] : {std::array<int64_t, 3>{5, 13, 13}, {16, 30, 8}, {3, 7, 37}}) {
      Problem pr;
      pr.p = same3x3(c, m, hw - 2, hw);
      pr.use_residual = true;
      pr.act = {ActKind::kHardSwish, 0, 0};
      pr.fill(rng);
      expect_close(pr.run(two), pr.expected(), pr);
      if (HasFatalFailure()) return;
    }
  });
}

}  // namespace conv_direct_planes_test
}  // namespace ef::cpu
