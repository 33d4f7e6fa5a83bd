// The QLinearAdd kernel (qadd.h). The AVX2 functions are compiled for AVX2 without FMA and the AVX-512 ones use
// the explicitly rounded instructions, so the compiler cannot contract a multiply and an add into one rounding
// (which would break bit-identity with the reference graph).
//
// The division by the output scale bound the vector loop (vdivps: BlazeFace's 31 residual adds ran at ~0.8
// cycles per element on Zen 5). Multiplying by the rounded reciprocal instead is not the same float operation,
// but an add node's inputs are only 256 x 256 byte pairs: qlinear_add_kernel runs both forms over all of them for the
// node's parameters and takes the multiply only where every result byte agrees, so the choice is exact for that
// node by exhaustion, not by an error bound.
//
// The float form still costs ~17 vector instructions per 16 elements. Where the scale ratios a_scale / y_scale and
// b_scale / y_scale are integers (edgeforge quantize writes residual adds so, for ONNX Runtime's integer adds) the
// exact result is an integer combination of the raw bytes, which 16-bit fixed point computes with one vpmaddwd
// per 8 (AVX2) or 16 (AVX-512) element pairs; it is verified the same way, and taken only where exact.
#include "kernels/cpu/qadd.h"

#include <algorithm>
#include <cmath>
#include <optional>
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

// The fixed-point form, element by element: what the vector loops compute lane by lane (their int16 and int8
// saturations clamp as one clamp does, the constants keep every sum within int32).
uint8_t fixed_one(const uint8_t* a, const uint8_t* b, int64_t i, const QAddParams& p) {
  const int32_t va = p.a_signed ? static_cast<int8_t>(a[i]) : a[i], vb = p.b_signed ? static_cast<int8_t>(b[i]) : b[i];
  const int32_t q = (va * p.a_mul + vb * p.b_mul + p.offset) >> p.shift;
  return static_cast<uint8_t>(std::clamp(q, p.y_signed ? -128 : 0, p.y_signed ? 127 : 255));
}

// The constants of the fixed-point form with `shift` fraction bits: the scale ratios rounded to multiples of
// 2^-shift, and the zero points folded into one offset that also carries the rounding half; nullopt where a
// multiplier leaves int16 or a sum could leave int32.
std::optional<QAddParams> fixed_point(const QAddParams& p, int shift) {
  const double ra = static_cast<double>(p.a_scale) / p.y_scale, rb = static_cast<double>(p.b_scale) / p.y_scale;
  const double unit = std::ldexp(1.0, shift);
  const double a_mul = std::nearbyint(ra * unit), b_mul = std::nearbyint(rb * unit);
  const double offset = std::nearbyint((p.y_zero_point - p.a_zero_point * ra - p.b_zero_point * rb) * unit) +
                        std::ldexp(1.0, shift - 1);
  if (!(std::abs(a_mul) <= 32767 && std::abs(b_mul) <= 32767 && std::abs(offset) < 1e9)) return std::nullopt;
  if ((std::abs(a_mul) + std::abs(b_mul)) * 256 + std::abs(offset) >= 2147483647.0) return std::nullopt;
  QAddParams f = p;
  f.a_mul = static_cast<int32_t>(a_mul), f.b_mul = static_cast<int32_t>(b_mul);
  f.offset = static_cast<int32_t>(offset), f.shift = shift;
  return f;
}

// The most fraction bits whose multipliers fit int16 (0 where none does).
int widest_shift(const QAddParams& p) {
  const double r = std::max(std::abs(static_cast<double>(p.a_scale) / p.y_scale),
                            std::abs(static_cast<double>(p.b_scale) / p.y_scale));
  int shift = 0;
  while (shift < 24 && std::nearbyint(r * std::ldexp(1.0, shift + 1)) <= 32767) ++shift;
  return shift;
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
constexpr __mmask32 kAll32 = 0xFFFFFFFFu;
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

// ---- the fixed-point kernels

// The (a_mul, b_mul) int16 pair vpmaddwd multiplies each (a, b) element pair by: a's in the low half of the dword.
inline int32_t pair_multipliers(const QAddParams& p) {
  return static_cast<int32_t>((static_cast<uint32_t>(p.b_mul) << 16) | (static_cast<uint32_t>(p.a_mul) & 0xffffu));
}

template <bool kSigned>
__attribute__((target("avx2"), always_inline)) inline __m256i widened16(const uint8_t* x) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
  return kSigned ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
}

