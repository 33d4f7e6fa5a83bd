// Taps from aligned vectors on 512-bit x86: a 64-byte load at an unaligned address always spans two cache lines
// and issues at half rate, which bounds kernels that load several shifted copies of one row (depthwise 3x3 taps,
// pooling windows). They can load the row's aligned vectors once and form the shifted ones with valignd
// (ShiftConcat). kAlignedTargets says whether the current target has it. Depends on Highway.
//
// Per-target include guard (the Highway -inl.h convention): this file is re-included once per target.
#if defined(EF_KERNELS_CPU_LANE_SHIFT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EF_KERNELS_CPU_LANE_SHIFT_INL_H_
#undef EF_KERNELS_CPU_LANE_SHIFT_INL_H_
#else
#define EF_KERNELS_CPU_LANE_SHIFT_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr bool kAlignedTargets = true;

// Lanes [s, s + 16) of the 32-lane concatenation lo:hi, for a shift s in [0, 4] known after inlining.
HWY_INLINE hn::Vec512<float> ShiftConcat(hn::Vec512<float> lo, hn::Vec512<float> hi, int s) {
  const __m512i l = _mm512_castps_si512(lo.raw), h = _mm512_castps_si512(hi.raw);
  switch (s) {
    case 0: return lo;
    case 1: return hn::Vec512<float>{_mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 1))};
    case 2: return hn::Vec512<float>{_mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 2))};
    case 3: return hn::Vec512<float>{_mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 3))};
    default: return hn::Vec512<float>{_mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 4))};
  }
}
#else
constexpr bool kAlignedTargets = false;
#endif

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // EF_KERNELS_CPU_LANE_SHIFT_INL_H_
