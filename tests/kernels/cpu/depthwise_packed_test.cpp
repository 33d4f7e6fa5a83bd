// Tests of the channel-packed depthwise kernel (kernels/cpu/depthwise_packed.h), called directly whatever
// depthwise_packed_preferred says, against the reference convolution plus the reference activation: randomized
// geometry (channel counts around the lane count, multipliers, batches, kernels, strides, dilations, pads),
// residual aliasing, thread counts, every compiled SIMD target, and the scratch buffer it shares with the row
// kernels of depthwise_conv.cpp.
#include "kernels/cpu/depthwise_packed.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "kernels/cpu/conv_test_util.h"
#include "kernels/cpu/depthwise_conv.h"

namespace ef::cpu {
namespace depthwise_packed_test {

struct Problem : FusedConvCase {
  std::vector<float> run(ThreadPool& pool) const {
    std::vector<float> y(out_size(), -12345.0f);
    depthwise_packed(p, x.data(), w.data(), bias_ptr(), residual_ptr(), act, y.data(), pool);
    return y;
  }
};

void expect_near(const std::vector<float>& got, const std::vector<float>& want, const Conv2dParams& p) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << "at " << i;
      continue;
    }
    ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::fabs(want[i])))
        << "N=" << p.N << " C=" << p.C << " M=" << p.M << " " << p.H << "x" << p.W << " k=" << p.kh << "x" << p.kw
        << " s=" << p.stride_h << "," << p.stride_w << " d=" << p.dilation_h << "," << p.dilation_w << " pads "
        << p.pad_top << "," << p.pad_left << "," << p.pad_bottom << "," << p.pad_right << " at " << i;
  }
}