// 16 results as int16, in element order: unpacking and packing both work within 128-bit lanes, so the pack undoes
// the interleave of the (a, b) pairs.
template <bool kA, bool kB>
__attribute__((target("avx2"), always_inline)) inline __m256i fixed16(const uint8_t* a, const uint8_t* b,
                                                                       __m256i mul, __m256i offset, __m128i shift) {
  const __m256i a16 = widened16<kA>(a), b16 = widened16<kB>(b);
  const __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(a16, b16), mul);
  const __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(a16, b16), mul);
  return _mm256_packs_epi32(_mm256_sra_epi32(_mm256_add_epi32(lo, offset), shift),
                            _mm256_sra_epi32(_mm256_add_epi32(hi, offset), shift));
}

template <bool kA, bool kB, bool kY>
__attribute__((target("avx2"))) void fixed_row_avx2(const uint8_t* a, const uint8_t* b, int64_t n,
                                                    const QAddParams& p, uint8_t* y) {
  const __m256i mul = _mm256_set1_epi32(pair_multipliers(p));
  const __m256i offset = _mm256_set1_epi32(p.offset);
  const __m128i shift = _mm_cvtsi32_si128(p.shift);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i w0 = fixed16<kA, kB>(a + i, b + i, mul, offset, shift);
    const __m256i w1 = fixed16<kA, kB>(a + i + 16, b + i + 16, mul, offset, shift);
    const __m256i bytes = kY ? _mm256_packs_epi16(w0, w1) : _mm256_packus_epi16(w0, w1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_permute4x64_epi64(bytes, _MM_SHUFFLE(3, 1, 2, 0)));
  }
  for (; i + 16 <= n; i += 16) {
    const __m256i w = fixed16<kA, kB>(a + i, b + i, mul, offset, shift);
    const __m256i bytes = kY ? _mm256_packs_epi16(w, w) : _mm256_packus_epi16(w, w);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_castsi256_si128(_mm256_permute4x64_epi64(bytes, _MM_SHUFFLE(3, 1, 2, 0))));
  }
  for (; i < n; ++i) y[i] = fixed_one(a, b, i, p);
}

template <bool kSigned>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i widened32(__m256i bytes) {
  return kSigned ? _mm512_cvtepi8_epi16(bytes) : _mm512_cvtepu8_epi16(bytes);
}

__attribute__((target("avx2"), always_inline)) inline __m256i load(const uint8_t* x) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
}

template <bool kA, bool kB>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i fixed32(__m256i a, __m256i b, __m512i mul,
                                                                                  __m512i offset, __m128i shift) {
  const __m512i a16 = widened32<kA>(a), b16 = widened32<kB>(b);
  const __m512i lo = _mm512_madd_epi16(_mm512_unpacklo_epi16(a16, b16), mul);
  const __m512i hi = _mm512_madd_epi16(_mm512_unpackhi_epi16(a16, b16), mul);
  return _mm512_packs_epi32(_mm512_maskz_sra_epi32(kAll, _mm512_add_epi32(lo, offset), shift),
                            _mm512_maskz_sra_epi32(kAll, _mm512_add_epi32(hi, offset), shift));
}

// 64 elements a step; the last n % 64 in masked steps of 32, so short rows (a residual add per column block) stay
// vectorized too.
template <bool kA, bool kB, bool kY>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void fixed_row_avx512(const uint8_t* a, const uint8_t* b,
                                                                           int64_t n, const QAddParams& p, uint8_t* y) {
  const __m512i mul = _mm512_set1_epi32(pair_multipliers(p));
  const __m512i offset = _mm512_set1_epi32(p.offset);
  const __m128i shift = _mm_cvtsi32_si128(p.shift);
  const __m512i lane_order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i w0 = fixed32<kA, kB>(load(a + i), load(b + i), mul, offset, shift);
    const __m512i w1 = fixed32<kA, kB>(load(a + i + 32), load(b + i + 32), mul, offset, shift);
    const __m512i bytes = kY ? _mm512_packs_epi16(w0, w1) : _mm512_packus_epi16(w0, w1);
    _mm512_storeu_si512(y + i, _mm512_maskz_permutexvar_epi64(0xFF, lane_order, bytes));
  }
  for (; i < n; i += 32) {
    const __mmask32 m = n - i >= 32 ? kAll32 : (__mmask32{1} << (n - i)) - 1;
    const __m512i w = fixed32<kA, kB>(_mm256_maskz_loadu_epi8(m, a + i), _mm256_maskz_loadu_epi8(m, b + i), mul,
                                      offset, shift);
    const __m256i bytes = kY ? _mm512_maskz_cvtsepi16_epi8(kAll32, w)
                             : _mm512_maskz_cvtusepi16_epi8(kAll32, _mm512_max_epi16(w, _mm512_setzero_si512()));
    _mm256_mask_storeu_epi8(y + i, m, bytes);
  }
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
template <bool kA, bool kB, bool kY>
struct Avx2Fixed {
  static constexpr QAddFn fn = fixed_row_avx2<kA, kB, kY>;
};
template <bool kA, bool kB, bool kY>
struct Avx512Fixed {
  static constexpr QAddFn fn = fixed_row_avx512<kA, kB, kY>;
};

