// The driver and portable loops of the int8 depthwise convolution (qdepthwise.h); the AVX2 plane kernels are in
// qdepthwise_avx2.cpp.
#include "kernels/cpu/qdepthwise.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/isa.h"

namespace ef::cpu {
namespace {

// Exact sums over the taps inside the input, any stride / dilation / padding: the oracle-shaped portable path.
void plane_scalar(const Conv2dParams& p, const uint8_t* x, uint8_t flip, int32_t zp, const int8_t* w,
                  int32_t* acc) {
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const int64_t h0 = oh * p.stride_h - p.pad_top;
    const TapRange rows = valid_taps(h0, p.H, p.kh, p.dilation_h);
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const int64_t w0 = ow * p.stride_w - p.pad_left;
      const TapRange cols = valid_taps(w0, p.W, p.kw, p.dilation_w);
      uint32_t sum = 0;  // wraps modulo 2^32 like the reference's int32 accumulator (huge kernels), no UB
      for (int64_t i = rows.first; i < rows.last; ++i) {
        const uint8_t* xr = x + (h0 + i * p.dilation_h) * p.W + w0;
        const int8_t* wr = w + i * p.kw;
        for (int64_t j = cols.first; j < cols.last; ++j) {
          sum += static_cast<uint32_t>((static_cast<int32_t>(xr[j * p.dilation_w] ^ flip) - zp) * wr[j]);
        }
      }
      acc[oh * p.OW + ow] = static_cast<int32_t>(sum);
    }
  }
}

}  // namespace

bool qdepthwise_use_avx2(const Conv2dParams& p) {
  if (!detail::cpu_has_avx2() || active_isa().rfind("AVX", 0) != 0) return false;  // capped below AVX2
  return (p.stride_w == 1 || p.stride_w == 2) && p.stride_h >= 1 && p.dilation_h == 1 && p.dilation_w == 1 &&
         p.kh <= 16 && p.kw <= 16;
}

bool qdepthwise_avx512_fits(const Conv2dParams& p) {
  const bool square = p.kh == p.kw && (p.kh == 3 || p.kh == 5 || p.kh == 7);  // the unrolled instances
  return qdepthwise_use_avx2(p) && detail::cpu_has_avx512_vnni() && avx512_in_use() &&
         !detail::qdw_flat(p) && p.OW > 16 && square;
}

bool qdepthwise_vbmi_fits(const Conv2dParams& p) {
  return qdepthwise_avx512_fits(p) && detail::cpu_has_avx512_vbmi();
}

bool qdepthwise_packed_fits(const Conv2dParams& p) {
  return qdepthwise_use_avx2(p) && p.M == p.C && p.group == p.C && p.kh <= 7 && p.kw <= 7 && p.OH * p.OW > 0;
}

QdwKernel qdepthwise_choose(const Conv2dParams& p) {
  if (!qdepthwise_use_avx2(p)) return QdwKernel::kPortable;
  // The VBMI byte kernel at stride 1 on rows of 48+ outputs: faster than every other kernel there, the packed
  // one on 56 x 56 included (144 channels 3x3: 102 vs 144 us, 64 channels 7x7: 94 vs 179 us); at stride 2 and on
  // 32-wide rows the AVX-512 row kernel or the packed one is (edgeforge_conv_bench depthwise_int8, Zen 5).
  if (p.stride_w == 1 && p.OW >= 48 && qdepthwise_vbmi_fits(p)) return QdwKernel::kBytesVbmi;
  // The packed kernel up to 56 x 56 inputs: faster there at every stride and kernel size measured
  // (edgeforge_conv_bench depthwise_int8, docs/int8-execution.md), slower on 112 x 112 and 128 x 128 planes, where
  // the row kernels' vectors are full and the packed plane (32 bytes per position) leaves L2.
  if (qdepthwise_packed_fits(p) && p.H * p.W <= 56 * 56) return QdwKernel::kPacked;
  return qdepthwise_avx512_fits(p) ? QdwKernel::kRowsAvx512 : QdwKernel::kRows;
}

