// One vector of an activation (ActKind) in registers: the formulas of apply_activation, shared by it and by the
// kernels that apply the activation before their results leave registers (the SGEMM tile epilogue), so both give
// the same bits. NaN propagates through every kind, as in activation_reference. Depends on Highway,
// kernels/cpu/activation.h and vec_math-inl.h.
//
// Per-target include guard (the Highway -inl.h convention): this file is re-included once per target.
#if defined(EF_KERNELS_CPU_ACTIVATION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EF_KERNELS_CPU_ACTIVATION_INL_H_
#undef EF_KERNELS_CPU_ACTIVATION_INL_H_
#else
#define EF_KERNELS_CPU_ACTIVATION_INL_H_
#endif

#include <type_traits>

#include "hwy/highway.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/vec_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// NaN must propagate, and Highway leaves Min/Max of NaN to the target: MaxKeepNan / MinKeepNan are one maxps /
// minps on x86 (NaN kept by operand order) and a compare and blend elsewhere. The same value as
// `v < lo ? lo : v`, then `v > hi ? hi : v`, signed zeros included.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V ClampKeepNan(D d, V v, V lo, V hi) {
  return MinKeepNan(d, hi, MaxKeepNan(d, lo, v));
}

// act(x) for one vector, the kind fixed at compile time: loops instantiate this, so no switch runs per vector.
template <ActKind kKind, class D, class V = hn::VFromD<D>>
HWY_INLINE V VecActivateK(D d, V x, float alpha, float beta) {
  const V zero = hn::Zero(d);
  const V one = hn::Set(d, 1.0f);
  if constexpr (kKind == ActKind::kRelu) return MaxKeepNan(d, zero, x);  // relu(-0) = -0, as x < 0 ? 0 : x
  if constexpr (kKind == ActKind::kClip) return ClampKeepNan(d, x, hn::Set(d, alpha), hn::Set(d, beta));
  if constexpr (kKind == ActKind::kLeakyRelu) return hn::IfThenElse(hn::Lt(x, zero), hn::Mul(x, hn::Set(d, alpha)), x);
  if constexpr (kKind == ActKind::kSigmoid) return VecSigmoid(d, x);
  if constexpr (kKind == ActKind::kHardSigmoid) {
    return ClampKeepNan(d, hn::MulAdd(x, hn::Set(d, alpha), hn::Set(d, beta)), zero, one);
  }
  if constexpr (kKind == ActKind::kHardSwish) {
    // x carries a NaN through the product, so the clamp may drop it (plain Min/Max).
    return hn::Mul(x, hn::Min(hn::Max(hn::MulAdd(x, hn::Set(d, 1.0f / 6.0f), hn::Set(d, 0.5f)), zero), one));
  }
  if constexpr (kKind == ActKind::kSilu) return VecSilu(d, x);
  if constexpr (kKind == ActKind::kTanh) return VecTanh(d, x);
  if constexpr (kKind == ActKind::kGelu) return VecGelu(d, x);
  return x;
}

// Calls fn(std::integral_constant<ActKind, kind>) for the run-time kind: one switch per call site, outside loops.
template <class Fn>
HWY_INLINE void DispatchActKind(ActKind kind, const Fn& fn) {
  switch (kind) {
    case ActKind::kNone: return fn(std::integral_constant<ActKind, ActKind::kNone>());
    case ActKind::kRelu: return fn(std::integral_constant<ActKind, ActKind::kRelu>());
    case ActKind::kClip: return fn(std::integral_constant<ActKind, ActKind::kClip>());
    case ActKind::kLeakyRelu: return fn(std::integral_constant<ActKind, ActKind::kLeakyRelu>());
    case ActKind::kSigmoid: return fn(std::integral_constant<ActKind, ActKind::kSigmoid>());
    case ActKind::kHardSigmoid: return fn(std::integral_constant<ActKind, ActKind::kHardSigmoid>());
    case ActKind::kHardSwish: return fn(std::integral_constant<ActKind, ActKind::kHardSwish>());
    case ActKind::kSilu: return fn(std::integral_constant<ActKind, ActKind::kSilu>());
    case ActKind::kTanh: return fn(std::integral_constant<ActKind, ActKind::kTanh>());
    case ActKind::kGelu: return fn(std::integral_constant<ActKind, ActKind::kGelu>());
  }
}

// act(x) for one vector with the kind switched at run time (edge paths that handle a vector or two).
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V VecActivate(D d, V x, const Activation& act) {
  V y = x;
  DispatchActKind(act.kind, [&](auto k) HWY_ATTR { y = VecActivateK<decltype(k)::value>(d, x, act.alpha, act.beta); });
  return y;
}

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // EF_KERNELS_CPU_ACTIVATION_INL_H_
