// The int8 kernels' requantization epilogue (qgemm.h's formula: y = clamp(round_half_even(float(acc + offset) *
// scale) + zero_point, lo, hi), the float product clamped to +-65536 before converting) for 16 int32 sums held in
// two AVX2 registers, so a kernel can requantize in registers instead of storing int32 rows first. Results are
// bit-identical to requantize_rows (see Requant16); qgemm_x86-inl.h builds its tile epilogue on it. Only for
// functions compiled with target("avx2") and called after the run-time CPU check. Header-only.
#pragma once
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kernels/cpu/qgemm.h"

namespace ef::cpu::detail {

// The saturation to [lo, hi] happens on the float product, before rounding, against the integer bounds
// lo - zero_point and hi - zero_point: rounding is monotonic and leaves integers unchanged, so
// round(clamp(v, a, b)) == clamp(round(v), a, b) for integer a, b, and the +-65536 guard of the row version is
// implied (|lo - zp|, |hi - zp| <= 510). Four constants instead of seven keep a kernel's registers free.
struct Requant16 {
  __m256 scale, lo, hi;  // lo / hi: the bounds minus the zero point, as floats
  __m256i zero_point;
  bool out_signed;
};

__attribute__((target("avx2"))) inline Requant16 requant16_setup(float scale, const QRequant& rq) {
  return {_mm256_set1_ps(scale), _mm256_set1_ps(static_cast<float>(rq.lo - rq.zero_point)),
          _mm256_set1_ps(static_cast<float>(rq.hi - rq.zero_point)), _mm256_set1_epi32(rq.zero_point),
          rq.out_signed};
}

// 8 sums (offset included) times `scale`, clamped to [lo - zero_point, hi - zero_point] and rounded: the formula
// before the zero point is added, shared by requant16 and the two-row GEMM epilogue (qgemm_x86-inl.h).
__attribute__((target("avx2"))) inline __m256i requant_rounded(const Requant16& r, __m256i acc, __m256 scale) {
  const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale), r.lo), r.hi);
  // cvtps rounds with the current mode: to nearest, ties to even, like std::nearbyint.
  return _mm256_cvtps_epi32(v);
}

// acc0 = sums 0-7, acc1 = sums 8-15, each already including the offset -> 16 bytes in order. kSigned: the
// output type (must equal r.out_signed; a template so kernels need no per-block branch).
template <bool kSigned>
__attribute__((target("avx2"))) inline __m128i requant16(const Requant16& r, __m256i acc0, __m256i acc1) {
  __m256i q[2];
  const __m256i acc[2] = {acc0, acc1};
  for (int h = 0; h < 2; ++h) q[h] = _mm256_add_epi32(requant_rounded(r, acc[h], r.scale), r.zero_point);
  const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
  const __m128i lo16 = _mm256_castsi256_si128(w16), hi16 = _mm256_extracti128_si256(w16, 1);
  return kSigned ? _mm_packs_epi16(lo16, hi16) : _mm_packus_epi16(lo16, hi16);
}

}  // namespace ef::cpu::detail
#endif
