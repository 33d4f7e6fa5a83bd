// Vector float32 helpers shared by the element-wise CPU kernels (activation.cpp, binary.cpp, softmax.cpp): safe
// partial loads/stores for array tails, and exp, erfc and the Gaussian CDF, written once over Highway vectors so that every target compiled by foreach_target.h gets its own
// copy. Special values follow IEEE arithmetic (NaN in, NaN out; exp(+inf) = inf, exp(-inf) = 0) because the
// activation epilogue must agree with activation_reference on them. Depends on Highway only.
//
// Per-target include guard (the Highway -inl.h convention): this file is re-included once per target.
#if defined(EF_KERNELS_CPU_VEC_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EF_KERNELS_CPU_VEC_MATH_INL_H_
#undef EF_KERNELS_CPU_VEC_MATH_INL_H_
#else
#define EF_KERNELS_CPU_VEC_MATH_INL_H_
#endif

#include <cstring>

#include "hwy/highway.h"

// Whether MaskedLoad/BlendedStore of 32/64-bit lanes mask the memory access itself (AVX2 vmaskmov, AVX-512
// masks). Elsewhere Highway 1.0.3 emulates them with a full-vector load and a read-modify-write store (SSE4,
// NEON), touching memory past the end of the array: a fault at a page end, and a data race with the thread that
// writes the next chunk.
#undef EF_NATIVE_MASKED_MEM
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define EF_NATIVE_MASKED_MEM 1
#else
#define EF_NATIVE_MASKED_MEM 0
#endif

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Lanes [0, count) of p, zeros above; count < Lanes(d). Touches no memory past p + count.
template <class D>
HWY_INLINE hn::VFromD<D> LoadTail(D d, const hn::TFromD<D>* HWY_RESTRICT p, size_t count) {
  using T = hn::TFromD<D>;
  static_assert(sizeof(T) >= 4, "masked memory ops are native for 32/64-bit lanes only");
#if EF_NATIVE_MASKED_MEM
  return hn::MaskedLoad(hn::FirstN(d, count), d, p);
#else
  HWY_ALIGN T buffer[HWY_MAX_BYTES / sizeof(T)] = {};
  std::memcpy(buffer, p, count * sizeof(T));
  return hn::Load(d, buffer);
#endif
}

// Stores lanes [0, count) of v to p; count < Lanes(d). Touches no memory past p + count.
template <class D>
HWY_INLINE void StoreTail(hn::VFromD<D> v, D d, hn::TFromD<D>* HWY_RESTRICT p, size_t count) {
  using T = hn::TFromD<D>;
  static_assert(sizeof(T) >= 4, "masked memory ops are native for 32/64-bit lanes only");
#if EF_NATIVE_MASKED_MEM
  hn::BlendedStore(v, hn::FirstN(d, count), d, p);
#else
  HWY_ALIGN T buffer[HWY_MAX_BYTES / sizeof(T)];
  hn::Store(v, d, buffer);
  std::memcpy(p, buffer, count * sizeof(T));
#endif
}

// exp(x) with max relative error about 2 ulp on the whole float range, subnormal results included.
// x = n*ln2 + r with |r| <= ln2/2; exp(r) is a degree-6 polynomial (Chebyshev fit on [-0.3466, 0.3466], error
// 2e-9, below float rounding); 2^n is applied as two factors 2^floor(n/2) * 2^ceil(n/2) so that n in
// [-150, 128] needs no exponent bits outside the normal range: results from subnormal to +inf come out of the
// multiplications themselves, with no special-casing.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecExp(D d, V x) {
  const hn::RebindToSigned<D> di;
  // Below -104 the result rounds to 0, above 89 to +inf; clamping keeps n inside [-150, 129] and the integer
  // conversion defined. Highway's float Min/Max return the non-NaN operand, so NaN is restored at the end.
  const V xc = hn::Min(hn::Max(x, hn::Set(d, -104.0f)), hn::Set(d, 89.0f));
  const V n = hn::Round(hn::Mul(xc, hn::Set(d, 1.44269504088896341f)));
  // Cody-Waite: ln2 split so that n * kLn2Hi is exact for |n| < 2^9.
  V r = hn::NegMulAdd(n, hn::Set(d, 0.693359375f), xc);
  r = hn::NegMulAdd(n, hn::Set(d, -2.12194440e-4f), r);
  V p = hn::Set(d, 1.39411164061e-3f);
  p = hn::MulAdd(p, r, hn::Set(d, 8.37513278114e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.1666352801e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.6666415438e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 5.00000004714e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.00000003773f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  const auto ni = hn::ConvertTo(di, n);
  const auto n_lo = hn::ShiftRight<1>(ni);  // arithmetic: floor(n/2)
  const auto n_hi = hn::Sub(ni, n_lo);
  const auto bias = hn::Set(di, 127);
  const V s_lo = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(n_lo, bias)));
  const V s_hi = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(n_hi, bias)));
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Mul(hn::Mul(p, s_lo), s_hi));
}

// P(t) of the erfc approximation below: the Chebyshev fit of Numerical Recipes (Press et al., "erfcc", section
// 6.2), erfc(z) = t * exp(-z^2 + P(t)) with t = 1 / (1 + z/2), relative error below 1.2e-7 for all z >= 0.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V ErfcPoly(D d, V t) {
  V p = hn::Set(d, 0.17087277f);
  p = hn::MulAdd(p, t, hn::Set(d, -0.82215223f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.48851587f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.13520398f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.27886807f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.18628806f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.09678418f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.37409196f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.00002368f));
  return hn::MulAdd(p, t, hn::Set(d, -1.26551223f));
}

// erfc(z) for z >= 0 (or +inf), accurate relatively on the whole tail, where 1 - erf(z) would cancel.
// -z^2 + P(t) is one fused multiply-add, so z^2 is not rounded before the large exponent.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecErfcNonNegative(D d, V z) {
  const V one = hn::Set(d, 1.0f);
  const V t = hn::Div(one, hn::MulAdd(z, hn::Set(d, 0.5f), one));
  return hn::Mul(t, VecExp(d, hn::NegMulAdd(z, z, ErfcPoly(d, t))));
}

// x * Phi(x) with Phi the standard normal CDF (GELU, erf form). Phi is taken from erfc on |x|/sqrt(2) on both
// sides (Phi(x) = erfc(-x/sqrt2)/2), which keeps the negative tail relatively accurate instead of computing
// 1 + erf(x) with cancellation; for x >= 0, Phi >= 1/2 so 1 - erfc/2 loses nothing. The exponent -x^2/2 is
// formed from x itself (x/2 is exact): rounding x/sqrt(2) first would cost ~1e-6 relative at x = -5.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecGelu(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V half = hn::Set(d, 0.5f);
  const V a = hn::Abs(x);
  const V t = hn::Div(one, hn::MulAdd(a, hn::Set(d, 0.35355339059327376f), one));  // 1 / (1 + (a/sqrt2)/2)
  const V erfc = hn::Mul(t, VecExp(d, hn::NegMulAdd(hn::Mul(a, half), a, ErfcPoly(d, t))));
  const V e = hn::Mul(half, erfc);
  const V phi = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, hn::Sub(one, e));
  return hn::Mul(x, phi);
}

// 1 / (1 + exp(-x)): exact division keeps sigmoid(-inf) = 0 and its tail relatively accurate.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecSigmoid(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  return hn::Div(one, hn::Add(one, VecExp(d, hn::Neg(x))));
}

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
