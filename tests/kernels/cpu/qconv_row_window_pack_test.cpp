// ef::cpu::QRowWindowPanels against a naive im2col in the row-window order (k = ky * 16 + c * kw + kx reads input
// column ox * stride - pad_left + kx of channel c; bytes past channels * kw meet zero weights): every byte that
// meets a weight, on random geometries (3 channels x 5 taps and the other shapes the order takes, strides 1 and 2,
// padding on every side, dilation along y, groups, rows narrower and wider than a 64-byte span, panels spanning
// output rows), the input in a buffer of exactly its size (reads past it show under ASan); and the weights'
// expansion.
#include "kernels/cpu/qconv_row_window_pack.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace ef::cpu {
namespace qconv_row_window_pack_test {

TEST(QRowWindowPanels, MatchNaiveIm2colOnRandomGeometries) {
  std::mt19937 rng(41);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0;
  for (int i = 0; i < 60; ++i) {
    Conv2dParams p;
    p.group = pick(1, 2);
    const int64_t shapes[4][2] = {{3, 5}, {5, 3}, {3, 5}, {3, 5}};  // channels, kw: where the order pays
    p.C = p.group * shapes[i % 4][0];
    p.kw = shapes[i % 4][1];
    p.M = p.group;
    p.H = pick(1, 12);
    p.W = i % 3 == 0 ? pick(1, 20) : pick(21, 150);
    p.kh = pick(1, 6);
    p.stride_h = pick(1, 3);
    p.stride_w = pick(1, 2);
    p.dilation_h = pick(1, 2);
    p.pad_top = pick(0, 3);
    p.pad_left = pick(0, 4);
    p.pad_bottom = pick(0, 3);
    p.pad_right = pick(0, 4);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1 || !qconv_row_windows(p)) continue;
    SCOPED_TRACE(testing::Message() << "case " << i << " C " << p.C << " H " << p.H << " W " << p.W << " k "
                                    << p.kh << "x" << p.kw << " s " << p.stride_w);
    const int64_t channels = p.C / p.group, plane = p.H * p.W, N = p.OH * p.OW, K = qconv_row_window_k(p);
    const auto flip = static_cast<uint8_t>(i % 2 ? 0x80 : 0), pad = static_cast<uint8_t>(pick(0, 255));
    for (int64_t g = 0; g < p.group; ++g) {
      std::vector<uint8_t> x(static_cast<size_t>(channels * plane));
      for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
      const QRowWindowPanels panels(p, x.data(), flip, pad);
      std::vector<uint8_t> dst(static_cast<size_t>(K / 4 * kQgemmNR * 4));
      for (int64_t j0 = 0; j0 < N; j0 += kQgemmNR) {
        const int64_t j1 = std::min(N, j0 + kQgemmNR);
        panels.pack(j0, j1, dst.data());
        for (int64_t k = 0; k < K; ++k) {
          const int64_t ky = k / 16, c = k % 16 / p.kw, kx = k % 16 % p.kw;
          if (c >= channels) continue;  // zero weights
          for (int64_t j = 0; j < j1 - j0; ++j) {
            const int64_t oy = (j0 + j) / p.OW, ox = (j0 + j) % p.OW;
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h, ix = ox * p.stride_w - p.pad_left + kx;
            const bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
            const int want = inside ? x[static_cast<size_t>(c * plane + iy * p.W + ix)] ^ flip : pad;
            ASSERT_EQ(dst[static_cast<size_t>(((k / 4) * kQgemmNR + j) * 4 + k % 4)], want)
                << "k " << k << " column " << j0 + j << " group " << g;
          }
        }
      }
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no AVX-512 VBMI on this CPU (or --isa below AVX3): the order does not apply";
}

TEST(QRowWindowPanels, WeightsExpandedIntoKernelRowsOf16) {
  Conv2dParams p;
  p.C = 3, p.M = 2, p.H = p.W = 9, p.kh = 2, p.kw = 5, p.stride_h = p.stride_w = 2;
  p.with_output_size();
  const int64_t k = 3 * 2 * 5;
  std::vector<int8_t> w(static_cast<size_t>(2 * k));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i + 1);
  std::vector<int8_t> out(static_cast<size_t>(2 * qconv_row_window_k(p)), 99);
  qconv_row_window_weights(p, 2, w.data(), k, out.data());
  for (int64_t m = 0; m < 2; ++m) {
    for (int64_t ky = 0; ky < 2; ++ky) {
      for (int64_t b = 0; b < 16; ++b) {
        const int64_t c = b / 5, kx = b % 5;
        const int8_t want = c < 3 ? w[static_cast<size_t>(m * k + (c * 2 + ky) * 5 + kx)] : 0;
        EXPECT_EQ(out[static_cast<size_t>(m * 32 + ky * 16 + b)], want) << "m " << m << " ky " << ky << " b " << b;
      }
    }
  }
}

}  // namespace qconv_row_window_pack_test
}  // namespace ef::cpu
