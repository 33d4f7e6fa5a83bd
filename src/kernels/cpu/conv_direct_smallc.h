// Direct 2-D NCHW float32 convolution for layers with few input channels (the stem conv of vision nets: 3 -> 16..64
// channels, 3x3..7x7, stride 2), where im2col + GEMM has a short K (27..75) and pays for gathering strided windows
// into panels. Depends on conv_params.h, conv_layout.h, activation.h and core/thread_pool.h; the SIMD code uses
// Highway with runtime ISA dispatch.
//
// Algorithm: each image's input is first copied into scratch zero-padded and split by column phase (column
// j * stride_w + phase in phase row `phase`), so every tap of a row of outputs reads one contiguous run of floats
// (stride 2 needs no gather). Then each output row is computed as blocks of 4 or 8 output channels x up to 3 vectors
// of output columns in registers: per tap one vector load per column vector, one weight broadcast per channel.
// Bias is the accumulators' start value; residual and activation are applied before the tile leaves registers.
// Results do not depend on the thread count (threads split output rows; every output goes through the same
// operations in the same order).
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// True when DirectSmallCConv can run p: group 1, C <= 4, kernel up to 7x7, stride_w up to 4, dilation 1.
bool direct_smallc_applicable(const Conv2dParams& p);

// True when the direct kernel is expected to beat im2col + GEMM on p (measured, see conv_direct_smallc.cpp).
bool direct_smallc_preferred(const Conv2dParams& p);

class DirectSmallCConv {
 public:
  static constexpr int64_t kMaxC = 4, kMaxKernel = 7, kMaxStride = 4;
  static constexpr int64_t kBlockM = 8;     // output channels per packed weight panel
  static constexpr int64_t kMaxLanes = 16;  // widest float vector: slack at the end of each phase row

  // w: [M, C, kh, kw]; bias: [M] or null. Throws std::invalid_argument when !direct_smallc_applicable(p).
  DirectSmallCConv(const Conv2dParams& p, const float* w, const float* bias);

  // Bytes of scratch run() needs (contents irrelevant, private to the call).
  uint64_t scratch_bytes() const;

  // y = act(conv(x, w) + bias + residual); residual [N, M, OH, OW] or null (may alias y); y must not alias x.
  void run(const float* x, const float* residual, const Activation& act, float* y, void* scratch,
           ThreadPool& pool) const;

  // run() in two steps, for callers that consume the output band by band (conv_max_pool.h), one image at a time:
  // split_input writes image x_image's phase-split rows into scratch (threads split the rows); compute_rows then
  // computes output rows [oh0, oh1) on the calling thread, without residual, output row oh of channel m to
  // y_rows + m * y_plane + (oh - oh0) * OW. Each output gets the same operations as in run().
  void split_input(const float* x_image, void* scratch, ThreadPool& pool) const;
  void compute_rows(const void* scratch, const Activation& act, int64_t oh0, int64_t oh1, float* y_rows,
                    int64_t y_plane) const;
  const Conv2dParams& params() const { return g_.p; }

  // The geometry the per-target code shares (public for conv_direct_smallc.cpp).
  struct Geometry {
    Conv2dParams p;
    int64_t S;       // column phases (= stride_w)
    int64_t HP;      // padded input rows: (OH - 1) * stride_h + kh
    int64_t LP;      // floats per phase row: OW + (kw - 1) / S + kMaxLanes
    int64_t K;       // C * kh * kw
    int64_t blocks;  // ceil(M / kBlockM)
  };

 private:
  Geometry g_;
  std::vector<float> w_;         // [blocks][K][kBlockM], channels past M zero
  std::vector<float> bias_;      // [blocks * kBlockM], zero where absent
  std::vector<int64_t> offset_;  // [K]: tap k's offset into an output row's phase rows
};

}  // namespace ef::cpu
