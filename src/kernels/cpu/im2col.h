// im2col: lays out the input windows of a grouped 2-D NCHW convolution as the GEMM B operand, so that
// y[n, group g] = W_g [M/group, K] x col [K, OH*OW], either as a matrix or packed into SGEMM's B panels directly.
// Depends only on kernels/cpu/conv_params.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// K: rows of the column matrix, (C / group) * kh * kw, in the order of the weight's trailing dims (c, ki, kj).
inline int64_t im2col_rows(const Conv2dParams& p) { return p.C / p.group * p.kh * p.kw; }
// Columns of the column matrix: one per output position, oh * OW + ow.
inline int64_t im2col_cols(const Conv2dParams& p) { return p.OH * p.OW; }

// True when the column matrix would equal the input (1x1 kernel, stride 1, no padding; dilation is then
// irrelevant): B for image n, group g is x + (n * C + g * C / group) * H * W, K rows of H * W.
bool conv_needs_no_im2col(const Conv2dParams& p);

// Writes the whole [K, OH*OW] column matrix of image n, group g into col (row stride OH*OW); padding taps are 0.
void im2col(const Conv2dParams& p, const float* x, int64_t n, int64_t g, float* col);

// One block of it, for callers that tile the GEMM: rows [k_begin, k_end) and columns [j_begin, j_end) go to
// col[(k - k_begin) * ld + (j - j_begin)]. x_group points at the group's first input channel of the image,
// x + (n * C + g * C / group) * H * W. Rows with stride-1 windows are copied as contiguous runs.
void im2col_block(const Conv2dParams& p, const float* x_group, int64_t k_begin, int64_t k_end, int64_t j_begin,
                  int64_t j_end, float* col, int64_t ld);

// The same block written straight in SGEMM's B panel layout (cpu::BPanelPacker): ceil((j_end - j_begin) / nr)
// panels of nr * (k_end - k_begin) floats at dst, element (k, j) at dst[q * nr * (k_end - k_begin) +
// (k - k_begin) * nr + (j - j_begin - q * nr)] with q = (j - j_begin) / nr; lanes past j_end are 0. Equal, value
// for value, to im2col_block followed by packing, without the column matrix. nr: 1 to 64.
void im2col_pack_panel(const Conv2dParams& p, const float* x_group, int64_t k_begin, int64_t k_end, int64_t j_begin,
                       int64_t j_end, int64_t nr, float* dst);

// Small planes (output rows narrower than a panel, so each panel row spans several output rows): the group's input
// is first copied into zero-padded planes, after which every segment of a panel row is one contiguous run at stride
// 1 (no bounds, no zero fills), copied in whole 8-float moves. Only for stride 1 (im2col_padded_applicable).
bool im2col_padded_applicable(const Conv2dParams& p);
// Floats of the padded planes of `channels` input channels, slack included.
int64_t im2col_padded_floats(const Conv2dParams& p, int64_t channels);
// Pads channels [c_begin, c_end) of x_group into xpad (planes of (pad_top + H + pad_bottom) x
// (pad_left + W + pad_right)); the slack past the last plane is zeroed by the call that pads the last channel.
void im2col_pad_planes(const Conv2dParams& p, const float* x_group, int64_t channels, int64_t c_begin, int64_t c_end,
                       float* xpad);
// im2col_pack_panel from padded planes: the same values at the same places.
void im2col_pack_panel_padded(const Conv2dParams& p, const float* xpad, int64_t k_begin, int64_t k_end,
                              int64_t j_begin, int64_t j_end, int64_t nr, float* dst);

}  // namespace ef::cpu
