// A small fork-join thread pool for intra-op parallelism. The calling thread takes part in every parallel_for,
// so a pool of N threads starts N-1 workers, and a pool of 1 runs everything inline (no thread, no locking).
//
// Determinism: parallel_for splits [0, n) into the same contiguous chunks for the same (n, grain, num_threads),
// and kernels partition over *outputs* (each output element written by exactly one chunk with a fixed reduction
// order), so results do not depend on which thread ran which chunk. Nested parallel_for calls run inline.
// Depends on nothing but the standard library.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ef {

// Physical cores this process may run on (its CPU affinity, hyper-threads of one core counted once); falls back to
// the hardware thread count where the topology is not readable. The default intra-op thread count: a second
// hyper-thread on a core adds little to FMA-bound kernels and costs synchronization.
int physical_core_count();

class ThreadPool {
 public:
  // num_threads <= 0: physical_core_count().
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) over disjoint chunks covering [0, n), each at least `grain` long (except possibly the
  // last), at most one chunk per thread; returns when all have finished. Exceptions thrown by fn are rethrown
  // here (the first one wins). Safe to call from several threads at once: calls are serialized.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // How parallel_for would split [0, n): the number of chunks (1..num_threads).
  int num_chunks(int64_t n, int64_t grain) const;

  // A process-wide pool of single-thread size, for callers that have none.
  static ThreadPool& inline_pool();

 private:
  void worker_loop(int index);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // one parallel_for at a time

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int job_chunks_ = 0;
  std::atomic<int> next_chunk_{0};
  std::atomic<int> pending_{0};
  std::exception_ptr error_;
};

}  // namespace ef
