// Vector float32 helpers shared by the element-wise CPU kernels (activation.cpp, binary.cpp, softmax.cpp): safe
// partial loads/stores for array tails, and exp, erfc, the Gaussian CDF, sigmoid, SiLU and tanh, written once over
// Highway vectors so that every target compiled by foreach_target.h gets its own copy. Special values follow IEEE
// arithmetic (NaN in, NaN out; exp(+inf) = inf, exp(-inf) = 0) because the activation epilogue must agree with
// activation_reference on them. Depends on Highway only.
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

// Adding this to a float of magnitude below 2^22 rounds it to an integer (to nearest even) that then sits in the low
// mantissa bits: one fused multiply-add both scales and rounds, and the bits give the integer without a conversion.
constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23

// x - n ln2, Cody-Waite: ln2 split so that n * 0.693359375 is exact for |n| < 2^15.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V ReduceLn2(D d, V x, V n) {
  return hn::NegMulAdd(n, hn::Set(d, -2.12194440e-4f), hn::NegMulAdd(n, hn::Set(d, 0.693359375f), x));
}

// The argument reduction shared by the exp-based functions: returns exp(x - n ln2) with n = round(x / ln2), and
// sets *n_magic = n + magic (as a float, exact: magic = kRoundMagic + an integer bias the caller wants in the
// bits). Needs |x| < 2^15 ln2 so that n * kLn2Hi is exact. exp(r), |r| <= ln2/2, is a degree-6 polynomial
// (Chebyshev fit on [-0.3466, 0.3466], error 2e-9, below float rounding).
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V ExpReduced(D d, V x, V magic, V* n_magic) {
  const V nm = hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), magic);
  const V r = ReduceLn2(d, x, hn::Sub(nm, magic));
  V p = hn::Set(d, 1.39411164061e-3f);
  p = hn::MulAdd(p, r, hn::Set(d, 8.37513278114e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.1666352801e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.6666415438e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 5.00000004714e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.00000003773f));
  *n_magic = nm;
  return hn::MulAdd(p, r, hn::Set(d, 1.0f));
}

// ExpReduced's cheaper twin for sigmoid and SiLU, whose contract is 1e-6 relative error rather than a few ulp:
// with a fused multiply-add, ln2 enters in one FMA (the float ln2 is 1.9e-9 off, so r is off by at most
// 159 * 1.9e-9 = 3.1e-7 at the largest |n| the callers reach; without FMA, n * ln2 would be rounded first, so
// those targets keep the two-step split), and exp(r) is a degree-5 polynomial (minimax fit of the relative error
// on [-0.3466, 0.3466]: 9.5e-8). Two FMAs fewer than ExpReduced: these activations are bound by their FMA-pipe
// operations (llvm-mca, Zen 3: SiLU 14.4 -> 11.3 cycles per vector with VecSilu's quotient).
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V ExpReducedFast(D d, V x, V magic, V* n_magic) {
  const V nm = hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), magic);
  const V n = hn::Sub(nm, magic);
#if HWY_NATIVE_FMA
  const V r = hn::NegMulAdd(n, hn::Set(d, 0.693147180559945f), x);
#else
  const V r = ReduceLn2(d, x, n);
#endif
  V p = hn::Set(d, 8.290315046906471e-3f);
  p = hn::MulAdd(p, r, hn::Set(d, 4.189793020486832e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.666763573884964e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.999915063381195e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 9.999997019767761e-1f));
  *n_magic = nm;
  return hn::MulAdd(p, r, hn::Set(d, 1.0f));
}

