// Tests of ef::cpu::DirectSmallCConv (few-input-channel direct convolution) against the reference convolution
// (kernels/reference/conv.h) plus the reference activation, over randomized geometry, fused epilogues, thread
// counts and every compiled SIMD target.
#include "kernels/cpu/conv_direct_smallc.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "kernels/cpu/conv_test_util.h"
#include "kernels/reference/conv.h"

namespace ef::cpu {
namespace conv_direct_smallc_test {

struct Problem : FusedConvCase {
  std::vector<float> run(ThreadPool& pool, float* y_in = nullptr) const {
    return run_direct_conv<DirectSmallCConv>(*this, pool, y_in);
  }
};

std::string describe(const Problem& pr) { return describe_conv_case(pr); }

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const Problem& pr) {
  expect_close_to_reference(got, want, pr, 2e-5f);
}

Conv2dParams stem(int64_t c, int64_t m, int64_t h, int64_t w, int64_t k, int64_t s, int64_t pad) {
  Conv2dParams p;
  p.C = c, p.M = m, p.H = h, p.W = w, p.kh = p.kw = k;
  p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  return p.with_output_size();
}

TEST(CpuDirectSmallC, RandomGeometryMatchesReference) {
  std::mt19937 rng(4321);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool one(1), two(2);
  int checked = 0;
  for (int iter = 0; iter < 300; ++iter) {
    Problem pr;
    Conv2dParams& p = pr.p;
    p.N = pick(1, 2);
    p.C = pick(1, 4);
    p.M = pick(0, 2) == 0 ? pick(1, 9) : 4 * pick(1, 6);
    p.H = pick(1, 25);
    p.W = pick(0, 2) == 0 ? pick(40, 75) : pick(1, 39);
    p.kh = pick(1, 7);
    p.kw = pick(0, 2) == 0 ? pick(1, 7) : p.kh;
    p.stride_h = pick(1, 2);
    p.stride_w = pick(0, 3) == 0 ? pick(1, 4) : p.stride_h;
    p.pad_top = pick(0, 3), p.pad_left = pick(0, 3), p.pad_bottom = pick(0, 3), p.pad_right = pick(0, 3);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1) continue;
    ASSERT_TRUE(direct_smallc_applicable(p)) << describe(pr);
    pr.randomize_epilogue_and_fill(pick, rng);
    expect_close(pr.run(iter % 2 ? two : one), pr.expected(), pr);
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

// The model stems (blazeface 5x5 s2 'same' padding written as pads 1,1,2,2; 3x3 s2; resnet's 7x7 s2 pad 3) at
// widths around the vector lengths and tile widths (8, 16, 24, 48 columns).
TEST(CpuDirectSmallC, StemShapesMatchReference) {
  std::mt19937 rng(99);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (auto [k, s, pad] : {std::array<int64_t, 3>{3, 2, 1}, {5, 2, 2}, {7, 2, 3}, {3, 1, 1}, {3, 2, 0}}) {
    for (int64_t width : {1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 47, 48, 49, 50, 63, 97}) {
      Problem pr;
      pr.p = stem(3, 24, 5 + width % 4, width, k, s, pad);
      if (k == 5) pr.p.pad_top = pr.p.pad_left = 1, pr.p.with_output_size();
      if (pr.p.OH < 1 || pr.p.OW < 1) continue;
      pr.act = {ActKind::kSilu, 0, 0};
      pr.fill(rng);
      expect_close(pr.run(pool), pr.expected(), pr);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(CpuDirectSmallC, EachActivationKind) {
  std::mt19937 rng(7);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (const Activation& act : kAllActivations) {
    Problem pr;
    pr.p = stem(3, 10, 13, 29, 3, 2, 1);
    pr.act = act;
    pr.use_residual = true;
    pr.fill(rng);
    expect_close(pr.run(pool), pr.expected(), pr);
  }
}

// Pads wider than the kernel: whole output rows and columns see only padding (bias alone).
TEST(CpuDirectSmallC, PaddingOnlyWindowsAndTinyImages) {
  std::mt19937 rng(5);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t h : {1, 2, 3}) {
    for (int64_t w : {1, 2, 3, 11}) {
      Problem pr;
      pr.p = stem(2, 5, h, w, 3, 1, 0);
      pr.p.pad_top = 4, pr.p.pad_left = 5, pr.p.pad_bottom = 3, pr.p.pad_right = 6;
      pr.p.with_output_size();
      pr.use_residual = true;
      pr.fill(rng);
      expect_close(pr.run(pool), pr.expected(), pr);
    }
  }
}

TEST(CpuDirectSmallC, ThreadCountsGiveBitIdenticalResults) {
  std::mt19937 rng(11);
  for (int64_t k : {3, 5, 7}) {
    Problem pr;
    pr.p = stem(3, 14, 61, 53, k, 2, k / 2);
    pr.p.N = 2;
    pr.use_residual = true;
    pr.act = {ActKind::kSilu, 0, 0};
    pr.fill(rng);
    expect_same_bits_for_thread_counts(pr);
  }
}

TEST(CpuDirectSmallC, OutputMayAliasResidual) {
  std::mt19937 rng(13);
  Problem pr;
  pr.p = stem(3, 6, 19, 37, 3, 2, 1);
  pr.use_residual = true;
  pr.act = {ActKind::kRelu, 0, 0};
  pr.fill(rng);
  std::vector<float> y = pr.residual;
  expect_close(pr.run(ThreadPool::inline_pool(), y.data()), pr.expected(), pr);
}

TEST(CpuDirectSmallC, RejectsUnsupportedGeometry) {
  std::vector<float> w(5 * 5 * 9 * 9, 0.0f);
  Conv2dParams p = stem(5, 4, 16, 16, 3, 1, 1);  // 5 input channels
  EXPECT_FALSE(direct_smallc_applicable(p));
  EXPECT_THROW(DirectSmallCConv(p, w.data(), nullptr), std::invalid_argument);
  p = stem(3, 4, 16, 16, 9, 1, 4);  // 9x9 kernel
  EXPECT_FALSE(direct_smallc_applicable(p));
  p = stem(3, 4, 16, 16, 3, 1, 1);
  p.dilation_h = 2;
  EXPECT_FALSE(direct_smallc_applicable(p));
}

// Every SIMD target compiled in and supported here runs the same cases: run-time dispatch alone would only ever
// test the best one.
TEST(CpuDirectSmallC, EveryCompiledTargetMatchesReference) {
  struct RestoreTargets {
    ~RestoreTargets() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  std::mt19937 rng(31);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    for (auto [k, s, hw] : {std::array<int64_t, 3>{3, 2, 37}, {5, 2, 30}, {7, 2, 21}, {3, 1, 5}, {1, 1, 19}}) {
      Problem pr;
      pr.p = stem(3, 7, hw - 2, hw, k, s, k / 2);
      pr.use_residual = true;
      pr.act = {ActKind::kHardSwish, 0, 0};
      pr.fill(rng);
      expect_close(pr.run(pool), pr.expected(), pr);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace ef::cpu
