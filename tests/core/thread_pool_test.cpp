#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <mutex>
#include <thread>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

namespace ef {
namespace thread_pool_test {

TEST(ThreadPool, CoversRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << threads << " " << n;
    }
  }
}

TEST(ThreadPool, ChunksRespectGrainAndThreadCount) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.num_chunks(0, 1), 0);
  EXPECT_EQ(pool.num_chunks(10, 100), 1);
  EXPECT_EQ(pool.num_chunks(250, 100), 2);
  EXPECT_EQ(pool.num_chunks(10000, 1), 4 * ThreadPool::kChunksPerThread);
  EXPECT_EQ(ThreadPool(1).num_chunks(10000, 1), 1);
  std::atomic<int> calls{0};
  pool.parallel_for(350, 100, [&](int64_t b, int64_t e) {
    EXPECT_GE(e - b, 100);
    calls++;
  });
  EXPECT_EQ(calls.load(), 3);
}

TEST(ThreadPool, SameChunksEveryCall) {
  ThreadPool pool(3);
  auto chunks = [&] {
    std::vector<std::pair<int64_t, int64_t>> out(static_cast<size_t>(pool.num_chunks(100, 1)), {-1, -1});
    std::atomic<int> k{0};
    std::mutex m;
    pool.parallel_for(100, 1, [&](int64_t b, int64_t e) {
      std::lock_guard<std::mutex> lock(m);
      out[static_cast<size_t>(k++)] = {b, e};
    });
    std::sort(out.begin(), out.end());
    return out;
  };
  auto first = chunks();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(chunks(), first);
}

// Many short jobs back to back: a worker still finishing one job must never run a chunk of the next with the
// old job's function or range.
TEST(ThreadPool, BackToBackJobsStayExact) {
  ThreadPool pool(3);
  for (int i = 0; i < 20000; ++i) {
    const int64_t n = 1 + i % 37;
    std::atomic<int64_t> sum{0};
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) sum += k + 1;
    });
    ASSERT_EQ(sum.load(), n * (n + 1) / 2) << i;
  }
}

// Workers fall asleep between jobs that are far apart; the next job must still be done by someone.
TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    std::atomic<int64_t> sum{0};
    std::mutex m;
    std::set<std::thread::id> ids;
    pool.parallel_for(64, 1, [&](int64_t b, int64_t e) {
      sum += e - b;
      std::lock_guard<std::mutex> lock(m);
      ids.insert(std::this_thread::get_id());
    });
    EXPECT_EQ(sum.load(), 64);
    EXPECT_GE(ids.size(), 1u);
  }
}

// A slow chunk on one thread does not hold up the others: the remaining chunks go to whoever is free.
TEST(ThreadPool, FreeThreadsTakeRemainingChunks) {
  ThreadPool pool(2);
  std::atomic<int> done{0};
  std::atomic<bool> first{true};
  pool.parallel_for(8, 1, [&](int64_t b, int64_t e) {
    if (first.exchange(false)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    done += static_cast<int>(e - b);
  });
  EXPECT_EQ(done.load(), 8);
}

TEST(ThreadPool, RethrowsTheKernelsException) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(100, 1, [](int64_t b, int64_t) {
    if (b > 0) throw std::runtime_error("chunk failed");
  }), std::runtime_error);
  // The pool stays usable after an exception.
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, 1, [&](int64_t b, int64_t e) { sum += e - b; });
  EXPECT_EQ(sum.load(), 100);
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(10, 1, [&](int64_t b, int64_t e) {
    pool.parallel_for(e - b, 1, [&](int64_t ib, int64_t ie) { sum += ie - ib; });
  });
  EXPECT_EQ(sum.load(), 10);
}

TEST(ThreadPool, ConcurrentCallersAreSerialized) {
  ThreadPool pool(2);
  std::vector<std::thread> callers;
  std::atomic<int64_t> sum{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) pool.parallel_for(64, 1, [&](int64_t b, int64_t e) { sum += e - b; });
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(sum.load(), 4 * 200 * 64);
}

}  // namespace
}  // namespace ef
