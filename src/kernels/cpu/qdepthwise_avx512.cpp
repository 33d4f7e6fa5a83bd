// The AVX-512 VNNI row kernel of the int8 depthwise convolution (qdepthwise.h): qdepthwise_avx2.cpp's plane
// kernel with 32 outputs per block, and vpdpwssd, which multiplies a tap pair and adds it to the int32 sum in one
// instruction (exact: the products are at most 255 * 128 and the sum wraps like the AVX2 kernel's vpaddd). The
// 112 x 112 and 128 x 128 planes of mobilenet_v2 and BlazeFace spent ~2 instructions per tap pair and 8 outputs
// there. The epilogue is the AVX2 one's float steps on 16 lanes (as qgemm_avx512.cpp's), so the same bits.
// Compiled through function attributes and called only after the plan-time check (qdepthwise_avx512_fits).
#include <algorithm>
#include <cstring>

#include "kernels/cpu/qdepthwise.h"
#include "kernels/cpu/qrequant_avx512-inl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_AVX512_VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vnni")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

namespace {


// 16 sums (offset included) -> 16 bytes.
template <bool kSigned>
EF_AVX512_VNNI __attribute__((always_inline)) inline __m128i requant_lanes(const RequantZmm& r, __m512i acc) {
  return requant16_zmm<kSigned>(acc, r.scale, r.lo, r.hi, r.zero_point);
}

// The sums of one 32-output block, as block_sums in qdepthwise_avx2.cpp with 16 int32 lanes: S == 2: c0 outputs
// 0-15, c1 16-31 (loads 16 lanes further); S == 1: c0 the even outputs, c1 the odd ones (loads one int16 further).
template <int S, int KH, int KW>
EF_AVX512_VNNI __attribute__((always_inline)) inline void block_sums32(const int16_t* base, int64_t pitch,
                                                                       const int32_t (*wp)[8], __m512i& c0,
                                                                       __m512i& c1) {
  constexpr int kPairs = (KW + 1) / 2;
#pragma GCC unroll 5
  for (int i = 0; i < KH; ++i) {
    const auto* first = reinterpret_cast<const int32_t*>(base + i * pitch);
    const auto* second = S == 2 ? first + 16 : reinterpret_cast<const int32_t*>(base + i * pitch + 1);
#pragma GCC unroll 3
    for (int j = 0; j < kPairs; ++j) {
      const __m512i wv = _mm512_set1_epi32(wp[i][j]);
      c0 = _mm512_dpwssd_epi32(c0, _mm512_loadu_si512(first + j), wv);
      c1 = _mm512_dpwssd_epi32(c1, _mm512_loadu_si512(second + j), wv);
    }
  }
}

// One output plane, 32 outputs of a row per block. A block may run past the row's end: those lanes read the
// plane's slack (qdw_plane_geometry with block 32) and their bytes are dropped, or land in the next row of the
// plane, which is written after this one.
template <int S, int KH, int KW, bool kSigned>
EF_AVX512_VNNI void plane32(const Conv2dParams& p, const QdwPlane& g, const int16_t* buf, const int8_t* w,
                            int32_t offset, const RequantZmm& r, uint8_t* y) {
  int32_t wp[KH][8];
  for (int i = 0; i < KH; ++i) {
    for (int j = 0; j < (KW + 1) / 2; ++j) {
      const int32_t w0 = w[i * KW + 2 * j], w1 = 2 * j + 1 < KW ? w[i * KW + 2 * j + 1] : 0;
      wp[i][j] = static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xFFFF) | (static_cast<uint32_t>(w1) << 16));
    }
  }
  const int64_t OH = p.OH, OW = p.OW, total = OH * OW, cols = g.cols, row_step = p.stride_h * cols;
  const __m512i off = _mm512_set1_epi32(offset);
  for (int64_t oh = 0; oh < OH; ++oh) {
    for (int64_t ob = 0; ob < OW; ob += 32) {
      __m512i c0 = off, c1 = off;
      block_sums32<S, KH, KW>(buf + oh * row_step + S * ob, cols, wp, c0, c1);
      const __m128i a = requant_lanes<kSigned>(r, c0), b = requant_lanes<kSigned>(r, c1);
      // Stride 1: even and odd outputs interleaved back into order.
      const __m128i lo = S == 1 ? _mm_unpacklo_epi8(a, b) : a, hi = S == 1 ? _mm_unpackhi_epi8(a, b) : b;
      store_block32(y, oh * OW + ob, total, OW - ob, lo, hi);
    }
  }
}

// The instance for p's stride, kernel size (square 3, 5 or 7: qdepthwise_avx512_fits) and output type.
template <int S, bool kSigned>
EF_AVX512_VNNI void plane_for(const Conv2dParams& p, const QdwPlane& g, const int16_t* buf, const int8_t* w,
                              int32_t offset, const RequantZmm& r, uint8_t* y) {
  if (p.kh == 3) return plane32<S, 3, 3, kSigned>(p, g, buf, w, offset, r, y);
  if (p.kh == 5) return plane32<S, 5, 5, kSigned>(p, g, buf, w, offset, r, y);
  return plane32<S, 7, 7, kSigned>(p, g, buf, w, offset, r, y);
}

}  // namespace

EF_AVX512_VNNI void qdw_plane_avx512(const Conv2dParams& p, const QdwPlane& g, int16_t* buf, const int8_t* w,
                                     int32_t offset, float scale, const QRequant& rq, uint8_t* y) {
  const RequantZmm r = requant_zmm(scale, rq.lo, rq.hi, rq.zero_point);
  if (p.stride_w == 1) {
    return rq.out_signed ? plane_for<1, true>(p, g, buf, w, offset, r, y) : plane_for<1, false>(p, g, buf, w, offset, r, y);
  }
  return rq.out_signed ? plane_for<2, true>(p, g, buf, w, offset, r, y) : plane_for<2, false>(p, g, buf, w, offset, r, y);
}

#else

void qdw_plane_avx512(const Conv2dParams&, const QdwPlane&, int16_t*, const int8_t*, int32_t, float, const QRequant&,
                      uint8_t*) {}

#endif

}  // namespace ef::cpu::detail
