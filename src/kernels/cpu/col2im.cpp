#include "kernels/cpu/col2im.h"

namespace ef::cpu {

void col2im_add(const Conv2dParams& p, const float* col, int64_t m_begin, int64_t m_end, float* y_group) {
  const int64_t in_plane = p.H * p.W, out_plane = p.OH * p.OW;
  for (int64_t m = m_begin; m < m_end; ++m) {
    float* y = y_group + m * out_plane;
    for (int64_t ki = 0; ki < p.kh; ++ki) {
      for (int64_t kj = 0; kj < p.kw; ++kj) {
        const float* c = col + ((m * p.kh + ki) * p.kw + kj) * in_plane;
        const int64_t row_off = ki * p.dilation_h - p.pad_top;
        const int64_t col_off = kj * p.dilation_w - p.pad_left;
        // Input columns whose tap lands inside [0, OW): iw * stride + col_off in range.
        int64_t iw_begin = col_off >= 0 ? 0 : (-col_off + p.stride_w - 1) / p.stride_w;
        int64_t iw_end = p.OW - col_off <= 0 ? 0 : (p.OW - col_off + p.stride_w - 1) / p.stride_w;
        if (iw_end > p.W) iw_end = p.W;
        if (iw_begin >= iw_end) continue;
        for (int64_t ih = 0; ih < p.H; ++ih) {
          const int64_t oh = ih * p.stride_h + row_off;
          if (oh < 0 || oh >= p.OH) continue;
          const float* src = c + ih * p.W;
          // Index arithmetic (not a shifted pointer): col_off may be negative.
          const int64_t base = oh * p.OW + col_off;
          if (p.stride_w == 1) {
            for (int64_t iw = iw_begin; iw < iw_end; ++iw) y[base + iw] += src[iw];
          } else {
            for (int64_t iw = iw_begin; iw < iw_end; ++iw) y[base + iw * p.stride_w] += src[iw];
          }
        }
      }
    }
  }
}

}  // namespace ef::cpu
