// Winograd F(4x4, 3x3) and F(2x2, 3x3) convolution for dense (group 1) 3x3 stride-1 undilated 2-D NCHW float32
// layers: each 4x4 output tile costs 36 multiplies per (input, output) channel pair instead of 144 (2x2 tiles: 16
// instead of 36), at the price of an input and an output transform per tile. Depends on kernels/cpu/sgemm.h (the 36 channel products are packed SGEMMs),
// conv_params.h, activation.h and core/thread_pool.h; the transforms use Highway with runtime ISA dispatch.
//
// Algorithm (per block of tiles; tiles run over (image, tile row, tile column)):
//   V[xi](c, t) = (B^T d B)[xi]   the 6x6 input window of tile t, channel c (vectorized over tiles), written
//                                 straight in the SGEMM's B panel layout
//   Mo[.][xi] = U[xi] x V[xi]     U[xi] = (G g G^T)[xi], [M, C], transformed in double and packed at construction
//                                 (36 points for 4x4 tiles, 16 for 2x2), per chunk of output channels, each
//                                 chunk's GEMMs followed by its output transform
//   y tile = act(A^T Mo A + bias + residual)
// Numerics: F(4x4)'s transforms amplify rounding error (interpolation points 0, +-1, +-2, inf), so results differ
// from direct convolution by about 1e-6 of the magnitude of the summed terms rather than 1e-7 (F(2x2): points
// 0, +-1, inf, about 1e-7) (measured and bounded
// in tests/kernels/cpu/winograd_test.cpp and docs/performance.md). Results do not depend on the thread count:
// every output element goes through the same operations in the same order whatever the pool size. Threads take
// whole tile blocks when there are several (up to one block in flight per physical core, scratch sized at
// construction), else split each block's phases.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/sgemm.h"

namespace ef::cpu {

// True when p is a convolution WinogradConv can run: group 1, 3x3, stride 1, dilation 1 (any padding, batch).
bool winograd_applicable(const Conv2dParams& p);

// The output tile size (4 or 2) of the Winograd variant expected to beat im2col + GEMM on p, or 0 when none is
// (measured crossover, see winograd.cpp).
int winograd_preferred_tile(const Conv2dParams& p);

// Output tiles of `tile` x `tile` (4 or 2) that cover p's output, over the whole batch.
inline int64_t winograd_tiles(const Conv2dParams& p, int tile) {
  return p.N * ((p.OH + tile - 1) / tile) * ((p.OW + tile - 1) / tile);
}

class WinogradConv {
 public:
  // w: [M, C, 3, 3]; tile: output tile size, 4 (F(4x4, 3x3)) or 2 (F(2x2, 3x3)). tile_block: tiles per block
  // (0: chosen from the channel counts so a block's transformed data stays in L2). chunk: output channels whose
  // GEMMs and output transform run together (rounded up to the GEMM's row tile; 0: the default, which depends on
  // `threads`, the pool size it will mostly run with: the chunk only groups GEMM rows, results do not change).
  // Throws std::invalid_argument when !winograd_applicable(p) or the tile size is neither.
  WinogradConv(const Conv2dParams& p, const float* w, int tile = 4, int64_t tile_block = 0, int64_t chunk = 0,
               int threads = 1);

  int tile() const { return g_.tile; }

  // Bytes of scratch run() needs (64-byte aligned, contents irrelevant, private to the call).
  uint64_t scratch_bytes() const;

  // y = act(conv(x, w) + bias + residual); bias [M] or null, residual [N, M, OH, OW] or null (may alias y),
  // y [N, M, OH, OW] must not alias x.
  void run(const float* x, const float* bias, const float* residual, const Activation& act, float* y,
           void* scratch, ThreadPool& pool) const;

  // Widest vector the transforms use, in floats: sizes the slack that the last group of a tile row may touch.
  static constexpr int64_t kMaxLanes = 16;

  // The geometry the transforms share (public for the per-target code in winograd.cpp).
  struct Geometry {
    int tile;               // output tile size: 4 or 2
    int64_t N, C, M, OH, OW;
    int64_t TH, TW;         // tile rows / columns per image
    int64_t Hp, Wp;         // zero-padded input plane: row 0 is input row -pad_top, column 0 input column -pad_left
    int64_t tiles;          // N * TH * TW
    int64_t block;          // tiles per block
    int64_t ld;             // row stride of Mo: block plus a vector of slack for the last group's lanes
    int64_t row;            // channel stride of Mo [M][points][ld]: points * ld
  };

  // Where the input transform writes V: per point, the [C, tiles of the block] matrix in the SGEMM's B panel
  // layout (see pack_b_panels_for): K block pc (kc channels) at pc * padded, its panel q at + q * nr * (channels
  // of the block), element (c, j) at + (c - pc) * nr + j % nr; point xi at + xi * stride.
  struct Panels {
    float* data;
    int64_t stride, nr, kc, padded;
  };

 private:
  // Input transform, GEMMs and output transform of the tiles [t0, t0 + block) with V (in GEMM panels) and Mo
  // at vp and mo. xpad holds padded rows [row0, row0 + hp) of every plane (planes hp rows apart).
  void run_block(int64_t t0, float* vp, float* mo, const float* xpad, int64_t row0, int64_t hp, const float* bias,
                 const float* residual, const Activation& act, float* y, ThreadPool& pool) const;

  Conv2dParams p_;
  Geometry g_;
  int64_t points_ = 0;           // (tile + 2)^2
  int64_t slots_ = 1;            // blocks that may run at once, each on its own thread with its own V and Mo
  int64_t chunk_ = 0;            // output channels per GEMM + output transform pass
  int64_t vp_stride_ = 0;        // floats per point of V in the GEMM's B panel layout
  int64_t nr_ = 0, kc_ = 0;      // that layout's panel width and K block
  std::vector<PackedMatrix> u_;  // [chunk][point]: rows [k chunk_, (k + 1) chunk_) of U[point], packed
};

}  // namespace ef::cpu
