// Element-wise kernel micro-benchmarks (Google Benchmark, single thread): the activation epilogue on GEMM-sized
// chunks and on large tensors, broadcasting binary ops by CNN form, the 8-bit QLinearAdd, Softmax, and Transpose
// layouts, each beside a plain scalar loop doing the same work so the ratio can be read directly. Linked into
// edgeforge_bench.
// Depends on Google Benchmark and edgeforge's kernels/cpu (activation, binary, qadd, softmax, transpose).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/binary.h"
#include "kernels/cpu/qadd.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/transpose.h"

namespace ef::bench_eltwise {
namespace {

using cpu::ActKind;
using Shape = std::vector<int64_t>;

std::vector<float> random_floats(size_t n, float lo = -6.0f, float hi = 6.0f) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

ThreadPool& single_thread() {
  static ThreadPool pool(1);
  return pool;
}

// ---- activation: args {ActKind, n}
void BM_Activation(benchmark::State& state) {
  const cpu::Activation act{static_cast<ActKind>(state.range(0)), 0.0f, 6.0f};
  const auto src = random_floats(static_cast<size_t>(state.range(1)));
  std::vector<float> y = src;
  for (auto _ : state) {
    // Re-applying in place would drift towards a fixed point; the copy is the same in the scalar baseline
    // (copy_bytes, not memcpy: see transpose.h).
    cpu::copy_bytes(y.data(), src.data(), src.size() * sizeof(float));
    cpu::apply_activation(act, y.data(), y.size());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

void BM_ActivationScalar(benchmark::State& state) {
  const cpu::Activation act{static_cast<ActKind>(state.range(0)), 0.0f, 6.0f};
  const auto src = random_floats(static_cast<size_t>(state.range(1)));
  std::vector<float> y = src;
  for (auto _ : state) {
    cpu::copy_bytes(y.data(), src.data(), src.size() * sizeof(float));
    for (float& v : y) v = cpu::activation_reference(act, v);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

void activation_args(benchmark::internal::Benchmark* b) {
  for (ActKind k : {ActKind::kRelu, ActKind::kClip, ActKind::kSigmoid, ActKind::kHardSwish, ActKind::kSilu,
                    ActKind::kTanh, ActKind::kGelu}) {
    for (int64_t n : {256, 1 << 16}) b->Args({static_cast<int64_t>(k), n});
  }
  b->ArgNames({"act", "n"});
}
BENCHMARK(BM_Activation)->Apply(activation_args);
BENCHMARK(BM_ActivationScalar)->Apply(activation_args);

// ---- copies: glibc memcpy against copy_bytes, by size in floats
void BM_Memcpy(benchmark::State& state) {
  const auto src = random_floats(static_cast<size_t>(state.range(0)));
  std::vector<float> dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 4);
}
void BM_CopyBytes(benchmark::State& state) {
  const auto src = random_floats(static_cast<size_t>(state.range(0)));
  std::vector<float> dst(src.size());
  for (auto _ : state) {
    cpu::copy_bytes(dst.data(), src.data(), src.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 4);
}
BENCHMARK(BM_Memcpy)->RangeMultiplier(8)->Range(256, 1 << 20);
BENCHMARK(BM_CopyBytes)->RangeMultiplier(8)->Range(256, 1 << 20);

// ---- binary Add by broadcast form on a [1,64,56,56] activation (ResNet stage 1 size).
struct BinaryCase {
  Shape a, b;
};
const BinaryCase kBinaryCases[] = {
    {{1, 64, 56, 56}, {1, 64, 56, 56}},  // 0 same shape (residual add)
    {{1, 64, 56, 56}, {}},               // 1 scalar
    {{1, 64, 56, 56}, {64, 1, 1}},       // 2 per channel (bias / scale-shift)
    {{1, 64, 56, 56}, {1, 64, 1, 1}},    // 3 per row (squeeze-excitation multiply)
    {{3136, 64}, {64}},                  // 4 row broadcast
    {{1, 96, 7, 7}, {1, 96, 1, 1}},      // 5 per row, short rows
};

void BM_Binary(benchmark::State& state) {
  const BinaryCase& c = kBinaryCases[state.range(0)];
  const cpu::Activation act{state.range(1) ? ActKind::kRelu : ActKind::kNone};
  const cpu::BinaryPlan plan = cpu::plan_binary(cpu::BinaryOp::kAdd, c.a, c.b, act);
  const auto a = random_floats(static_cast<size_t>(std::accumulate(c.a.begin(), c.a.end(), int64_t{1}, std::multiplies<>())));
  const auto b = random_floats(static_cast<size_t>(std::accumulate(c.b.begin(), c.b.end(), int64_t{1}, std::multiplies<>())));
  std::vector<float> out(static_cast<size_t>(plan.numel));
  for (auto _ : state) {
    cpu::run_binary(plan, a.data(), b.data(), out.data(), single_thread());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * plan.numel);
}
BENCHMARK(BM_Binary)->ArgsProduct({{0, 1, 2, 3, 4, 5}, {0, 1}})->ArgNames({"case", "relu"});

// The plain loop the compiler sees for the same-shape case (auto-vectorizable), as the floor to compare with.
void BM_BinaryPlainLoopSameShape(benchmark::State& state) {
  const size_t n = 64 * 56 * 56;
  const auto a = random_floats(n), b = random_floats(n);
  std::vector<float> out(n);
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_BinaryPlainLoopSameShape);

// The 8-bit residual add (QLinearAdd) on BlazeFace's largest residual tensor, uint8 in and out.
void BM_QLinearAdd(benchmark::State& state) {
  const size_t n = 24 * 128 * 128;
  std::mt19937 rng(3);
  std::vector<uint8_t> a(n), b(n), out(n);
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<uint8_t>(rng()), b[i] = static_cast<uint8_t>(rng());
  cpu::QAddParams p;
  p.a_scale = 0.021f, p.b_scale = 0.034f, p.y_scale = 0.05f;
  p.a_zero_point = 120, p.b_zero_point = 131, p.y_zero_point = 100;
  for (auto _ : state) {
    cpu::qlinear_add(a.data(), b.data(), static_cast<int64_t>(n), p, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_QLinearAdd);

// The prepared kernel as a QDQ file from `edgeforge quantize` gets it: input scales integer multiples of the output
// scale (2 and 1), so qlinear_add_kernel picks the fixed-point form; arg 1 gives non-integer ratios instead.
void BM_QLinearAddPrepared(benchmark::State& state) {
  const size_t n = 24 * 128 * 128;
  std::mt19937 rng(3);
  std::vector<uint8_t> a(n), b(n), out(n);
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<uint8_t>(rng()), b[i] = static_cast<uint8_t>(rng());
  cpu::QAddParams p;
  p.y_scale = 0.05f;
  p.a_scale = state.range(0) == 0 ? 0.1f : 0.021f, p.b_scale = state.range(0) == 0 ? 0.05f : 0.034f;
  p.a_zero_point = 120, p.b_zero_point = 131, p.y_zero_point = 100;
  const cpu::QAddKernel k = cpu::qlinear_add_kernel(p);
  state.SetLabel(k.name);
  for (auto _ : state) {
    k(a.data(), b.data(), static_cast<int64_t>(n), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_QLinearAddPrepared)->Arg(0)->Arg(1);

// ---- softmax: args {outer, axis, inner}
void BM_Softmax(benchmark::State& state) {
  const int64_t outer = state.range(0), n = state.range(1), inner = state.range(2);
  const auto x = random_floats(static_cast<size_t>(outer * n * inner));
  std::vector<float> y(x.size());
  for (auto _ : state) {
    cpu::softmax(cpu::SoftmaxKind::kSoftmax, x.data(), y.data(), outer, n, inner, single_thread());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * outer * n * inner);
}

void BM_SoftmaxScalar(benchmark::State& state) {
  const int64_t outer = state.range(0), n = state.range(1), inner = state.range(2);
  const auto x = random_floats(static_cast<size_t>(outer * n * inner));
  std::vector<float> y(x.size());
  for (auto _ : state) {
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        const float* xs = x.data() + o * n * inner + j;
        float* ys = y.data() + o * n * inner + j;
        float max = xs[0], sum = 0;
        for (int64_t i = 1; i < n; ++i) max = std::max(max, xs[i * inner]);
        for (int64_t i = 0; i < n; ++i) sum += (ys[i * inner] = std::exp(xs[i * inner] - max));
        for (int64_t i = 0; i < n; ++i) ys[i * inner] /= sum;
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * outer * n * inner);
}
void softmax_args(benchmark::internal::Benchmark* b) {
  b->Args({1, 1000, 1})->Args({96, 128, 1})->Args({1, 21, 4096})->Args({16800, 2, 1})->Args({1917, 91, 1})->ArgNames({"outer", "axis", "inner"});
}
BENCHMARK(BM_Softmax)->Apply(softmax_args);
BENCHMARK(BM_SoftmaxScalar)->Apply(softmax_args);

// ---- transpose (float32)
struct TransposeCase {
  Shape shape, perm;
};
const TransposeCase kTransposeCases[] = {
    {{1, 64, 56, 56}, {0, 2, 3, 1}},        // 0 NCHW -> NHWC
    {{1, 56, 56, 64}, {0, 3, 1, 2}},        // 1 NHWC -> NCHW
    {{1024, 1024}, {1, 0}},                 // 2 2-D, power-of-two rows
    {{1, 2, 58, 28, 28}, {0, 2, 1, 3, 4}},  // 3 channel shuffle
};

void BM_Transpose(benchmark::State& state) {
  const TransposeCase& c = kTransposeCases[state.range(0)];
  const cpu::TransposePlan plan = cpu::plan_transpose(c.shape, c.perm, sizeof(float));
  const auto in = random_floats(static_cast<size_t>(plan.numel));
  std::vector<float> out(in.size());
  for (auto _ : state) {
    cpu::run_transpose(plan, in.data(), out.data(), single_thread());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * plan.numel);
}

void BM_TransposeNaive(benchmark::State& state) {
  const TransposeCase& c = kTransposeCases[state.range(0)];
  const size_t rank = c.shape.size();
  Shape in_strides(rank, 1), out_shape(rank);
  for (size_t k = rank; k-- > 1;) in_strides[k - 1] = in_strides[k] * c.shape[k];
  for (size_t k = 0; k < rank; ++k) out_shape[k] = c.shape[static_cast<size_t>(c.perm[k])];
  const int64_t n = std::accumulate(c.shape.begin(), c.shape.end(), int64_t{1}, std::multiplies<>());
  const auto in = random_floats(static_cast<size_t>(n));
  std::vector<float> out(in.size());
  for (auto _ : state) {
    for (int64_t flat = 0; flat < n; ++flat) {
      int64_t rem = flat, src = 0;
      for (size_t k = rank; k-- > 0;) {
        src += rem % out_shape[k] * in_strides[static_cast<size_t>(c.perm[k])];
        rem /= out_shape[k];
      }
      out[static_cast<size_t>(flat)] = in[static_cast<size_t>(src)];
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Transpose)->DenseRange(0, 3)->ArgName("case");
BENCHMARK(BM_TransposeNaive)->DenseRange(0, 3)->ArgName("case");

}  // namespace
}  // namespace ef::bench_eltwise

BENCHMARK_MAIN();
