// GEMM micro-benchmarks: ef::cpu::sgemm (plain and with pre-packed weights) on square and convolution shapes,
// oneDNN's dnnl_sgemm on the same shapes when available, and a peak probe (independent FMAs on the widest vector
// unit Highway dispatches to) so GFLOP/s can be read as a fraction of what the core can do.
// Single-threaded unless --threads=N. Depends on Google Benchmark, Highway, edgeforge's kernels/cpu and
// optionally oneDNN.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "gemm_bench.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ef::bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 12 independent FMA chains: enough to cover FMA latency x throughput (4 cycles x 2 pipes, or 4 x 3 on ARM).
// Returns the flops done; *sink receives a value that depends on every chain so none can be removed.
double PeakFmaLoop(int64_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.9999f), c = hn::Set(d, 1e-4f);
  auto a0 = hn::Set(d, 0.1f), a1 = hn::Set(d, 0.2f), a2 = hn::Set(d, 0.3f), a3 = hn::Set(d, 0.4f);
  auto a4 = hn::Set(d, 0.5f), a5 = hn::Set(d, 0.6f), a6 = hn::Set(d, 0.7f), a7 = hn::Set(d, 0.8f);
  auto a8 = hn::Set(d, 0.9f), a9 = hn::Set(d, 1.0f), a10 = hn::Set(d, 1.1f), a11 = hn::Set(d, 1.2f);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = hn::MulAdd(a0, m, c), a1 = hn::MulAdd(a1, m, c), a2 = hn::MulAdd(a2, m, c), a3 = hn::MulAdd(a3, m, c);
    a4 = hn::MulAdd(a4, m, c), a5 = hn::MulAdd(a5, m, c), a6 = hn::MulAdd(a6, m, c), a7 = hn::MulAdd(a7, m, c);
    a8 = hn::MulAdd(a8, m, c), a9 = hn::MulAdd(a9, m, c), a10 = hn::MulAdd(a10, m, c), a11 = hn::MulAdd(a11, m, c);
  }
  const auto s = hn::Add(hn::Add(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)), hn::Add(hn::Add(a4, a5), hn::Add(a6, a7))),
                         hn::Add(hn::Add(a8, a9), hn::Add(a10, a11)));
  *sink = hn::GetLane(hn::SumOfLanes(d, s));
  return static_cast<double>(iters) * 12 * 2 * static_cast<double>(hn::Lanes(d));
}

int64_t Target() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace ef::bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/qgemv.h"
#include "kernels/cpu/sgemm.h"
#ifdef EF_HAVE_DNNL
#include <dnnl.h>
#include <omp.h>
#endif

namespace ef::bench {
HWY_EXPORT(PeakFmaLoop);
HWY_EXPORT(Target);

namespace {

int g_threads = 1;

ThreadPool& pool() {
  static ThreadPool p(g_threads);
  return p;
}

void set_gflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void BM_PeakFma(benchmark::State& state) {
  float sink = 0;
  const int64_t iters = 1 << 22;
  double flops = 0;
  for (auto _ : state) flops = HWY_DYNAMIC_DISPATCH(PeakFmaLoop)(iters, &sink);
  benchmark::DoNotOptimize(sink);
  set_gflops(state, flops);
  state.SetLabel(hwy::TargetName(HWY_DYNAMIC_DISPATCH(Target)()));
}

// A: M x K, B: K x N, C: M x N, all row-major and dense.
struct Gemm {
  int64_t M, N, K;
  std::vector<float> A, B, C;
  explicit Gemm(const benchmark::State& state)
      : M(state.range(0)), N(state.range(1)), K(state.range(2)),
        A(random_vector(static_cast<size_t>(M * K), 1)),
        B(random_vector(static_cast<size_t>(K * N), 2)),
        C(static_cast<size_t>(M * N)) {}
  double flops() const { return 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K); }
};

void BM_EfSgemm(benchmark::State& state) {
  Gemm g(state);
  for (auto _ : state) {
    cpu::sgemm(false, false, g.M, g.N, g.K, g.A.data(), g.K, g.B.data(), g.N, g.C.data(), g.N, {}, pool());
    benchmark::ClobberMemory();
  }
  set_gflops(state, g.flops());
  state.SetLabel(cpu::sgemm_target_name());
}

// Evicts the caches between iterations, outside the timing, by writing a buffer larger than the L3 (cold rows).
class ColdCache {
 public:
  explicit ColdCache(bool cold) : buffer_(cold ? size_t{96} << 20 : 0) {}
  void evict(benchmark::State& state) {
    state.PauseTiming();
    std::memset(buffer_.data(), ++round_, buffer_.size());
    benchmark::ClobberMemory();
    state.ResumeTiming();
  }

