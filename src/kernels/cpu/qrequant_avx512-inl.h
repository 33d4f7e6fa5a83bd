// The int8 kernels' requantization epilogue (qgemm.h's formula, as qrequant_avx2-inl.h) for 16 int32 sums in one
// 512-bit register: the AVX2 steps on 16 lanes, then a saturating down-convert (vpmovusdb / vpmovsdb, exact since
// the values are already within [lo, hi]). Bit-identical to requant16. Only for functions compiled with AVX-512
// F/BW and called after the run-time CPU check. Header-only.
#pragma once
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace ef::cpu::detail {

// All-lanes masks on the AVX-512 intrinsics: GCC 12's unmasked forms warn of an uninitialized pass-through.
inline constexpr __mmask16 kAllLanes16 = 0xFFFF;

// acc (offset included) times `scale`, clamped to [lo, hi] (the output bounds minus the zero point), rounded to
// nearest even (the current mode), plus the zero point -> 16 bytes, int8 when kSigned, else uint8.
template <bool kSigned>
__attribute__((target("avx2,fma,avx512f,avx512bw"), always_inline)) inline __m128i requant16_zmm(
    __m512i acc, __m512 scale, __m512 lo, __m512 hi, __m512i zero_point) {
  constexpr __mmask16 kAll = kAllLanes16;
  const __m512 f = _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(kAll, acc), scale);
  const __m512 v = _mm512_maskz_min_ps(kAll, _mm512_maskz_max_ps(kAll, f, lo), hi);
  const __m512i q = _mm512_add_epi32(_mm512_maskz_cvtps_epi32(kAll, v), zero_point);
  return kSigned ? _mm512_maskz_cvtsepi32_epi8(kAll, q) : _mm512_maskz_cvtusepi32_epi8(kAll, q);
}

// The constants of a requantization: the depthwise row kernels' per plane (AVX-512 rows and VBMI bytes); the GEMM
// tiles' per call, with their scale taken from each row instead of `scale`.
struct RequantZmm {
  __m512 scale, lo, hi;  // lo / hi: the output bounds minus the zero point
  __m512i zero_point;
};

__attribute__((target("avx2,fma,avx512f,avx512bw"), always_inline)) inline RequantZmm requant_zmm(float scale,
                                                                                                  int32_t lo,
                                                                                                  int32_t hi,
                                                                                                  int32_t zp) {
  return {_mm512_set1_ps(scale), _mm512_set1_ps(static_cast<float>(lo - zp)),
          _mm512_set1_ps(static_cast<float>(hi - zp)), _mm512_set1_epi32(zp)};
}

// requant16_zmm with r's bounds and zero point and `scale` (a row's, or one per lane), the output type chosen at
// run time.
__attribute__((target("avx2,fma,avx512f,avx512bw"), always_inline)) inline __m128i requant16_zmm(
    bool out_signed, __m512i acc, __m512 scale, const RequantZmm& r) {
  return out_signed ? requant16_zmm<true>(acc, scale, r.lo, r.hi, r.zero_point)
                    : requant16_zmm<false>(acc, scale, r.lo, r.hi, r.zero_point);
}

// 32 output bytes (lo then hi) at y + at of a plane of `total` bytes: whole where they fit (a block running past
// its row's end spills into the next row, written after it), else only the first `count`.
__attribute__((target("avx2"), always_inline)) inline void store_block32(uint8_t* y, int64_t at, int64_t total,
                                                                         int64_t count, __m128i lo, __m128i hi) {
  if (at + 32 <= total) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + at), lo);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + at + 16), hi);
    return;
  }
  alignas(16) uint8_t tmp[32];
  _mm_store_si128(reinterpret_cast<__m128i*>(tmp), lo);
  _mm_store_si128(reinterpret_cast<__m128i*>(tmp + 16), hi);
  std::memcpy(y + at, tmp, static_cast<size_t>(count < 32 ? count : 32));
}

}  // namespace ef::cpu::detail
#endif
