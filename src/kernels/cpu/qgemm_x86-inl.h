// x86 helpers shared by the quantized GEMM micro-kernels (qgemm_avx2.cpp, qgemm_avx512.cpp): the requantizing
// tile epilogue on AVX2 registers. Included only by files that compile on x86; functions carry their own
// target attribute, so AVX-512 kernels inline them too (their target is a superset).
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/qgemm.h"

#define EF_QAVX2 __attribute__((target("avx2,fma")))

namespace ef::cpu::detail {

// 16 int32 accumulators of one row (columns 0-7, 8-15) -> `count` 8-bit results at y per the epilogue formula.
EF_QAVX2 inline void requant16(__m256i a0, __m256i a1, int32_t offset, float scale, const QRequant& rq,
                               int64_t count, void* y) {
  const __m256i off = _mm256_set1_epi32(offset);
  const __m256 sc = _mm256_set1_ps(scale);
  const __m256i zp = _mm256_set1_epi32(rq.zero_point);
  const __m256i lo = _mm256_set1_epi32(rq.lo), hi = _mm256_set1_epi32(rq.hi);
  const __m256 kMin = _mm256_set1_ps(-65536.0f), kMax = _mm256_set1_ps(65536.0f);
  __m256i q[2] = {a0, a1};
  for (int h = 0; h < 2; ++h) {
    const __m256i a = _mm256_add_epi32(q[h], off);
    // cvtps rounds with the current mode: to nearest, ties to even, like std::nearbyint.
    // Clamped first: out-of-range conversions give INT_MIN, which would saturate a huge positive to lo.
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a), sc), kMin), kMax);
    q[h] = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(v), zp), lo), hi);
  }
  // 16 int32 already within the 8-bit range -> 16 bytes in order (packs work per 128-bit lane).
  const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
  const __m128i lo16 = _mm256_castsi256_si128(w16), hi16 = _mm256_extracti128_si256(w16, 1);
  const __m128i bytes = rq.out_signed ? _mm_packs_epi16(lo16, hi16) : _mm_packus_epi16(lo16, hi16);
  if (count == kQgemmNR) {
    _mm_storeu_si128(static_cast<__m128i*>(y), bytes);
  } else {
    alignas(16) uint8_t tmp[kQgemmNR];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
    std::memcpy(y, tmp, static_cast<size_t>(count));
  }
}

// Row r of a finished tile: requantized into y, or stored raw into t.acc.
EF_QAVX2 inline void finish_row(const QTile& t, int64_t r, __m256i a0, __m256i a1) {
  if (t.acc != nullptr) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.acc + r * kQgemmNR), a0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.acc + r * kQgemmNR + 8), a1);
  } else if (r < t.valid_rows) {
    requant16(a0, a1, t.offset[r], t.scale[r], *t.rq, t.cols, t.y + r * t.y_row);
  }
}

// Int16 kernels accumulate two lanes per column (k pairs 0-1 and 2-3): a holds columns 0-3, b columns 4-7.
// Returns the 8 column sums in order.
EF_QAVX2 inline __m256i sum_lane_pairs(__m256i a, __m256i b) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(a, b), 0xD8);
}

EF_QAVX2 inline __m256i broadcast32(const int8_t* p) {
  int32_t bits;
  std::memcpy(&bits, p, 4);
  return _mm256_set1_epi32(bits);
}

EF_QAVX2 inline __m256i broadcast64(const int16_t* p) {
  long long bits;
  std::memcpy(&bits, p, 8);
  return _mm256_set1_epi64x(bits);
}

}  // namespace ef::cpu::detail