 private:
  std::vector<char> buffer_;
  char round_ = 0;
};

// Convolution as the CPU provider runs it: weights packed once, the input (or im2col buffer) used as is.
void BM_EfSgemmPackedA(benchmark::State& state) {
  Gemm g(state);
  const cpu::PackedMatrix packed = cpu::pack_a(false, g.M, g.K, g.A.data(), g.K);
  const bool cold = state.range(3) != 0;
  ColdCache cold_cache(cold);
  for (auto _ : state) {
    if (cold) cold_cache.evict(state);
    cpu::sgemm_packed_a(packed, g.N, false, g.B.data(), g.N, g.C.data(), g.N, {}, pool());
    benchmark::ClobberMemory();
  }
  set_gflops(state, g.flops());
  state.SetLabel(cpu::sgemm_target_name());
}

// The 1x1 conv epilogue as blazeface's blocks fuse it ({M, N, K, mode}): residual + Relu. mode 0: B stored as a
// matrix (sgemm_packed_a packs it per block); mode 1: B already in the panel layout (pack_b_panels_for outside the
// timing; sgemm_packed_a_panels), i.e. what removing the B packing could buy at most.
void BM_EfPointwiseResidual(benchmark::State& state) {
  Gemm g(state);
  const bool panels = state.range(3) != 0;
  const cpu::PackedMatrix packed = cpu::pack_a(false, g.M, g.K, g.A.data(), g.K);
  const std::vector<float> res = random_vector(static_cast<size_t>(g.M * g.N), 3);
  cpu::GemmEpilogue epi;
  epi.residual = res.data();
  epi.ldr = g.N;
  epi.act.kind = cpu::ActKind::kRelu;
  const cpu::GemmTileShape t = cpu::gemm_tile_shape(packed);
  const int64_t padded = (g.N + t.nr - 1) / t.nr * t.nr;
  float* b_panels = nullptr;
  if (panels) {
    b_panels = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(g.K * padded + 64) * sizeof(float)));
    cpu::pack_b_panels_for(packed, g.K, g.N, g.B.data(), g.N, b_panels);
  }
  for (auto _ : state) {
    if (panels) {
      cpu::sgemm_packed_a_panels(packed, g.N, b_panels, g.C.data(), g.N, epi);
    } else {
      cpu::sgemm_packed_a(packed, g.N, false, g.B.data(), g.N, g.C.data(), g.N, epi, pool());
    }
    benchmark::ClobberMemory();
  }
  std::free(b_panels);
  set_gflops(state, g.flops());
  state.SetLabel(cpu::sgemm_target_name());
}

// Gemm / MatMul as the CPU provider runs it: activations times weights packed once.
void BM_EfSgemmPackedB(benchmark::State& state) {
  Gemm g(state);
  const cpu::PackedMatrix packed = cpu::pack_b(false, g.K, g.N, g.B.data(), g.N);
  for (auto _ : state) {
    cpu::sgemm_packed_b(false, g.M, g.A.data(), g.K, packed, g.C.data(), g.N, {}, pool());
    benchmark::ClobberMemory();
  }
  set_gflops(state, g.flops());
  state.SetLabel(cpu::sgemm_target_name());
}

