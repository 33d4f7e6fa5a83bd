// Quantized GEMM micro-benchmarks (registered into edgeforge_bench next to the FP32 sgemm and the FMA peak probe,
// on the same convolution shapes): ef::cpu::qgemm as QLinearConv runs it on a pointwise convolution, activations
// packed from the input rows at run time, requantization in the epilogue, on every kernel this CPU runs.
// "GOP/s" counts a multiply-add as two operations, like the sgemm benchmarks' GFLOP/s.
// Weights: a trained-looking distribution (mostly small, a few near +-128: vpmaddubsw cannot take them, so AVX2
// runs its int16 kernel) and trained 7-bit weights (quantize's default: |w| half-normal around 15, at most 64; AVX2
// runs vpmaddubsw, avx2_acc16 with a few residuals).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/qconv_pack.h"
#include "kernels/cpu/qgemm.h"

namespace ef::bench {
namespace {

void BM_EfQgemm(benchmark::State& state, ThreadPool* pool, cpu::QKernel kernel, bool narrow) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  std::mt19937 rng(7);
  std::vector<int8_t> w(static_cast<size_t>(M * K));
  std::normal_distribution<float> normal(0.0f, 19.0f);
  for (int8_t& v : w) {
    const int mag = narrow ? static_cast<int>(std::min(64.0f, std::round(std::fabs(normal(rng)))))
                           : (rng() % 16 == 0 ? 90 + static_cast<int>(rng() % 39) : static_cast<int>(rng() % 41));
    v = static_cast<int8_t>(rng() % 2 ? -mag : mag);
  }
  std::vector<uint8_t> x(static_cast<size_t>(K * N));
  for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
  std::vector<uint8_t> y(static_cast<size_t>(M * N));
  std::vector<int32_t> offset(static_cast<size_t>(M), -1000);
  std::vector<float> scale(static_cast<size_t>(M), 1e-4f);
  const cpu::QPackedWeights packed = cpu::qpack_weights(M, K, w.data(), K, kernel);
  cpu::Conv2dParams p;  // the GEMM as a pointwise convolution over a 1 x N image: the input rows are X's rows
  p.C = K;
  p.M = M;
  p.W = p.OW = N;
  const cpu::QConvPanels panels(p, x.data(), 0, 0);
  cpu::QRequant rq;
  rq.offset = offset.data();
  rq.scale = scale.data();
  for (auto _ : state) {
    cpu::qgemm(packed, N, panels, rq, y.data(), N, 1, *pool);
    benchmark::ClobberMemory();
  }
  state.counters["GOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(M * N * K),
                                               benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(packed.kernel_name());
}

}  // namespace

// Called by gemm_bench.cpp's register_all for each convolution shape {M, N, K}.
void register_qgemm(const std::vector<int64_t>& shape, ThreadPool* pool, bool real_time) {
  for (cpu::QKernel kernel : cpu::qgemm_kernels_available()) {
    if (kernel == cpu::QKernel::kScalar || kernel == cpu::QKernel::kAvx2Int16) continue;  // kAvx2: both below
    const bool avx2 = kernel == cpu::QKernel::kAvx2 || kernel == cpu::QKernel::kAvx2Acc16;
    for (bool narrow : {false, true}) {
      if (narrow != avx2 && kernel != cpu::QKernel::kAvx2) continue;  // the others take any weights the same way
      const std::string name = std::string("EfQgemm/") + cpu::qkernel_name(kernel) + (narrow ? "_7bit" : "");
      auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_EfQgemm, pool, kernel, narrow)
                    ->Args(shape)
                    ->ArgNames({"M", "N", "K"});
      if (real_time) b->UseRealTime();
    }
  }
}

}  // namespace ef::bench
