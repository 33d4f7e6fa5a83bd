#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define EF_CPU_RELAX() asm volatile("yield")
#else
#define EF_CPU_RELAX() ((void)0)
#endif

namespace ef {
namespace {

// Workers spin this long for the next job before sleeping: the nodes of a model run back to back, and a futex
// wake-up (an inter-processor interrupt, a VM exit under a hypervisor) costs more than most nodes take.
constexpr std::chrono::microseconds kSpinTime{250};
// The caller spins this many rounds for chunks other threads are running, then yields its core: a thread that
// holds a chunk but was preempted needs a core to finish it.
constexpr int kWaitSpinRounds = 20000;

constexpr int kMaxChunks = 0xFFFF;
uint64_t generation_of(uint64_t s) { return s >> 32; }
int back_of(uint64_t s) { return static_cast<int>((s >> 16) & 0xFFFF); }
int front_of(uint64_t s) { return static_cast<int>(s & 0xFFFF); }

thread_local bool t_inside_parallel_for = false;

}  // namespace

int physical_core_count() {
  static const int count = [] {
    const int fallback = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return fallback;
    std::set<std::pair<int, int>> cores;  // (package, core)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &set)) continue;
      const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      std::ifstream package(dir + "physical_package_id"), core(dir + "core_id");
      int p = -1, c = -1;
      if (!(package >> p) || !(core >> c)) return std::min(fallback, CPU_COUNT(&set));
      cores.emplace(p, c);
    }
    return cores.empty() ? fallback : static_cast<int>(cores.size());
  }();
  return count;
}

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = physical_core_count();
  num_threads_ = num_threads;
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  state_.store((generation_of(state_.load()) + 1) << 32, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

ThreadPool& ThreadPool::inline_pool() {
  static ThreadPool pool(1);
  return pool;
}

int ThreadPool::num_chunks(int64_t n, int64_t grain) const {
  if (n <= 0) return 0;
  if (num_threads_ == 1) return 1;
  const int64_t by_grain = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  const int64_t limit = std::min<int64_t>(static_cast<int64_t>(num_threads_) * kChunksPerThread, kMaxChunks);
  return static_cast<int>(std::min(by_grain, limit));
}

bool ThreadPool::run_chunks(uint64_t s, bool from_front) {
  // Read before the claim: a claim that succeeds proves the job was not replaced in between, because the caller
  // publishes a new job only after every chunk of this one was claimed and finished.
  const auto* fn = job_.load(std::memory_order_relaxed);
  const int64_t n = job_n_.load(std::memory_order_relaxed);
  const int chunks = job_chunks_.load(std::memory_order_relaxed);
  const uint64_t generation = generation_of(s);
  for (;;) {
    const int front = front_of(s), back = back_of(s);
    if (front >= back) return true;
    const uint64_t claimed = from_front ? s + 1 : s - (uint64_t{1} << 16);
    if (!state_.compare_exchange_weak(s, claimed, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if (generation_of(s) != generation) return false;
      continue;
    }
    s = claimed;
    const int c = from_front ? front : back - 1;
    // Chunk sizes differ by at most one; computed without n * c, which could overflow.
    const int64_t q = n / chunks, r = n % chunks;
    const int64_t begin = c * q + std::min<int64_t>(c, r), end = begin + q + (c < r ? 1 : 0);
    try {
      if (begin < end) (*fn)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    finished_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  const int chunks = num_chunks(n, grain);
  if (chunks == 0) return;
  if (chunks == 1 || t_inside_parallel_for) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  job_.store(&fn, std::memory_order_relaxed);
  job_n_.store(n, std::memory_order_relaxed);
  job_chunks_.store(chunks, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  const uint64_t s = ((generation_of(state_.load(std::memory_order_relaxed)) + 1) << 32) |
                     (static_cast<uint64_t>(chunks) << 16);
  state_.store(s, std::memory_order_seq_cst);
  // Pairs with the sleeper's increment-then-check: either it sees the new job or we see it asleep.
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    wake_.notify_all();
  }
  t_inside_parallel_for = true;
  run_chunks(s, true);
  t_inside_parallel_for = false;
  for (int r = 0; finished_.load(std::memory_order_acquire) < chunks; ++r) {
    if (r < kWaitSpinRounds) {
      EF_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  std::exception_ptr err;
  {
    std::lock_guard<std::mutex> lock(error_mutex_);
    std::swap(err, error_);
  }
  if (err) std::rethrow_exception(err);
}

void ThreadPool::worker_loop() {
  t_inside_parallel_for = true;
  uint64_t seen = 0;  // the generation before the first job (a worker may start after jobs were published)
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if (generation_of(s) == seen) {
      const auto spin_until = std::chrono::steady_clock::now() + kSpinTime;
      for (int r = 1; generation_of(s) == seen; ++r) {
        EF_CPU_RELAX();
        s = state_.load(std::memory_order_acquire);
        if (r % 256 == 0 && std::chrono::steady_clock::now() > spin_until) break;
      }
      if (generation_of(s) == seen) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] {
          s = state_.load(std::memory_order_seq_cst);
          return generation_of(s) != seen || stop_.load(std::memory_order_acquire);
        });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_of(s);
    run_chunks(s, false);
  }
}

}  // namespace ef