// A kernel's results on every pair of input bytes, (a, b) = (i >> 8, i & 255) at index i.
std::vector<uint8_t> on_every_pair(const QAddKernel& k) {
  constexpr int64_t kPairs = 256 * 256;
  std::vector<uint8_t> a(kPairs), b(kPairs), y(kPairs);
  for (int64_t i = 0; i < kPairs; ++i) {
    a[static_cast<size_t>(i)] = static_cast<uint8_t>(i >> 8);
    b[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  }
  k(a.data(), b.data(), kPairs, y.data());
  return y;
}
#endif

// The division kernel for p: AVX2 where the CPU, the --isa cap and p allow, else portable.
QAddKernel exact_kernel(const QAddParams& p, bool avx2) {
#ifdef EF_QADD_AVX2
  if (avx2 && lanes_finite(p) && detail::cpu_has_avx2() && active_isa().rfind("AVX", 0) == 0) {
    return {pick<Avx2Div>(p), "divide_avx2", p};
  }
#endif
  return {add_row_portable, "portable", p};
}

}  // namespace

QAddKernel qlinear_add_kernel(const QAddParams& p, bool avx2) {
  const QAddKernel exact = exact_kernel(p, avx2);
#ifdef EF_QADD_AVX2
  if (exact.fn == add_row_portable || !std::isfinite(1.0f / p.y_scale)) return exact;  // inf * 0 would make a NaN
  const std::vector<uint8_t> expected = on_every_pair(exact);
  const bool avx512 = avx512_in_use() && detail::cpu_has_avx512bw();
  // Fixed point with the most fraction bits first; fewer only change the rounding of inexact ratios.
  const int widest = widest_shift(p);
  for (int shift = widest; shift >= 1 && shift + 3 > widest; --shift) {
    const std::optional<QAddParams> f = fixed_point(p, shift);
    if (!f) continue;
    const QAddKernel fixed = avx512 ? QAddKernel{pick<Avx512Fixed>(p), "fixed_avx512", *f}
                                    : QAddKernel{pick<Avx2Fixed>(p), "fixed_avx2", *f};
    if (on_every_pair(fixed) == expected) return fixed;
  }
  const QAddKernel reciprocal = avx512 ? QAddKernel{pick<Avx512Mul>(p), "reciprocal_avx512", p}
                                       : QAddKernel{pick<Avx2Mul>(p), "reciprocal_avx2", p};
  return on_every_pair(reciprocal) == expected ? reciprocal : exact;
#else
  return exact;
#endif
}

void qlinear_add(const void* a, const void* b, int64_t n, const QAddParams& p, void* y, bool avx2) {
  exact_kernel(p, avx2)(static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), n, static_cast<uint8_t*>(y));
}

namespace {
#ifdef EF_QADD_AVX2
// y = table[x] for 64 bytes at a time: two vpermi2b look up the low and the high half of the table by the low 7
// bits, the top bit picks between them.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) int64_t map_bytes_vbmi(const uint8_t* x, int64_t n,
                                                                             const uint8_t* table, uint8_t* y) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i v = _mm512_loadu_si512(x + i);
    const __m512i lo = _mm512_permutex2var_epi8(t0, v, t1), hi = _mm512_permutex2var_epi8(t2, v, t3);
    _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi));
  }
  return i;
}
#endif
}  // namespace

void map_bytes(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y) {
  int64_t i = 0;
#ifdef EF_QADD_AVX2
  if (detail::cpu_has_avx512_vbmi() && avx512_in_use()) i = map_bytes_vbmi(x, n, table, y);
#endif
  for (; i < n; ++i) y[i] = table[x[i]];
}

void qlinear_add_scalar(const uint8_t* a, int64_t n, uint8_t b, const QAddParams& p, uint8_t* y) {
  uint8_t values[256], same_b[256], table[256];
  for (int v = 0; v < 256; ++v) values[v] = static_cast<uint8_t>(v);
  std::fill(same_b, same_b + 256, b);
  qlinear_add(values, same_b, 256, p, table, false);  // the portable loop: the formula itself
  map_bytes(a, n, table, y);
}

}  // namespace ef::cpu
