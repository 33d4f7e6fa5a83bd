// A small fork-join thread pool for intra-op parallelism. The calling thread takes part in every parallel_for,
// so a pool of N threads starts N-1 workers, and a pool of 1 runs everything inline (no thread, no locking).
//
// Scheduling: a parallel_for publishes its job with one atomic store and threads claim chunks with a
// compare-and-swap on one word (generation, first and end of the unclaimed chunks), so starting a job takes no
// lock and no system call while the workers spin, and the caller never waits for a worker to wake up: a worker
// that is late (asleep, or preempted on a busy machine) finds the chunks already taken. The caller only waits for
// chunks that another thread has started. Workers spin for a while between jobs (the nodes of a model run back to
// back) and then sleep; the caller wakes sleepers only when there are any.
// The caller claims chunks from the front and workers from the back, so with two threads each runs the same end
// of every job's range: consecutive layers split alike then leave more of a thread's input in its own cache
// (moving lines between cores cost 2.2-3 ns each against 0.4-0.9 ns from the core's own cache on a 2-vCPU EPYC).
//
// Determinism: parallel_for splits [0, n) into the same contiguous chunks for the same (n, grain, num_threads),
// and kernels partition over *outputs* (each output element written by exactly one chunk with a fixed reduction
// order), so results do not depend on which thread ran which chunk. Nested parallel_for calls run inline.
// Depends on nothing but the standard library.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
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
  // Chunks per thread a parallel_for makes when the range holds enough grains: a thread that starts late or is
  // preempted then costs a fraction of its share, not all of it.
  static constexpr int kChunksPerThread = 4;

  // num_threads <= 0: physical_core_count().
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) over disjoint contiguous chunks covering [0, n), each at least `grain` long (except when
  // n < grain), at most kChunksPerThread per thread, claimed by whichever thread is free; returns when all have
  // finished. Exceptions thrown by fn are rethrown here (the first one wins). Safe to call from several threads at
  // once: calls are serialized.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // How parallel_for would split [0, n): the number of chunks (0 for an empty range).
  int num_chunks(int64_t n, int64_t grain) const;

  // A process-wide pool of single-thread size, for callers that have none.
  static ThreadPool& inline_pool();

 private:
  void worker_loop();
  // Claims and runs chunks of the job published in `state` until none is left; false if the job changed first. The
  // caller claims from the front, workers from the back: the calling thread runs the low chunks of every job.
  bool run_chunks(uint64_t state, bool from_front);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // one parallel_for at a time

  // The job. Written by the caller before it publishes the job in state_, read by workers after they see it there.
  std::atomic<const std::function<void(int64_t, int64_t)>*> job_{nullptr};
  std::atomic<int64_t> job_n_{0};
  std::atomic<int> job_chunks_{0};
  // generation (bits 32..63) | end of the unclaimed chunks (bits 16..31) | first unclaimed chunk (bits 0..15).
  std::atomic<uint64_t> state_{0};
  std::atomic<int> finished_{0};  // chunks of the current job done
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};

  std::mutex sleep_mutex_;
  std::condition_variable wake_;

  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace ef
