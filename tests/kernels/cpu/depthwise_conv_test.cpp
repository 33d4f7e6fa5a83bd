// Tests of ef::cpu::depthwise_conv2d against the reference convolution (kernels/reference/conv.h) plus the
// reference activation, over randomized geometry, fused epilogues and thread counts.
#include "kernels/cpu/depthwise_conv.h"

#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "kernels/reference/conv.h"
#include "kernels/cpu/conv_test_util.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace depthwise_conv_test {

struct Problem : FusedConvCase {
  std::vector<float> run(ThreadPool& pool) const {
    std::vector<float> y(out_size(), -12345.0f);
    depthwise_conv2d(p, x.data(), w.data(), bias_ptr(), residual_ptr(), act, y.data(), pool);
    return y;
  }
};

void expect_matches_reference(const Problem& pr, ThreadPool& pool) {
  expect_close_to_reference(pr.run(pool), pr.expected(), pr, 1e-5f);
}

TEST(CpuDepthwise, RandomGeometryMatchesReference) {
  std::mt19937 rng(1234);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool pool(2);
  int checked = 0;
  for (int iter = 0; iter < 400; ++iter) {
    Problem pr;
    Conv2dParams& p = pr.p;
    p.N = pick(1, 2);
    p.C = pick(1, 5);
    p.M = p.C * (pick(0, 3) == 0 ? 2 : 1);
    p.group = p.C;
    p.H = pick(1, 23);
    p.W = pick(0, 3) == 0 ? pick(38, 90) : pick(1, 37);
    random_depthwise_window(pick, p);
    if (p.OH < 1 || p.OW < 1) continue;
    pr.randomize_epilogue_and_fill(pick, rng);
    expect_matches_reference(pr, pool);
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 250);
}

