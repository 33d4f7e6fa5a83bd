// Tests of ef::cpu::PointwiseDepthwiseConv (1x1 conv + depthwise conv in row bands) against the reference kernels
// (the 1x1 conv, its activation, then the depthwise conv and its activation), over randomized geometry (depthwise
// kernels, strides, dilations, pads, channel multipliers), band sizes down to one row, chunk counts, thread counts
// and every compiled SIMD target; and of depthwise_conv2d_band, which it runs on each band.
#include "kernels/cpu/pointwise_depthwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv_test_util.h"
#include "kernels/cpu/depthwise_conv.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace pointwise_depthwise_test {

struct Case {
  Conv2dParams pw, dw;
  Activation act1{ActKind::kClip, 0.0f, 6.0f}, act2{ActKind::kClip, 0.0f, 6.0f};
  bool bias1 = true, bias2 = true;
  int64_t chunks = PointwiseDepthwiseConv::kChunks, band_bytes = PointwiseDepthwiseConv::kBandBytes;
  std::vector<float> x, w1, b1, w2, b2;

  std::string describe() const {
    const Conv2dParams& d = dw;
    return "N" + std::to_string(pw.N) + " C" + std::to_string(pw.C) + " M1 " + std::to_string(pw.M) + " " +
           std::to_string(pw.H) + "x" + std::to_string(pw.W) + "; dw M" + std::to_string(d.M) + " k" +
           std::to_string(d.kh) + "x" + std::to_string(d.kw) + " s" + std::to_string(d.stride_h) + "," +
           std::to_string(d.stride_w) + " d" + std::to_string(d.dilation_h) + "," + std::to_string(d.dilation_w) +
           " pads " + std::to_string(d.pad_top) + "," + std::to_string(d.pad_left) + "," +
           std::to_string(d.pad_bottom) + "," + std::to_string(d.pad_right) + " -> " + std::to_string(d.OH) + "x" +
           std::to_string(d.OW) + "; acts " + std::to_string(static_cast<int>(act1.kind)) + "," +
           std::to_string(static_cast<int>(act2.kind)) + " chunks " + std::to_string(chunks) + " band " +
           std::to_string(band_bytes);
  }

  void fill(std::mt19937& rng) {
    x = random_floats(static_cast<size_t>(pw.N * pw.C * pw.H * pw.W), rng);
    w1 = random_floats(static_cast<size_t>(pw.M * pw.C), rng);
    b1 = random_floats(static_cast<size_t>(pw.M), rng);
    w2 = random_floats(static_cast<size_t>(dw.M * dw.kh * dw.kw), rng);
    b2 = random_floats(static_cast<size_t>(dw.M), rng);
  }

  std::vector<float> expected() const {
    const std::vector<float> mid =
        fused_conv_reference(pw, x.data(), w1.data(), bias1 ? b1.data() : nullptr, nullptr, act1);
    return fused_conv_reference(dw, mid.data(), w2.data(), bias2 ? b2.data() : nullptr, nullptr, act2);
  }

  // Scratch poisoned with NaN and the output with a sentinel, so reads of unwritten band rows and skipped outputs
  // both show.
  std::vector<float> run(ThreadPool& pool) const {
    const PointwiseDepthwiseConv k(pw, w1.data(), bias1 ? b1.data() : nullptr, act1, dw, w2.data(),
                                   bias2 ? b2.data() : nullptr, act2, chunks, band_bytes);
    std::vector<float> scratch(k.scratch_bytes() / sizeof(float), std::nanf(""));
    std::vector<float> y(static_cast<size_t>(dw.N * dw.M * dw.OH * dw.OW), -12345.0f);
    k.run(x.data(), y.data(), scratch.data(), pool);
    return y;
  }
};

// Products of K = C (pointwise) then kh kw (depthwise) values in [-1, 1], in another order than the reference.
void expect_close(const Case& c, const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  const float tol = 2e-6f * static_cast<float>(c.pw.C + 1) * static_cast<float>(c.dw.kh * c.dw.kw + 1);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1.0f + std::fabs(want[i]))) << c.describe() << " at " << i;
  }
}

template <class Pick>
Case random_case(Pick& pick, std::mt19937& rng) {
  for (;;) {
    Case c;
    Conv2dParams& pw = c.pw;
    pw.N = pick(1, 2);
    pw.C = pick(1, 9);
    pw.M = pick(1, 20);
    pw.H = pick(1, 30);
    pw.W = pick(0, 3) == 0 ? pick(30, 70) : pick(1, 29);
    pw.with_output_size();
    Conv2dParams& dw = c.dw;
    dw.N = pw.N, dw.C = pw.M, dw.H = pw.H, dw.W = pw.W;
    dw.M = dw.C * (pick(0, 4) == 0 ? 2 : 1);
    dw.group = dw.C;
    random_depthwise_window(pick, dw);
    dw.stride_w = pick(1, 2);
    dw.with_output_size();
    if (dw.OH < 1 || dw.OW < 1) continue;
    c.act1 = kAllActivations[pick(0, 9)];
    c.act2 = kAllActivations[pick(0, 9)];
    c.bias1 = pick(0, 3) != 0;
    c.bias2 = pick(0, 3) != 0;
    c.chunks = pick(1, 5);
    // From one pointwise row per band up to the whole image.
    const int64_t row_bytes = pw.M * pw.W * 4;
    c.band_bytes = pick(0, 3) == 0 ? PointwiseDepthwiseConv::kBandBytes : row_bytes * pick(1, 12);
    c.fill(rng);
    return c;
  }
}

