// x86 helpers shared by the quantized GEMM micro-kernels (qgemm_avx2.cpp, qgemm_avx512.cpp): the requantizing
// tile epilogue on AVX2 registers. Included only by files that compile on x86; functions carry their own
// target attribute, so AVX-512 kernels inline them too (their target is a superset).
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/qgemm.h"
#include "kernels/cpu/qrequant_avx2-inl.h"

#define EF_QAVX2 __attribute__((target("avx2,fma")))

namespace ef::cpu::detail {

// 16 int32 accumulators of one row (columns 0-7, 8-15) -> `count` 8-bit results at y per the epilogue formula
// (the register form shared with the depthwise kernel: qrequant_avx2-inl.h).
EF_QAVX2 inline void requant_row16(__m256i a0, __m256i a1, int32_t offset, float scale, const QRequant& rq,
                                   int64_t count, void* y) {
  const Requant16 r = requant16_setup(scale, rq);
  const __m256i off = _mm256_set1_epi32(offset);
  a0 = _mm256_add_epi32(a0, off);
  a1 = _mm256_add_epi32(a1, off);
  const __m128i bytes = rq.out_signed ? requant16<true>(r, a0, a1) : requant16<false>(r, a0, a1);
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
    requant_row16(a0, a1, t.offset[r], t.scale[r], *t.rq, t.cols, t.y + r * t.y_row);
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
