// Tests of ef::cpu::DirectBlockedConv (direct convolution with output channels in the vector lanes) against the
// reference convolution (kernels/reference/conv.h) plus the reference activation, over randomized geometry (odd
// sizes, kernels, strides, dilations, asymmetric pads, batches, channel counts around the 64-channel weight
// blocks and the 16-channel input blocks), fused epilogues, thread counts and every compiled SIMD target.
#include "kernels/cpu/conv_direct_blocked.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv_test_util.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace conv_direct_blocked_test {

using Problem = DirectConvProblem<DirectBlockedConv>;

std::string describe(const Problem& pr) { return describe_conv_case(pr); }

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const Problem& pr) {
  expect_close_to_reference_k(got, want, pr);
}

TEST(CpuDirectBlocked, RandomGeometryMatchesReference) {
  std::mt19937 rng(1357);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool one(1), two(2), three(3);
  ThreadPool* pools[] = {&one, &two, &three};
  int checked = 0;
  for (int iter = 0; iter < 250; ++iter) {
    Problem pr;
    Conv2dParams& p = pr.p;
    p.N = pick(1, 2);
    p.C = pick(0, 2) == 0 ? pick(1, 40) : 16 * pick(1, 3) + pick(-1, 1);
    p.M = pick(0, 2) == 0 ? pick(1, 30) : 64 * pick(1, 2) + pick(-1, 1);
    p.H = pick(1, 20);
    p.W = pick(0, 3) == 0 ? pick(25, 40) : pick(1, 24);
    p.kh = pick(1, 5);
    p.kw = pick(0, 2) == 0 ? pick(1, 5) : p.kh;
    p.stride_h = pick(0, 2) == 0 ? 2 : 1;
    p.stride_w = pick(0, 2) == 0 ? pick(1, 3) : p.stride_h;
    p.dilation_h = pick(0, 3) == 0 ? 2 : 1;
    p.dilation_w = pick(0, 3) == 0 ? 2 : 1;
    p.pad_top = pick(0, 3), p.pad_left = pick(0, 3), p.pad_bottom = pick(0, 3), p.pad_right = pick(0, 3);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1) continue;
    ASSERT_TRUE(direct_blocked_applicable(p)) << describe(pr);
    pr.randomize_epilogue_and_fill(pick, rng);
    expect_close(pr.run(*pools[iter % 3]), pr.expected(), pr);
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

// The model layers it is meant for: resnet18's 3x3 convs (stride 1 and 2), squeezenet's 13x13 expand convs, and
// planes larger than one band of positions.
TEST(CpuDirectBlocked, ModelShapesMatchReference) {
  std::mt19937 rng(99);
  ThreadPool two(2);
  for (auto [c, m, hw, s] : {std::array<int64_t, 4>{256, 256, 14, 1}, {512, 512, 7, 1}, {128, 128, 28, 1},
                             {64, 256, 13, 1}, {48, 192, 13, 1}, {128, 256, 28, 2}, {256, 512, 14, 2},
                             {20, 70, 33, 1}}) {
    Problem pr;
    pr.p = same3x3(c, m, hw, hw);
    pr.p.stride_h = pr.p.stride_w = s;
    pr.p.with_output_size();
    pr.use_residual = s == 1;
    pr.act = {ActKind::kRelu, 0, 0};
    pr.fill(rng);
    expect_close(pr.run(two), pr.expected(), pr);
    if (HasFatalFailure()) return;
  }
}

TEST(CpuDirectBlocked, ThreadCountsGiveBitIdenticalResults) {
  std::mt19937 rng(11);
  for (int64_t hw : {7, 14, 30}) {
    Problem pr;
    pr.p = same3x3(20, 150, hw, hw + 2);
    pr.p.N = 2;
    pr.use_residual = true;
    pr.act = {ActKind::kSilu, 0, 0};
    pr.fill(rng);
    expect_same_bits_for_thread_counts(pr);
  }
}

TEST(CpuDirectBlocked, OutputMayAliasResidual) {
  std::mt19937 rng(13);
  Problem pr;
  pr.p = same3x3(12, 70, 19, 17);
  pr.use_residual = true;
  pr.act = {ActKind::kRelu, 0, 0};
  pr.fill(rng);
  std::vector<float> y = pr.residual;
  ThreadPool two(2);
  expect_close(pr.run(two, y.data()), pr.expected(), pr);
}

// The measured choice: resnet18's 14x14 stage (stride 1 at two threads, stride 2 at any) and squeezenet1_1's 13x13
// expand convs at two threads; no stride 2 with fewer than 128 input channels, nothing on 7x7 / 28x28 outputs,
// with fewer than 48 input channels or dilated.
TEST(CpuDirectBlocked, ChosenForTheFourteenByFourteenStage) {
  EXPECT_TRUE(direct_blocked_preferred(same3x3(256, 256, 14, 14), 2));
  EXPECT_FALSE(direct_blocked_preferred(same3x3(256, 256, 14, 14), 1));
  Conv2dParams down = same3x3(128, 256, 28, 28);
  down.stride_h = down.stride_w = 2;
  down.with_output_size();
  EXPECT_TRUE(direct_blocked_preferred(down, 1));
  EXPECT_TRUE(direct_blocked_preferred(down, 2));
  Conv2dParams narrow = same3x3(64, 128, 56, 56);
  narrow.stride_h = narrow.stride_w = 2;
  narrow.with_output_size();
  EXPECT_FALSE(direct_blocked_preferred(narrow, 2));
  EXPECT_FALSE(direct_blocked_preferred(same3x3(512, 512, 7, 7), 2));
  EXPECT_FALSE(direct_blocked_preferred(same3x3(128, 128, 28, 28), 2));
  EXPECT_TRUE(direct_blocked_preferred(same3x3(64, 256, 13, 13), 2));
  EXPECT_TRUE(direct_blocked_preferred(same3x3(48, 192, 13, 13), 2));
  EXPECT_FALSE(direct_blocked_preferred(same3x3(48, 192, 13, 13), 1));
  EXPECT_FALSE(direct_blocked_preferred(same3x3(32, 128, 13, 13), 2));
  Conv2dParams dilated = same3x3(96, 96, 15, 17);
  dilated.dilation_h = dilated.dilation_w = 2;
  dilated.pad_top = dilated.pad_bottom = dilated.pad_left = dilated.pad_right = 2;
  dilated.with_output_size();
  EXPECT_TRUE(direct_blocked_applicable(dilated));
  EXPECT_FALSE(direct_blocked_preferred(dilated, 2));
  Conv2dParams thin_down = same3x3(64, 128, 28, 28);
  thin_down.stride_h = thin_down.stride_w = 2;
  thin_down.with_output_size();
  EXPECT_FALSE(direct_blocked_preferred(thin_down, 2));
}

TEST(CpuDirectBlocked, RejectsUnsupportedGeometry) {
  std::vector<float> w(4 * 8 * 9, 0.0f);
  Conv2dParams p = same3x3(8, 4, 16, 16);
  p.group = 2;
  EXPECT_FALSE(direct_blocked_applicable(p));
  EXPECT_THROW(DirectBlockedConv(p, w.data(), nullptr), std::invalid_argument);
  p = same3x3(8, 4, 16, 16);
  p.OW += 1;  // output sizes other than the floor rule's
  EXPECT_FALSE(direct_blocked_applicable(p));
}

// Every SIMD target compiled in and supported here runs the same cases: run-time dispatch alone would only ever
// test the best one.
TEST(CpuDirectBlocked, EveryCompiledTargetMatchesReference) {
  std::mt19937 rng(31);
  ThreadPool two(2);
  for_each_compiled_target([&](const char*) {
    for (auto [c, m, hw] : {std::array<int64_t, 3>{5, 13, 13}, {17, 66, 8}, {33, 7, 15}}) {
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

}  // namespace conv_direct_blocked_test
}  // namespace ef::cpu
