// Direct 2-D NCHW float32 convolution over padded planes, for dense stride-1 layers with enough input channels
// (squeezenet's 13x13 3x3 expand convs), where Winograd has few tiles to share its transforms and scales poorly
// over threads, and im2col + GEMM gathers each panel from windows a few columns wide. Depends on
// conv_params.h, conv_layout.h, activation.h and core/thread_pool.h (and winograd.h, whose choice
// direct_planes_preferred weighs against); the SIMD code uses Highway with runtime ISA dispatch.
//
// Algorithm: the output is computed in bands of output rows. For each band, the input rows it reads are first copied
// into zero-padded planes whose rows are gap >= max(pad_left, pad_right) zeros then the W inputs (the gap is one row's
// right padding and the next row's left padding), Wp = gap + W floats. The band's output is then computed on that
// padded grid: position n = oh * Wp + ow for ow in [0, Wp), of which columns ow >= OW are never stored. On this grid,
// tap (c, i, j) of positions n .. n + L reads the contiguous floats at c * stride + i * dilation_h * Wp + j *
// dilation_w + gap - pad_left + n: the micro-kernel is a GEMM whose B rows are plain unaligned loads at a per-tap
// offset, with no packing at all. Register tile: up to 12 output channels (6 on targets with 16 vector registers) x 2
// vectors of positions, the whole K (C * kh * kw) accumulated in registers. The tile then goes through bias, residual
// and activation and is stored vector by vector, its garbage lanes squeezed out (real outputs of a band are
// consecutive in y). The garbage columns cost (Wp - OW) / Wp of the multiply-adds (3x3 'same': one per row, 7% on
// 13x13, 2% on 55x55).
// Threads: each takes (band, group of output channels) tasks and pads the band's rows into its own buffer, so a
// thread reads only input it wrote itself (input padded by one core and read by the other made two threads 1.3x as
// fast as one instead of ~1.9x). Large inputs are split into bands, large weight sets into channel groups, and both
// so that the threads get equal shares. Results do not depend on the thread count or the split: each output element
// is one accumulator over k in a fixed order, whatever tile or band it lands in.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// True when DirectPlanesConv can run p: group 1, stride 1 (any kernel, dilation and padding, batch).
bool direct_planes_applicable(const Conv2dParams& p);

// True when DirectPlanesConv is expected to beat the other algorithms on p (measured, see conv_direct_planes.cpp).
bool direct_planes_preferred(const Conv2dParams& p);

class DirectPlanesConv {
 public:
  static constexpr int64_t kRowTile = 12;      // output channels per packed weight panel
  static constexpr int64_t kMaxTile = 32;      // widest register tile, in positions (2 vectors of 16 floats)

  // w: [M, C, kh, kw]; bias: [M] or null; threads: the intra-op threads run() will get (it splits the work into
  // equal shares for them; any pool still gives the same results). Throws std::invalid_argument when
  // !direct_planes_applicable(p).
  DirectPlanesConv(const Conv2dParams& p, const float* w, const float* bias, int threads = 1);

  // Bytes of scratch run() needs (contents irrelevant, private to the call).
  uint64_t scratch_bytes() const;

  // y = act(conv(x, w) + bias + residual); residual [N, M, OH, OW] or null (may alias y); y must not alias x.
  void run(const float* x, const float* residual, const Activation& act, float* y, void* scratch,
           ThreadPool& pool) const;

  // The geometry the per-target code shares (public for conv_direct_planes.cpp).
  struct Geometry {
    Conv2dParams p;
    int64_t gap;        // zeros before each input row: max(pad_left, pad_right), or more for very wide pads
    int64_t Wp;         // padded row width: gap + W
    int64_t K;          // C * kh * kw
    int64_t row_tiles;  // ceil(M / kRowTile)
    int64_t band_rows;  // output rows per band (the last band may have fewer)
    int64_t bands;      // ceil(OH / band_rows)
    int64_t stride;     // channel stride of a band buffer: (band_rows + (kh - 1) dilation_h) * Wp
    int64_t buffer;     // floats per band buffer, slack for the last register tile's reads included
  };

 private:
  Geometry g_;
  int64_t slots_ = 1;             // band buffers in scratch: threads that may run tasks at once
  std::vector<float> w_;          // [row_tiles][K][kRowTile], channels past M zero
  std::vector<float> bias_;       // [row_tiles * kRowTile], zero where absent
  std::vector<int64_t> offset_;   // [K]: tap k's offset from a position's index in the band buffer
};

}  // namespace ef::cpu
