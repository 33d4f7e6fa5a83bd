// A convolution's im2col matrix as SGEMM's B operand, packed panel by panel when the GEMM asks for it
// (cpu::BPanelPacker): straight from the input, or from zero-padded copies of its planes (im2col.h). Shared by the
// CPU provider's GEMM convolutions and the benchmarks. Header-only; depends on kernels/cpu/im2col.h and sgemm.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/sgemm.h"

namespace ef::cpu {

// The im2col matrix of one image and group, packed by `Pack` (one of im2col.h's panel packers) from `x`. Keeps
// references: p and the input must outlive the GEMM call.
template <void (*Pack)(const Conv2dParams&, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float*)>
class Im2colPanelsFrom final : public BPanelPacker {
 public:
  Im2colPanelsFrom(const Conv2dParams& p, const float* x) : p_(p), x_(x) {}
  void pack(int64_t k0, int64_t k1, int64_t j0, int64_t j1, int64_t nr, float* dst) const override {
    Pack(p_, x_, k0, k1, j0, j1, nr, dst);
  }

 private:
  const Conv2dParams& p_;
  const float* x_;
};

// Straight from the input (x_group as for im2col_pack_panel).
using Im2colPanels = Im2colPanelsFrom<&im2col_pack_panel>;
// From the group's planes padded by im2col_pad_planes into xpad.
using PaddedIm2colPanels = Im2colPanelsFrom<&im2col_pack_panel_padded>;

}  // namespace ef::cpu