TEST(CpuDepthwisePacked, RandomGeometryMatchesReference) {
  std::mt19937 rng(4321);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool pool(2);
  int checked = 0;
  for (int iter = 0; iter < 300; ++iter) {
    Problem pr;
    Conv2dParams& p = pr.p;
    p.N = pick(1, 2);
    p.C = pick(1, 19);  // below, at and past 4 and 8 lanes: partial last blocks
    p.M = p.C * (pick(0, 3) == 0 ? 2 : 1);
    p.group = p.C;
    p.H = pick(1, 17);
    p.W = pick(1, 17);
    random_depthwise_window(pick, p);
    if (p.OH < 1 || p.OW < 1) continue;
    pr.randomize_epilogue_and_fill(pick, rng);
    expect_near(pr.run(pool), pr.expected(), p);
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

// The layer shapes of the models it is chosen for (7x7..28x28 planes, 3x3 and 5x5, stride 1 and 2), each
// activation, with and without a residual.
TEST(CpuDepthwisePacked, ModelShapesAndActivations) {
  std::mt19937 rng(8);
  ThreadPool& pool = ThreadPool::inline_pool();
  int i = 0;
  for (auto [c, hw, k, s] : {std::array<int64_t, 4>{40, 7, 3, 1}, {24, 7, 5, 1}, {16, 14, 3, 2}, {24, 14, 5, 2},
                             {16, 28, 3, 2}, {8, 28, 5, 1}, {8, 56, 5, 2}, {12, 16, 3, 1}}) {
    for (const Activation& act : kAllActivations) {
      Problem pr;
      pr.p = depthwise_params(1, c, hw, hw, k, s, k / 2);
      pr.act = act;
      pr.use_residual = ++i % 2 == 0;
      pr.fill(rng);
      expect_near(pr.run(pool), pr.expected(), pr.p);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(CpuDepthwisePacked, ThreadCountsGiveBitIdenticalResults) {
  std::mt19937 rng(12);
  for (auto [c, hw, k, s] : {std::array<int64_t, 4>{36, 7, 3, 1}, {20, 14, 5, 2}, {13, 11, 4, 1}}) {
    Problem pr;
    pr.p = depthwise_params(2, c, hw, hw, k, s, k / 2);
    pr.use_residual = true;
    pr.act = {ActKind::kSilu, 0, 0};
    pr.fill(rng);
    expect_same_bits_for_thread_counts(pr);
  }
}

TEST(CpuDepthwisePacked, OutputMayAliasResidual) {
  std::mt19937 rng(14);
  Problem pr;
  pr.p = depthwise_params(1, 11, 7, 7, 3, 1, 1);  // 49 outputs: the last partial vector goes through the stack copy
  pr.use_residual = true;
  pr.act = {ActKind::kRelu, 0, 0};
  pr.fill(rng);
  std::vector<float> y = pr.residual;
  depthwise_packed(pr.p, pr.x.data(), pr.w.data(), pr.bias.data(), y.data(), pr.act, y.data(),
                   ThreadPool::inline_pool());
  expect_near(y, pr.expected(), pr.p);
}

// Both depthwise paths keep their padded planes in one per-thread scratch buffer, zeroed when the layout changes:
// alternating layers of the two kinds on one thread must each still see zero padding.
TEST(CpuDepthwisePacked, AlternatesWithRowKernelsOnOneBuffer) {
  std::mt19937 rng(15);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int round = 0; round < 3; ++round) {
    for (auto [c, hw, k, s] : {std::array<int64_t, 4>{16, 7, 3, 1}, {3, 9, 3, 1}, {16, 9, 3, 2}, {2, 30, 3, 1}}) {
      FusedConvCase pr;
      pr.p = depthwise_params(1, c, hw, hw, k, s, 1);
      pr.use_residual = round == 1;
      pr.fill(rng);
      std::vector<float> y(pr.out_size());
      depthwise_conv2d(pr.p, pr.x.data(), pr.w.data(), pr.bias_ptr(), pr.residual_ptr(), pr.act, y.data(), pool);
      expect_near(y, pr.expected(), pr.p);
      if (HasFatalFailure()) return;
    }
  }
}

// The row-chunk paths (compute_rows: 3x3 and 5x5, stride 1 and 2): output widths from below one chunk to a few
// chunks with a shifted-back last one, heights 1-4, pads 0-2 on each side (OW != W included), with a residual
// that y aliases and each cheap activation.
TEST(CpuDepthwisePacked, RowChunksOfEveryWidth) {
  std::mt19937 rng(77);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool pool(2);
  int checked = 0;
  for (int64_t k : {3, 5}) {
    for (int64_t s : {1, 2}) {
      for (int64_t ow = 1; ow <= 26; ++ow) {
        Problem pr;
        Conv2dParams& p = pr.p;
        p.N = 1;
        p.C = p.M = pick(1, 17);
        p.group = p.C;
        p.kh = p.kw = k;
        p.stride_h = p.stride_w = s;
        p.dilation_h = p.dilation_w = 1;
        p.pad_top = pick(0, 2), p.pad_left = pick(0, 2), p.pad_bottom = pick(0, 2), p.pad_right = pick(0, 2);
        // The input width that gives ow output columns with these pads (at least one column).
        p.W = std::max<int64_t>(1, (ow - 1) * s + k - p.pad_left - p.pad_right + pick(0, static_cast<int>(s) - 1));
        p.H = std::max<int64_t>(1, (pick(1, 4) - 1) * s + k - p.pad_top - p.pad_bottom);
        p.with_output_size();
        if (p.OH < 1 || p.OW < 1) continue;
        pr.use_residual = ow % 2 == 0;
        pr.act = {ow % 3 == 0 ? ActKind::kRelu : ow % 3 == 1 ? ActKind::kClip : ActKind::kNone, 0.0f, 6.0f};
        pr.fill(rng);
        std::vector<float> y = pr.use_residual ? pr.residual : std::vector<float>(pr.out_size(), -1.0f);
        depthwise_packed(p, pr.x.data(), pr.w.data(), pr.bias_ptr(), pr.use_residual ? y.data() : nullptr, pr.act,
                         y.data(), pool);
        expect_near(y, pr.expected(), p);
        if (HasFatalFailure()) return;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 90);
}

TEST(CpuDepthwisePacked, ChosenForSmallPlanesOnly) {
  if (!depthwise_packed_preferred(depthwise_params(1, 960, 7, 7, 3, 1, 1))) GTEST_SKIP() << "no 4- or 8-lane target";
  EXPECT_TRUE(depthwise_packed_preferred(depthwise_params(1, 672, 14, 14, 5, 2, 2)));
  EXPECT_TRUE(depthwise_packed_preferred(depthwise_params(1, 144, 56, 56, 5, 2, 2)));
  EXPECT_TRUE(depthwise_packed_preferred(depthwise_params(1, 384, 14, 14, 3, 1, 1)));
  EXPECT_TRUE(depthwise_packed_preferred(depthwise_params(1, 192, 28, 28, 3, 1, 1)));    // row chunks (compute_rows3)
  EXPECT_FALSE(depthwise_packed_preferred(depthwise_params(1, 144, 56, 56, 3, 1, 1)));   // the row kernels are faster
  EXPECT_FALSE(depthwise_packed_preferred(depthwise_params(1, 96, 112, 112, 3, 2, 1)));   // block past L2
  EXPECT_FALSE(depthwise_packed_preferred(depthwise_params(1, 2, 7, 7, 3, 1, 1)));      // fewer channels than lanes
}

TEST(CpuDepthwisePacked, EveryCompiledTargetMatchesReference) {
  struct RestoreTargets {
    ~RestoreTargets() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  std::mt19937 rng(32);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    for (auto [c, hw, k, s] : {std::array<int64_t, 4>{9, 7, 3, 1}, {17, 14, 5, 2}, {8, 10, 4, 1}}) {
      FusedConvCase pr;
      pr.p = depthwise_params(2, c, hw, hw, k, s, k / 2);
      pr.use_residual = true;
      pr.act = {ActKind::kHardSwish, 0, 0};
      pr.fill(rng);
      std::vector<float> y(pr.out_size());
      // Through the public entry: targets without a packed layout (scalar) take the row kernels.
      depthwise_conv2d(pr.p, pr.x.data(), pr.w.data(), pr.bias_ptr(), pr.residual_ptr(), pr.act, y.data(), pool);
      expect_near(y, pr.expected(), pr.p);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace ef::cpu
