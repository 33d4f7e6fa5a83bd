// A few-input-channel convolution (DirectSmallCConv's layers: the stem of squeezenet, resnet18, shufflenet) and the
// MaxPool that reads its output, computed together in bands of output rows, so the convolution's output never goes
// to memory as a whole. Depends on conv_direct_smallc.h, pool.h, row_bands.h, conv_params.h, activation.h and
// core/thread_pool.h.
//
// Why: a stem conv writes the largest tensor of the network (squeezenet1_1: 64 x 111 x 111 floats, 3.1 MB; resnet18
// 3.2 MB) and the MaxPool right after reads it back. Unfused, the conv's stores and the pool's loads go to L3 and
// beyond, and neither scaled from one thread to two (squeezenet: stem 1.10x, MaxPool 0.91x, bench --profile).
// Fused, each band of conv rows (<= kBandBytes) is pooled while it is still in L2: stem + pool per node 0.88-0.97x
// the time at one thread, level at two (the pool's own work stays; docs/performance.md).
//
// Algorithm: the pooled output rows of each image are split into `chunks` contiguous ranges (one per thread, or two
// per thread for balance); each range walks its rows in sub-bands: the conv rows its windows need are computed into
// the range's band buffer ([M][rows][OW]), after the rows the previous sub-band already holds (the windows'
// overlap, (kh - 1) dilation + 1 - stride rows, is moved to the front instead of recomputed), then pooled straight
// into the output. Only the first sub-band of each range recomputes the overlap rows. The conv rows get exactly
// the operations DirectSmallCConv::run gives them and max is exact, so results are those of the two nodes run one
// after the other, whatever the thread count.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_direct_smallc.h"
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// True when SmallCConvMaxPool can run conv then pool: direct_smallc_applicable(conv), and pool is a window over
// the conv's output (pool.N, C, H, W = conv.N, M, OH, OW) with OH, OW >= 1.
bool conv_max_pool_applicable(const Conv2dParams& conv, const Conv2dParams& pool);

class SmallCConvMaxPool {
 public:
  // A band of conv rows (M x rows x OW floats) is kept within this many bytes (L2 beside the phase-split input).
  static constexpr int64_t kBandBytes = 256 << 10;

  // conv: w [M, C, kh, kw], bias [M] or null; pool: the MaxPool's window over the conv output. chunks: pooled
  // row ranges per image (1 at one thread). band_bytes: the band limit (tests make it small to get many
  // sub-bands). Throws std::invalid_argument when !conv_max_pool_applicable.
  SmallCConvMaxPool(const Conv2dParams& conv, const float* w, const float* bias, const Conv2dParams& pool,
                    int64_t chunks, int64_t band_bytes = kBandBytes);

  uint64_t scratch_bytes() const;

  // y = MaxPool(act(conv(x, w) + bias)); y [N, M, pool.OH, pool.OW] must not alias x.
  void run(const float* x, const Activation& act, float* y, void* scratch, ThreadPool& pool) const;

 private:
  // Pooled rows [q0, q1) of one image: x_t its phase-split input, buf this range's band buffer, y the image's
  // output planes.
  void run_range(const void* x_t, const Activation& act, int64_t q0, int64_t q1, float* buf, float* y) const;

  DirectSmallCConv conv_;
  Conv2dParams pool_;
  int64_t chunks_ = 1;
  int64_t sub_rows_ = 1;    // pooled rows per sub-band
  int64_t band_rows_ = 1;   // conv rows a sub-band needs at most: (sub_rows_ - 1) stride_h + window extent
  int64_t band_floats_ = 0; // one band buffer, rounded up to 16 floats
  int64_t conv_scratch_ = 0;  // floats of the phase-split input, rounded up to 16
};

}  // namespace ef::cpu
