// The oracle of the quantized convolution's panel packers (QConvPanels, QQuadPlanePanels): every byte of every
// panel against a naive im2col of one group's input, k in ONNX order (c * taps + tap) or tap-major
// (tap * channels + c). Header-only, for tests/kernels/cpu.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/qgemm.h"

namespace ef::cpu {

// pack(j0, j1, dst) fills the panel of columns [j0, j1); x is group g's input (p.C / p.group channels), flipped by
// `flip` in the panels, the padding reading `pad`.
template <typename Pack>
void expect_im2col_panels(const Conv2dParams& p, const std::vector<uint8_t>& x, uint8_t flip, uint8_t pad,
                          bool tap_major, int64_t g, Pack pack) {
  const int64_t channels = p.C / p.group, plane = p.H * p.W, taps = p.kh * p.kw;
  const int64_t K = channels * taps, quads = (K + 3) / 4, N = p.OH * p.OW;
  std::vector<uint8_t> dst(static_cast<size_t>(quads * kQgemmNR * 4));
  for (int64_t j0 = 0; j0 < N; j0 += kQgemmNR) {
    const int64_t j1 = std::min(N, j0 + kQgemmNR);
    pack(j0, j1, dst.data());
    for (int64_t k = 0; k < K; ++k) {
      const int64_t tap = tap_major ? k / channels : k % taps, c = tap_major ? k % channels : k / taps;
      const int64_t ky = tap / p.kw, kx = tap % p.kw;
      for (int64_t j = 0; j < j1 - j0; ++j) {
        const int64_t oy = (j0 + j) / p.OW, ox = (j0 + j) % p.OW;
        const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
        const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
        const bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
        const int want = inside ? x[static_cast<size_t>(c * plane + iy * p.W + ix)] ^ flip : pad;
        ASSERT_EQ(dst[static_cast<size_t>(((k / 4) * kQgemmNR + j) * 4 + k % 4)], want)
            << "k " << k << " column " << j0 + j << " group " << g;
      }
    }
  }
}

}  // namespace ef::cpu
