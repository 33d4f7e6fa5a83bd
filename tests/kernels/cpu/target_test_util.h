// Helpers shared by the CPU kernel tests: run a check on every SIMD target Highway compiled and this CPU supports,
// and read the calling thread's CPU time (for the speed sanity checks, which compare kernels within one thread).
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>

#include "hwy/targets.h"

namespace ef::cpu {

// fn(target name) once per target, with Highway's dispatch pinned to it; the best target is restored afterwards.
template <class Fn>
void for_each_compiled_target(const Fn& fn) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    SCOPED_TRACE(hwy::TargetName(target));
    fn(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

inline std::chrono::duration<double, std::nano> thread_now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::duration<double, std::nano>(static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec));
}

inline double thread_cpu_ms() { return thread_now().count() * 1e-6; }

}  // namespace ef::cpu