QdwPacked qdw_pack(const Conv2dParams& p, const int8_t* w, const int32_t* bias, const float* scale) {
  QdwPacked k;
  const int64_t kh = p.kh, kw = p.kw, taps = kh * kw;
  k.pairs[0] = (kw + 1) / 2;
  k.pairs[1] = p.stride_w == 1 ? (kw + 2) / 2 : 0;
  k.parity_at[0] = 0;
  k.parity_at[1] = kh * k.pairs[0] * 16;
  k.tail = k.parity_at[1] + kh * k.pairs[1] * 16;
  k.block = k.tail + 32;
  const int64_t blocks = (p.M + 15) / 16;
  k.data.assign(static_cast<size_t>(blocks * k.block), 0);
  for (int64_t b = 0; b < blocks; ++b) {
    int32_t* d = k.data.data() + b * k.block;
    for (int64_t lane = 0; lane < 16; ++lane) {
      const int64_t m = std::min(b * 16 + detail::kQdwLaneChannel[lane], p.M - 1);
      const int8_t* wm = w + m * taps;
      for (int q = 0; q < 2; ++q) {
        for (int64_t i = 0; i < kh; ++i) {
          for (int64_t t = 0; t < k.pairs[q]; ++t) {
            const int64_t j0 = 2 * t - q, j1 = j0 + 1;
            const int32_t w0 = j0 >= 0 && j0 < kw ? wm[i * kw + j0] : 0;
            const int32_t w1 = j1 >= 0 && j1 < kw ? wm[i * kw + j1] : 0;
            // lane / 8: the half (a vector of 8 int32), lane % 8: the int32 within it.
            d[k.parity_at[q] + (i * k.pairs[q] + t) * 16 + lane] =
                static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xFFFF) | (static_cast<uint32_t>(w1) << 16));
          }
        }
      }
      d[k.tail + lane] = bias[m];
      float s = scale[m];
      std::memcpy(&d[k.tail + 16 + lane], &s, sizeof s);
    }
  }
  return k;
}

namespace detail {

bool qdw_flat(const Conv2dParams& p) { return p.stride_h == 1 && p.stride_w == 1 && p.W <= 16 && p.OW <= 16; }

QdwPlane qdw_plane_geometry(const Conv2dParams& p, int64_t block) {
  QdwPlane g;
  g.rows = std::max(p.H + p.pad_top + p.pad_bottom, (p.OH - 1) * p.stride_h + p.kh);
  g.flat = qdw_flat(p);
  if (g.flat) {
    g.cols = p.W + p.pad_left + p.pad_right;
    // The last block's loads end 2 * pairs + 15 elements past its start, kh - 1 rows down; each input row's
    // store writes 16 elements from its first column.
    const int64_t blocks = (p.OH * g.cols + 15) / 16, pairs = (p.kw + 1) / 2;
    const int64_t reads = (blocks - 1) * 16 + 2 * pairs + 16 + (p.kh - 1) * g.cols;
    const int64_t plane = (std::max(reads, g.rows * g.cols + 16) + 15) / 16 * 16;
    // Scratch bytes after the plane: the flattened 8-bit results (blocks * 16), the compacted plane (+ 16).
    g.scratch = plane;
    g.size = plane + (blocks * 16 + p.OH * p.OW + 16 + 1) / 2 + 16;
    return g;
  }
  // The last block reads up to stride * (OW rounded to the block) + kw (rounded to even) + one pair.
  const int64_t ow_blocks = (p.OW + block - 1) / block * block;
  const int64_t need = std::max(p.W + p.pad_left, p.stride_w * ow_blocks + p.kw + 2);
  g.cols = (need + 15) / 16 * 16;
  g.scratch = g.rows * g.cols;
  g.size = g.scratch + g.cols + 32;  // the plane, then a padded byte row
  return g;
}

}  // namespace detail

