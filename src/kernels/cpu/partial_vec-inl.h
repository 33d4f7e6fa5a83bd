// Loads and stores of the first n lanes of a float vector (0 < n <= lanes) that touch no memory past them: row
// ends of kernels whose rows are not a whole number of vectors. x86 (AVX2 and up) has fault-safe masked loads and
// stores; elsewhere they go through a stack buffer, since a store that wrote the other lanes back would race with
// the thread that owns the neighbouring elements. Lanes past n of a loaded vector are zero. Depends on Highway.
//
// Per-target include guard (the Highway -inl.h convention): this file is re-included once per target.
#if defined(EF_KERNELS_CPU_PARTIAL_VEC_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EF_KERNELS_CPU_PARTIAL_VEC_INL_H_
#undef EF_KERNELS_CPU_PARTIAL_VEC_INL_H_
#else
#define EF_KERNELS_CPU_PARTIAL_VEC_INL_H_
#endif

#include <cstdint>
#include <cstring>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D>
HWY_INLINE hn::Vec<D> LoadPartial(D d, const float* HWY_RESTRICT p, int64_t n) {
  if (n == static_cast<int64_t>(hn::Lanes(d))) return hn::LoadU(d, p);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  return hn::MaskedLoad(hn::FirstN(d, static_cast<size_t>(n)), d, p);
#else
  HWY_ALIGN float buf[hn::MaxLanes(d)] = {};
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
  return hn::Load(d, buf);
#endif
}

template <class D>
HWY_INLINE void StorePartial(hn::Vec<D> v, D d, float* HWY_RESTRICT p, int64_t n) {
  if (n == static_cast<int64_t>(hn::Lanes(d))) return hn::StoreU(v, d, p);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  hn::BlendedStore(v, hn::FirstN(d, static_cast<size_t>(n)), d, p);
#else
  HWY_ALIGN float buf[hn::MaxLanes(d)];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
#endif
}

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // EF_KERNELS_CPU_PARTIAL_VEC_INL_H_
