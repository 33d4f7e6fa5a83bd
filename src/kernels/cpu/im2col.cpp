// im2col for grouped 2-D NCHW convolution. Memory-bound copying, so plain C++ (memcpy/memset for the runs);
// depends only on conv_params.h.
#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace ef::cpu {

bool conv_needs_no_im2col(const Conv2dParams& p) {
  return p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         p.pad_bottom == 0 && p.pad_right == 0 && p.OH == p.H && p.OW == p.W;
}

void im2col(const Conv2dParams& p, const float* x, int64_t n, int64_t g, float* col) {
  const float* x_group = x + (n * p.C + g * (p.C / p.group)) * p.H * p.W;
  im2col_block(p, x_group, 0, im2col_rows(p), 0, im2col_cols(p), col, im2col_cols(p));
}

namespace {

void zero(float* dst, int64_t count) {
  if (count > 0) std::memset(dst, 0, static_cast<size_t>(count) * sizeof(float));
}

}  // namespace

void im2col_block(const Conv2dParams& p, const float* x_group, int64_t k_begin, int64_t k_end, int64_t j_begin,
                  int64_t j_end, float* col, int64_t ld) {
  const int64_t taps = p.kh * p.kw;
  for (int64_t k = k_begin; k < k_end; ++k) {
    const int64_t c = k / taps, ki = k % taps / p.kw, kj = k % p.kw;
    const float* x_plane = x_group + c * p.H * p.W;
    // Output columns whose tap kj lands inside the row: iw = ow * stride_w + shift in [0, W).
    const int64_t shift = kj * p.dilation_w - p.pad_left;
    const int64_t ow_lo = std::min(p.OW, shift >= 0 ? 0 : (-shift + p.stride_w - 1) / p.stride_w);
    const int64_t ow_hi = std::clamp(floor_div(p.W - 1 - shift, p.stride_w) + 1, ow_lo, p.OW);
    float* dst = col + (k - k_begin) * ld - j_begin;
    int64_t j = j_begin;
    while (j < j_end) {
      const int64_t oh = j / p.OW, row_start = oh * p.OW;
      const int64_t a = j - row_start, b = std::min(j_end - row_start, p.OW);  // this output row's columns
      float* out = dst + row_start;
      const int64_t ih = oh * p.stride_h - p.pad_top + ki * p.dilation_h;
      if (ih < 0 || ih >= p.H) {
        zero(out + a, b - a);
      } else {
        const float* in = x_plane + ih * p.W;  // tap of column ow: in[ow * stride_w + shift]
        const int64_t lo = std::clamp(ow_lo, a, b), hi = std::clamp(ow_hi, lo, b);
        zero(out + a, lo - a);
        if (p.stride_w == 1) {
          if (hi > lo) std::memcpy(out + lo, in + (lo + shift), static_cast<size_t>(hi - lo) * sizeof(float));
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * p.stride_w + shift];
        }
        zero(out + hi, b - hi);
      }
      j = row_start + b;
    }
  }
}

}  // namespace ef::cpu
