// Window-quad activation panels of the quantized convolution, for few input channels and wide windows (the 7x7
// stride-2 stem over 3 channels: ONNX's k order packs every panel row from its own strided load, and tap-major
// needs 4 channels). Each window row is padded to whole quads of taps (kx = 4h + i, zero weights past kw), so a
// k quad is four horizontally adjacent input bytes of one input row: for 16 output columns at stride 1 or 2 these
// are overlapping 4-byte windows of one contiguous span, one byte shuffle per 4 columns instead of four row
// gathers and an interleave. Depends on kernels/cpu/qgemm.h, conv_params.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/qgemm.h"

namespace ef::cpu {

// True where this order pays: stride 1 or 2 and no dilation along x, kw of 4, 7 or 8, or 3 or 5 over at most 3
// channels (a third / 60% more multiplies, but on image stems the gathers cost more: mobilenet_v2's 3x3 stem -14%,
// BlazeFace's 5x5 stride-2 stem -20 to -35%); not
// a pointwise or tap-major convolution (those have their own orders in qconv_pack.h).
bool qconv_window_quads(const Conv2dParams& p);
// The GEMM's K in this order: channels per group * kh * (kw rounded up to a multiple of 4).
int64_t qconv_window_quad_k(const Conv2dParams& p);
// W [M, channels * kh * kw] (ONNX order, row stride ldw) -> [M, qconv_window_quad_k(p)], zeros in the padding.
void qconv_window_quad_weights(const Conv2dParams& p, int64_t M, const int8_t* w, int64_t ldw, int8_t* out);

// Panels in that order: k = ((c * kh + ky) * kq + h) * 4 + i reads input column ox * stride - pad_left + 4h + i
// (kq = kw rounded up to quads / 4). Int8 inputs flipped by `flip`, padding reads `pad`, as QConvPanels.
class QWindowQuadPanels final : public QPanelPacker {
 public:
  QWindowQuadPanels(const Conv2dParams& p, const uint8_t* x_group, uint8_t flip, uint8_t pad)
      : p_(p), x_(x_group), flip_(flip), pad_(pad) {}
  void pack(int64_t j0, int64_t j1, uint8_t* dst) const override;

 private:
  const Conv2dParams& p_;
  const uint8_t* x_;
  uint8_t flip_, pad_;
};

}  // namespace ef::cpu
