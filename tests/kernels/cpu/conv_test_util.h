// Shared by the fast-conv kernel tests: the reference kernel's view of a 2-D fast-kernel geometry, so every test
// compares against kernels/reference/conv on exactly the shape it ran.
#pragma once
#include "kernels/cpu/conv_params.h"
#include "kernels/reference/conv.h"

namespace ef::cpu {

inline ConvParams to_reference(const Conv2dParams& p) {
  ConvParams r;
  r.batch = p.N;
  r.in_channels = p.C;
  r.out_channels = p.M;
  r.group = p.group;
  r.in_spatial = {p.H, p.W};
  r.out_spatial = {p.OH, p.OW};
  r.axes = {WindowAxis{p.kh, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom},
            WindowAxis{p.kw, p.stride_w, p.dilation_w, p.pad_left, p.pad_right}};
  return r;
}

}  // namespace ef::cpu
