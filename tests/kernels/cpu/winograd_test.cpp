// Tests of ef::cpu::WinogradConv (F(4x4, 3x3) and F(2x2, 3x3)) against the double-precision reference convolution over randomized
// geometry (odd sizes, asymmetric padding, batch, tile blocks that end mid-row), fused epilogues, thread counts
// and every compiled SIMD target.
//
// Tolerance: Winograd's transforms mix each output from up to 36 products with coefficients up to 8 (A^T) and
// 5 (B^T), so its rounding error scales with the magnitudes of the terms, not with the (possibly cancelling)
// result, and it mixes every input of the tile's 6x6 window. Each output is therefore checked against
// |y - y_ref| <= kRelTol * S, S = the largest sum over a window of |x| |w| among the 16 outputs of its tile, plus
// |bias| and |residual|: the error a float32 direct convolution would make is about 1e-7 * S, the
// F(4x4, 3x3) one measured here stays below 5e-6 * S (kRelTol leaves headroom for other targets' FMA patterns).
#include "kernels/cpu/winograd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "kernels/reference/conv.h"
#include "kernels/cpu/conv_test_util.h"

namespace ef::cpu {
namespace winograd_test {

constexpr double kRelTol = 1e-5;

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

struct Problem {
  Conv2dParams p;
  std::vector<float> x, w, bias, residual;
  bool use_bias = true, use_residual = false;
  Activation act;
  int tile = 4;
  int64_t tile_block = 0;
  int64_t chunk = 0;
  int threads_hint = 1;

  size_t out_size() const { return static_cast<size_t>(p.N * p.M * p.OH * p.OW); }

  void fill(std::mt19937& rng) {
    x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng, -2.0f, 2.0f);
    w = random_floats(static_cast<size_t>(p.M * p.C * 9), rng);
    bias = random_floats(static_cast<size_t>(p.M), rng);
    residual = random_floats(out_size(), rng);
  }

  std::vector<float> run(ThreadPool& pool) const {
    const WinogradConv conv(p, w.data(), tile, tile_block, chunk, threads_hint);
    std::vector<float> scratch(conv.scratch_bytes() / sizeof(float) + 16);
    float* aligned = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / sizeof(float) % 16) % 16;
    std::vector<float> y(out_size(), -12345.0f);
    conv.run(x.data(), use_bias ? bias.data() : nullptr, use_residual ? residual.data() : nullptr, act, y.data(),
             aligned, pool);
    return y;
  }

  // The exact pre-activation result and the error scale S of every output (see the file comment).
  void expected(std::vector<double>& want, std::vector<double>& scale) const {
    want.assign(out_size(), 0.0);
    scale.assign(out_size(), 0.0);
    const std::vector<double> xd = to_double(x), wd = to_double(w), bd = to_double(bias);
    std::vector<double> xa(xd.size()), wa(wd.size());
    for (size_t i = 0; i < xd.size(); ++i) xa[i] = std::fabs(xd[i]);
    for (size_t i = 0; i < wd.size(); ++i) wa[i] = std::fabs(wd[i]);
    conv_reference(to_reference(p), xd.data(), wd.data(), use_bias ? bd.data() : nullptr, want.data());
    conv_reference(to_reference(p), xa.data(), wa.data(), nullptr, scale.data());
    // Rounding mixes every input of the window of the output's tile, so S is the largest of the tile.
    const int64_t plane = p.OH * p.OW;
    std::vector<double> tile_scale(scale.size());
    for (size_t i = 0; i < scale.size(); ++i) {
      const int64_t base = static_cast<int64_t>(i) / plane * plane, oh = static_cast<int64_t>(i) % plane / p.OW,
                    ow = static_cast<int64_t>(i) % p.OW;
      double s = 0;
      const int64_t t = tile, r0 = oh / t * t, c0 = ow / t * t;
      for (int64_t r = r0; r < std::min(p.OH, r0 + t); ++r) {
        for (int64_t c = c0; c < std::min(p.OW, c0 + t); ++c) s = std::max(s, scale[base + r * p.OW + c]);
      }
      tile_scale[i] = s;
    }
    scale = tile_scale;
    for (size_t i = 0; i < want.size(); ++i) {
      if (use_bias) scale[i] += std::fabs(bd[static_cast<size_t>(static_cast<int64_t>(i) / plane % p.M)]);
      if (use_residual) want[i] += residual[i], scale[i] += std::fabs(residual[i]);
    }
  }
};