void qdepthwise_conv2d(const Conv2dParams& p, const QDepthwiseArgs& a, QdwKernel k, ThreadPool& pool) {
  if (k == QdwKernel::kPacked) {
    const int64_t blocks = p.N * ((p.M + 15) / 16);
    const int64_t work = std::max<int64_t>(1, 16 * p.OH * p.OW * p.kh * p.kw);
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / work);
    pool.parallel_for(blocks, grain, [&](int64_t b, int64_t e) { detail::qdw_packed_blocks_avx2(p, a, b, e); });
    return;
  }
  if (k == QdwKernel::kBytesVbmi) {
    const detail::QdwPlane g = detail::qdw_byte_plane_geometry(p);
    const int64_t mult = p.M / p.C, taps = p.kh * p.kw;
    pool.parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
      thread_local std::vector<uint8_t> buf;  // per thread, kept between calls: no allocation after the first run
      if (buf.size() < static_cast<size_t>(g.size)) buf.resize(static_cast<size_t>(g.size));
      for (int64_t i = b; i < e; ++i) {
        const int64_t n = i / p.C, c = i % p.C;
        detail::qdw_build_byte_plane_vbmi(p, g, a.x + i * p.H * p.W, a.flip, static_cast<uint8_t>(a.x_zero_point),
                                          buf.data());
        for (int64_t k = 0; k < mult; ++k) {
          const int64_t m = c * mult + k;
          const int8_t* wm = a.w + m * taps;
          uint32_t sum = 0;
          for (int64_t t = 0; t < taps; ++t) sum += static_cast<uint32_t>(static_cast<int32_t>(wm[t]));
          const auto offset = static_cast<int32_t>(static_cast<uint32_t>(a.bias[m]) -
                                                   static_cast<uint32_t>(a.x_zero_point) * sum);
          detail::qdw_plane_vbmi(p, g, buf.data(), wm, offset, a.scale[m], a.rq,
                                 static_cast<uint8_t*>(a.y) + (n * p.M + m) * p.OH * p.OW);
        }
      }
    });
    return;
  }
  const bool wide = k == QdwKernel::kRowsAvx512, avx2 = wide || k == QdwKernel::kRows;
  const int64_t mult = p.M / p.C, plane_in = p.H * p.W, plane_out = p.OH * p.OW, taps = p.kh * p.kw;
  const detail::QdwPlane g = avx2 ? detail::qdw_plane_geometry(p, wide ? 32 : 16) : detail::QdwPlane{};
  pool.parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    // The int16 plane and a padded byte row, per thread and kept between calls (pool workers outlive them): no
    // allocation per call after the first run; qdw_build_plane_avx2 writes every element the plane kernel reads.
    thread_local std::vector<int16_t> buf;
    if (buf.size() < static_cast<size_t>(g.size)) buf.resize(static_cast<size_t>(g.size));
    std::vector<int32_t> acc(avx2 ? 0 : static_cast<size_t>(plane_out));
    for (int64_t i = b; i < e; ++i) {
      const int64_t n = i / p.C, c = i % p.C;
      const uint8_t* xc = a.x + i * plane_in;
      if (avx2) detail::qdw_build_plane_avx2(p, g, xc, a.flip, a.x_zero_point, buf.data());
      for (int64_t k = 0; k < mult; ++k) {
        const int64_t m = c * mult + k;
        const int8_t* wm = a.w + m * taps;
        uint8_t* ym = static_cast<uint8_t*>(a.y) + (n * p.M + m) * plane_out;
        if (wide) {
          detail::qdw_plane_avx512(p, g, buf.data(), wm, a.bias[m], a.scale[m], a.rq, ym);
        } else if (avx2) {
          detail::qdw_plane_avx2(p, g, buf.data(), wm, a.bias[m], a.scale[m], a.rq, ym);
        } else {
          plane_scalar(p, xc, a.flip, a.x_zero_point, wm, acc.data());
          requantize_rows(acc.data(), 1, plane_out, a.bias + m, a.scale + m, a.rq, ym);
        }
      }
    }
  });
}

}  // namespace ef::cpu
