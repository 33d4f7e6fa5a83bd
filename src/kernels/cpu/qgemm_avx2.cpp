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
  for (int64_t e = 0; e < count; ++e) {
    const uint8_t* xq = x + (res[e].k / 4) * kQgemmNR * 4;
    const __m128i shift = _mm_cvtsi32_si128((res[e].k % 4) * 8);
    const __m256i r = _mm256_set1_epi32(res[e].r);
    int32_t* row = acc + static_cast<int64_t>(res[e].m) * kQgemmNR;
    for (int h = 0; h < 2; ++h) {
      const __m256i v = _mm256_and_si256(
          _mm256_srl_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + h * 32)), shift), low_byte);
      auto* dst = reinterpret_cast<__m256i*>(row + h * 8);
      _mm256_storeu_si256(dst, _mm256_add_epi32(_mm256_loadu_si256(dst), _mm256_mullo_epi32(v, r)));
    }
  }
}

EF_AVX2 void requant_row_avx2(const int32_t* acc, int64_t count, int32_t offset, float scale, const QRequant& rq,
                              void* y) {
  alignas(32) int32_t tmp[kQgemmNR];
  const __m256i off = _mm256_set1_epi32(offset);
  const __m256 sc = _mm256_set1_ps(scale);
  const __m256i zp = _mm256_set1_epi32(rq.zero_point);
  const __m256i lo = _mm256_set1_epi32(rq.lo), hi = _mm256_set1_epi32(rq.hi);
  for (int h = 0; h < 2; ++h) {
    __m256i a = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + h * 8)), off);
    // cvtps rounds with the current mode: to nearest, ties to even, like std::nearbyint.
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(a), sc)), zp);
    q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + h * 8), q);
  }
  if (rq.out_signed) {
    auto* out = static_cast<int8_t*>(y);
    for (int64_t j = 0; j < count; ++j) out[j] = static_cast<int8_t>(tmp[j]);
  } else {
    auto* out = static_cast<uint8_t*>(y);
    for (int64_t j = 0; j < count; ++j) out[j] = static_cast<uint8_t>(tmp[j]);
  }
}

#else

bool cpu_has_avx2() { return false; }
void qgemm_micro_avx2(const int8_t*, const uint8_t*, int64_t, bool, bool, int32_t*) {}
void qgemm_residuals_avx2(const QPackedWeights::Residual*, int64_t, const uint8_t*, int32_t*) {}
void requant_row_avx2(const int32_t*, int64_t, int32_t, float, const QRequant&, void*) {}

#endif

}  // namespace ef::cpu::detail
