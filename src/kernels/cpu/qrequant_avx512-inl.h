// The int8 kernels' requantization epilogue (qgemm.h's formula, as qrequant_avx2-inl.h) for 16 int32 sums in one
// 512-bit register: the AVX2 steps on 16 lanes, then a saturating down-convert (vpmovusdb / vpmovsdb, exact since
// the values are already within [lo, hi]). Bit-identical to requant16. Only for functions compiled with AVX-512
// F/BW and called after the run-time CPU check. Header-only.
#pragma once
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

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

}  // namespace ef::cpu::detail
#endif
