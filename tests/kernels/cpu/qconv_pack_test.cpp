// ef::cpu::QConvPanels and QRowPanels against a naive im2col / transpose: every byte of every panel, on random
// geometries (strides 1-3, dilations, asymmetric padding, groups, widths not a multiple of 16, panels spanning
// several output rows) with the input in a buffer of exactly its size, so a read past it shows under ASan.
#include "kernels/cpu/qconv_pack.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/qconv_panel_check.h"

namespace ef::cpu {
namespace qconv_pack_test {

void check_conv_panels(const Conv2dParams& p, uint8_t flip, uint8_t pad, uint32_t seed, bool tap_major = false) {
  std::mt19937 rng(seed);
  for (int64_t g = 0; g < p.group; ++g) {
    std::vector<uint8_t> x(static_cast<size_t>(p.C / p.group * p.H * p.W));  // this group's input, exactly
    for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
    const QConvPanels panels(p, x.data(), flip, pad, tap_major);
    expect_im2col_panels(p, x, flip, pad, tap_major, g,
                         [&](int64_t j0, int64_t j1, uint8_t* dst) { panels.pack(j0, j1, dst); });
  }
}

TEST(QConvPanels, MatchNaiveIm2colOnRandomGeometries) {
  std::mt19937 rng(99);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 60; ++i) {
    Conv2dParams p;
    p.group = pick(1, 2);
    p.C = p.group * pick(1, 5);
    p.M = p.group;
    p.H = pick(1, 12);
    p.W = pick(1, 40);
    p.kh = pick(1, 4);
    p.kw = pick(1, 4);
    p.stride_h = pick(1, 3);
    p.stride_w = i % 3 == 0 ? 2 : pick(1, 3);
    p.dilation_h = pick(1, 2);
    p.dilation_w = pick(1, 2);
    p.pad_top = pick(0, 2);
    p.pad_left = pick(0, 2);
    p.pad_bottom = pick(0, 2);
    p.pad_right = pick(0, 2);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1) continue;
    SCOPED_TRACE(testing::Message() << "case " << i);
    check_conv_panels(p, i % 2 ? 0x80 : 0, static_cast<uint8_t>(pick(0, 255)), static_cast<uint32_t>(i));
  }
  Conv2dParams pointwise;  // read as whole input rows
  pointwise.C = 9;
  pointwise.H = 3;
  pointwise.W = 21;
  pointwise.with_output_size();
  check_conv_panels(pointwise, 0x80, 0, 7);
}

// pack_panels (pointwise inputs: quad by quad across the panels) fills each panel as pack() does, for groups of
// panels starting anywhere, ending in a partial panel or not, channel counts with and without a K % 4 tail.
TEST(QConvPanels, PackPanelsEqualsPanelByPanel) {
  std::mt19937 rng(5);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 40; ++i) {
    Conv2dParams p;
    p.C = i % 4 == 3 ? pick(1, 13) : 4 * pick(1, 8);
    p.H = pick(1, 9);
    p.W = pick(1, 70);
    if (i % 5 == 4) p.kh = p.kw = 3, p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;  // not pointwise
    p.with_output_size();
    const int64_t N = p.OH * p.OW, K = p.C * p.kh * p.kw, quads = (K + 3) / 4;
    const int64_t panel_bytes = quads * kQgemmNR * 4 + 64 * (i % 2);
    std::vector<uint8_t> x(static_cast<size_t>(p.C * p.H * p.W));
    for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
    const uint8_t flip = i % 2 ? 0x80 : 0;
    const QConvPanels panels(p, x.data(), flip, 17);
    const int64_t panels_total = (N + kQgemmNR - 1) / kQgemmNR;
    const int64_t p0 = pick(0, panels_total - 1), p1 = pick(p0 + 1, panels_total);
    const int64_t j0 = p0 * kQgemmNR, j1 = std::min(N, p1 * kQgemmNR);
    std::vector<uint8_t> got(static_cast<size_t>((p1 - p0) * panel_bytes), 0xAB), want = got;
    panels.pack_panels(j0, j1, got.data(), panel_bytes);
    for (int64_t pi = p0; pi < p1; ++pi) {
      panels.pack(pi * kQgemmNR, std::min(N, (pi + 1) * kQgemmNR), want.data() + (pi - p0) * panel_bytes);
    }
    for (int64_t pi = p0; pi < p1; ++pi) {
      const int64_t cols = std::min(N, (pi + 1) * kQgemmNR) - pi * kQgemmNR;
      for (int64_t k = 0; k < K; ++k) {  // the bytes the GEMM reads as data (the rest may hold anything)
        for (int64_t j = 0; j < cols; ++j) {
          const size_t at = static_cast<size_t>((pi - p0) * panel_bytes + ((k / 4) * kQgemmNR + j) * 4 + k % 4);
          ASSERT_EQ(got[at], want[at]) << "case " << i << " panel " << pi << " k " << k << " column " << j;
        }
      }
    }
  }
}