// exp(x) with max relative error about 2 ulp on the whole float range, subnormal results included.
// 2^n is applied as two factors 2^floor(n/2) * 2^ceil(n/2) so that n in [-150, 128] needs no exponent bits outside
// the normal range: results from subnormal to +inf come out of the multiplications themselves, with no
// special-casing. (Sigmoid and tanh need only exp of a non-positive argument: see ExpNonPositiveScaled.)
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecExp(D d, V x) {
  const hn::RebindToSigned<D> di;
  // Below -104 the result rounds to 0, above 89 to +inf; clamping keeps n inside [-150, 129]. Highway's float
  // Min/Max return the non-NaN operand, so NaN is restored at the end.
  const V xc = hn::Min(hn::Max(x, hn::Set(d, -104.0f)), hn::Set(d, 89.0f));
  const V magic = hn::Set(d, kRoundMagic);
  V nm;
  const V p = ExpReduced(d, xc, magic, &nm);
  const auto ni = hn::Sub(hn::BitCast(di, nm), hn::BitCast(di, magic));
  const auto n_lo = hn::ShiftRight<1>(ni);  // arithmetic: floor(n/2)
  const auto n_hi = hn::Sub(ni, n_lo);
  const auto bias = hn::Set(di, 127);
  const V s_lo = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(n_lo, bias)));
  const V s_hi = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(n_hi, bias)));
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Mul(hn::Mul(p, s_lo), s_hi));
}

// Max(lo, v), returning v when v is NaN. x86 maxps returns its second operand when either is NaN and Highway maps
// Max(a, b) straight onto it, so there it is one instruction; other targets leave NaN to the hardware.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V MaxKeepNan(D /*d*/, V lo, V v) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3
  return hn::Max(lo, v);
#else
  return hn::IfThenElse(hn::Lt(v, lo), lo, v);
#endif
}

// Min(hi, v), returning v when v is NaN (minps: the second operand, like MaxKeepNan).
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V MinKeepNan(D /*d*/, V hi, V v) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3
  return hn::Min(hi, v);
#else
  return hn::IfThenElse(hn::Gt(v, hi), hi, v);
#endif
}

// exp(t) * 2^kScaleLog2 for t <= 0 (NaN in, NaN out; -inf gives 0), one 2^n factor instead of VecExp's two. The
// 2^kScaleLog2 headroom keeps that factor a normal float while exp(t) itself goes down to 2^-(126 + kScaleLog2):
// a caller that multiplies by 2^-kScaleLog2 last gets subnormal results rounded by that multiplication. t is
// clamped where the biased exponent n + 127 + kScaleLog2 reaches 0, which encodes 2^n as +0: below it the result
// is exactly 0 (exp(t) * 2^kScaleLog2 < 2^-126.5 there).
// kFast picks ExpReducedFast (about 3e-7 relative instead of about 1 ulp).
template <int kScaleLog2, bool kFast = false, class D, class V = hn::VFromD<D>>
HWY_INLINE V ExpNonPositiveScaled(D d, V t) {
  static_assert(kScaleLog2 >= 0 && kScaleLog2 <= 64, "2^n must stay a finite float for n <= 0");
  const hn::RebindToSigned<D> di;
  const V tc = MaxKeepNan(d, hn::Set(d, -(127.0f + kScaleLog2) * 0.693147181f), t);
  const V magic = hn::Set(d, kRoundMagic + 127.0f + kScaleLog2);
  V nm;
  const V p = kFast ? ExpReducedFast(d, tc, magic, &nm) : ExpReduced(d, tc, magic, &nm);
  // The low bits of nm are n + 127 + kScaleLog2 in [0, 127 + kScaleLog2]: shifted into the exponent field they
  // are 2^(n + kScaleLog2). A NaN's bits shift to 0, and p carries the NaN.
  return hn::Mul(p, hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, nm))));
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

// no where v's sign bit is clear, yes where it is set (so -0 counts as negative). One blendv on x86 from SSE4 on;
// Highway 1.0's IfNegativeThenElse is wrong for floats on SSSE3, so other targets compare with 0.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V IfSignThenElse(D d, V v, V yes, V no) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSE4
  (void)d;
  return hn::IfNegativeThenElse(v, yes, no);
#else
  return hn::IfThenElse(hn::Lt(v, hn::Zero(d)), yes, no);
#endif
}

