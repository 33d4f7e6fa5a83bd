// Data layouts the convolution kernels share: input rows copied with zero padding around them, and weights
// rearranged into panels of output channels. Header-only; depends on the standard library only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ef::cpu {

// Padded rows [row0, row0 + rows) of one H x W input plane (padded row r is input row r - pad_top) into dst,
// `width` floats apart: `left` zeros, the input row, zeros up to `width` (width >= left + W). Rows outside the
// input are all zeros.
inline void pad_plane_rows(const float* plane, int64_t H, int64_t W, int64_t pad_top, int64_t left, int64_t width,
                           int64_t row0, int64_t rows, float* dst) {
  for (int64_t r = row0; r < row0 + rows; ++r, dst += width) {
    const int64_t ih = r - pad_top;
    if (ih < 0 || ih >= H) {
      std::fill(dst, dst + width, 0.0f);
      continue;
    }
    std::fill(dst, dst + left, 0.0f);
    std::memcpy(dst + left, plane + ih * W, static_cast<size_t>(W) * sizeof(float));
    std::fill(dst + left + W, dst + width, 0.0f);
  }
}

// Weights [M, K] as panels of `panel` output channels, each k-major: w_out[(m / panel) * K + k][m % panel], and
// bias (or zeros) as [panels * panel]; channels past M are zero.
inline void pack_channel_panels(const float* w, const float* bias, int64_t M, int64_t K, int64_t panel,
                                std::vector<float>& w_out, std::vector<float>& bias_out) {
  const int64_t panels = (M + panel - 1) / panel;
  w_out.assign(static_cast<size_t>(panels * K * panel), 0.0f);
  bias_out.assign(static_cast<size_t>(panels * panel), 0.0f);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) w_out[static_cast<size_t>(((m / panel) * K + k) * panel + m % panel)] = w[m * K + k];
    if (bias) bias_out[static_cast<size_t>(m)] = bias[m];
  }
}

}  // namespace ef::cpu
