// Geometry of one 2-D NCHW sliding-window call (convolution, depthwise convolution, pooling) as the optimized CPU
// kernels see it, plus the integer helpers that split an output axis into a padded border and an interior whose
// windows lie wholly inside the input, and the direct kernels' common constructor call. Header-only; depends on
// nothing but the standard library.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace ef::cpu {

struct Conv2dParams {
  int64_t N = 1, C = 1, H = 1, W = 1;  // input [N, C, H, W]
  int64_t M = 1;                       // output channels (pooling: ignored, the output has C)
  int64_t kh = 1, kw = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t group = 1;    // pooling: ignored
  int64_t OH = 1, OW = 1;  // output spatial size; the caller may make it larger than the floor rule (ceil_mode)

  // Sets OH/OW by the floor rule (ONNX Conv, and pooling without ceil_mode). A value < 1 means no window fits.
  Conv2dParams& with_output_size();
};

// Builds one of the direct convolution kernels (DirectPlanesConv, DirectBlockedConv, DirectSmallCConv: w, bias
// packed at construction): those whose split of the work depends on the thread count it will run with get
// `threads`, the others ignore it.
template <class Conv>
Conv make_direct_conv(const Conv2dParams& p, const float* w, const float* bias, int threads) {
  if constexpr (std::is_constructible_v<Conv, const Conv2dParams&, const float*, const float*, int>) {
    return Conv(p, w, bias, threads);
  } else {
    return Conv(p, w, bias);
  }
}

// Number of floor-rule window positions along one axis.
inline int64_t window_count(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                            int64_t pad_end) {
  const int64_t span = in + pad_begin + pad_end - ((kernel - 1) * dilation + 1);
  return span < 0 ? 0 : span / stride + 1;
}

inline Conv2dParams& Conv2dParams::with_output_size() {
  OH = window_count(H, kh, stride_h, dilation_h, pad_top, pad_bottom);
  OW = window_count(W, kw, stride_w, dilation_w, pad_left, pad_right);
  return *this;
}

// Stride 1 with exactly the floor rule's output sizes: output (oh, ow)'s window covers padded rows [oh, oh + (kh - 1)
// dilation_h] and columns likewise, and the last output's window ends at the padded extent's last row / column.
inline bool stride1_floor_output(const Conv2dParams& p) {
  return p.stride_h == 1 && p.stride_w == 1 &&
         p.OH == p.pad_top + p.H + p.pad_bottom - p.dilation_h * (p.kh - 1) &&
         p.OW == p.pad_left + p.W + p.pad_right - p.dilation_w * (p.kw - 1);
}

// Floor division that stays correct for negative numerators (window starts inside the begin padding).
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Taps [first, last) of a window starting at input position `start` that land inside [0, in). Dilation makes
// the in-range taps an arithmetic run, so they are always one contiguous range (possibly empty: first == last).
struct TapRange {
  int64_t first, last;
};
inline TapRange valid_taps(int64_t start, int64_t in, int64_t kernel, int64_t dilation) {
  int64_t first = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
  int64_t last = std::min(kernel, floor_div(in - 1 - start, dilation) + 1);
  first = std::min(first, kernel);
  return {first, std::max(first, last)};
}

// Output positions [begin, end) of an axis of `out` positions whose whole window lies in [0, in): the only ones
// the interior loops may visit without bounds checks. Everything else is border.
struct OutRange {
  int64_t begin, end;
};
inline OutRange interior_range(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dilation,
                               int64_t pad_begin) {
  const int64_t begin = std::min(out, std::max<int64_t>(0, (pad_begin + stride - 1) / stride));
  const int64_t last_start = in - 1 - (kernel - 1) * dilation;  // largest window start still inside
  const int64_t end = last_start + pad_begin < 0 ? 0 : std::min(out, (last_start + pad_begin) / stride + 1);
  return {begin, std::max(begin, end)};
}

}  // namespace ef::cpu
