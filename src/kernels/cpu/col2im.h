// col2im: the scatter half of a GEMM-based ConvTranspose. After col[(m, ki, kj), (ih, iw)] = W^T x X, every
// column entry adds into the output position its tap reaches, y[m, ih*stride - pad + ki*dilation, ...]; taps
// landing outside the output are dropped. Depends only on kernels/cpu/conv_params.h.
#pragma once
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// Geometry in Conv2dParams terms, seen from the transposed conv: p.C input channels of p.H x p.W, p.M output
// channels of p.OH x p.OW (all groups), kernel/stride/dilation/pads as in the ConvTranspose node (pads already
// resolved). `col` holds one group's [(M / group) * kh * kw, H * W] matrix; `y_group` points at that group's first
// output channel of the image, which must already hold the bias (or zeros). Channels [m_begin, m_end) of the
// group are scattered, so callers can split the work across threads by channel.
void col2im_add(const Conv2dParams& p, const float* col, int64_t m_begin, int64_t m_end, float* y_group);

}  // namespace ef::cpu
