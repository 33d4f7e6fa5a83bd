#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/qgemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_QUANTIZE_AVX2 1
#endif

namespace ef::cpu {
namespace {

bool use_avx2() { return detail::cpu_has_avx2() && active_isa().rfind("AVX", 0) == 0; }

int32_t quantize_one(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
  const float v = x / scale;
  if (std::isnan(v)) return std::clamp(zp, lo, hi);
  // Clamp before converting: huge quotients must saturate, not overflow the int conversion.
  const float r = std::nearbyint(std::clamp(v, -65536.0f, 65536.0f));
  return std::clamp(static_cast<int32_t>(r) + zp, lo, hi);
}

#ifdef EF_QUANTIZE_AVX2
__attribute__((target("avx2,fma"))) int64_t quantize_avx2(const float* x, int64_t n, float scale, int32_t zp,
                                                           int32_t lo, int32_t hi, uint8_t* y) {
  const __m256 s = _mm256_set1_ps(scale), big = _mm256_set1_ps(65536.0f), nbig = _mm256_set1_ps(-65536.0f);
  const __m256i z = _mm256_set1_epi32(zp), vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    v = _mm256_andnot_ps(nan, _mm256_min_ps(_mm256_max_ps(v, nbig), big));  // NaN -> 0 -> the zero point
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), z);
    q = _mm256_min_epi32(_mm256_max_epi32(q, vlo), vhi);
    // 8 int32 in [-128, 255] -> 8 bytes (two's complement for int8).
    const __m128i lo128 = _mm256_castsi256_si128(q), hi128 = _mm256_extracti128_si256(q, 1);
    const __m128i w16 = _mm_packs_epi32(lo128, hi128);
    const __m128i bytes = _mm_shuffle_epi8(w16, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  return i;
}

// The same steps on 16 lanes (vdivps bounds both loops; Zen 5 divides 512 bits at about the 256-bit rate per
// instruction). GCC 12 reports the intrinsics' own undefined pass-through operands as maybe-uninitialized here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512bw"))) int64_t quantize_avx512(const float* x, int64_t n, float scale,
                                                                     int32_t zp, int32_t lo, int32_t hi, uint8_t* y) {
  const __m512 s = _mm512_set1_ps(scale), big = _mm512_set1_ps(65536.0f), nbig = _mm512_set1_ps(-65536.0f);
  const __m512i z = _mm512_set1_epi32(zp), vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + i), s);
    const __mmask16 ordered = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    v = _mm512_maskz_mov_ps(ordered, _mm512_min_ps(_mm512_max_ps(v, nbig), big));  // NaN -> 0 -> the zero point
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), z);
    q = _mm512_min_epi32(_mm512_max_epi32(q, vlo), vhi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm512_cvtepi32_epi8(q));  // in range: truncation is exact
  }
  return i;
}
#pragma GCC diagnostic pop

__attribute__((target("avx2,fma"))) int64_t dequantize_avx2(const uint8_t* x, bool in_signed, int64_t n,
                                                             float scale, int32_t zp, float* y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i z = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + i));
    const __m256i v = in_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, z)), s));
  }
  return i;
}
#endif

}  // namespace

void quantize_linear(const float* x, int64_t n, float scale, int32_t zero_point, bool out_signed, void* y) {
  const int32_t lo = out_signed ? -128 : 0, hi = out_signed ? 127 : 255;
  auto* out = static_cast<uint8_t*>(y);
  int64_t i = 0;
#ifdef EF_QUANTIZE_AVX2
  if (detail::cpu_has_avx512bw() && avx512_in_use()) {
    i = quantize_avx512(x, n, scale, zero_point, lo, hi, out);
  }
  if (use_avx2()) i += quantize_avx2(x + i, n - i, scale, zero_point, lo, hi, out + i);
#endif
  for (; i < n; ++i) out[i] = static_cast<uint8_t>(quantize_one(x[i], scale, zero_point, lo, hi));
}

void dequantize_linear(const void* x, bool in_signed, int64_t n, float scale, int32_t zero_point, float* y) {
  const auto* in = static_cast<const uint8_t*>(x);
  int64_t i = 0;
#ifdef EF_QUANTIZE_AVX2
  if (use_avx2()) i = dequantize_avx2(in, in_signed, n, scale, zero_point, y);
#endif
  for (; i < n; ++i) {
    const int32_t v = in_signed ? static_cast<int8_t>(in[i]) : in[i];
    y[i] = static_cast<float>(v - zero_point) * scale;
  }
}

}  // namespace ef::cpu
