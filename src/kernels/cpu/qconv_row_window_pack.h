// Row-window activation panels of the quantized convolution (AVX-512 VBMI), for image stems whose input channels
// times kernel width fit 16 bytes (BlazeFace's 5x5 stride-2 stem over 3 channels: 15 taps per kernel row). The
// GEMM's k runs ky * 16 + c * kw + kx: one kernel row of every channel is 4 quads, so K is kh * 16 (80 for that
// stem, where window quads (qconv_window_pack.h) pad each channel's 5 taps to 8: 120). A panel of 16 output
// columns inside one output row loads each channel's input row span once (64 bytes, masked at the image edges,
// the padding byte outside) and cuts every quad from two of them with one vpermt2b. Depends on
// kernels/cpu/qgemm.h, conv_params.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/qgemm.h"

namespace ef::cpu {

// True where this order applies and pays: channels per group * kw <= 16 with kw >= 3 (a quad then spans at most
// two channels), fewer quads per kernel row than window quads, stride 1 or 2 and no dilation along x, not
// pointwise, and the CPU has AVX-512 VBMI under the --isa cap.
bool qconv_row_windows(const Conv2dParams& p);
// The GEMM's K in this order: kh * 16.
int64_t qconv_row_window_k(const Conv2dParams& p);
// W [M, channels * kh * kw] (ONNX order, row stride ldw) -> [M, kh * 16], zeros past channels * kw in each row.
void qconv_row_window_weights(const Conv2dParams& p, int64_t M, const int8_t* w, int64_t ldw, int8_t* out);

// Panels in that order: k = ky * 16 + c * kw + kx reads input column ox * stride - pad_left + kx of channel c,
// row oy * stride - pad_top + ky * dilation. Int8 inputs flipped by `flip`, padding reads `pad`, as QConvPanels.
class QRowWindowPanels final : public QPanelPacker {
 public:
  QRowWindowPanels(const Conv2dParams& p, const uint8_t* x_group, uint8_t flip, uint8_t pad);
  void pack(int64_t j0, int64_t j1, uint8_t* dst) const override;

 private:
  const Conv2dParams& p_;
  const uint8_t* x_;
  uint8_t flip_, pad_;
  // Per quad g of a kernel row: the first of the two channels it reads, and the vpermt2b index of each of its
  // 64 bytes (lane l, byte i) into those channels' two 64-byte spans.
  int first_channel_[4] = {0, 0, 0, 0};
  alignas(64) uint8_t index_[4][64] = {};
};

}  // namespace ef::cpu