// The unrolled 3x3 / 5x5 paths at stride 1 and 2, over widths around the vector lengths and every padding the
// models use (and some they do not).
TEST(CpuDepthwise, FastPathsMatchReference) {
  std::mt19937 rng(99);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t k : {3, 5}) {
    for (int64_t s : {1, 2}) {
      for (int64_t pad : {0, 1, 2, 3}) {
        for (int64_t width : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 40, 57, 64, 65, 66, 71, 130}) {
          Problem pr;
          pr.p = depthwise_params(1, 2, 6 + width % 5, width, k, s, pad);
          if (pr.p.OH < 1 || pr.p.OW < 1) continue;
          pr.fill(rng);
          expect_matches_reference(pr, pool);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// Input rows enter the padded buffer just ahead of the output rows that read them: tall planes (many row blocks,
// odd heights) after planes of the same geometry, so a row read before it is copied would see the last plane's.
TEST(CpuDepthwise, TallPlanesCopiedRowByRowMatchReference) {
  std::mt19937 rng(77);
  ThreadPool pool(3);
  for (int64_t k : {3, 5}) {
    for (int64_t s : {1, 2}) {
      for (int64_t h : {29, 46, 63}) {
        Problem pr;
        pr.p = depthwise_params(2, 3, h, 11 + h % 7, k, s, (h + k) % 4);
        pr.p.pad_bottom = 0;
        pr.p.with_output_size();
        pr.use_residual = h == 46;
        pr.fill(rng);
        expect_matches_reference(pr, pool);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Stride-2 5x5 padded rows are stored deinterleaved (even columns, then odd). With 8 lanes these two layers have
// the same padded-buffer size, pads and input size (20 columns: kw 13 at stride 1, kw 5 at stride 2), so a buffer
// reused across them must still be re-zeroed: run them alternately on one thread.
TEST(CpuDepthwise, StrideOneAndTwoLayersSharingBufferGeometry) {
  std::mt19937 rng(21);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int round = 0; round < 3; ++round) {
    for (int64_t s : {1, 2}) {
      Problem pr;
      pr.p = depthwise_params(1, 2, 9, 14, 3, 1, 1);
      pr.p.kw = s == 1 ? 13 : 5;
      pr.p.stride_w = s;
      pr.p.with_output_size();
      pr.fill(rng);
      expect_matches_reference(pr, pool);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(CpuDepthwise, AsymmetricPadsAndTinyImages) {
  std::mt19937 rng(5);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t h : {1, 2, 3}) {
    for (int64_t w : {1, 2, 3, 11}) {
      Problem pr;
      pr.p = depthwise_params(2, 3, h, w, 3, 1, 0);
      pr.p.pad_top = 0, pr.p.pad_left = 2, pr.p.pad_bottom = 2, pr.p.pad_right = 1;
      pr.p.with_output_size();
      pr.use_residual = true;
      pr.fill(rng);
      expect_matches_reference(pr, pool);
      // Pads at least the kernel size: whole output rows and columns see only padding (bias alone).
      pr.p.pad_top = 4, pr.p.pad_left = 5, pr.p.pad_bottom = 3, pr.p.pad_right = 6;
      pr.p.with_output_size();
      pr.fill(rng);
      expect_matches_reference(pr, pool);
    }
  }
}

TEST(CpuDepthwise, EachActivationKind) {
  std::mt19937 rng(7);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (const Activation& act : kAllActivations) {
    Problem pr;
    pr.p = depthwise_params(1, 4, 13, 19, 3, 1, 1);
    pr.act = act;
    pr.use_residual = true;
    pr.fill(rng);
    expect_matches_reference(pr, pool);
  }
}

// AVX-512 3x3 rows (stride 1, and stride 2 from 32 output columns) load aligned vectors and store a row's last
// vector partially: widths around whole vectors, the in-register activations (ReLU, Clip) that write straight to
// y, residual rows, and a guard past the last plane that must stay untouched.
TEST(CpuDepthwise, AlignedRowEndsStoreOnlyTheirColumns) {
  std::mt19937 rng(17);
  ThreadPool& pool = ThreadPool::inline_pool();
  int i = 0;
  for (int64_t s : {1, 2}) {
    for (int64_t width : {15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 66, 97}) {
      for (int64_t pad : {0, 1}) {
        Problem pr;
        pr.p = depthwise_params(2, 3, 5 + width % 4, width * s, 3, s, pad);
        pr.act = ++i % 3 == 0 ? Activation{ActKind::kClip, 0.0f, 6.0f} : Activation{ActKind::kRelu, 0, 0};
        pr.use_residual = i % 4 == 0;
        pr.fill(rng);
        const std::vector<float> want = pr.expected();
        std::vector<float> y(want.size() + 64, -7.0f);
        depthwise_conv2d(pr.p, pr.x.data(), pr.w.data(), pr.bias_ptr(), pr.residual_ptr(), pr.act, y.data(), pool);
        for (size_t k = 0; k < want.size(); ++k) {
          ASSERT_NEAR(y[k], want[k], 1e-5f * (1.0f + std::fabs(want[k]))) << describe_conv_case(pr) << " at " << k;
        }
        for (size_t k = want.size(); k < y.size(); ++k) ASSERT_EQ(y[k], -7.0f) << describe_conv_case(pr);
      }
    }
  }
}

TEST(CpuDepthwise, ThreadCountsGiveBitIdenticalResults) {
  std::mt19937 rng(11);
  for (int64_t k : {3, 5, 4}) {
    Problem pr;
    pr.p = depthwise_params(2, 7, 21, 29, k, k == 5 ? 2 : 1, k / 2);
    pr.use_residual = true;
    pr.act = {ActKind::kSilu, 0, 0};
    pr.fill(rng);
    expect_same_bits_for_thread_counts(pr);
  }
}

TEST(CpuDepthwise, OutputMayAliasResidual) {
  std::mt19937 rng(13);
  Problem pr;
  pr.p = depthwise_params(1, 3, 9, 10, 3, 1, 1);
  pr.use_residual = true;
  pr.act = {ActKind::kRelu, 0, 0};
  pr.fill(rng);
  const std::vector<float> want = pr.expected();
  std::vector<float> y = pr.residual;
  depthwise_conv2d(pr.p, pr.x.data(), pr.w.data(), pr.bias.data(), y.data(), pr.act, y.data(),
                   ThreadPool::inline_pool());
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want[i], 1e-5f * (1.0f + std::fabs(want[i])));
}

// Every SIMD target compiled in and supported here (AVX2, SSE4, scalar, ... on x86) runs the same cases: the
// run-time dispatch would otherwise only ever test the best one.
TEST(CpuDepthwise, EveryCompiledTargetMatchesReference) {
  struct RestoreTargets {
    ~RestoreTargets() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  std::mt19937 rng(31);
  ThreadPool& pool = ThreadPool::inline_pool();
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    for (auto [k, s, hw] : {std::array<int64_t, 3>{3, 1, 7}, {3, 2, 14}, {5, 1, 40}, {5, 2, 67}, {4, 1, 19},
                            {3, 1, 56}, {7, 2, 30}, {3, 3, 20}}) {
      Problem pr;
      pr.p = depthwise_params(2, 3, hw - 2, hw, k, s, k / 2);
      pr.use_residual = true;
      pr.act = {ActKind::kHardSwish, 0, 0};
      pr.fill(rng);
      expect_matches_reference(pr, pool);
      if (HasFatalFailure()) return;
    }
  }
}

// The loop a compiler gets from the definition: bounds checks on every tap.
void naive_depthwise(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y) {
  for (int64_t c = 0; c < p.N * p.C; ++c) {
    for (int64_t oh = 0; oh < p.OH; ++oh) {
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        float acc = bias[c % p.C];
        for (int64_t i = 0; i < p.kh; ++i) {
          for (int64_t j = 0; j < p.kw; ++j) {
            const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
            const int64_t iw = ow * p.stride_w - p.pad_left + j * p.dilation_w;
            if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
              acc += x[(c * p.H + ih) * p.W + iw] * w[((c % p.C) * p.kh + i) * p.kw + j];
            }
          }
        }
        y[(c * p.OH + oh) * p.OW + ow] = acc;
      }
    }
  }
}

// Not a pass/fail check: prints how the kernel compares with the naive loop on MobileNet-like layers.
TEST(CpuDepthwise, TimingAgainstNaiveLoop) {
  std::mt19937 rng(17);
  for (auto [c, hw] : {std::pair<int64_t, int64_t>{144, 56}, {32, 112}}) {
    Problem pr;
    pr.p = depthwise_params(1, c, hw, hw, 3, 1, 1);
    pr.fill(rng);
    std::vector<float> y(pr.out_size());
    auto time_ms = [](auto&& fn) {
      double best = 1e30;
      for (int rep = 0; rep < 5; ++rep) {
        const double t0 = thread_cpu_ms();
        fn();
        best = std::min(best, thread_cpu_ms() - t0);
      }
      return best;
    };
    const double naive = time_ms([&] { naive_depthwise(pr.p, pr.x.data(), pr.w.data(), pr.bias.data(), y.data()); });
    const double fast = time_ms([&] {
      depthwise_conv2d(pr.p, pr.x.data(), pr.w.data(), pr.bias.data(), nullptr, {}, y.data(),
                       ThreadPool::inline_pool());
    });
    std::printf("[ timing ] depthwise 3x3 s1 [1,%lld,%lld,%lld]: naive %.3f ms, kernel %.3f ms (%.1fx), 1 thread, CPU time\n",
                (long long)c, (long long)hw, (long long)hw, naive, fast, naive / fast);
  }
}

}  // namespace
}  // namespace ef::cpu
