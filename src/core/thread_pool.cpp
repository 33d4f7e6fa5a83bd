#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
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

// Workers spin this many rounds for the next job before sleeping: kernels of one model run back to back, and a
// futex wake-up per op costs more than a typical small op takes.
constexpr int kSpinRounds = 4000;

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
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    ++generation_;
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
  grain = std::max<int64_t>(grain, 1);
  int64_t by_grain = (n + grain - 1) / grain;
  return static_cast<int>(std::min<int64_t>(by_grain, num_threads_));
}

namespace {

void run_chunk(const std::function<void(int64_t, int64_t)>& fn, int64_t n, int chunks, int c) {
  int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
  if (begin < end) fn(begin, end);
}

}  // namespace

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  int chunks = num_chunks(n, grain);
  if (chunks == 0) return;
  if (chunks == 1 || t_inside_parallel_for) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    job_chunks_ = chunks;
    next_chunk_.store(0, std::memory_order_relaxed);
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  t_inside_parallel_for = true;
  std::exception_ptr mine;
  for (int c; (c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
    try {
      run_chunk(fn, n, chunks, c);
    } catch (...) {
      if (!mine) mine = std::current_exception();
    }
  }
  t_inside_parallel_for = false;
  for (int r = 0; r < kSpinRounds && pending_.load(std::memory_order_acquire) != 0; ++r) EF_CPU_RELAX();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  job_ = nullptr;
  std::exception_ptr err = mine ? mine : error_;
  lock.unlock();
  if (err) std::rethrow_exception(err);
}

void ThreadPool::worker_loop(int /*index*/) {
  t_inside_parallel_for = true;
  uint64_t seen = 0;
  for (;;) {
    // Spin briefly on the generation counter, then sleep.
    for (int r = 0; r < kSpinRounds && generation_.load(std::memory_order_acquire) == seen; ++r) EF_CPU_RELAX();
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
    seen = generation_.load(std::memory_order_relaxed);
    if (stop_) return;
    const auto* fn = job_;
    int64_t n = job_n_;
    int chunks = job_chunks_;
    lock.unlock();
    std::exception_ptr err;
    for (int c; (c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      try {
        run_chunk(*fn, n, chunks, c);
      } catch (...) {
        if (!err) err = std::current_exception();
      }
    }
    lock.lock();
    if (err && !error_) error_ = err;
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_one();
  }
}

}  // namespace ef
