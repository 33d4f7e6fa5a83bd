// Concurrency under ThreadSanitizer beyond tests/runtime/concurrency_test.cpp: several callers share one session
// whose kernels also fan out over the session's ThreadPool (num_threads = 2), so the pool's hand-off between a
// caller and its workers races with other callers. Outputs are compared with a single-caller run.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "edgeforge/session.h"

namespace ef {
namespace {

TEST(TsanSession, CallersShareOneSessionWithAThreadPool) {
  const std::string model = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx";
  auto session = Session::load(model, {.num_threads = 2});
  const IoInfo& in = session->inputs()[0];
  Tensor x = Tensor::zeros(in.dtype, Shape(in.dims.begin(), in.dims.end()));
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 11) / 11.0f;
  const Tensor expected = session->run({{in.name, x}})[0].clone();
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < 50; ++r) {
        Tensor y = session->run({{in.name, x}})[0];
        if (y.nbytes() != expected.nbytes() || std::memcmp(y.raw(), expected.raw(), y.nbytes()) != 0) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace ef