std::string describe(const Problem& pr) {
  const Conv2dParams& p = pr.p;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "N=%lld C=%lld M=%lld HxW=%lldx%lld pads(t,l,b,r)=%lld,%lld,%lld,%lld out=%lldx%lld tile=%d block=%lld "
                "bias=%d residual=%d act=%d",
                (long long)p.N, (long long)p.C, (long long)p.M, (long long)p.H, (long long)p.W, (long long)p.pad_top,
                (long long)p.pad_left, (long long)p.pad_bottom, (long long)p.pad_right, (long long)p.OH,
                (long long)p.OW, pr.tile, (long long)pr.tile_block, pr.use_bias, pr.use_residual, static_cast<int>(pr.act.kind));
  return buf;
}

// Returns the largest error seen, in units of S.
double expect_matches_reference(const Problem& pr, ThreadPool& pool) {
  const std::vector<float> got = pr.run(pool);
  std::vector<double> want, scale;
  pr.expected(want, scale);
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    // The activation is applied to the exact sum; its slope is at most 1.5 (HardSwish) for every kind tested,
    // well inside the headroom of kRelTol.
    const double ref = activation_reference(pr.act, static_cast<float>(want[i]));
    const double err = std::fabs(static_cast<double>(got[i]) - ref);
    const double bound = kRelTol * scale[i] + 1e-6 * std::fabs(ref);  // + the float rounding of ref itself
    worst = std::max(worst, err / std::max(scale[i], 1e-30));
    if (!(err <= bound)) {
      ADD_FAILURE() << describe(pr) << " at " << i << ": got " << got[i] << " want " << ref << " S " << scale[i];
      return worst;
    }
  }
  return worst;
}

Conv2dParams conv3x3(int64_t n, int64_t c, int64_t m, int64_t h, int64_t w, int64_t pt, int64_t pl, int64_t pb,
                     int64_t pr) {
  Conv2dParams p;
  p.N = n, p.C = c, p.M = m, p.H = h, p.W = w, p.kh = p.kw = 3;
  p.pad_top = pt, p.pad_left = pl, p.pad_bottom = pb, p.pad_right = pr;
  return p.with_output_size();
}

const Activation kActivations[] = {{ActKind::kNone, 0, 0},   {ActKind::kRelu, 0, 0},         {ActKind::kClip, -0.25f, 0.5f},
                                   {ActKind::kLeakyRelu, 0.1f, 0}, {ActKind::kSigmoid, 0, 0}, {ActKind::kHardSwish, 0, 0},
                                   {ActKind::kSilu, 0, 0}};

TEST(CpuWinograd, Applicability) {
  EXPECT_TRUE(winograd_applicable(conv3x3(1, 4, 4, 8, 8, 1, 1, 1, 1)));
  Conv2dParams p = conv3x3(1, 4, 4, 8, 8, 1, 1, 1, 1);
  p.stride_h = 2;
  EXPECT_FALSE(winograd_applicable(p.with_output_size()));
  p = conv3x3(1, 4, 4, 8, 8, 1, 1, 1, 1);
  p.dilation_w = 2;
  EXPECT_FALSE(winograd_applicable(p.with_output_size()));
  p = conv3x3(1, 4, 4, 8, 8, 1, 1, 1, 1);
  p.group = 2;
  EXPECT_FALSE(winograd_applicable(p));
  p = conv3x3(1, 4, 4, 8, 8, 1, 1, 1, 1);
  p.kw = 5;
  EXPECT_FALSE(winograd_applicable(p.with_output_size()));
  EXPECT_THROW(WinogradConv(p, std::vector<float>(4 * 4 * 15).data()), std::invalid_argument);
  p = conv3x3(1, 4, 4, 8, 8, 1, 1, 1, 1);
  EXPECT_THROW(WinogradConv(p, std::vector<float>(4 * 4 * 9).data(), 3), std::invalid_argument);
  // The per-layer choice: 4x4 tiles on large planes, 2x2 on small planes of few channels, none for thin layers.
  EXPECT_EQ(winograd_preferred_tile(conv3x3(1, 64, 64, 56, 56, 1, 1, 1, 1)), 4);
  // 7x7 planes: F(2x2) while its transformed weights fit in L2 (64 channels), im2col for resnet18's 512.
  EXPECT_EQ(winograd_preferred_tile(conv3x3(1, 64, 64, 7, 7, 1, 1, 1, 1)), 2);
  EXPECT_EQ(winograd_preferred_tile(conv3x3(1, 512, 512, 7, 7, 1, 1, 1, 1)), 0);
  EXPECT_EQ(winograd_preferred_tile(conv3x3(1, 4, 64, 56, 56, 1, 1, 1, 1)), 0);
  EXPECT_EQ(winograd_preferred_tile(conv3x3(1, 64, 64, 4096, 3, 1, 1, 1, 1)), 0);  // padded plane ~24x the input
  EXPECT_EQ(winograd_preferred_tile(conv3x3(1, 64, 64, 320, 320, 1, 1, 1, 1)), 4);
}

