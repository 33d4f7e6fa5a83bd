// The QLinearAdd kernel (qadd.h). The AVX2 functions are compiled for AVX2 without FMA and the AVX-512 ones use
// the explicitly rounded instructions, so the compiler cannot contract a multiply and an add into one rounding
// (which would break bit-identity with the reference graph).
//
// The division by the output scale bound the vector loop (vdivps: BlazeFace's 31 residual adds ran at ~0.8
// cycles per element on Zen 5). Multiplying by the rounded reciprocal instead is not the same float operation,
// but an add node's inputs are only 256 x 256 byte pairs: qlinear_add_kernel runs both forms over all of them for the
// node's parameters and takes the multiply only where every result byte agrees, so the choice is exact for that
// node by exhaustion, not by an error bound.
#include "kernels/cpu/qadd.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/qgemm.h"
#include "kernels/cpu/qrequant_avx512-inl.h"

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

// NaN needs inf - inf or a zero / non-finite output scale: with these finite, no vector lane can produce one.
bool lanes_finite(const QAddParams& p) {
  return std::isfinite(255.0f * p.a_scale) && std::isfinite(255.0f * p.b_scale) && std::isfinite(p.y_scale) &&
         p.y_scale != 0.0f;
}

void add_row_portable(const uint8_t* a, const uint8_t* b, int64_t n, const QAddParams& p, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = add_one(a, b, i, p);
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
  __m256 as, bs, ys, inv, lo, hi;
  __m256i az, bz, yz;
};

// kMul: times the reciprocal of the output scale instead of the division (only where qlinear_add_kernel verified it).
template <bool kA, bool kB, bool kMul>
__attribute__((target("avx2"), always_inline)) inline __m256i quantized_sum8(const uint8_t* a, const uint8_t* b,
                                                                              const AddConsts& c) {
  const __m256 sum = _mm256_add_ps(dequantized8<kA>(a, c.az, c.as), dequantized8<kB>(b, c.bz, c.bs));
  const __m256 quotient = kMul ? _mm256_mul_ps(sum, c.inv) : _mm256_div_ps(sum, c.ys);
  const __m256 v = _mm256_min_ps(_mm256_max_ps(quotient, c.lo), c.hi);
  // cvtps rounds to nearest even (the default mode), as std::nearbyint does.
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), c.yz);
}

// Only for parameters where no lane can become NaN (see qlinear_add); 32 elements a step, then 8.
template <bool kA, bool kB, bool kY, bool kMul>
__attribute__((target("avx2"))) int64_t add_avx2(const uint8_t* a, const uint8_t* b, int64_t n, const QAddParams& p,
                                                 uint8_t* y) {
  const int32_t lo = kY ? -128 : 0, hi = kY ? 127 : 255;
  const AddConsts c{_mm256_set1_ps(p.a_scale),
                    _mm256_set1_ps(p.b_scale),
                    _mm256_set1_ps(p.y_scale),
                    _mm256_set1_ps(1.0f / p.y_scale),
                    _mm256_set1_ps(static_cast<float>(lo - p.y_zero_point)),
                    _mm256_set1_ps(static_cast<float>(hi - p.y_zero_point)),
                    _mm256_set1_epi32(p.a_zero_point),
                    _mm256_set1_epi32(p.b_zero_point),
                    _mm256_set1_epi32(p.y_zero_point)};
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i q0 = quantized_sum8<kA, kB, kMul>(a + i, b + i, c), q1 = quantized_sum8<kA, kB, kMul>(a + i + 8, b + i + 8, c);
    const __m256i q2 = quantized_sum8<kA, kB, kMul>(a + i + 16, b + i + 16, c);
    const __m256i q3 = quantized_sum8<kA, kB, kMul>(a + i + 24, b + i + 24, c);
    // Packs work per 128-bit lane: the dwords come out as q0lo q1lo q2lo q3lo | q0hi q1hi q2hi q3hi.
    const __m256i w01 = _mm256_packs_epi32(q0, q1), w23 = _mm256_packs_epi32(q2, q3);
    const __m256i bytes = kY ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_permutevar8x32_epi32(bytes, order));
  }
  for (; i + 8 <= n; i += 8) {
    const __m256i q = quantized_sum8<kA, kB, kMul>(a + i, b + i, c);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i bytes = kY ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  return i;
}

// The whole row: the vector loop, then the exact portable loop for the last n % 8 elements (with kMul this equals
// the vector form: it is only chosen where the two agree on every input pair).
template <bool kA, bool kB, bool kY, bool kMul>
__attribute__((target("avx2"))) void add_row_avx2(const uint8_t* a, const uint8_t* b, int64_t n, const QAddParams& p,
                                                  uint8_t* y) {
  for (int64_t i = add_avx2<kA, kB, kY, kMul>(a, b, n, p, y); i < n; ++i) y[i] = add_one(a, b, i, p);
}

constexpr __mmask16 kAll = detail::kAllLanes16;
constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

template <bool kSigned>
__attribute__((target("avx512f"), always_inline)) inline __m512 dequantized16(const uint8_t* x, __m512i zp,
                                                                               __m512 scale) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
  const __m512i v = kSigned ? _mm512_maskz_cvtepi8_epi32(kAll, b) : _mm512_maskz_cvtepu8_epi32(kAll, b);
  return _mm512_maskz_mul_round_ps(kAll, _mm512_maskz_cvtepi32_ps(kAll, _mm512_sub_epi32(v, zp)), scale, kRound);
}

