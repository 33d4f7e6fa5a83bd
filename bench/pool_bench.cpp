// Fork-join cost of ThreadPool::parallel_for (Google Benchmark): one call over 64 units of busy-wait work split
// among the pool's threads, after a gap of busy-wait on the caller alone (a serial node between two parallel ones;
// long gaps let the workers fall asleep). Reported time is the call alone; the ideal is work / threads.
// Usage: build-dir/bench/edgeforge_pool_bench [--benchmark_filter=...]; pin to N cores with taskset to see N-core
// behaviour, and compare it on a busy machine (the caller must never wait for a worker that has no core).
// Depends on Google Benchmark and core/thread_pool.h.
#include <benchmark/benchmark.h>

#include <chrono>

#include "core/thread_pool.h"

namespace ef::bench_pool {
namespace {

using Clock = std::chrono::steady_clock;

void busy_us(double us) {
  const auto start = Clock::now();
  while (std::chrono::duration<double, std::micro>(Clock::now() - start).count() < us) {
  }
}

// Args: threads, gap (us), work (us, the whole call's serial work).
void BM_ParallelFor(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  const double gap = static_cast<double>(state.range(1)), work = static_cast<double>(state.range(2));
  for (auto _ : state) {
    busy_us(gap);
    const auto start = Clock::now();
    pool.parallel_for(64, 1, [&](int64_t b, int64_t e) { busy_us(work * static_cast<double>(e - b) / 64.0); });
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
}
BENCHMARK(BM_ParallelFor)
    ->ArgNames({"threads", "gap_us", "work_us"})
    ->ArgsProduct({{2}, {0, 20, 200}, {0, 10, 50}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ef::bench_pool

BENCHMARK_MAIN();
