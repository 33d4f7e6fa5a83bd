// Direct int8 depthwise convolution (QLinearConv with group == C, M a multiple of C) on 8-bit NCHW activations:
// exact integer accumulation of (x - x_zero_point) * w in int32 and the quantized GEMM's requantization
// (qgemm.h requantize_rows), so results equal the GEMM path's bit for bit. Padding reads as the zero point
// (contributes nothing), as in the reference QLinearConv.
//
// AVX2 kernel (stride 1 or 2, dilation 1, kernel up to 16 x 16; 3x3 and 5x5 are the common ones): each input
// plane is widened once into a padded int16 plane (x - zp, zeros in the padding); a k-adjacent tap pair of 8
// outputs is then one vpmaddwd on two adjacent int16s read as an int32 lane (products <= 255 * 128, never
// saturating). Stride 2 reads output t's pair at column 2t; stride 1 computes even and odd outputs as two such
// strided sets (columns 2t and 2t + 1) and interleaves their bytes.
// Small planes at stride 1 (W <= 16: MobileNet's 7x7 / 14x14 layers) run the same sums over the plane flattened
// with its padding: row pitch P = W + pads, output f = oh * P + ow, so 16-output blocks span rows instead of
// leaving most lanes of a short row idle (7x7: 4 blocks instead of 7); the P - OW columns of each flattened row
// are computed and dropped. Everything else (other strides, dilation, --isa below AVX2, non-x86) runs the
// portable loops.
// AVX-512 VNNI row kernel (qdepthwise_avx512.cpp): the same plane and sums, 32 outputs per block in 512-bit
// registers, vpdpwssd multiplying and accumulating a tap pair in one instruction (the AVX2 kernel's vpmaddwd +
// vpaddd); rows wider than 16 outputs that are not flattened, where the CPU has AVX-512 VNNI and the --isa cap
// allows AVX3. Same sums and requantization, so the same bits.
// AVX-512 VBMI byte kernel (qdepthwise_vbmi.cpp), where the CPU also has VBMI: the plane stays 8-bit (x ^ flip,
// the zero point in the padding) and one vpdpbusd multiplies four taps of a kernel row for 16 outputs, the 4-byte
// windows cut from one 64-byte load by vpermb; the zero point comes out as bias - zp * sum(w). Same sums, so the
// same bits as the other kernels.
// Channel-packed kernel (small planes, qdepthwise_packed_avx2.cpp): 16 channels per block with the channels in
// the vector lanes, so no lane idles on a 7x7 plane and the per-plane set-up is paid once per 16 channels; see
// QdwPacked below.
// Depends on conv_params.h, qgemm.h (requantization) and core/thread_pool.h.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/qgemm.h"