// A classifier at batch 1 ({N, K, cold}) on sgemm_packed_b with M = 1. In a model run the weights have mostly
// left the caches since the last run (the classifier nodes take ~3.5x their hot time there); cold 1 evicts them
// before each iteration (outside the timing) by writing a buffer larger than the L3.
void BM_EfClassifier(benchmark::State& state) {
  const int64_t N = state.range(0), K = state.range(1);
  const bool cold = state.range(2) != 0;
  const std::vector<float> x = random_vector(static_cast<size_t>(K), 1);
  const std::vector<float> B = random_vector(static_cast<size_t>(K * N), 2);
  std::vector<float> y(static_cast<size_t>(N));
  const cpu::PackedMatrix packed = cpu::pack_b(false, K, N, B.data(), N);
  ColdCache cold_cache(cold);
  for (auto _ : state) {
    if (cold) cold_cache.evict(state);
    cpu::sgemm_packed_b(false, 1, x.data(), K, packed, y.data(), N, {}, pool());
    benchmark::ClobberMemory();
  }
  set_gflops(state, 2.0 * static_cast<double>(N) * static_cast<double>(K));
  state.SetLabel(cpu::sgemm_target_name());
}

// The same heads on int8 weights (kernels/cpu/qgemv.h), as qdq-fusion runs a QDQ model's classifier.
void BM_EfQClassifier(benchmark::State& state) {
  const int64_t N = state.range(0), K = state.range(1);
  const bool cold = state.range(2) != 0;
  std::mt19937 rng(3);
  std::vector<int8_t> w(static_cast<size_t>(N * K));
  std::vector<uint8_t> x(static_cast<size_t>(K)), y(static_cast<size_t>(N));
  for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  for (auto& v : x) v = static_cast<uint8_t>(rng());
  const std::vector<int32_t> offset(static_cast<size_t>(N), 1000);
  const std::vector<float> scale(static_cast<size_t>(N), 1e-4f);
  cpu::QGemvArgs a;
  a.w = w.data(), a.M = N, a.K = K, a.x = x.data(), a.offset = offset.data(), a.scale = scale.data(), a.y = y.data();
  const bool avx2 = cpu::qgemv_use_avx2();
  ColdCache cold_cache(cold);
  for (auto _ : state) {
    if (cold) cold_cache.evict(state);
    cpu::qgemv(a, avx2, pool());
    benchmark::ClobberMemory();
  }
  set_gflops(state, 2.0 * static_cast<double>(N) * static_cast<double>(K));
  state.SetLabel(avx2 ? "avx2" : "scalar");
}

#ifdef EF_HAVE_DNNL
void BM_DnnlSgemm(benchmark::State& state) {
  Gemm g(state);
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', g.M, g.N, g.K, 1.0f, g.A.data(), g.K, g.B.data(), g.N, 0.0f, g.C.data(), g.N);
    benchmark::ClobberMemory();
  }
  set_gflops(state, g.flops());
}
#endif

// {M, N, K}: square sizes, then convolutions as GEMMs (M = out channels, N = output pixels, K = Cin * kh * kw).
const std::vector<std::vector<int64_t>> kSquare = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}};
const std::vector<std::vector<int64_t>> kConv = {
    {32, 12544, 27},    // stem 3x3 stride 2 on 224x224
    {96, 12544, 16},    // 1x1 expand at 112x112
    {64, 3136, 576},    // 3x3 64->64 at 56x56
    {128, 784, 1152},   // 3x3 128->128 at 28x28
    {256, 196, 2304},   // 3x3 256->256 at 14x14
    {1280, 49, 320},    // 1x1 head at 7x7
    {1000, 169, 512},   // squeezenet classifier 1x1 at 13x13
    {1000, 1, 1280},    // classifier as a 1x1 conv
};
// 1x1 convolutions of the mobile nets as the CPU provider runs them ({M, N, K}: out channels, pixels, in channels).
const std::vector<std::vector<int64_t>> kPointwise = {
    {16, 12544, 32},   // mobilenet_v2 features.1 project at 112x112
    {144, 3136, 24},   // mobilenet_v2 expand at 56x56
    {24, 3136, 144},   // mobilenet_v2 project at 56x56
    {192, 784, 32},    // mobilenet_v2 expand at 28x28
    {384, 196, 64},    // mobilenet_v2 expand at 14x14
    {64, 196, 384},    // mobilenet_v2 project at 14x14
    {320, 49, 960},    // mobilenet_v2 features.17 project at 7x7
    {24, 16384, 24},   // blazeface 1x1 at 128x128
    {96, 196, 576},    // mobilenet_v2 features.12-13 project at 14x14
    {160, 49, 960},    // mobilenet_v2 features.15-16 project at 7x7
    {960, 49, 160},    // mobilenet_v2 features.15-17 expand at 7x7
    {32, 729, 256},    // squeezenet1_1 features.7 squeeze at 27x27
    {48, 169, 384},    // squeezenet1_1 features.9 squeeze at 13x13
    {64, 169, 512},    // squeezenet1_1 features.12 squeeze at 13x13
};
const std::vector<std::vector<int64_t>> kMatMul = {
    {1, 1000, 1280},  // classifier Gemm, batch 1
    {8, 1024, 1024},  // small-batch fully connected
    {128, 768, 768},  // transformer projection, 128 tokens
};