// 16 elements a step with the multiply by the reciprocal (the AVX-512 form is only ever chosen verified); the
// saturation as in add_avx2, then vpmov(u)sdb, exact since every value is already within the output range.
template <bool kA, bool kB, bool kY>
__attribute__((target("avx512f"))) void add_row_avx512(const uint8_t* a, const uint8_t* b, int64_t n,
                                                       const QAddParams& p, uint8_t* y) {
  const int32_t lo = kY ? -128 : 0, hi = kY ? 127 : 255;
  const __m512 as = _mm512_set1_ps(p.a_scale), bs = _mm512_set1_ps(p.b_scale), inv = _mm512_set1_ps(1.0f / p.y_scale);
  const __m512 vlo = _mm512_set1_ps(static_cast<float>(lo - p.y_zero_point));
  const __m512 vhi = _mm512_set1_ps(static_cast<float>(hi - p.y_zero_point));
  const __m512i az = _mm512_set1_epi32(p.a_zero_point), bz = _mm512_set1_epi32(p.b_zero_point);
  const __m512i yz = _mm512_set1_epi32(p.y_zero_point);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 sum =
        _mm512_maskz_add_round_ps(kAll, dequantized16<kA>(a + i, az, as), dequantized16<kB>(b + i, bz, bs), kRound);
    const __m512 quotient = _mm512_maskz_mul_round_ps(kAll, sum, inv, kRound);
    const __m512 v = _mm512_maskz_min_ps(kAll, _mm512_maskz_max_ps(kAll, quotient, vlo), vhi);
    const __m512i q = _mm512_add_epi32(_mm512_maskz_cvt_roundps_epi32(kAll, v, kRound), yz);
    const __m128i bytes = kY ? _mm512_maskz_cvtsepi32_epi8(kAll, q) : _mm512_maskz_cvtusepi32_epi8(kAll, q);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  for (; i < n; ++i) y[i] = add_one(a, b, i, p);
}

// The kernel specialized for the three operand types (no per-element type branches).
template <template <bool, bool, bool> class Pick>
QAddFn pick(const QAddParams& p) {
  auto by_y = [&](auto ka, auto kb) -> QAddFn {
    return p.y_signed ? Pick<decltype(ka)::value, decltype(kb)::value, true>::fn
                      : Pick<decltype(ka)::value, decltype(kb)::value, false>::fn;
  };
  auto by_b = [&](auto ka) -> QAddFn {
    return p.b_signed ? by_y(ka, std::true_type{}) : by_y(ka, std::false_type{});
  };
  return p.a_signed ? by_b(std::true_type{}) : by_b(std::false_type{});
}
template <bool kA, bool kB, bool kY>
struct Avx2Div {
  static constexpr QAddFn fn = add_row_avx2<kA, kB, kY, false>;
};
template <bool kA, bool kB, bool kY>
struct Avx2Mul {
  static constexpr QAddFn fn = add_row_avx2<kA, kB, kY, true>;
};
template <bool kA, bool kB, bool kY>
struct Avx512Mul {
  static constexpr QAddFn fn = add_row_avx512<kA, kB, kY>;
};

// Whether `fast` computes exactly what `exact` computes for every pair of input bytes under `p`.
bool same_on_every_pair(const QAddParams& p, QAddFn fast, QAddFn exact) {
  constexpr int64_t kPairs = 256 * 256;
  std::vector<uint8_t> a(kPairs), b(kPairs), y1(kPairs), y2(kPairs);
  for (int64_t i = 0; i < kPairs; ++i) {
    a[static_cast<size_t>(i)] = static_cast<uint8_t>(i >> 8);
    b[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  }
  fast(a.data(), b.data(), kPairs, p, y1.data());
  exact(a.data(), b.data(), kPairs, p, y2.data());
  return y1 == y2;
}
#endif

// The division kernel for p: AVX2 where the CPU, the --isa cap and p allow, else portable.
QAddKernel exact_kernel(const QAddParams& p, bool avx2) {
#ifdef EF_QADD_AVX2
  if (avx2 && lanes_finite(p) && detail::cpu_has_avx2() && active_isa().rfind("AVX", 0) == 0) {
    return {pick<Avx2Div>(p), "divide_avx2"};
  }
#endif
  return {add_row_portable, "portable"};
}

}  // namespace

QAddKernel qlinear_add_kernel(const QAddParams& p, bool avx2) {
  const QAddKernel exact = exact_kernel(p, avx2);
#ifdef EF_QADD_AVX2
  if (exact.fn == add_row_portable || !std::isfinite(1.0f / p.y_scale)) return exact;  // inf * 0 would make a NaN
  const QAddKernel fast = active_isa().rfind("AVX3", 0) == 0 && detail::cpu_has_avx512bw()
                              ? QAddKernel{pick<Avx512Mul>(p), "reciprocal_avx512"}
                              : QAddKernel{pick<Avx2Mul>(p), "reciprocal_avx2"};
  return same_on_every_pair(p, fast.fn, exact.fn) ? fast : exact;
#else
  return exact;
#endif
}

void qlinear_add(const void* a, const void* b, int64_t n, const QAddParams& p, void* y, bool avx2) {
  exact_kernel(p, avx2).fn(static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), n, p,
                           static_cast<uint8_t*>(y));
}

}  // namespace ef::cpu
