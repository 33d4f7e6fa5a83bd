// The AVX-512 VBMI byte kernel of the int8 depthwise convolution (qdepthwise.h). The row kernels widen every plane
// to int16 (x - zp) and multiply a tap pair per instruction; here the plane stays 8-bit and vpdpbusd multiplies four
// taps of a kernel row at once: lane l of a 16-output vector needs the bytes at S * l + 4g .. + 3 of the row, which
// one vpermb cuts from a 64-byte load (taps past the kernel width meet zero weights). The padding holds the zero
// point, so each output sums w * (x - zp) + zp * sum(w); the caller folds -zp * sum(w) into the offset. Integer
// sums are exact (at most 49 * 255 * 128), so results equal the other kernels' bit for bit; the epilogue is
// requant16_zmm. Compiled through function attributes and called only after the plan-time check
// (qdepthwise_vbmi_fits).
#include <algorithm>
#include <cstring>

#include "kernels/cpu/qdepthwise.h"
#include "kernels/cpu/qrequant_avx512-inl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_AVX512_VBMI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vnni,avx512vbmi")))
#endif

namespace ef::cpu::detail {

QdwPlane qdw_byte_plane_geometry(const Conv2dParams& p) {
  QdwPlane g;
  g.rows = std::max(p.H + p.pad_top + p.pad_bottom, (p.OH - 1) * p.stride_h + p.kh);
  // Blocks of 32 outputs; the last block's loads start at stride * its first output (+ 32 for the second half
  // at stride 2) and read 64 bytes.
  const int64_t last_block = (p.OW - 1) / 32 * 32;
  const int64_t reads = p.stride_w * last_block + (p.stride_w == 2 ? 32 : 0) + 64;
  g.cols = (std::max(p.W + p.pad_left + p.pad_right, reads) + 63) / 64 * 64;
  g.size = g.rows * g.cols;
  return g;
}

#if defined(__x86_64__) || defined(__i386__)

EF_AVX512_VBMI void qdw_build_byte_plane_vbmi(const Conv2dParams& p, const QdwPlane& g, const uint8_t* x,
                                              uint8_t flip, uint8_t zp, uint8_t* buf) {
  // Each row: the zero point over the whole row (cols is a multiple of 64), then the input row over it, in
  // plain 64-byte moves and one masked move for its last W % 64 bytes (masked loads of whole vectors and a
  // memset call per row segment were a third of the kernel's time on BlazeFace's 128 x 128 planes).
  const __m512i f = _mm512_set1_epi8(static_cast<char>(flip)), z = _mm512_set1_epi8(static_cast<char>(zp));
  const int64_t W = p.W, left = p.pad_left, full = W / 64 * 64;
  const __mmask64 tail = (__mmask64{1} << (W - full)) - 1;  // W - full < 64
  for (int64_t r = 0; r < g.rows; ++r) {
    uint8_t* d = buf + r * g.cols;
    for (int64_t c = 0; c < g.cols; c += 64) _mm512_storeu_si512(d + c, z);
    const int64_t ih = r - p.pad_top;
    if (ih < 0 || ih >= p.H) continue;
    const uint8_t* xr = x + ih * W;
    for (int64_t c = 0; c < full; c += 64) {
      _mm512_storeu_si512(d + left + c, _mm512_xor_si512(_mm512_loadu_si512(xr + c), f));
    }
    if (tail != 0) {
      _mm512_mask_storeu_epi8(d + left + full, tail,
                              _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail, xr + full), f));
    }
  }
}

