// Quad planes: activation panels of stride-1 tap-major quantized convolutions (AVX-512) without per-panel
// gathers. Once per run the group's input is laid out as zero-point-padded planes of 4 interleaved channels (one
// dword per padded pixel, x ^ flip inside, the padding byte around), so quad (tap, channels 4q .. 4q + 3) of a
// panel is 16 consecutive dwords of plane q starting at the tap's offset: one 64-byte load per quad, plus one
// masked load per further output row the panel's 16 columns reach. The tap-major gather (qconv_pack.h) made
// four 16-byte row loads, masks and an interleave for every quad, for every panel (12% of resnet18's INT8 run).
// Depends on kernels/cpu/qgemm.h, conv_params.h, core/thread_pool.h.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/qgemm.h"

namespace ef::cpu {

// True where quad planes apply: tap-major order (qconv_tap_major), stride 1 both ways, planes of at most 16 MiB,
// and AVX-512 BW under the --isa cap. The weights are then permuted by qconv_tap_major_weights.
bool qconv_quad_planes(const Conv2dParams& p);
// Bytes of the planes of one group (64-byte aligned start expected), slack for the last panel's loads included.
int64_t qconv_quad_plane_bytes(const Conv2dParams& p);

class QQuadPlanePanels final : public QPanelPacker {
 public:
  QQuadPlanePanels(const Conv2dParams& p, const uint8_t* planes);
  // Lays out the planes of one group (x_group: its first input channel) into `planes`, parallel over quads.
  static void build(const Conv2dParams& p, const uint8_t* x_group, uint8_t flip, uint8_t pad, uint8_t* planes,
                    ThreadPool& pool);
  void pack(int64_t j0, int64_t j1, uint8_t* dst) const override;

 private:
  const Conv2dParams& p_;
  const uint8_t* planes_;
  bool avx512_;
};

}  // namespace ef::cpu
