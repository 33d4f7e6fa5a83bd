// Activation functions: the scalar definition (activation_reference) and the vectorized in-place kernel
// (apply_activation), compiled once per SIMD target by Highway's foreach_target.h and picked at run time.
// apply_activation is the epilogue of the GEMM / conv / element-wise kernels, called on chunks of a few hundred
// floats, so a call costs one indirect jump plus one switch; the tail uses a partial load/store instead of a
// scalar loop (activations run in place, so an overlapping last vector would apply the function twice).
// Depends on the standard library and Highway (vec_math-inl.h).
#include "kernels/cpu/activation.h"

#include <algorithm>
#include <cmath>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/activation.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/cpu/activation-inl.h"
#include "kernels/cpu/vec_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class Fn>
HWY_INLINE void transform_in_place(D d, float* HWY_RESTRICT data, size_t n, const Fn& fn) {
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  // Two independent vectors per iteration hide the latency of the longer formulas (exp, division).
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    const auto v0 = fn(hn::LoadU(d, data + i));
    const auto v1 = fn(hn::LoadU(d, data + i + lanes));
    hn::StoreU(v0, d, data + i);
    hn::StoreU(v1, d, data + i + lanes);
  }
  for (; i + lanes <= n; i += lanes) hn::StoreU(fn(hn::LoadU(d, data + i)), d, data + i);
  if (i < n) StoreTail(fn(LoadTail(d, data + i, n - i)), d, data + i, n - i);
}

void ApplyActivation(const Activation& act, float* HWY_RESTRICT data, size_t n) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  if (act.kind == ActKind::kNone) return;
  DispatchActKind(act.kind, [&](auto k) HWY_ATTR {
    transform_in_place(d, data, n, [&](V x) HWY_ATTR {
      return VecActivateK<decltype(k)::value>(d, x, act.alpha, act.beta);
    });
  });
}

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(ApplyActivation);

namespace {
// Written with comparisons so that NaN propagates (std::min/std::max would turn a NaN into a bound).
float clamp_keep_nan(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }
}  // namespace

float activation_reference(const Activation& act, float x) {
  switch (act.kind) {
    case ActKind::kNone: return x;
    case ActKind::kRelu: return x < 0.0f ? 0.0f : x;
    case ActKind::kClip: return clamp_keep_nan(x, act.alpha, act.beta);
    case ActKind::kLeakyRelu: return x < 0.0f ? act.alpha * x : x;
    case ActKind::kSigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x))));
    case ActKind::kHardSigmoid: return clamp_keep_nan(act.alpha * x + act.beta, 0.0f, 1.0f);
    case ActKind::kHardSwish: return x * clamp_keep_nan(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case ActKind::kSilu: return static_cast<float>(x / (1.0 + std::exp(-static_cast<double>(x))));
    case ActKind::kTanh: return std::tanh(x);
    case ActKind::kGelu: return static_cast<float>(0.5 * x * std::erfc(-static_cast<double>(x) / std::sqrt(2.0)));
  }
  return x;
}

void apply_activation(const Activation& act, float* data, size_t n) {
  if (act.kind == ActKind::kNone || n == 0) return;
  HWY_DYNAMIC_DISPATCH(ApplyActivation)(act, data, n);
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