// Rates are per CPU second of the benchmark thread when single-threaded, which keeps them meaningful on a shared
// machine; with --threads=N they are per wall-clock second.
benchmark::internal::Benchmark* timed(benchmark::internal::Benchmark* b) {
  return g_threads > 1 ? b->UseRealTime() : b;
}

}  // namespace
void register_qgemm(const std::vector<int64_t>& shape, ThreadPool* pool, bool real_time);  // qgemm_bench.cpp
namespace {

void register_all() {
  timed(benchmark::RegisterBenchmark("PeakFma", BM_PeakFma));
  // mobilenet_v3_small's classifier.0 and .3, mobilenet_v2 / efficientnet_b0's classifier.
  for (const std::vector<int64_t>& nk : std::vector<std::vector<int64_t>>{{1024, 576}, {1000, 1024}, {1000, 1280}}) {
    for (int64_t cold : {0, 1}) {
      timed(benchmark::RegisterBenchmark("EfClassifier", BM_EfClassifier)
                ->Args({nk[0], nk[1], cold})
                ->ArgNames({"N", "K", "cold"}));
      timed(benchmark::RegisterBenchmark("EfQClassifier", BM_EfQClassifier)
                ->Args({nk[0], nk[1], cold})
                ->ArgNames({"N", "K", "cold"}));
    }
  }
  for (const auto* shapes : {&kSquare, &kConv, &kPointwise, &kMatMul}) {
    for (const auto& s : *shapes) {
      timed(benchmark::RegisterBenchmark("EfSgemm", BM_EfSgemm)->Args(s)->ArgNames({"M", "N", "K"}));
      if (shapes == &kMatMul) {
        timed(benchmark::RegisterBenchmark("EfSgemmPackedB", BM_EfSgemmPackedB)->Args(s)->ArgNames({"M", "N", "K"}));
      }
      if (shapes == &kConv || shapes == &kPointwise) {
        for (int64_t cold : {0, 1}) {
          timed(benchmark::RegisterBenchmark("EfSgemmPackedA", BM_EfSgemmPackedA)
                    ->Args({s[0], s[1], s[2], cold})
                    ->ArgNames({"M", "N", "K", "cold"}));
        }
        register_qgemm(s, &pool(), g_threads > 1);
        if (shapes == &kPointwise && g_threads == 1) {
          for (int64_t mode : {0, 1}) {
            timed(benchmark::RegisterBenchmark("EfPointwiseResidual", BM_EfPointwiseResidual)
                      ->Args({s[0], s[1], s[2], mode})
                      ->ArgNames({"M", "N", "K", "panels"}));
          }
        }
      }
#ifdef EF_HAVE_DNNL
      timed(benchmark::RegisterBenchmark("DnnlSgemm", BM_DnnlSgemm)->Args(s)->ArgNames({"M", "N", "K"}));
#endif
    }
  }
}

}  // namespace
}  // namespace ef::bench

int main(int argc, char** argv) {
  // Our own flag first; Google Benchmark rejects flags it does not know.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      ef::bench::g_threads = std::max(1, std::atoi(argv[i] + 10));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
#ifdef EF_HAVE_DNNL
  omp_set_num_threads(ef::bench::g_threads);
#endif
  benchmark::AddCustomContext("threads", std::to_string(ef::bench::g_threads));
  ef::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
#endif  // HWY_ONCE