namespace {


// The vpermb index of window group `group` (taps 4 group .. + 3) for 16 outputs starting `first` outputs into the
// load: lane l takes bytes S * (first + l) + 4 group + j, j = 0..3.
template <int S>
EF_AVX512_VBMI __m512i window_index(int group, int first) {
  alignas(64) uint8_t idx[64];
  for (int l = 0; l < 16; ++l) {
    for (int j = 0; j < 4; ++j) idx[4 * l + j] = static_cast<uint8_t>(S * (first + l) + 4 * group + j);
  }
  return _mm512_load_si512(idx);
}

// One output plane, 32 outputs of a row per block (stride 1: one load per kernel row; stride 2: one per 16
// outputs). A block may run past the row's end: those lanes read the plane's slack and their bytes are dropped, or
// land in the next row of the output, which is written after this one.
template <int S, int KH, int KW, bool kSigned>
EF_AVX512_VBMI void plane32(const Conv2dParams& p, const QdwPlane& g, const uint8_t* buf, const int8_t* w,
                            int32_t offset, const RequantZmm& r, uint8_t* y) {
  constexpr int kGroups = (KW + 3) / 4;
  int32_t wq[KH][kGroups];  // four weights of a kernel row per int32, zeros past the kernel width
  for (int i = 0; i < KH; ++i) {
    for (int gi = 0; gi < kGroups; ++gi) {
      uint32_t bits = 0;
      for (int j = 0; j < 4; ++j) {
        const int t = 4 * gi + j;
        if (t < KW) bits |= static_cast<uint32_t>(static_cast<uint8_t>(w[i * KW + t])) << (8 * j);
      }
      wq[i][gi] = static_cast<int32_t>(bits);
    }
  }
  __m512i idx0[kGroups], idx1[kGroups];
  for (int gi = 0; gi < kGroups; ++gi) {
    idx0[gi] = window_index<S>(gi, 0);
    idx1[gi] = window_index<S>(gi, S == 1 ? 16 : 0);  // stride 2: the second half has its own load
  }
  const int64_t OH = p.OH, OW = p.OW, total = OH * OW, cols = g.cols, row_step = p.stride_h * cols;
  const __m512i off = _mm512_set1_epi32(offset);
  constexpr __mmask64 kAll = ~__mmask64{0};
  for (int64_t oh = 0; oh < OH; ++oh) {
    for (int64_t ob = 0; ob < OW; ob += 32) {
      __m512i c0 = off, c1 = off;
      const uint8_t* row = buf + oh * row_step + S * ob;
#pragma GCC unroll 7
      for (int i = 0; i < KH; ++i) {
        const __m512i v0 = _mm512_loadu_si512(row + i * cols);
        const __m512i v1 = S == 2 ? _mm512_loadu_si512(row + i * cols + 32) : v0;
#pragma GCC unroll 2
        for (int gi = 0; gi < kGroups; ++gi) {
          const __m512i wv = _mm512_set1_epi32(wq[i][gi]);
          c0 = _mm512_dpbusd_epi32(c0, _mm512_maskz_permutexvar_epi8(kAll, idx0[gi], v0), wv);
          c1 = _mm512_dpbusd_epi32(c1, _mm512_maskz_permutexvar_epi8(kAll, idx1[gi], v1), wv);
        }
      }
      const __m128i lo = requant16_zmm<kSigned>(c0, r.scale, r.lo, r.hi, r.zero_point);
      const __m128i hi = requant16_zmm<kSigned>(c1, r.scale, r.lo, r.hi, r.zero_point);
      store_block32(y, oh * OW + ob, total, OW - ob, lo, hi);
    }
  }
}

template <int S, bool kSigned>
EF_AVX512_VBMI void plane_for(const Conv2dParams& p, const QdwPlane& g, const uint8_t* buf, const int8_t* w,
                              int32_t offset, const RequantZmm& r, uint8_t* y) {
  if (p.kh == 3) return plane32<S, 3, 3, kSigned>(p, g, buf, w, offset, r, y);
  if (p.kh == 5) return plane32<S, 5, 5, kSigned>(p, g, buf, w, offset, r, y);
  return plane32<S, 7, 7, kSigned>(p, g, buf, w, offset, r, y);
}

}  // namespace

EF_AVX512_VBMI void qdw_plane_vbmi(const Conv2dParams& p, const QdwPlane& g, const uint8_t* buf, const int8_t* w,
                                   int32_t offset, float scale, const QRequant& rq, uint8_t* y) {
  const RequantZmm r = requant_zmm(scale, rq.lo, rq.hi, rq.zero_point);
  if (p.stride_w == 1) {
    return rq.out_signed ? plane_for<1, true>(p, g, buf, w, offset, r, y) : plane_for<1, false>(p, g, buf, w, offset, r, y);
  }
  return rq.out_signed ? plane_for<2, true>(p, g, buf, w, offset, r, y) : plane_for<2, false>(p, g, buf, w, offset, r, y);
}

#else

void qdw_build_byte_plane_vbmi(const Conv2dParams&, const QdwPlane&, const uint8_t*, uint8_t, uint8_t, uint8_t*) {}
void qdw_plane_vbmi(const Conv2dParams&, const QdwPlane&, const uint8_t*, const int8_t*, int32_t, float,
                    const QRequant&, uint8_t*) {}

#endif

}  // namespace ef::cpu::detail
