// A convolution's im2col matrix as SGEMM's B operand, packed panel by panel when the GEMM asks for it
// (cpu::BPanelPacker): straight from the input, or from zero-padded copies of its planes (im2col.h). Shared by the
// CPU provider's GEMM convolutions and the benchmarks. Header-only; depends on kernels/cpu/im2col.h and sgemm.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/sgemm.h"

namespace ef::cpu {

// The im2col matrix of one image and group; x_group as for im2col_pack_panel. Keeps references: p and the input
// must outlive the GEMM call.
class Im2colPanels final : public BPanelPacker {
 public:
  Im2colPanels(const Conv2dParams& p, const float* x_group) : p_(p), x_group_(x_group) {}
  void pack(int64_t k0, int64_t k1, int64_t j0, int64_t j1, int64_t nr, float* dst) const override {
    im2col_pack_panel(p_, x_group_, k0, k1, j0, j1, nr, dst);
  }

 private:
  const Conv2dParams& p_;
  const float* x_group_;
};

// The same from the group's planes padded by im2col_pad_planes into xpad.
class PaddedIm2colPanels final : public BPanelPacker {
 public:
  PaddedIm2colPanels(const Conv2dParams& p, const float* xpad) : p_(p), xpad_(xpad) {}
  void pack(int64_t k0, int64_t k1, int64_t j0, int64_t j1, int64_t nr, float* dst) const override {
    im2col_pack_panel_padded(p_, xpad_, k0, k1, j0, j1, nr, dst);
  }

 private:
  const Conv2dParams& p_;
  const float* xpad_;
};

}  // namespace ef::cpu
