// The AVX2 plane kernels of the int8 depthwise convolution (qdepthwise.h), in x86 intrinsics compiled through
// function attributes and called only after the plan-time CPU / --isa check (as qgemm_avx2.cpp). Other
// architectures get stubs that are never called.
#include <cstring>

#include "kernels/cpu/qdepthwise.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

namespace {

// One padded int16 row: zeros, then (x ^ flip) - zp for the W input columns at `pad_left`, then zeros.
EF_AVX2 void widen_row(const uint8_t* x, int64_t W, int64_t pad_left, int64_t cols, uint8_t flip, int32_t zp,
                       int16_t* d) {
  std::memset(d, 0, static_cast<size_t>(cols) * sizeof(int16_t));
  int16_t* o = d + pad_left;
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zp));
  int64_t c = 0;
  for (; c + 16 <= W; c += 16) {
    const __m128i b = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + c)), f);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + c), _mm256_sub_epi16(_mm256_cvtepu8_epi16(b), z));
  }
  for (; c < W; ++c) o[c] = static_cast<int16_t>(static_cast<int32_t>(x[c] ^ flip) - zp);
}

// Exact sums of 16 outputs per step. S: horizontal stride (1: buf holds int32 pairs, 2: int16). KH / KW: the
// kernel size when known at compile time (unrolled), else 0 (taken from p).
template <int S, int KH, int KW>
EF_AVX2 void plane(const Conv2dParams& p, const QdwPlane& g, const void* buf, const int8_t* w, int32_t* acc) {
  const int64_t kh = KH ? KH : p.kh, kw = KW ? KW : p.kw, pairs = (kw + 1) / 2;
  // Tap pairs (2j, 2j + 1) of each kernel row as the int16 pair vpmaddwd multiplies; an odd last tap gets 0.
  int32_t wp[16][8];
  for (int64_t i = 0; i < kh; ++i) {
    for (int64_t j = 0; j < pairs; ++j) {
      const int32_t w0 = w[i * kw + 2 * j], w1 = 2 * j + 1 < kw ? w[i * kw + 2 * j + 1] : 0;
      wp[i][j] = static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xFFFF) | (static_cast<uint32_t>(w1) << 16));
    }
  }
  const auto* plane16 = static_cast<const int16_t*>(buf);
  const auto* plane32 = static_cast<const int32_t*>(buf);
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    int32_t* out = acc + oh * p.OW;
    for (int64_t ob = 0; ob < p.OW; ob += 16) {
      __m256i c0 = _mm256_setzero_si256(), c1 = _mm256_setzero_si256();
#pragma GCC unroll 5
      for (int64_t i = 0; i < kh; ++i) {
        const int64_t r = oh * p.stride_h + i;
        // Lane t of the first vector holds the pair for output ob + t; the second vector, ob + 8 + t. Pair j
        // (taps 2j, 2j + 1) starts 2j int32 pairs further (stride 1), or 2j int16s = j int32s (stride 2).
        const int32_t* base = S == 1 ? plane32 + r * g.cols + ob
                                     : reinterpret_cast<const int32_t*>(plane16 + r * g.cols + 2 * ob);
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
      if (ob + 16 <= p.OW) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + ob), c0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + ob + 8), c1);
      } else {
        alignas(32) int32_t tmp[16];
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), c0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8), c1);
        std::memcpy(out + ob, tmp, static_cast<size_t>(p.OW - ob) * sizeof(int32_t));
      }
    }
  }
}

}  // namespace

EF_AVX2 void qdw_build_plane_avx2(const Conv2dParams& p, const QdwPlane& g, const uint8_t* x, uint8_t flip,
                                  int32_t zp, void* buf) {
  const bool pairs = p.stride_w == 1;
  // For stride 1 each int16 row is built in the scratch row after the plane, then interleaved with itself
  // shifted by one: pair plane[r][c] = (row[c], row[c + 1]).
  auto* plane32 = static_cast<int32_t*>(buf);
  auto* row16 = pairs ? reinterpret_cast<int16_t*>(plane32 + g.rows * g.cols) : nullptr;
  for (int64_t r = 0; r < g.rows; ++r) {
    const int64_t ih = r - p.pad_top;
    const bool inside = ih >= 0 && ih < p.H;
    if (!pairs) {
      int16_t* d = static_cast<int16_t*>(buf) + r * g.cols;
      if (inside) {
        widen_row(x + ih * p.W, p.W, p.pad_left, g.cols, flip, zp, d);
      } else {
        std::memset(d, 0, static_cast<size_t>(g.cols) * sizeof(int16_t));
      }
      continue;
    }
    int32_t* d = plane32 + r * g.cols;
    if (!inside) {
      std::memset(d, 0, static_cast<size_t>(g.cols) * sizeof(int32_t));
      continue;
    }
    widen_row(x + ih * p.W, p.W, p.pad_left, g.cols + 16, flip, zp, row16);
    for (int64_t c = 0; c < g.cols; c += 16) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row16 + c));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row16 + c + 1));
      // unpack works per 128-bit lane: lo = pairs 0-3 | 8-11, hi = 4-7 | 12-15.
      const __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c), _mm256_permute2x128_si256(lo, hi, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
  }
}

EF_AVX2 void qdw_plane_avx2(const Conv2dParams& p, const QdwPlane& g, const void* buf, const int8_t* w,
                            int32_t* acc) {
  const bool k3 = p.kh == 3 && p.kw == 3, k5 = p.kh == 5 && p.kw == 5;
  if (p.stride_w == 1) {
    if (k3) return plane<1, 3, 3>(p, g, buf, w, acc);
    if (k5) return plane<1, 5, 5>(p, g, buf, w, acc);
    return plane<1, 0, 0>(p, g, buf, w, acc);
  }
  if (k3) return plane<2, 3, 3>(p, g, buf, w, acc);
  if (k5) return plane<2, 5, 5>(p, g, buf, w, acc);
  return plane<2, 0, 0>(p, g, buf, w, acc);
}

#else

void qdw_build_plane_avx2(const Conv2dParams&, const QdwPlane&, const uint8_t*, uint8_t, int32_t, void*) {}
void qdw_plane_avx2(const Conv2dParams&, const QdwPlane&, const void*, const int8_t*, int32_t*) {}

#endif

}  // namespace ef::cpu::detail