// Sigmoid and SiLU work from e = exp(-|x|) in (0, 1]: sigmoid(|x|) = 1 / (1 + e), sigmoid(-|x|) = e / (1 + e), so
// the exponential never overflows and the negative tail stays relatively accurate down to the subnormals: e is
// kept scaled by 2^kSigmoidScaleLog2 (a normal float) and the one division rounds the result once. Their contract
// is 1e-6 relative error (tested over the whole float range; measured ~4e-7), which ExpReducedFast meets with two
// FMAs fewer than the few-ulp exp. The divisions stay true divisions: the divider is a unit of its own, while a
// reciprocal estimate plus a Newton step puts three more operations on the two FMA pipes that the exponential
// already keeps busy (measured: no faster on Zen 3).
// 32 keeps SiLU's subnormal tail: x e^x underflows only below x = -108.7, where e^x = 2^-157.
constexpr int kSigmoidScaleLog2 = 32;
constexpr float kSigmoidScale = static_cast<float>(1ull << kSigmoidScaleLog2);

// 2^K e^-|x| for sigmoid and SiLU.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V SigmoidExpScaled(D d, V x) {
  return ExpNonPositiveScaled<kSigmoidScaleLog2, true>(d, hn::Or(x, hn::SignBit(d)));
}

// 1 / (1 + exp(-x)) = num / (2^K (1 + e)), num = 2^K e (x < 0) or 2^K. -0 takes either branch: e = 1, same value.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecSigmoid(D d, V x) {
  const V e_scaled = SigmoidExpScaled(d, x);
  const V scale = hn::Set(d, kSigmoidScale);
  return hn::Div(IfSignThenElse(d, x, e_scaled, scale), hn::Add(e_scaled, scale));
}

// x * sigmoid(x) as one quotient x num / (2^K (1 + e)), num as in VecSigmoid, so SiLU stays accurate where it is
// a normal float but sigmoid(x) is not (x in [-92, -87]). x 2^K overflows for x > 2^96, where SiLU(x) = x:
// the quotient never exceeds x for x >= 0 (and is <= 0 for x < 0), so min(|x|, quotient) repairs that lane only.
// NaN stays NaN (MinKeepNan), SiLU(+inf) = inf, and SiLU(-inf) = -inf * 0 / 2^K = NaN, as in the unfused graph
// x * Sigmoid(x). SiLU(-0) = -0 (min(+0, -0) keeps its second operand on x86; elsewhere -0 is not > +0).
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecSilu(D d, V x) {
  const V e_scaled = SigmoidExpScaled(d, x);
  const V scale = hn::Set(d, kSigmoidScale);
  const V q = hn::Div(hn::Mul(x, IfSignThenElse(d, x, e_scaled, scale)), hn::Add(e_scaled, scale));
  return MinKeepNan(d, hn::Abs(x), q);
}

// tanh(x). For |x| >= 0.625, 1 - 2e / (1 + e) with e = exp(-2|x|) <= 0.29: the rounding errors of the quotient
// shrink with it as tanh -> 1, and the adds run beside the FMAs. Below, an odd polynomial x + x^3 q(x^2) (relative
// error of the fit 4.5e-9 on [0, 0.625]), where 1 - e would cancel. Both are computed and blended per lane.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecTanh(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V a = hn::Abs(x);
  const V e = ExpNonPositiveScaled<0>(d, hn::Mul(a, hn::Set(d, -2.0f)));
  const V big = hn::Sub(one, hn::Div(hn::Add(e, e), hn::Add(one, e)));
  const V u = hn::Mul(a, a);
  V q = hn::Set(d, -5.70524717e-3f);
  q = hn::MulAdd(q, u, hn::Set(d, 2.06393152e-2f));
  q = hn::MulAdd(q, u, hn::Set(d, -5.37397824e-2f));
  q = hn::MulAdd(q, u, hn::Set(d, 1.33314431e-1f));
  q = hn::MulAdd(q, u, hn::Set(d, -3.33332807e-1f));
  const V small = hn::MulAdd(hn::Mul(a, u), q, a);
  // On |x| and signed last: tanh(-0) = -0, which x + x^3 q would round to +0.
  return hn::CopySignToAbs(hn::IfThenElse(hn::Lt(a, hn::Set(d, 0.625f)), small, big), x);
}

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
