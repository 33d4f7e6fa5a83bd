// The AVX2 micro-kernel and requantization of the quantized GEMM (qgemm.h), in x86 intrinsics: Highway 1.0.3 has
// no u8 x s8 pairwise multiply-add (vpmaddubsw). Compiled for AVX2 through function attributes and only called
// after a run-time CPU check, so the rest of the binary keeps its baseline ISA. Other architectures get stubs
// that are never called (cpu_has_avx2() is false there).
#include <cmath>

#include "kernels/cpu/qgemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

namespace {

template <bool kSplit>
EF_AVX2 void micro(const int8_t* w, const uint8_t* x, int64_t quads, bool accumulate, int32_t* acc) {
  constexpr int64_t kWidth = kSplit ? 8 : 4;
  __m256i c[kQgemmMR][2];
#pragma GCC unroll 4
  for (int64_t r = 0; r < kQgemmMR; ++r) {
    for (int h = 0; h < 2; ++h) {
      c[r][h] = accumulate ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + r * kQgemmNR + h * 8))
                           : _mm256_setzero_si256();
    }
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t q = 0; q < quads; ++q) {
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + q * 64));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + q * 64 + 32));
    const int8_t* wq = w + q * kQgemmMR * kWidth;
#pragma GCC unroll 4
    for (int64_t r = 0; r < kQgemmMR; ++r) {
      int32_t bits;
      __builtin_memcpy(&bits, wq + r * kWidth, 4);
      const __m256i wv = _mm256_set1_epi32(bits);
      // Each int16 pair sum is at most 255 * 128 in magnitude (checked when packing): no saturation.
      c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(x0, wv), ones));
      c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(x1, wv), ones));
      if constexpr (kSplit) {
        __builtin_memcpy(&bits, wq + r * kWidth + 4, 4);
        const __m256i wv2 = _mm256_set1_epi32(bits);
        c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(x0, wv2), ones));
        c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(x1, wv2), ones));
      }
    }
  }
#pragma GCC unroll 4
  for (int64_t r = 0; r < kQgemmMR; ++r) {
    for (int h = 0; h < 2; ++h) _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kQgemmNR + h * 8), c[r][h]);
  }
}

}  // namespace

EF_AVX2 void qgemm_micro_avx2(const int8_t* w, const uint8_t* x, int64_t quads, bool split, bool accumulate,
                              int32_t* acc) {
  if (split) {
    micro<true>(w, x, quads, accumulate, acc);
  } else {
    micro<false>(w, x, quads, accumulate, acc);
  }
}

EF_AVX2 void qgemm_residuals_avx2(const QPackedWeights::Residual* res, int64_t count, const uint8_t* x,
                                  int32_t* acc) {
  const __m256i low_byte = _mm256_set1_epi32(0xFF);
  // Residuals are sorted by row: each row's two accumulator vectors stay in registers across its entries.
  for (int64_t e = 0; e < count;) {
    const int32_t m = res[e].m;
    int32_t* row = acc + static_cast<int64_t>(m) * kQgemmNR;
    __m256i c0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row));
    __m256i c1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 8));
    for (; e < count && res[e].m == m; ++e) {
      const uint8_t* xq = x + (res[e].k / 4) * kQgemmNR * 4;
      const __m128i shift = _mm_cvtsi32_si128((res[e].k % 4) * 8);
      // x in the low 16 bits of each lane (high half zero) times r as int16: one vpmaddwd, exact.
      const __m256i r = _mm256_set1_epi32(res[e].r & 0xFFFF);
      const __m256i v0 = _mm256_and_si256(
          _mm256_srl_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq)), shift), low_byte);
      const __m256i v1 = _mm256_and_si256(
          _mm256_srl_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32)), shift), low_byte);
      c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(v0, r));
      c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(v1, r));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(row), c0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + 8), c1);
  }
}

EF_AVX2 void requant_row_avx2(const int32_t* acc, int64_t count, int32_t offset, float scale, const QRequant& rq,
                              void* y) {
  const __m256i off = _mm256_set1_epi32(offset);
  const __m256 sc = _mm256_set1_ps(scale);
  const __m256i zp = _mm256_set1_epi32(rq.zero_point);
  const __m256i lo = _mm256_set1_epi32(rq.lo), hi = _mm256_set1_epi32(rq.hi);
  const __m256 kMin = _mm256_set1_ps(-65536.0f), kMax = _mm256_set1_ps(65536.0f);
  __m256i q[2];
  for (int h = 0; h < 2; ++h) {
    __m256i a = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + h * 8)), off);
    // cvtps rounds with the current mode: to nearest, ties to even, like std::nearbyint.
    // Clamped first: out-of-range conversions give INT_MIN, which would saturate a huge positive to lo.
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a), sc), kMin), kMax);
    q[h] = _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
    q[h] = _mm256_min_epi32(_mm256_max_epi32(q[h], lo), hi);
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
    auto* out = static_cast<uint8_t*>(y);
    for (int64_t j = 0; j < count; ++j) out[j] = tmp[j];
  }
}

#else

bool cpu_has_avx2() { return false; }
void qgemm_micro_avx2(const int8_t*, const uint8_t*, int64_t, bool, bool, int32_t*) {}
void qgemm_residuals_avx2(const QPackedWeights::Residual*, int64_t, const uint8_t*, int32_t*) {}
void requant_row_avx2(const int32_t*, int64_t, int32_t, float, const QRequant&, void*) {}

#endif

}  // namespace ef::cpu::detail
