#include "kernels/cpu/qconv_pack.h"

#include <algorithm>
#include <cstring>

namespace ef::cpu {

bool qconv_is_pointwise(const Conv2dParams& p) {
  return p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         p.pad_bottom == 0 && p.pad_right == 0 && p.OH == p.H && p.OW == p.W;
}

void QConvPanels::pack(int64_t j0, int64_t j1, uint8_t* dst) const {
  const Conv2dParams& p = p_;
  const int64_t channels = p.C / p.group;
  const int64_t K = channels * p.kh * p.kw;
  const int64_t quads = (K + 3) / 4;
  const int64_t count = j1 - j0;
  const int64_t plane = p.H * p.W;
  // Rows past K meet zero weights; columns past j1 are discarded: zero them so the panel is deterministic.
  std::memset(dst, 0, static_cast<size_t>(quads * kQgemmNR * 4));
  if (qconv_is_pointwise(p)) {
    for (int64_t k = 0; k < K; ++k) {
      const uint8_t* src = x_ + k * plane + j0;
      uint8_t* d = dst + (k / 4) * kQgemmNR * 4 + k % 4;
      for (int64_t j = 0; j < count; ++j) d[j * 4] = src[j] ^ flip_;
    }
    return;
  }
  int64_t iy0[kQgemmNR], ix0[kQgemmNR];
  for (int64_t j = 0; j < count; ++j) {
    const int64_t o = j0 + j;
    iy0[j] = (o / p.OW) * p.stride_h - p.pad_top;
    ix0[j] = (o % p.OW) * p.stride_w - p.pad_left;
  }
  int64_t k = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const uint8_t* xc = x_ + c * plane;
    for (int64_t ky = 0; ky < p.kh; ++ky) {
      for (int64_t kx = 0; kx < p.kw; ++kx, ++k) {
        uint8_t* d = dst + (k / 4) * kQgemmNR * 4 + k % 4;
        const int64_t dy = ky * p.dilation_h, dx = kx * p.dilation_w;
        for (int64_t j = 0; j < count; ++j) {
          const int64_t iy = iy0[j] + dy, ix = ix0[j] + dx;
          const bool inside = static_cast<uint64_t>(iy) < static_cast<uint64_t>(p.H) &&
                              static_cast<uint64_t>(ix) < static_cast<uint64_t>(p.W);
          d[j * 4] = inside ? static_cast<uint8_t>(xc[iy * p.W + ix] ^ flip_) : pad_;
        }
      }
    }
  }
}

}  // namespace ef::cpu