TEST(CpuPointwiseDepthwise, RandomGeometryMatchesReference) {
  std::mt19937 rng(4321);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool two(2);
  int banded = 0, whole = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const Case c = random_case(pick, rng);
    expect_close(c, c.run(two), c.expected());
    if (HasFatalFailure()) return;
    const PointwiseDepthwiseConv k(c.pw, c.w1.data(), nullptr, {}, c.dw, c.w2.data(), nullptr, {});
    ++(k.banded() ? banded : whole);
  }
  // Both ways of running: bands, and the whole intermediate where the channel-packed depthwise kernel is preferred.
  EXPECT_GT(banded, 100);
  EXPECT_GT(whole, 20);
}

// The mobilenet_v2 shapes it is made for (scaled down in width to keep the test quick), on every compiled target.
TEST(CpuPointwiseDepthwise, InvertedResidualShapesOnEveryTarget) {
  std::mt19937 rng(77);
  for_each_compiled_target([&](const std::string& target) {
    for (int64_t stride : {1, 2}) {
      for (int64_t width : {15, 16, 17, 33, 56}) {
        Case c;
        c.pw.C = 16, c.pw.M = 96, c.pw.H = 24, c.pw.W = width;
        c.pw.with_output_size();
        c.dw = depthwise_params(1, 96, 24, width, 3, stride, 1);
        c.chunks = 3;
        c.band_bytes = 96 * width * 4 * 5;
        c.fill(rng);
        SCOPED_TRACE(target + " " + c.describe());
        expect_close(c, c.run(ThreadPool::inline_pool()), c.expected());
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  });
}

// The chunks are fixed by the constructor, not by the pool: the same bits at any thread count.
TEST(CpuPointwiseDepthwise, ResultsDoNotDependOnThreadCount) {
  std::mt19937 rng(99);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int iter = 0; iter < 20; ++iter) {
    const Case c = random_case(pick, rng);
    SCOPED_TRACE(c.describe());
    expect_same_bits_for_thread_counts(c);
  }
}

TEST(CpuPointwiseDepthwise, RejectsWhatItCannotRun) {
  Conv2dParams pw;
  pw.C = 4, pw.M = 8, pw.H = 10, pw.W = 10;
  pw.with_output_size();
  const Conv2dParams dw = depthwise_params(1, 8, 10, 10, 3, 1, 1);
  EXPECT_TRUE(pointwise_depthwise_applicable(pw, dw));
  Conv2dParams wide = dw;
  wide.stride_w = 3;
  wide.with_output_size();
  EXPECT_FALSE(pointwise_depthwise_applicable(pw, wide));  // the band kernel takes column stride 1 or 2
  Conv2dParams padded = pw;
  padded.pad_top = 1;
  padded.with_output_size();
  EXPECT_FALSE(pointwise_depthwise_applicable(padded, dw));
  Conv2dParams grouped = pw;
  grouped.group = 2;
  EXPECT_FALSE(pointwise_depthwise_applicable(grouped, dw));
  const Conv2dParams mismatched = depthwise_params(1, 6, 10, 10, 3, 1, 1);
  EXPECT_FALSE(pointwise_depthwise_applicable(pw, mismatched));
  const std::vector<float> w(1000, 0.5f);
  EXPECT_THROW(PointwiseDepthwiseConv(pw, w.data(), nullptr, {}, wide, w.data(), nullptr, {}),
               std::invalid_argument);
}

// depthwise_conv2d_band over a whole image with plane strides larger than the planes equals depthwise_conv2d on
// the packed planes (same path: stride 1 and 2 planes too large for the channel-packed kernel).
TEST(CpuPointwiseDepthwise, BandKernelOnStridedPlanesMatchesDepthwise) {
  std::mt19937 rng(5);
  for (int64_t stride : {1, 2}) {
    const Conv2dParams p = depthwise_params(1, 3, 40, 70, 3, stride, 1);
    const std::vector<float> x = random_floats(static_cast<size_t>(3 * 40 * 70), rng);
    const std::vector<float> w = random_floats(27, rng), b = random_floats(3, rng);
    const Activation act{ActKind::kClip, 0.0f, 6.0f};
    std::vector<float> want(static_cast<size_t>(3 * p.OH * p.OW));
    depthwise_conv2d(p, x.data(), w.data(), b.data(), nullptr, act, want.data(), ThreadPool::inline_pool());
    const int64_t in_stride = 40 * 70 + 13, out_stride = p.OH * p.OW + 7;
    std::vector<float> xs(static_cast<size_t>(3 * in_stride), std::nanf(""));
    for (int64_t c = 0; c < 3; ++c) std::memcpy(&xs[c * in_stride], &x[c * 40 * 70], 40 * 70 * sizeof(float));
    std::vector<float> got(static_cast<size_t>(3 * out_stride), -12345.0f);
    depthwise_conv2d_band(p, xs.data(), in_stride, w.data(), b.data(), act, got.data(), out_stride, 0, 3);
    for (int64_t c = 0; c < 3; ++c) {
      EXPECT_EQ(0, std::memcmp(&got[c * out_stride], &want[c * p.OH * p.OW], p.OH * p.OW * sizeof(float)))
          << "stride " << stride << " plane " << c;
      EXPECT_EQ(got[c * out_stride + p.OH * p.OW], -12345.0f) << "wrote past plane " << c;
    }
  }
}

}  // namespace pointwise_depthwise_test
}  // namespace ef::cpu
