// A pointwise convolution (1x1, stride 1, no padding, group 1) and the depthwise convolution that reads its output
// (the expand + depthwise pair of an inverted-residual block), computed together in bands of rows, so the
// pointwise output never goes to memory as a whole. Depends on sgemm.h, depthwise_conv.h, depthwise_packed.h,
// row_bands.h, conv_params.h, activation.h and core/thread_pool.h.
//
// Why: the expansion is the largest tensor of such a network (mobilenet_v2: 96 x 112 x 112 floats, 4.8 MB; then
// 144 x 56 x 56, 1.8 MB), written by the pointwise GEMM and read back by the depthwise kernel. Unfused, both passes
// go to L3 and beyond: the stride-2 depthwise layer on the 4.8 MB tensor took 0.21-0.27 ms in the model against
// 0.17 ms with its input in cache (edgeforge_conv_bench), most of the difference in the row copies that first touch
// the tensor. Fused, each band of pointwise rows (<= kBandBytes) is consumed by the depthwise kernel while in L2.
//
// Algorithm: as SmallCConvMaxPool (conv_max_pool.h). The depthwise output rows of each image are split into
// `chunks` contiguous ranges that threads claim; each range walks its rows in sub-bands: the pointwise rows a
// sub-band's windows need are computed into the range's band buffer ([M1][rows][W], by the packed GEMM with B read
// in place from the input rows), after the rows the previous sub-band already holds (the windows' overlap is moved
// to the front, not recomputed), then the depthwise kernel runs over the band as an input of its own
// (depthwise_conv2d_band) and writes its rows of the output. Only the first sub-band of a range recomputes the
// overlap rows.
//
// Where the depthwise layer runs on the channel-packed kernel (depthwise_packed_preferred: small output planes,
// as after a stride-2 layer on 56x56), its per-plane band calls lose to that kernel by more than the bands save
// (144 x 56x56 stride 2: 0.22-0.24 ms against 0.18 ms unfused, one thread); there the two kernels run one after
// the other through a whole intermediate in scratch (banded() false), as unfused nodes would.
//
// Numerics: the depthwise rows get exactly the unfused kernel's operations. The GEMM's order per element depends
// on its column count only through the narrow column tail (sgemm.cpp), so a band may round a pointwise value in
// the last bit differently from the unfused GEMM; the ranges therefore do not depend on the thread count (a fixed
// kChunks), and neither do the results.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/sgemm.h"

namespace ef::cpu {

// True when PointwiseDepthwiseConv runs pw then dw: pw 1x1, stride 1, no padding, group 1; dw a depthwise conv
// (depthwise_band_applicable: column stride 1 or 2) over pw's output (dw.N, C, H, W = pw.N, M, OH, OW).
bool pointwise_depthwise_applicable(const Conv2dParams& pw, const Conv2dParams& dw);

class PointwiseDepthwiseConv {
 public:
  // A band of pointwise rows (pw.M x rows x W floats) is kept within this many bytes (L2 beside the depthwise
  // kernel's padded plane and the GEMM's panels).
  static constexpr int64_t kBandBytes = 512 << 10;
  // Row ranges per image: one per thread at two threads (four were 2-7% slower at both one and two threads on
  // mobilenet_v2's shapes: each range recomputes its overlap rows, one at stride 2, two at stride 1 with 3x3).
  static constexpr int64_t kChunks = 2;

  // pw: w1 [M1, C], bias1 [M1] or null, activation act1; dw: w2 [M2, 1, kh, kw], bias2 [M2] or null, act2.
  // chunks: depthwise row ranges per image (at most dw.OH). band_bytes: the band limit (tests make it small to
  // get many sub-bands). Throws std::invalid_argument when !pointwise_depthwise_applicable.
  PointwiseDepthwiseConv(const Conv2dParams& pw, const float* w1, const float* bias1, const Activation& act1,
                         const Conv2dParams& dw, const float* w2, const float* bias2, const Activation& act2,
                         int64_t chunks = kChunks, int64_t band_bytes = kBandBytes);

  uint64_t scratch_bytes() const;
  bool banded() const { return banded_; }

  // y = act2(dw(act1(pw(x, w1) + bias1), w2) + bias2); y [N, M2, dw.OH, dw.OW] must not alias x.
  void run(const float* x, float* y, void* scratch, ThreadPool& pool) const;

 private:
  GemmEpilogue pointwise_epilogue() const;  // bias1 and act1
  // Depthwise output rows [o0, o1) of one image: x its input planes, buf this range's band buffer, y its output
  // planes.
  void run_range(const float* x, int64_t o0, int64_t o1, float* buf, float* y) const;

  Conv2dParams pw_, dw_;
  PackedMatrix w1_;
  std::vector<float> bias1_, w2_, bias2_;
  Activation act1_, act2_;
  bool banded_ = true;
  int64_t chunks_ = 1;
  int64_t sub_rows_ = 1;     // depthwise output rows per sub-band
  int64_t band_rows_ = 1;    // pointwise rows a sub-band needs at most
  int64_t band_floats_ = 0;  // one band buffer, rounded up to 16 floats
};

}  // namespace ef::cpu