TEST(CpuWinograd, RandomGeometryMatchesReference) {
  std::mt19937 rng(4321);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool pool2(2), pool3(3);
  double worst = 0;
  for (int iter = 0; iter < 60; ++iter) {
    Problem pr;
    pr.p = conv3x3(pick(1, 3), pick(1, 37), pick(1, 41), pick(1, 21), pick(0, 3) == 0 ? pick(30, 50) : pick(1, 23),
                   pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2));
    if (pr.p.OH < 1 || pr.p.OW < 1) continue;
    pr.use_bias = pick(0, 3) != 0;
    pr.use_residual = pick(0, 2) == 0;
    pr.act = kActivations[pick(0, 6)];
    const int blocks[] = {0, 1, 5, 16, 33};
    pr.tile_block = blocks[pick(0, 4)];
    pr.tile = pick(0, 2) == 0 ? 2 : 4;
    pr.fill(rng);
    ThreadPool& pool = iter % 3 == 0 ? ThreadPool::inline_pool() : (iter % 3 == 1 ? pool2 : pool3);
    worst = std::max(worst, expect_matches_reference(pr, pool));
    if (HasFailure()) return;
  }
  std::printf("largest error / S: %.3g\n", worst);
}

// Channel counts of the public models' layers (resnet18 and squeezenet stages; planes cut to keep the double
// reference quick), with their fused epilogues.
TEST(CpuWinograd, ModelShapesMatchReference) {
  std::mt19937 rng(8);
  for (auto [c, hw, m] : {std::array<int64_t, 3>{64, 18, 64}, {128, 9, 128}, {32, 15, 128}, {48, 13, 192}}) {
    Problem pr;
    pr.p = conv3x3(1, c, m, hw, hw, 1, 1, 1, 1);
    pr.use_residual = true;
    pr.act = {ActKind::kRelu, 0, 0};
    pr.fill(rng);
    expect_matches_reference(pr, ThreadPool::inline_pool());
    if (HasFailure()) return;
  }
}

TEST(CpuWinograd, ResultsDoNotDependOnThreadCount) {
  for (int tile : {4, 2}) {
  std::mt19937 rng(77);
  Problem pr;
  pr.tile = tile;
  pr.p = conv3x3(2, 19, 23, 17, 29, 1, 0, 2, 1);
  pr.use_residual = true;
  pr.act = {ActKind::kSilu, 0, 0};
  pr.tile_block = 16;
  pr.fill(rng);
  const std::vector<float> one = pr.run(ThreadPool::inline_pool());
  ThreadPool pool2(2), pool3(3);
  const std::vector<float> two = pr.run(pool2), three = pr.run(pool3);
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)), 0);
  }
}

// The default blocking evens out the blocks (squeezenet's fire2 expand: 196 tiles as 56+56+56+28, a last
// block ending mid-row; 3 x 64 tiles as 4 x 48); results still match the reference and do not depend on the thread count.
TEST(CpuWinograd, DefaultBlocksAreEvenAndThreadCountIndependent) {
  std::mt19937 rng(55);
  for (auto [n, c, m, hw] : {std::array<int64_t, 4>{1, 16, 64, 55}, {3, 24, 48, 30}, {1, 32, 128, 27}}) {
    Problem pr;
    pr.p = conv3x3(n, c, m, hw, hw, 1, 1, 1, 1);
    pr.use_residual = true;
    pr.act = {ActKind::kRelu, 0, 0};
    pr.fill(rng);
    ThreadPool pool2(2), pool3(3);
    expect_matches_reference(pr, pool2);
    const std::vector<float> one = pr.run(ThreadPool::inline_pool());
    const std::vector<float> two = pr.run(pool2), three = pr.run(pool3);
    EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)), 0);
    if (HasFailure()) return;
  }
}