namespace ef::cpu {

// Weights, biases and scales of the channel-packed kernel, laid out at plan time (qdw_pack). Per block of 16
// channels (lanes past M repeat the last channel): for each column parity q the kernel uses (stride 1: the
// window starts at an even or an odd column; stride 2: always even), kh x pairs[q] tap pairs x 2 halves of 8
// int32 lanes (int16 weights (w[2t - q], w[2t + 1 - q]), zeros outside the kernel row), then the 16 biases and
// the 16 scales (float bits), in the lane order the kernel's byte transposes produce.
struct QdwPacked {
  std::vector<int32_t> data;
  int64_t block = 0;              // int32 per block
  int64_t pairs[2] = {0, 0};      // tap pairs per kernel row, per parity (0: none)
  int64_t parity_at[2] = {0, 0};  // where each parity's weights start in a block
  int64_t tail = 0;               // where the biases start in a block (scales follow 16 later)
};

enum class QdwKernel { kPortable, kRows, kRowsAvx512, kBytesVbmi, kPacked };

struct QDepthwiseArgs {
  const uint8_t* x = nullptr;  // [N, C, H, W], uint8 or int8 bytes
  uint8_t flip = 0;            // 0x80 for int8 activations: x ^ flip is the uint8 value
  int32_t x_zero_point = 0;    // in the flipped (uint8) domain
  const int8_t* w = nullptr;   // [M, kh * kw]
  const int32_t* bias = nullptr;  // M values (added to the accumulator)
  const float* scale = nullptr;   // M values (x_scale * w_scale[m] / y_scale)
  QRequant rq;                    // zero point, clamp bounds, output type (offset / scale unused)
  void* y = nullptr;              // [N, M, OH, OW]
  const QdwPacked* packed = nullptr;  // the packed kernel's weights (qdw_pack), required by QdwKernel::kPacked
};

// Whether the AVX2 kernel runs geometry p: the CPU has AVX2, the --isa cap allows it, and p fits.
bool qdepthwise_use_avx2(const Conv2dParams& p);

// Whether the AVX-512 VNNI row kernel can run p: qdepthwise_use_avx2(p), the CPU and --isa allow AVX-512 VNNI,
// the plane is not flattened, its rows have more than 16 outputs and the kernel is 3x3, 5x5 or 7x7.
bool qdepthwise_avx512_fits(const Conv2dParams& p);

// Whether the AVX-512 VBMI byte kernel can run p: qdepthwise_avx512_fits(p) and the CPU has AVX-512 VBMI.
bool qdepthwise_vbmi_fits(const Conv2dParams& p);

// Whether the channel-packed kernel can run p: AVX2 as above, channel multiplier 1, stride_w 1 or 2, dilation 1,
// kernel up to 7 x 7.
bool qdepthwise_packed_fits(const Conv2dParams& p);
// The kernel to run p with (plan time): the packed one where it fits and the plane is small enough that the
// row kernels spend most of their time outside the multiplies, else the row kernels, else the portable loops.
QdwKernel qdepthwise_choose(const Conv2dParams& p);
// The packed kernel's weights for p (qdepthwise_packed_fits(p)): w [M, kh * kw], bias and scale M values each.
QdwPacked qdw_pack(const Conv2dParams& p, const int8_t* w, const int32_t* bias, const float* scale);

// Runs the convolution with kernel k (decided at plan time; kPacked needs a.packed). Results do not depend on
// the pool size or the kernel.
void qdepthwise_conv2d(const Conv2dParams& p, const QDepthwiseArgs& a, QdwKernel k, ThreadPool& pool);

namespace detail {
// The packed kernel's lane order: lane 8h + j (half h, int32 lane j) of a block holds channel kQdwLaneChannel[8h + j]
// of the block. This is the order in which its final byte packs (packs_epi32 / packus_epi16 / permute4x64) come
// out as channels 0..15, so the outputs need no extra shuffle.
inline constexpr int kQdwLaneChannel[16] = {0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15};
// Geometry of the padded int16 plane (x - zp, zeros in the padding) the AVX2 kernel reads.
struct QdwPlane {
  int64_t rows = 0, cols = 0;  // cols: elements per row (row kernel: a multiple of 16 with slack for the last
                               // vector; flat: the pitch W + pad_left + pad_right)
  bool flat = false;           // the flattened small-plane kernel (stride 1, W <= 16)
  int64_t scratch = 0;         // where the byte scratch after the plane starts, in int16 elements
  int64_t size = 0;            // int16 elements the kernels need: the plane and the scratch
};
// `block`: outputs per block of the row kernel that reads the plane (16: AVX2, 32: AVX-512).
QdwPlane qdw_plane_geometry(const Conv2dParams& p, int64_t block = 16);
// Whether the row kernels read p's plane flattened (QdwPlane::flat): stride 1, rows of at most 16.
bool qdw_flat(const Conv2dParams& p);
// Fills the padded plane of one input channel into buf (g.size int16).
void qdw_build_plane_avx2(const Conv2dParams& p, const QdwPlane& g, const uint8_t* x, uint8_t flip, int32_t zp,
                          int16_t* buf);
// One output channel with weights w [kh * kw] over the built plane, requantized (offset, scale, rq) into the
// 8-bit plane y [OH * OW]. The plane is kept (a channel multiplier reuses it); the scratch after it is not.
void qdw_plane_avx2(const Conv2dParams& p, const QdwPlane& g, int16_t* buf, const int8_t* w, int32_t offset,
                    float scale, const QRequant& rq, uint8_t* y);
// qdw_plane_avx2 on the AVX-512 VNNI kernel (qdepthwise_avx512_fits(p); the plane built for blocks of 32).
void qdw_plane_avx512(const Conv2dParams& p, const QdwPlane& g, int16_t* buf, const int8_t* w, int32_t offset,
                      float scale, const QRequant& rq, uint8_t* y);
// The byte plane of the VBMI kernel: rows x cols bytes (cols a multiple of 64 with room for the last block's
// loads); size = rows * cols.
QdwPlane qdw_byte_plane_geometry(const Conv2dParams& p);
// Fills it for one input channel: x ^ flip inside, zp (flipped domain) in the padding and the slack.
void qdw_build_byte_plane_vbmi(const Conv2dParams& p, const QdwPlane& g, const uint8_t* x, uint8_t flip, uint8_t zp,
                               uint8_t* buf);
// One output channel over the byte plane; offset = bias - zp * sum(w) (wrapping int32).
void qdw_plane_vbmi(const Conv2dParams& p, const QdwPlane& g, const uint8_t* buf, const int8_t* w, int32_t offset,
                    float scale, const QRequant& rq, uint8_t* y);
// Channel blocks [begin, end) of the flattened (image, block of 16 channels) range on the packed kernel.
void qdw_packed_blocks_avx2(const Conv2dParams& p, const QDepthwiseArgs& a, int64_t begin, int64_t end);
}  // namespace detail

}  // namespace ef::cpu
