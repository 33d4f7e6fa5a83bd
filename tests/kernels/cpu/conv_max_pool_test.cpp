// Tests of ef::cpu::SmallCConvMaxPool (stem conv + MaxPool in row bands) against the two kernels it fuses run one
// after the other (DirectSmallCConv::run, then max_pool2d, each tested against the reference kernels in their own
// tests): the results must be the same bits, over randomized conv and pool geometry (ceil-mode sizes, pads, pool
// dilation, bands of one row), thread counts, chunk counts and every compiled SIMD target.
#include "kernels/cpu/conv_max_pool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/pool.h"
#include "ops/fused.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace {

struct Case {
  Conv2dParams conv, pool;
  Activation act{ActKind::kRelu, 0, 0};
  bool bias = true;
  std::vector<float> x, w, b;

  std::string describe() const {
    const Conv2dParams& c = conv;
    const Conv2dParams& p = pool;
    return "conv N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
           std::to_string(c.W) + " M" + std::to_string(c.M) + " k" + std::to_string(c.kh) + "x" +
           std::to_string(c.kw) + " s" + std::to_string(c.stride_h) + "," + std::to_string(c.stride_w) + " pads " +
           std::to_string(c.pad_top) + "," + std::to_string(c.pad_left) + " -> " + std::to_string(c.OH) + "x" +
           std::to_string(c.OW) + "; pool k" + std::to_string(p.kh) + "x" + std::to_string(p.kw) + " s" +
           std::to_string(p.stride_h) + "," + std::to_string(p.stride_w) + " d" + std::to_string(p.dilation_h) +
           " pads " + std::to_string(p.pad_top) + "," + std::to_string(p.pad_left) + "," +
           std::to_string(p.pad_bottom) + "," + std::to_string(p.pad_right) + " -> " + std::to_string(p.OH) + "x" +
           std::to_string(p.OW);
  }

  void fill(std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    x.resize(static_cast<size_t>(conv.N * conv.C * conv.H * conv.W));
    w.resize(static_cast<size_t>(conv.M * conv.C * conv.kh * conv.kw));
    b.resize(static_cast<size_t>(conv.M));
    for (float& v : x) v = u(rng);
    for (float& v : w) v = u(rng);
    for (float& v : b) v = u(rng);
  }

  // The unfused pair: conv into a tensor of its own, then the pool.
  std::vector<float> expected(ThreadPool& threads) const {
    DirectSmallCConv c(conv, w.data(), bias ? b.data() : nullptr);
    std::vector<float> scratch(c.scratch_bytes() / sizeof(float) + 16);
    std::vector<float> mid(static_cast<size_t>(conv.N * conv.M * conv.OH * conv.OW));
    c.run(x.data(), nullptr, act, mid.data(), scratch.data(), threads);
    std::vector<float> y(static_cast<size_t>(pool.N * pool.C * pool.OH * pool.OW));
    max_pool2d(pool, mid.data(), y.data(), threads);
    return y;
  }

  std::vector<float> fused(ThreadPool& threads, int64_t chunks,
                           int64_t band_bytes = SmallCConvMaxPool::kBandBytes) const {
    SmallCConvMaxPool k(conv, w.data(), bias ? b.data() : nullptr, pool, chunks, band_bytes);
    // 64-byte aligned scratch, as the planner gives it.
    std::vector<float> scratch(k.scratch_bytes() / sizeof(float) + 16);
    float* aligned = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64 / sizeof(float);
    std::vector<float> y(static_cast<size_t>(pool.N * pool.C * pool.OH * pool.OW), std::nanf(""));
    k.run(x.data(), act, y.data(), aligned, threads);
    return y;
  }
};

// Bitwise equality (NaN == NaN), naming the first differing element.
void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want, const Case& c) {
  ASSERT_EQ(got.size(), want.size()) << c.describe();
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      FAIL() << c.describe() << ": element " << i << " is " << got[i] << ", unfused " << want[i];
    }
  }
}