// The output-channel chunk only groups GEMM rows: every chunk size (and the default for each thread-count hint:
// 24 or 96, or M / threads for one block at several threads) gives the same bits, one block or several, M not a
// multiple of the GEMM's row tile.
TEST(CpuWinograd, ChunkSizeDoesNotChangeResults) {
  std::mt19937 rng(91);
  for (auto [c, m, hw] : {std::array<int64_t, 3>{40, 200, 14}, {24, 130, 28}}) {
    Problem pr;
    pr.p = conv3x3(1, c, m, hw, hw, 1, 1, 1, 1);
    pr.use_residual = true;
    pr.act = {ActKind::kRelu, 0, 0};
    pr.fill(rng);
    ThreadPool pool2(2);
    const std::vector<float> base = pr.run(pool2);
    expect_matches_reference(pr, pool2);
    for (int64_t chunk : {6, 24, 50, 96, 1024}) {
      pr.chunk = chunk;
      EXPECT_EQ(std::memcmp(base.data(), pr.run(pool2).data(), base.size() * sizeof(float)), 0) << "chunk " << chunk;
    }
    pr.chunk = 0;
    for (int hint : {2, 3}) {
      pr.threads_hint = hint;
      EXPECT_EQ(std::memcmp(base.data(), pr.run(pool2).data(), base.size() * sizeof(float)), 0) << "hint " << hint;
      EXPECT_EQ(std::memcmp(base.data(), pr.run(ThreadPool::inline_pool()).data(), base.size() * sizeof(float)), 0);
    }
    if (HasFailure()) return;
  }
}

// The input transform writes V straight into the SGEMM's B panels: more channels than one GEMM K block (256 on
// every target here) put channels 255 / 256 in different panel sets; wide tile rows make groups straddle panels,
// and the phase split (one block) gives each thread a channel range whose last channel may not spill.
TEST(CpuWinograd, ChannelsSpanningSeveralGemmKBlocksAndThreadRanges) {
  std::mt19937 rng(91);
  ThreadPool pool2(2), pool3(3);
  for (int64_t block : {0, 13, 40}) {
    for (int tile : {4, 2}) {
      Problem pr;
      pr.p = conv3x3(1, 300, 7, 9, 61, 1, 1, 1, 1);
      pr.tile = tile;
      pr.tile_block = block;
      pr.use_residual = true;
      pr.fill(rng);
      expect_matches_reference(pr, pool3);
      const std::vector<float> one = pr.run(ThreadPool::inline_pool()), two = pr.run(pool2);
      EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0) << describe(pr);
      if (HasFailure()) return;
    }
  }
}

// The residual may be the output buffer itself (in-place accumulate).
TEST(CpuWinograd, ResidualMayAliasOutput) {
  std::mt19937 rng(3);
  Problem pr;
  pr.p = conv3x3(1, 9, 10, 13, 22, 1, 1, 1, 1);
  pr.use_residual = true;
  pr.fill(rng);
  const std::vector<float> want = pr.run(ThreadPool::inline_pool());
  const WinogradConv conv(pr.p, pr.w.data(), pr.tile);
  std::vector<float> scratch(conv.scratch_bytes() / sizeof(float) + 16);
  float* aligned = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / sizeof(float) % 16) % 16;
  std::vector<float> y = pr.residual;
  conv.run(pr.x.data(), pr.bias.data(), y.data(), pr.act, y.data(), aligned, ThreadPool::inline_pool());
  EXPECT_EQ(y, want);
}

// Every SIMD target compiled in and supported here runs the same cases (transforms and the SGEMM kernel).
TEST(CpuWinograd, EveryCompiledTargetMatchesReference) {
  struct RestoreTargets {
    ~RestoreTargets() {
      hwy::SetSupportedTargetsForTest(0);
      set_max_isa("");
    }
  } restore;
  std::mt19937 rng(31);
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    set_max_isa(hwy::TargetName(target));  // false (no change) for targets without their own SGEMM kernel
    SCOPED_TRACE(hwy::TargetName(target));
    for (auto [h, w] : {std::array<int64_t, 2>{7, 7}, {14, 15}, {23, 70}}) {
      Problem pr;
      pr.p = conv3x3(2, 5, 6, h, w, 1, 1, 1, 1);
      pr.use_residual = true;
      pr.act = {ActKind::kHardSwish, 0, 0};
      pr.tile_block = 8;
      pr.tile = h == 14 ? 2 : 4;
      pr.fill(rng);
      expect_matches_reference(pr, ThreadPool::inline_pool());
      if (HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace ef::cpu
