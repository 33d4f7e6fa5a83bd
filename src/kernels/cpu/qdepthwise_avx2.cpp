// The AVX2 plane kernels of the int8 depthwise convolution (qdepthwise.h), in x86 intrinsics compiled through
// function attributes and called only after the plan-time CPU / --isa check (as qgemm_avx2.cpp). Other
// architectures get stubs that are never called.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/qdepthwise.h"
#include "kernels/cpu/qrequant_avx2-inl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

namespace {

// One input row padded to `cols` (+ 32 bytes of slack) with the byte that reads as the zero point.
void padded_row(const uint8_t* x, int64_t W, int64_t pad_left, int64_t cols, uint8_t pad_byte, uint8_t* u) {
  std::memset(u, pad_byte, static_cast<size_t>(cols + 32));
  std::memcpy(u + pad_left, x, static_cast<size_t>(W));
}

// Exact sums of 16 outputs per step, requantized in registers. S: horizontal stride (1: buf holds int32 pairs,
// 2: int16). KH / KW: the kernel size when known at compile time (unrolled), else 0 (taken from p).
template <int S, int KH, int KW>
EF_AVX2 void plane(const Conv2dParams& p, const QdwPlane& g, const void* buf, const int8_t* w, int32_t offset,
                   const Requant16& rq, uint8_t* y) {
  const Requant16 r = rq;  // local copies: the byte stores below may alias anything behind a pointer
  const int64_t kh = KH ? KH : p.kh, kw = KW ? KW : p.kw, pairs = (kw + 1) / 2;
  const int64_t OH = p.OH, OW = p.OW, stride_h = p.stride_h, cols = g.cols;
  // Tap pairs (2j, 2j + 1) of each kernel row as the int16 pair vpmaddwd multiplies; an odd last tap gets 0.
  int32_t wp[16][8];
  for (int64_t i = 0; i < kh; ++i) {
    for (int64_t j = 0; j < pairs; ++j) {
      const int32_t w0 = w[i * kw + 2 * j], w1 = 2 * j + 1 < kw ? w[i * kw + 2 * j + 1] : 0;
      wp[i][j] = static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xFFFF) | (static_cast<uint32_t>(w1) << 16));
    }
  }
  const __m256i off = _mm256_set1_epi32(offset);
  const auto* plane16 = static_cast<const int16_t*>(buf);
  const auto* plane32 = static_cast<const int32_t*>(buf);
  const int64_t total = OH * OW;
  for (int64_t oh = 0; oh < OH; ++oh) {
    for (int64_t ob = 0; ob < OW; ob += 16) {
      __m256i c0 = off, c1 = off;
#pragma GCC unroll 5
      for (int64_t i = 0; i < kh; ++i) {
        const int64_t row = oh * stride_h + i;
        // Lane t of the first vector holds the pair for output ob + t; the second vector, ob + 8 + t. Pair j
        // (taps 2j, 2j + 1) starts 2j int32 pairs further (stride 1), or 2j int16s = j int32s (stride 2).
        const int32_t* base = S == 1 ? plane32 + row * cols + ob
                                     : reinterpret_cast<const int32_t*>(plane16 + row * cols + 2 * ob);
#pragma GCC unroll 3
        for (int64_t j = 0; j < pairs; ++j) {
          const __m256i wv = _mm256_set1_epi32(wp[i][j]);
          const int32_t* s = base + (S == 1 ? 2 * j : j);
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
          const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 8));
          c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(a, wv));
          c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(b, wv));
        }
      }
      const __m128i bytes = requant16(r, c0, c1);
      const int64_t at = oh * OW + ob;
      if (at + 16 <= total) {
        // A row's last block may spill into the next row, which is written after it.
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + at), bytes);
      } else {
        alignas(16) uint8_t tmp[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
        std::memcpy(y + at, tmp, static_cast<size_t>(std::min<int64_t>(16, OW - ob)));
      }
    }
  }
}

}  // namespace

EF_AVX2 void qdw_build_plane_avx2(const Conv2dParams& p, const QdwPlane& g, const uint8_t* x, uint8_t flip,
                                  int32_t zp, void* buf) {
  const bool pairs = p.stride_w == 1;
  // The padded byte row lives in the scratch after the plane.
  auto* u = reinterpret_cast<uint8_t*>(static_cast<int32_t*>(buf) + g.rows * g.cols);
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zp));
  for (int64_t r = 0; r < g.rows; ++r) {
    const int64_t ih = r - p.pad_top;
    const size_t row_bytes = static_cast<size_t>(g.cols) * (pairs ? sizeof(int32_t) : sizeof(int16_t));
    void* d = static_cast<uint8_t*>(buf) + static_cast<size_t>(r) * row_bytes;
    if (ih < 0 || ih >= p.H) {
      std::memset(d, 0, row_bytes);  // x - zp over the padding
      continue;
    }
    padded_row(x + ih * p.W, p.W, p.pad_left, g.cols, static_cast<uint8_t>(zp ^ flip), u);
    for (int64_t c = 0; c < g.cols; c += 16) {
      const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u + c)), f);
      if (pairs) {
        // Byte pairs (u[c + t], u[c + t + 1]) widened to int16 pairs: the int32 pair plane, 8 per half.
        const __m128i b = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u + c + 1)), f);
        auto* o = static_cast<int32_t*>(d) + c;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o),
                            _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_unpacklo_epi8(a, b)), z));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8),
                            _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_unpackhi_epi8(a, b)), z));
      } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<int16_t*>(d) + c),
                            _mm256_sub_epi16(_mm256_cvtepu8_epi16(a), z));
      }
    }
  }
}

EF_AVX2 void qdw_plane_avx2(const Conv2dParams& p, const QdwPlane& g, const void* buf, const int8_t* w,
                            int32_t offset, float scale, const QRequant& rq, uint8_t* y) {
  const Requant16 r = requant16_setup(scale, rq);
  const bool k3 = p.kh == 3 && p.kw == 3, k5 = p.kh == 5 && p.kw == 5;
  if (p.stride_w == 1) {
    if (k3) return plane<1, 3, 3>(p, g, buf, w, offset, r, y);
    if (k5) return plane<1, 5, 5>(p, g, buf, w, offset, r, y);
    return plane<1, 0, 0>(p, g, buf, w, offset, r, y);
  }
  if (k3) return plane<2, 3, 3>(p, g, buf, w, offset, r, y);
  if (k5) return plane<2, 5, 5>(p, g, buf, w, offset, r, y);
  return plane<2, 0, 0>(p, g, buf, w, offset, r, y);
}

#else

void qdw_build_plane_avx2(const Conv2dParams&, const QdwPlane&, const uint8_t*, uint8_t, int32_t, void*) {}
void qdw_plane_avx2(const Conv2dParams&, const QdwPlane&, const void*, const int8_t*, int32_t, float, const QRequant&,
                    uint8_t*) {}

#endif

}  // namespace ef::cpu::detail
