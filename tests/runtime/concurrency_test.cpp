// Session::run from many threads at once on one session must give exactly the single-threaded results.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "edgeforge/session.h"
#include "onnx/model_io.h"

namespace ef {
namespace {

TEST(Concurrency, ManyThreadsShareOneSession) {
  const std::string model = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx";
  auto session = Session::load(model, {.num_threads = 1});
  const IoInfo& in = session->inputs()[0];
  std::vector<Tensor> inputs;
  std::vector<Tensor> expected;
  for (int k = 0; k < 4; ++k) {
    Tensor x = Tensor::zeros(in.dtype, Shape(in.dims.begin(), in.dims.end()));
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>((i * 7 + k * 13) % 17) / 17.0f;
    expected.push_back(session->run({{in.name, x}})[0].clone());
    inputs.push_back(x);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 1000; ++r) {
        size_t k = static_cast<size_t>((t + r) % 4);
        Tensor y = session->run({{in.name, inputs[k]}})[0];
        if (y.nbytes() != expected[k].nbytes() || std::memcmp(y.raw(), expected[k].raw(), y.nbytes()) != 0) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace ef
