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

// Exact sums of 16 outputs per step, requantized in registers. Two adjacent int16s of the plane, read as one
// int32 lane, are the pair vpmaddwd multiplies with a tap pair (2j, 2j + 1). S == 2: lane t of a load at column
// 2 * ob + 2j holds output ob + t's pair (first vector outputs ob..ob+7, second ob+8..ob+15). S == 1: the same
// load at ob + 2j holds the even outputs ob + 2t, and one at ob + 1 + 2j the odd ones; the bytes are interleaved
// back in order after requantization. KH / KW: the kernel size when known at compile time (unrolled), else 0.
template <int S, int KH, int KW, bool kSigned>
EF_AVX2 void plane(const Conv2dParams& p, const QdwPlane& g, const int16_t* buf, const int8_t* w, int32_t offset,
                   const Requant16& rq, uint8_t* y) {
  const Requant16 r = rq;  // local copies: the byte stores below may alias anything behind a pointer
  const int64_t kh = KH ? KH : p.kh, kw = KW ? KW : p.kw, pairs = (kw + 1) / 2;
  const int64_t OH = p.OH, OW = p.OW, stride_h = p.stride_h, cols = g.cols;
  // Tap pairs of each kernel row as int16 pairs; an odd last tap gets a zero partner.
  int32_t wp[16][8];
  for (int64_t i = 0; i < kh; ++i) {
    for (int64_t j = 0; j < pairs; ++j) {
      const int32_t w0 = w[i * kw + 2 * j], w1 = 2 * j + 1 < kw ? w[i * kw + 2 * j + 1] : 0;
      wp[i][j] = static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xFFFF) | (static_cast<uint32_t>(w1) << 16));
    }
  }
  const __m256i off = _mm256_set1_epi32(offset);
  // Even outputs first, then odd (stride 1) -> output order.
  const __m128i order = _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  const int64_t total = OH * OW;
  for (int64_t oh = 0; oh < OH; ++oh) {
    for (int64_t ob = 0; ob < OW; ob += 16) {
      __m256i c0 = off, c1 = off;
#pragma GCC unroll 5
      for (int64_t i = 0; i < kh; ++i) {
        const int16_t* row = buf + (oh * stride_h + i) * cols + S * ob;
        const auto* first = reinterpret_cast<const int32_t*>(row);
        const auto* second = S == 2 ? first + 8 : reinterpret_cast<const int32_t*>(row + 1);
#pragma GCC unroll 3
        for (int64_t j = 0; j < pairs; ++j) {
          const __m256i wv = _mm256_set1_epi32(wp[i][j]);
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(first + j));
          const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(second + j));
          c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(a, wv));
          c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(b, wv));
        }
      }
      __m128i bytes = requant16<kSigned>(r, c0, c1);
      if (S == 1) bytes = _mm_shuffle_epi8(bytes, order);
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

// The plane kernel instance for p's stride and kernel size.
template <bool kSigned>
EF_AVX2 void plane_sized(const Conv2dParams& p, const QdwPlane& g, const int16_t* buf, const int8_t* w,
                         int32_t offset, const Requant16& r, uint8_t* y) {
  const bool k3 = p.kh == 3 && p.kw == 3, k5 = p.kh == 5 && p.kw == 5;
  if (p.stride_w == 1) {
    if (k3) return plane<1, 3, 3, kSigned>(p, g, buf, w, offset, r, y);
    if (k5) return plane<1, 5, 5, kSigned>(p, g, buf, w, offset, r, y);
    return plane<1, 0, 0, kSigned>(p, g, buf, w, offset, r, y);
  }
  if (k3) return plane<2, 3, 3, kSigned>(p, g, buf, w, offset, r, y);
  if (k5) return plane<2, 5, 5, kSigned>(p, g, buf, w, offset, r, y);
  return plane<2, 0, 0, kSigned>(p, g, buf, w, offset, r, y);
}

}  // namespace

EF_AVX2 void qdw_build_plane_avx2(const Conv2dParams& p, const QdwPlane& g, const uint8_t* x, uint8_t flip,
                                  int32_t zp, int16_t* buf) {
  // The padded byte row lives in the scratch after the plane.
  auto* u = reinterpret_cast<uint8_t*>(buf + g.rows * g.cols);
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zp));
  const __m256i zero = _mm256_setzero_si256();
  const int64_t W = p.W, left = p.pad_left, plane = p.H * p.W;
  for (int64_t r = 0; r < g.rows; ++r) {
    const int64_t ih = r - p.pad_top;
    int16_t* d = buf + r * g.cols;
    if (ih < 0 || ih >= p.H) {
      std::memset(d, 0, static_cast<size_t>(g.cols) * sizeof(int16_t));  // x - zp over the padding
      continue;
    }
    // Rows whose 16-byte loads stay inside this channel's plane (all but the last one or two) are widened
    // straight from the input: the left padding is one zero store, the loads' bytes past the row's end are
    // overwritten by the right padding's zeros. Padding the row in bytes first (memset + memcpy per row) was
    // most of the plane build's time on small planes.
    if (left <= 16 && ih * W + (W + 15) / 16 * 16 <= plane) {
      const uint8_t* xr = x + ih * W;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), zero);
      for (int64_t c = 0; c < W; c += 16) {
        const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xr + c)), f);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + left + c), _mm256_sub_epi16(_mm256_cvtepu8_epi16(a), z));
      }
      // Up to 15 elements past cols may be written: the next row is built after this one, and the last row's
      // spill lands in the byte-row scratch, which has cols + 32 bytes.
      for (int64_t c = left + W; c < g.cols; c += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c), zero);
      continue;
    }
    padded_row(x + ih * p.W, p.W, p.pad_left, g.cols, static_cast<uint8_t>(zp ^ flip), u);
    for (int64_t c = 0; c < g.cols; c += 16) {
      const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u + c)), f);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c), _mm256_sub_epi16(_mm256_cvtepu8_epi16(a), z));
    }
  }
}

EF_AVX2 void qdw_plane_avx2(const Conv2dParams& p, const QdwPlane& g, const int16_t* buf, const int8_t* w,
                            int32_t offset, float scale, const QRequant& rq, uint8_t* y) {
  const Requant16 r = requant16_setup(scale, rq);
  if (rq.out_signed) return plane_sized<true>(p, g, buf, w, offset, r, y);
  return plane_sized<false>(p, g, buf, w, offset, r, y);
}

#else

void qdw_build_plane_avx2(const Conv2dParams&, const QdwPlane&, const uint8_t*, uint8_t, int32_t, int16_t*) {}
void qdw_plane_avx2(const Conv2dParams&, const QdwPlane&, const int16_t*, const int8_t*, int32_t, float,
                    const QRequant&, uint8_t*) {}

#endif

}  // namespace ef::cpu::detail
