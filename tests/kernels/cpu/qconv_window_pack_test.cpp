// ef::cpu::QWindowQuadPanels against a naive im2col in the window-quad order (k = ((c * kh + ky) * kq + h) * 4 + i
// reads column ox * stride - pad_left + 4h + i; kx >= kw meets zero weights): every byte that meets a non-zero
// weight, on random geometries (kw 3 / 4 / 5 / 7 / 8, strides 1 and 2, padding, dilation along y, groups, rows narrower
// than 16 bytes, panels spanning output rows), the input in a buffer of exactly its size (reads past it show under
// ASan); and the weights' expansion.
#include "kernels/cpu/qconv_window_pack.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace ef::cpu {
namespace qconv_window_pack_test {

TEST(QWindowQuadPanels, MatchNaiveIm2colOnRandomGeometries) {
  std::mt19937 rng(31);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0;
  for (int i = 0; i < 75; ++i) {
    Conv2dParams p;
    p.group = pick(1, 2);
    p.C = p.group * (i % 4 == 0 ? 1 : pick(1, 3));
    p.M = p.group;
    p.H = pick(1, 14);
    p.W = i % 3 == 0 ? pick(1, 15) : pick(16, 70);
    p.kh = pick(1, 7);
    const int64_t kws[5] = {4, 7, 8, 3, 5};
    p.kw = kws[i % 5];
    p.stride_h = pick(1, 3);
    p.stride_w = pick(1, 2);
    p.dilation_h = pick(1, 2);
    p.pad_top = pick(0, 3);
    p.pad_left = pick(0, 4);
    p.pad_bottom = pick(0, 3);
    p.pad_right = pick(0, 4);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1 || !qconv_window_quads(p)) continue;
    SCOPED_TRACE(testing::Message() << "case " << i << " C " << p.C << " H " << p.H << " W " << p.W << " k "
                                    << p.kh << "x" << p.kw << " s " << p.stride_w);
    const uint8_t flip = i % 2 ? 0x80 : 0, pad = static_cast<uint8_t>(pick(0, 255));
    const int64_t channels = p.C / p.group, plane = p.H * p.W, kq = (p.kw + 3) / 4;
    const int64_t K = qconv_window_quad_k(p), N = p.OH * p.OW;
    ASSERT_EQ(K, channels * p.kh * kq * 4);
    for (int64_t g = 0; g < p.group; ++g) {
      std::vector<uint8_t> x(static_cast<size_t>(channels * plane));
      for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
      const QWindowQuadPanels panels(p, x.data(), flip, pad);
      std::vector<uint8_t> dst(static_cast<size_t>(K / 4 * kQgemmNR * 4));
      for (int64_t j0 = 0; j0 < N; j0 += kQgemmNR) {
        const int64_t j1 = std::min(N, j0 + kQgemmNR);
        panels.pack(j0, j1, dst.data());
        for (int64_t k = 0; k < K; ++k) {
          const int64_t row = k / (kq * 4), c = row / p.kh, ky = row % p.kh, kx = k % (kq * 4);
          if (kx >= p.kw) continue;  // meets a zero weight
          for (int64_t j = 0; j < j1 - j0; ++j) {
            const int64_t oy = (j0 + j) / p.OW, ox = (j0 + j) % p.OW;
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
            const int64_t ix = ox * p.stride_w - p.pad_left + kx;
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
  EXPECT_GT(checked, 30);
}

TEST(QWindowQuadPanels, WeightsPaddedToWholeQuads) {
  Conv2dParams p;
  p.C = 3;
  p.kh = 2;
  p.kw = 7;
  ASSERT_TRUE(qconv_window_quads(p));
  ASSERT_EQ(qconv_window_quad_k(p), 48);
  std::vector<int8_t> w(2 * 45), out(2 * 48);  // row stride 45 > 42: the source rows are strided
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i + 1);
  qconv_window_quad_weights(p, 2, w.data(), 45, out.data());
  for (int64_t m = 0; m < 2; ++m) {
    for (int64_t k = 0; k < 48; ++k) {
      const int64_t row = k / 8, kx = k % 8;
      EXPECT_EQ(out[static_cast<size_t>(m * 48 + k)], kx < 7 ? w[static_cast<size_t>(m * 45 + row * 7 + kx)] : 0);
    }
  }
  p.C = 4;  // tap-major takes it
  EXPECT_FALSE(qconv_window_quads(p));
}

}  // namespace
}  // namespace ef::cpu
