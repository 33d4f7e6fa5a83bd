// The QLinearAdd kernel (qadd.h). The AVX2 function is compiled for AVX2 without FMA so the compiler cannot
// contract the multiply and the add into one rounding (which would break bit-identity with the reference graph).
#include "kernels/cpu/qadd.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/qgemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_QADD_AVX2 1
#endif

namespace ef::cpu {
namespace {

float dequantized(const uint8_t* x, bool is_signed, int64_t i, int32_t zp, float scale) {
  const int32_t v = is_signed ? static_cast<int8_t>(x[i]) : x[i];
  return static_cast<float>(v - zp) * scale;
}

uint8_t add_one(const uint8_t* a, const uint8_t* b, int64_t i, const QAddParams& p) {
  // Separate statements: a compiler may contract a * s + b * t within one expression (clang's fp-contract=on).
  const float da = dequantized(a, p.a_signed, i, p.a_zero_point, p.a_scale);
  const float db = dequantized(b, p.b_signed, i, p.b_zero_point, p.b_scale);
  const float sum = da + db;
  const float v = sum / p.y_scale;
  int32_t q = p.y_zero_point;
  // Clamped before converting: huge quotients must saturate, not overflow the int conversion.
  if (!std::isnan(v)) q += static_cast<int32_t>(std::nearbyint(std::clamp(v, -65536.0f, 65536.0f)));
  return static_cast<uint8_t>(std::clamp(q, p.y_signed ? -128 : 0, p.y_signed ? 127 : 255));
}

#ifdef EF_QADD_AVX2
template <bool kSigned>
__attribute__((target("avx2"), always_inline)) inline __m256 dequantized8(const uint8_t* x, __m256i zp, __m256 scale) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x));
  const __m256i v = kSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, zp)), scale);
}

// The constants of the vector loop. The saturation happens on the quotient, before rounding, against the integer
// bounds lo - zp and hi - zp: rounding is monotonic and keeps integers, so this equals rounding first (and it
// maps +-inf to the bounds).
struct AddConsts {
  __m256 as, bs, ys, lo, hi;
  __m256i az, bz, yz;
};

template <bool kA, bool kB>
__attribute__((target("avx2"), always_inline)) inline __m256i quantized_sum8(const uint8_t* a, const uint8_t* b,
                                                                              const AddConsts& c) {
  const __m256 sum = _mm256_add_ps(dequantized8<kA>(a, c.az, c.as), dequantized8<kB>(b, c.bz, c.bs));
  const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(sum, c.ys), c.lo), c.hi);
  // cvtps rounds to nearest even (the default mode), as std::nearbyint does.
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), c.yz);
}

// Only for parameters where no lane can become NaN (see qlinear_add); 32 elements a step, then 8.
template <bool kA, bool kB, bool kY>
__attribute__((target("avx2"))) int64_t add_avx2(const uint8_t* a, const uint8_t* b, int64_t n, const QAddParams& p,
                                                 uint8_t* y) {
  const int32_t lo = kY ? -128 : 0, hi = kY ? 127 : 255;
  const AddConsts c{_mm256_set1_ps(p.a_scale),
                    _mm256_set1_ps(p.b_scale),
                    _mm256_set1_ps(p.y_scale),
                    _mm256_set1_ps(static_cast<float>(lo - p.y_zero_point)),
                    _mm256_set1_ps(static_cast<float>(hi - p.y_zero_point)),
                    _mm256_set1_epi32(p.a_zero_point),
                    _mm256_set1_epi32(p.b_zero_point),
                    _mm256_set1_epi32(p.y_zero_point)};
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i q0 = quantized_sum8<kA, kB>(a + i, b + i, c), q1 = quantized_sum8<kA, kB>(a + i + 8, b + i + 8, c);
    const __m256i q2 = quantized_sum8<kA, kB>(a + i + 16, b + i + 16, c);
    const __m256i q3 = quantized_sum8<kA, kB>(a + i + 24, b + i + 24, c);
    // Packs work per 128-bit lane: the dwords come out as q0lo q1lo q2lo q3lo | q0hi q1hi q2hi q3hi.
    const __m256i w01 = _mm256_packs_epi32(q0, q1), w23 = _mm256_packs_epi32(q2, q3);
    const __m256i bytes = kY ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_permutevar8x32_epi32(bytes, order));
  }
  for (; i + 8 <= n; i += 8) {
    const __m256i q = quantized_sum8<kA, kB>(a + i, b + i, c);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i bytes = kY ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  return i;
}

using AddFn = int64_t (*)(const uint8_t*, const uint8_t*, int64_t, const QAddParams&, uint8_t*);
template <bool kA, bool kB>
AddFn pick_y(bool y) {
  return y ? add_avx2<kA, kB, true> : add_avx2<kA, kB, false>;
}
template <bool kA>
AddFn pick_b(bool b, bool y) {
  return b ? pick_y<kA, true>(y) : pick_y<kA, false>(y);
}
// The kernel specialized for the three operand types (no per-element type branches).
AddFn pick(const QAddParams& p) {
  return p.a_signed ? pick_b<true>(p.b_signed, p.y_signed) : pick_b<false>(p.b_signed, p.y_signed);
}
#endif

}  // namespace

void qlinear_add(const void* a, const void* b, int64_t n, const QAddParams& p, void* y, bool avx2) {
  const auto* pa = static_cast<const uint8_t*>(a);
  const auto* pb = static_cast<const uint8_t*>(b);
  auto* out = static_cast<uint8_t*>(y);
  int64_t i = 0;
#ifdef EF_QADD_AVX2
  // NaN needs inf - inf or a zero / non-finite output scale: with these finite, no lane can produce one.
  const bool finite = std::isfinite(255.0f * p.a_scale) && std::isfinite(255.0f * p.b_scale) &&
                      std::isfinite(p.y_scale) && p.y_scale != 0.0f;
  if (avx2 && finite && detail::cpu_has_avx2() && active_isa().rfind("AVX", 0) == 0) i = pick(p)(pa, pb, n, p, out);
#endif
  for (; i < n; ++i) out[i] = add_one(pa, pb, i, p);
}

}  // namespace ef::cpu
