// The 8-bit MaxPool of qpool.h: plain loops over the clipped windows (the pools are a small share of a QDQ net).
#include "kernels/cpu/qpool.h"

#include <algorithm>

namespace ef::cpu {

void max_pool2d_8bit(const Conv2dParams& p, const uint8_t* x, bool is_signed, uint8_t* y, ThreadPool& pool) {
  const auto flip = static_cast<uint8_t>(is_signed ? 0x80 : 0);
  const int64_t plane_in = p.H * p.W, plane_out = p.OH * p.OW;
  pool.parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const uint8_t* xc = x + c * plane_in;
      uint8_t* yc = y + c * plane_out;
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        const int64_t h0 = oh * p.stride_h - p.pad_top;
        const TapRange rows = valid_taps(h0, p.H, p.kh, p.dilation_h);
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const int64_t w0 = ow * p.stride_w - p.pad_left;
          const TapRange cols = valid_taps(w0, p.W, p.kw, p.dilation_w);
          uint8_t m = 0;  // the type's lowest value (flipped): a window wholly in the padding
          for (int64_t i = rows.first; i < rows.last; ++i) {
            const uint8_t* xr = xc + (h0 + i * p.dilation_h) * p.W + w0;
            for (int64_t j = cols.first; j < cols.last; ++j) m = std::max<uint8_t>(m, xr[j * p.dilation_w] ^ flip);
          }
          yc[oh * p.OW + ow] = m ^ flip;
        }
      }
    }
  });
}

}  // namespace ef::cpu