// Tap-major rows (k = tap * channels + c) over multiples of 4 channels: every tap kind of the fast path (whole
// rows, one or two masked runs, only padding) and the unplanned fallbacks (stride 3, loads leaving the input).
TEST(QConvPanels, TapMajorMatchesNaiveIm2col) {
  std::mt19937 rng(5);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0;
  for (int i = 0; i < 80; ++i) {
    Conv2dParams p;
    p.group = pick(1, 2);
    p.C = p.group * 4 * pick(1, 3);
    p.M = p.group;
    p.H = pick(1, 12);
    p.W = i % 4 == 0 ? pick(16, 60) : pick(1, 40);
    p.kh = pick(1, 4);
    p.kw = pick(1, 4);
    p.stride_h = pick(1, 3);
    p.stride_w = i % 5 == 0 ? 3 : pick(1, 2);
    p.dilation_h = pick(1, 2);
    p.dilation_w = pick(1, 2);
    p.pad_top = pick(0, 3);
    p.pad_left = pick(0, 3);
    p.pad_bottom = pick(0, 3);
    p.pad_right = pick(0, 3);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1 || !qconv_tap_major(p)) continue;
    SCOPED_TRACE(testing::Message() << "case " << i);
    check_conv_panels(p, i % 2 ? 0x80 : 0, static_cast<uint8_t>(pick(0, 255)), static_cast<uint32_t>(i), true);
    ++checked;
  }
  EXPECT_GT(checked, 40);
  // The permuted weights: row m, k = tap * channels + c holds W[m, c * taps + tap].
  Conv2dParams p;
  p.C = 8;
  p.kh = 3;
  p.kw = 2;
  std::vector<int8_t> w(2 * 50), out(2 * 48);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i);
  qconv_tap_major_weights(p, 2, w.data(), 50, out.data());
  for (int64_t m = 0; m < 2; ++m) {
    for (int64_t k = 0; k < 48; ++k) {
      EXPECT_EQ(out[static_cast<size_t>(m * 48 + k)], w[static_cast<size_t>(m * 50 + (k % 8) * 6 + k / 8)]);
    }
  }
}

TEST(QRowPanels, MatchTheTransposedRows) {
  for (int64_t K : {1, 4, 7, 33}) {
    for (int64_t rows : {1, 16, 21}) {
      std::vector<uint8_t> a(static_cast<size_t>(rows * K));
      std::mt19937 rng(static_cast<uint32_t>(K * 100 + rows));
      for (uint8_t& v : a) v = static_cast<uint8_t>(rng());
      const QRowPanels panels(a.data(), K, 0x80);
      const int64_t quads = (K + 3) / 4;
      std::vector<uint8_t> dst(static_cast<size_t>(quads * kQgemmNR * 4));
      for (int64_t j0 = 0; j0 < rows; j0 += kQgemmNR) {
        const int64_t j1 = std::min(rows, j0 + kQgemmNR);
        panels.pack(j0, j1, dst.data());
        for (int64_t k = 0; k < quads * 4; ++k) {
          for (int64_t j = 0; j < j1 - j0; ++j) {
            const int want = k < K ? a[static_cast<size_t>((j0 + j) * K + k)] ^ 0x80 : 0;
            ASSERT_EQ(dst[static_cast<size_t>(((k / 4) * kQgemmNR + j) * 4 + k % 4)], want) << k << " " << j;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace ef::cpu
