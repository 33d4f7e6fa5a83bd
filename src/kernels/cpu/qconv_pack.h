// Activation panels of the quantized convolution: the im2col matrix of one image and group, read straight from
// the 8-bit NCHW input into qgemm's panel layout (qgemm.h), so the column matrix is never written. Int8 inputs
// are flipped to uint8 (x ^ 0x80 = x + 128) on the way; taps in the padding read `pad` (the flipped zero point,
// so they contribute nothing after the zero-point correction). Depends on kernels/cpu/qgemm.h, conv_params.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/qgemm.h"

namespace ef::cpu {

class QConvPanels final : public QPanelPacker {
 public:
  // x_group: the first input channel of this image and group; p.C / p.group channels are read. The im2col row
  // order is k = c * taps + tap (ONNX's weight order), or with tap_major k = tap * channels + c, which
  // qconv_tap_major() allows: then every k quad is one tap of four channels, so the quad's four rows share one
  // offset and mask (the weights must be permuted the same way: qconv_tap_major_weights).
  QConvPanels(const Conv2dParams& p, const uint8_t* x_group, uint8_t flip, uint8_t pad, bool tap_major = false)
      : p_(p), x_(x_group), flip_(flip), pad_(pad), tap_major_(tap_major) {}
  void pack(int64_t j0, int64_t j1, uint8_t* dst) const override;
  // Pointwise inputs quad by quad across the panels: each quad's four channel rows are read once, 16 columns per
  // panel, while their cache lines are in L1. Panel by panel, a panel read 16 bytes of each of K rows; on planes
  // of a multiple of 4 KiB (BlazeFace's 128 x 128) all K rows map to one L1 set, so the lines were evicted before
  // the next panels' turn and every load waited on L2 (the pack was 40% of a 24 x 16384 x 24 GEMM).
  void pack_panels(int64_t j0, int64_t j1, uint8_t* dst, int64_t panel_bytes) const override;

 private:
  const Conv2dParams& p_;
  const uint8_t* x_;
  uint8_t flip_, pad_;
  bool tap_major_;
};

// True when a convolution's panels can be packed tap-major: a window of several taps over a multiple of 4
// channels per group (quads never straddle two taps).
bool qconv_tap_major(const Conv2dParams& p);
// W [M, channels * taps] (ONNX order, row stride ldw) -> [M, taps * channels] (tap-major), into out.
void qconv_tap_major_weights(const Conv2dParams& p, int64_t M, const int8_t* w, int64_t ldw, int8_t* out);

// The rows of a row-major [rows, K] 8-bit matrix as the GEMM's columns (MatMul activations): column j of the
// panel is row j of the matrix, flipped by `flip`. Bytes past K are zero (they meet zero weights).
class QRowPanels final : public QPanelPacker {
 public:
  QRowPanels(const uint8_t* a, int64_t K, uint8_t flip) : a_(a), K_(K), flip_(flip) {}
  void pack(int64_t j0, int64_t j1, uint8_t* dst) const override;

 private:
  const uint8_t* a_;
  int64_t K_;
  uint8_t flip_;
};

// True when the convolution reads its input as the GEMM operand directly (1x1, stride 1, no padding).
bool qconv_is_pointwise(const Conv2dParams& p);

}  // namespace ef::cpu