// Pool geometry over the conv output: floor or ceil-mode output size (the last window may start in the end
// padding, not past it).
Conv2dParams pool_over(const Conv2dParams& conv, int64_t k, int64_t s, int64_t pad, int64_t dilation, bool ceil) {
  Conv2dParams p;
  p.N = conv.N, p.C = p.M = conv.M, p.H = conv.OH, p.W = conv.OW;
  p.kh = p.kw = k;
  p.stride_h = p.stride_w = s;
  p.dilation_h = p.dilation_w = dilation;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.with_output_size();
  if (ceil) {
    auto ceil_count = [&](int64_t in) {
      const int64_t span = in + 2 * pad - ((k - 1) * dilation + 1);
      int64_t out = span < 0 ? 0 : (span + s - 1) / s + 1;
      if (out > 0 && (out - 1) * s >= in + pad) --out;  // the last window must start inside input or begin pad
      return out;
    };
    p.OH = ceil_count(p.H), p.OW = ceil_count(p.W);
  }
  return p;
}

Conv2dParams stem(int64_t n, int64_t c, int64_t m, int64_t h, int64_t w, int64_t k, int64_t s, int64_t pad) {
  Conv2dParams p;
  p.N = n, p.C = c, p.M = m, p.H = h, p.W = w, p.kh = p.kw = k;
  p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  return p.with_output_size();
}

TEST(CpuConvMaxPool, RandomGeometryMatchesUnfusedKernels) {
  std::mt19937 rng(2026);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool one(1), two(2), three(3);
  ThreadPool* pools[] = {&one, &two, &three};
  int checked = 0;
  for (int iter = 0; iter < 250; ++iter) {
    Case c;
    c.conv = stem(pick(1, 2), pick(1, 4), pick(1, 20), pick(1, 70), pick(1, 60), pick(1, 7), pick(1, 2), pick(0, 3));
    if (c.conv.OH < 1 || c.conv.OW < 1) continue;
    c.pool = pool_over(c.conv, pick(1, 4), pick(1, 3), pick(0, 1), pick(0, 4) == 0 ? 2 : 1, pick(0, 1) == 1);
    if (c.pool.OH < 1 || c.pool.OW < 1) continue;
    c.act = pick(0, 2) == 0 ? Activation{ActKind::kHardSwish, 0, 0} : Activation{ActKind::kRelu, 0, 0};
    c.bias = pick(0, 3) != 0;
    c.fill(rng);
    ThreadPool& threads = *pools[iter % 3];
    // Bands of 1 to ~12 conv rows: many sub-bands per range, each keeping the previous one's overlap rows.
    const int64_t row_bytes = c.conv.M * c.conv.OW * static_cast<int64_t>(sizeof(float));
    expect_same_bits(c.fused(threads, pick(1, 6), row_bytes * pick(1, 12)), c.expected(threads), c);
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 150);
}

