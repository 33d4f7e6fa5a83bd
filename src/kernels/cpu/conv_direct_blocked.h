// Direct 2-D NCHW float32 convolution with output channels in the vector lanes (the way ONNX Runtime's NCHWc
// kernels compute), for dense layers with many channels on small planes (resnet18's 14x14 stage, squeezenet's 13x13
// layers at two threads), where Winograd's transformed weights (36 / 9 = 4x the bytes) stream from memory for few
// tiles, im2col + GEMM gathers a long K and direct planes computes garbage columns. Depends on conv_params.h,
// conv_layout.h, activation.h and core/thread_pool.h; the SIMD code uses Highway with runtime ISA dispatch.
//
// Algorithm: the input is copied into zero-padded planes (C x Hp x Wp), so output position p = (oh, ow) reads tap
// (c, i, j) at c Hp Wp + pos[p] + tap[i, j] with pos[p] = oh stride_h Wp + ow stride_w: any stride and dilation,
// no garbage positions. Weights are packed in blocks of kBlockM output channels, [block][c][i][j][kBlockM]. The
// register tile is a few vectors of output channels (64 on AVX-512) x kTileP output positions: per tap one weight
// vector load per channel vector and one broadcast per position for (vectors x positions) FMAs. The multiply-adds
// run in blocks of kBlockC input channels (their weights stay in L1) over a band of positions, accumulating into a
// position-major buffer [P][M] in scratch (each band's slice stays in L2); the last channel block's tile goes
// through bias (the accumulators' start value) and is then transposed into y with residual and activation (16x16
// blocks in registers on AVX-512, gathers elsewhere).
// Results do not depend on the thread count: every output is one accumulation in a fixed channel order.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// True when DirectBlockedConv can run p: group 1, any kernel, stride, dilation and padding (batch included), up
// to 2^24 output channels (the epilogue gathers with 32-bit offsets).
bool direct_blocked_applicable(const Conv2dParams& p);

// True when DirectBlockedConv is expected to beat the other algorithms on p with `threads` intra-op threads
// (measured inside resnet18, see conv_direct_blocked.cpp).
bool direct_blocked_preferred(const Conv2dParams& p, int threads);

class DirectBlockedConv {
 public:
  static constexpr int64_t kBlockM = 64;   // output channels per packed weight block (4 vectors on AVX-512)
  static constexpr int64_t kBlockC = 16;   // input channels per pass over a band
  static constexpr int64_t kTileP = 6;     // output positions per register tile
  static constexpr int64_t kBandP = 256;   // output positions per band at most

  // w: [M, C, kh, kw]; bias: [M] or null. Throws std::invalid_argument when !direct_blocked_applicable(p).
  DirectBlockedConv(const Conv2dParams& p, const float* w, const float* bias);

  uint64_t scratch_bytes() const;

  // y = act(conv(x, w) + bias + residual); residual [N, M, OH, OW] or null (may alias y); y must not alias x.
  void run(const float* x, const float* residual, const Activation& act, float* y, void* scratch,
           ThreadPool& pool) const;

  // The geometry the per-target code shares (public for conv_direct_blocked.cpp).
  struct Geometry {
    Conv2dParams p;
    int64_t Hp, Wp;    // padded plane
    int64_t taps;      // kh * kw
    int64_t blocks;    // ceil(M / kBlockM)
    int64_t Mp;        // blocks * kBlockM: row length of the accumulator buffer
    int64_t P;         // OH * OW
    int64_t band;      // positions per band
  };

 private:
  Geometry g_;
  std::vector<float> w_;        // [blocks][C * taps][kBlockM], channels past M zero
  std::vector<float> bias_;     // [blocks * kBlockM]
  std::vector<int64_t> pos_;    // [P]: output position p's offset in a padded plane
  std::vector<int64_t> tap_;    // [taps]: tap (i, j)'s offset from a position's
};

}  // namespace ef::cpu