// The model stems: squeezenet1_1 (3x3 s2, pool 3x3 s2 ceil mode), resnet18 (7x7 s2 p3, pool 3x3 s2 p1),
// shufflenet_v2 (3x3 s2 p1, pool 3x3 s2 p1), at reduced sizes that still take several sub-bands per range.
TEST(CpuConvMaxPool, ModelStemsMatchUnfusedKernels) {
  std::mt19937 rng(7);
  ThreadPool two(2);
  struct Stem {
    int64_t k, s, pad, pool_pad;
    bool ceil;
  };
  for (const Stem& st : {Stem{3, 2, 0, 0, true}, Stem{7, 2, 3, 1, false}, Stem{3, 2, 1, 1, false}}) {
    for (int64_t hw : {64, 97, 113, 224}) {
      Case c;
      c.conv = stem(1, 3, 64, hw, hw, st.k, st.s, st.pad);
      c.pool = pool_over(c.conv, 3, 2, st.pool_pad, 1, st.ceil);
      c.fill(rng);
      for (int64_t chunks : {1, 2, 4}) {
        expect_same_bits(c.fused(two, chunks), c.expected(two), c);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Sub-bands of a single pooled row (bands of one or two conv rows: wide outputs with many channels), pools whose
// stride is wider than their window (conv rows no window reads), and NaN / infinity in the input (the pool's exact
// path, per band).
TEST(CpuConvMaxPool, ThinBandsGapsAndNonFiniteValues) {
  std::mt19937 rng(3);
  ThreadPool& inline_pool = ThreadPool::inline_pool();
  {
    Case c;
    c.conv = stem(1, 2, 600, 9, 130, 3, 1, 1);  // 600 x 130 floats per conv row: 312 KB, more than a band
    c.pool = pool_over(c.conv, 2, 2, 0, 1, true);
    c.fill(rng);
    expect_same_bits(c.fused(inline_pool, 1), c.expected(inline_pool), c);
  }
  {
    Case c;
    c.conv = stem(1, 3, 8, 40, 33, 3, 1, 1);
    c.pool = pool_over(c.conv, 2, 4, 0, 1, false);
    c.fill(rng);
    expect_same_bits(c.fused(inline_pool, 3), c.expected(inline_pool), c);
  }
  {
    Case c;
    c.conv = stem(1, 3, 16, 50, 50, 3, 2, 1);
    c.pool = pool_over(c.conv, 3, 2, 1, 1, false);
    c.act = {ActKind::kNone, 0, 0};
    c.fill(rng);
    c.x[77] = std::numeric_limits<float>::quiet_NaN();
    c.x[1234] = std::numeric_limits<float>::infinity();
    c.x[3000] = -std::numeric_limits<float>::infinity();
    expect_same_bits(c.fused(inline_pool, 2), c.expected(inline_pool), c);
  }
}

TEST(CpuConvMaxPool, EveryCompiledTargetMatchesUnfusedKernels) {
  std::mt19937 rng(31);
  ThreadPool two(2);
  for_each_compiled_target([&](const char*) {
    Case c;
    c.conv = stem(1, 3, 13, 45, 51, 3, 2, 1);
    c.pool = pool_over(c.conv, 3, 2, 1, 1, true);
    c.act = {ActKind::kHardSwish, 0, 0};
    c.fill(rng);
    expect_same_bits(c.fused(two, 2), c.expected(two), c);
  });
}

// conv-maxpool-fusion's criterion (ops/fused.h, which cannot include the kernel) and the kernel's own limits agree
// on every small conv geometry: the pass never makes a node the fast path would leave to the reference kernels.
TEST(CpuConvMaxPool, FusionCriterionMatchesTheKernel) {
  int fusable = 0;
  for (int64_t c = 1; c <= 6; ++c) {
    for (int64_t k = 1; k <= 9; k += 2) {
      for (int64_t s = 1; s <= 5; ++s) {
        for (int64_t dil : {1, 2}) {
          for (int64_t group : {1, 2}) {
            if (c % group != 0) continue;
            Conv2dParams p = stem(1, c, 8, 40, 40, k, s, k / 2);
            p.dilation_h = p.dilation_w = dil;
            p.group = group;
            p.with_output_size();
            Node conv;
            conv.op_type = "Conv";
            conv.attrs["strides"] = Attribute::of_ints({s, s});
            conv.attrs["dilations"] = Attribute::of_ints({dil, dil});
            conv.attrs["group"] = Attribute::of_int(group);
            const bool pass = conv_max_pool_fusable(conv, {1, c, 40, 40}, {8, c / group, k, k});
            EXPECT_EQ(pass, direct_smallc_applicable(p)) << "C " << c << " k " << k << " s " << s << " d " << dil
                                                         << " group " << group;
            fusable += pass;
          }
        }
      }
    }
  }
  EXPECT_GT(fusable, 50);
}

TEST(CpuConvMaxPool, RejectsPoolsThatDoNotReadTheConvOutput) {
  std::vector<float> w(3 * 8 * 9, 0.5f);
  const Conv2dParams conv = stem(1, 3, 8, 20, 20, 3, 2, 1);
  Conv2dParams pool = pool_over(conv, 3, 2, 1, 1, false);
  pool.W += 1;
  EXPECT_THROW(SmallCConvMaxPool(conv, w.data(), nullptr, pool, 1), std::invalid_argument);
  Conv2dParams wide = stem(1, 5, 8, 20, 20, 3, 2, 1);  // 5 input channels: not a small-C conv
  std::vector<float> w5(5 * 8 * 9, 0.5f);
  EXPECT_THROW(SmallCConvMaxPool(wide, w5.data(), nullptr, pool_over(wide, 3, 2, 1, 1, false), 1),
               std::invalid_argument);
}

}  // namespace
}  // namespace ef::cpu
