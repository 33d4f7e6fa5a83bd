// Convolution-side micro-benchmarks: depthwise convolution (float and int8) on MobileNet/EfficientNet layer shapes (beside the
// naive bounds-checked loop, for scale), MaxPool/AveragePool/global pools, im2col, and GEMM convolutions with an
// explicit im2col matrix vs B panels packed straight from the input, and 1x1 convolutions with their fused
// epilogues. Single-threaded unless --threads=N; --weight-copies=N cycles conv_pointwise through N copies of its
// weights (cold weights, as inside a model). Depends
// on Google Benchmark and edgeforge's kernels/cpu (depthwise_conv, qdepthwise, pool, im2col, sgemm).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/conv_direct_blocked.h"
#include "kernels/cpu/conv_direct_planes.h"
#include "kernels/cpu/conv_direct_smallc.h"
#include "kernels/cpu/conv_max_pool.h"
#include "kernels/cpu/depthwise_conv.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/im2col_panels.h"
#include "kernels/cpu/pointwise_depthwise.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/qdepthwise.h"
#include "kernels/cpu/sgemm.h"
#include "kernels/cpu/winograd.h"

namespace ef::bench {
namespace {

int g_threads = 1;
int g_weight_copies = 1;  // conv_pointwise's weight copies (--weight-copies=N)

ThreadPool& pool() {
  static ThreadPool p(g_threads);
  return p;
}

std::vector<float> random_floats(int64_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

cpu::Conv2dParams square(int64_t c, int64_t hw, int64_t k, int64_t s) {
  cpu::Conv2dParams p;
  p.C = p.M = p.group = c;
  p.H = p.W = hw;
  p.kh = p.kw = k;
  p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = k / 2;
  return p.with_output_size();
}

void report(benchmark::State& state, int64_t macs, int64_t bytes) {
  state.counters["GMAC/s"] =
      benchmark::Counter(static_cast<double>(macs), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::OneK::kIs1000);
  state.SetBytesProcessed(state.iterations() * bytes);
}

// Args: channels, H = W, kernel, stride.
void BM_Depthwise(benchmark::State& state) {
  const cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(2), state.range(3));
  const auto x = random_floats(p.C * p.H * p.W), w = random_floats(p.M * p.kh * p.kw), b = random_floats(p.M);
  std::vector<float> y(static_cast<size_t>(p.M * p.OH * p.OW));
  const cpu::Activation relu{cpu::ActKind::kRelu, 0, 0};
  for (auto _ : state) {
    cpu::depthwise_conv2d(p, x.data(), w.data(), b.data(), nullptr, relu, y.data(), pool());
    benchmark::DoNotOptimize(y.data());
  }
  report(state, p.M * p.OH * p.OW * p.kh * p.kw, 4 * (p.C * p.H * p.W + p.M * p.OH * p.OW));
}

// The int8 depthwise QLinearConv kernel (qdepthwise.h) on the same shapes: uint8 activations, int8 weights,
// requantized to uint8 (AVX2 where the CPU has it).
void BM_QDepthwise(benchmark::State& state) {
  const cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(2), state.range(3));
  std::mt19937 rng(1);
  std::vector<uint8_t> x(static_cast<size_t>(p.C * p.H * p.W)), y(static_cast<size_t>(p.M * p.OH * p.OW));
  std::vector<int8_t> w(static_cast<size_t>(p.M * p.kh * p.kw));
  for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
  for (int8_t& v : w) v = static_cast<int8_t>(rng());
  const std::vector<int32_t> bias(static_cast<size_t>(p.M), 100);
  const std::vector<float> scale(static_cast<size_t>(p.M), 0.001f);
  cpu::QDepthwiseArgs a;
  a.x = x.data(), a.x_zero_point = 128, a.w = w.data(), a.bias = bias.data(), a.scale = scale.data(), a.y = y.data();
  // state.range(4): 0 the kernel the planner picks, 1 the AVX2 row kernel, 2 the channel-packed kernel, 3 the
  // AVX-512 VNNI row kernel, 4 the AVX-512 VBMI byte kernel; skipped where that kernel cannot run the shape.
  cpu::QdwKernel kernel = cpu::qdepthwise_choose(p);
  const int64_t want = state.range(4);
  const bool fits[] = {true, cpu::qdepthwise_use_avx2(p), cpu::qdepthwise_packed_fits(p),
                       cpu::qdepthwise_avx512_fits(p), cpu::qdepthwise_vbmi_fits(p)};
  if (!fits[want]) {
    state.SkipWithError("this kernel does not run this shape on this CPU");
    return;
  }
  const cpu::QdwKernel forced[] = {kernel, cpu::QdwKernel::kRows, cpu::QdwKernel::kPacked, cpu::QdwKernel::kRowsAvx512,
                                   cpu::QdwKernel::kBytesVbmi};
  kernel = forced[want];
  const cpu::QdwPacked packed = cpu::qdw_pack(p, w.data(), bias.data(), scale.data());
  a.packed = &packed;
  for (auto _ : state) {
    cpu::qdepthwise_conv2d(p, a, kernel, pool());
    benchmark::DoNotOptimize(y.data());
  }
  report(state, p.M * p.OH * p.OW * p.kh * p.kw, p.C * p.H * p.W + p.M * p.OH * p.OW);
}

// The loop the definition gives, bounds checks on every tap: the yardstick for "several times faster".
void BM_DepthwiseNaive(benchmark::State& state) {
  const cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(2), state.range(3));
  const auto x = random_floats(p.C * p.H * p.W), w = random_floats(p.M * p.kh * p.kw), b = random_floats(p.M);
  std::vector<float> y(static_cast<size_t>(p.M * p.OH * p.OW));
  for (auto _ : state) {
    for (int64_t c = 0; c < p.C; ++c) {
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          float acc = b[c];
          for (int64_t i = 0; i < p.kh; ++i) {
            for (int64_t j = 0; j < p.kw; ++j) {
              const int64_t ih = oh * p.stride_h - p.pad_top + i, iw = ow * p.stride_w - p.pad_left + j;
              if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
                acc += x[(c * p.H + ih) * p.W + iw] * w[(c * p.kh + i) * p.kw + j];
              }
            }
          }
          y[(c * p.OH + oh) * p.OW + ow] = std::max(acc, 0.0f);
        }
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  report(state, p.M * p.OH * p.OW * p.kh * p.kw, 4 * (p.C * p.H * p.W + p.M * p.OH * p.OW));
}

// Args: channels, H = W, kernel, stride, 0 = max / 1 = average (count_include_pad off), ceil: 0 = pads k / 2,
// 1 = no pads and ceil_mode output sizes (squeezenet's MaxPools).
void BM_Pool(benchmark::State& state) {
  cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(2), state.range(3));
  if (state.range(5) != 0) {
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 0;
    p.OH = p.OW = (p.H - p.kh + p.stride_h - 1) / p.stride_h + 1;
  }
  const auto x = random_floats(p.C * p.H * p.W);
  std::vector<float> y(static_cast<size_t>(p.C * p.OH * p.OW));
  for (auto _ : state) {
    if (state.range(4) == 0) {
      cpu::max_pool2d(p, x.data(), y.data(), pool());
    } else {
      cpu::average_pool2d(p, false, x.data(), y.data(), pool());
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * 4 * (p.C * p.H * p.W + p.C * p.OH * p.OW));
}

// Args: planes, plane size, 0 = max / 1 = average.
void BM_GlobalPool(benchmark::State& state) {
  const int64_t planes = state.range(0), size = state.range(1);
  const auto x = random_floats(planes * size);
  std::vector<float> y(static_cast<size_t>(planes));
  for (auto _ : state) {
    if (state.range(2) == 0) {
      cpu::global_max_pool(planes, size, x.data(), y.data(), pool());
    } else {
      cpu::global_average_pool(planes, size, x.data(), y.data(), pool());
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * 4 * planes * size);
}

// Args: channels, H = W, kernel, stride (one image, one group).
void BM_Im2col(benchmark::State& state) {
  cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(2), state.range(3));
  p.M = p.group = 1;
  const auto x = random_floats(p.C * p.H * p.W);
  std::vector<float> col(static_cast<size_t>(cpu::im2col_rows(p) * cpu::im2col_cols(p)));
  for (auto _ : state) {
    cpu::im2col(p, x.data(), 0, 0, col.data());
    benchmark::DoNotOptimize(col.data());
  }
  state.SetBytesProcessed(state.iterations() * 4 * static_cast<int64_t>(col.size()));
}

// The convolution's B operand packed by sgemm straight from the input windows.
// Args: C, H = W, M, kernel, stride, implicit. One image, one group, 'same' padding, bias + ReLU epilogue.
// implicit 0: im2col into a column matrix, then sgemm_packed_a (which packs that matrix again); 1:
// sgemm_packed_a_custom_b with im2col_pack_panel, no column matrix; 2: the same from padded planes (stride 1).
void BM_ConvGemm(benchmark::State& state) {
  cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(3), state.range(4));
  p.M = state.range(2);
  p.group = 1;
  p.with_output_size();
  const bool implicit = state.range(5) != 0;
  const int64_t K = cpu::im2col_rows(p), N = cpu::im2col_cols(p);
  const auto x = random_floats(p.C * p.H * p.W), w = random_floats(p.M * K), b = random_floats(p.M);
  const cpu::PackedMatrix packed = cpu::pack_a(false, p.M, K, w.data(), K);
  std::vector<float> col(implicit ? 0 : static_cast<size_t>(K * N)), y(static_cast<size_t>(p.M * N));
  cpu::GemmEpilogue epi;
  epi.bias = b.data();
  epi.act = cpu::Activation{cpu::ActKind::kRelu, 0, 0};
  const cpu::Im2colPanels panels(p, x.data());
  const bool padded = state.range(5) == 2;
  std::vector<float> xpad(padded ? static_cast<size_t>(cpu::im2col_padded_floats(p, p.C)) : 0);
  const cpu::PaddedIm2colPanels padded_panels(p, xpad.data());
  for (auto _ : state) {
    if (padded) {
      cpu::im2col_pad_planes(p, x.data(), p.C, 0, p.C, xpad.data());
      cpu::sgemm_packed_a_custom_b(packed, N, padded_panels, y.data(), N, epi, pool());
    } else if (implicit) {
      cpu::sgemm_packed_a_custom_b(packed, N, panels, y.data(), N, epi, pool());
    } else {
      cpu::im2col(p, x.data(), 0, 0, col.data());
      cpu::sgemm_packed_a(packed, N, false, col.data(), N, y.data(), N, epi, pool());
    }
    benchmark::DoNotOptimize(y.data());
  }
  report(state, p.M * K * N, 4 * (p.C * p.H * p.W + p.M * N));
}

// Args: C, H = W, M, activation (an ActKind value), residual (0/1). A 1x1 convolution as the CPU provider runs it
// (conv.pointwise_gemm): weights packed once, the input as sgemm's B, bias, residual and activation fused.
void BM_ConvPointwise(benchmark::State& state) {
  const int64_t C = state.range(0), N = state.range(1) * state.range(1), M = state.range(2);
  const auto x = random_floats(C * N), w = random_floats(M * C), b = random_floats(M);
  const auto z = random_floats(state.range(4) != 0 ? M * N : 0);
  // --weight-copies=N: successive runs cycle through N packed copies, so that the weights come from L3 or DRAM
  // as inside a model rather than from L2.
  std::vector<cpu::PackedMatrix> packs;
  for (int i = 0; i < g_weight_copies; ++i) packs.push_back(cpu::pack_a(false, M, C, w.data(), C));
  size_t turn = 0;
  std::vector<float> y(static_cast<size_t>(M * N));
  cpu::GemmEpilogue epi;
  epi.bias = b.data();
  epi.residual = z.empty() ? nullptr : z.data();
  epi.ldr = N;
  epi.act = cpu::Activation{static_cast<cpu::ActKind>(state.range(3)), 0.0f, 6.0f};
  for (auto _ : state) {
    cpu::sgemm_packed_a(packs[turn++ % packs.size()], N, false, x.data(), N, y.data(), N, epi, pool());
    benchmark::DoNotOptimize(y.data());
  }
  report(state, M * C * N, 4 * (C * N + M * N * (z.empty() ? 1 : 2)));
}

// Args: C, H = W, M, output tile (4: F(4x4, 3x3), 2: F(2x2, 3x3)), tile block and output-channel chunk (0: the
// kernel's choice). One image,
// 3x3 stride 1 'same' padding, bias + ReLU. GMAC/s counts the direct convolution's multiply-adds, so it compares
// with conv_gemm.
void BM_ConvWinograd(benchmark::State& state) {
  cpu::Conv2dParams p = square(state.range(0), state.range(1), 3, 1);
  p.M = state.range(2);
  p.group = 1;
  p.with_output_size();
  const auto x = random_floats(p.C * p.H * p.W), w = random_floats(p.M * p.C * 9), b = random_floats(p.M);
  const cpu::WinogradConv conv(p, w.data(), static_cast<int>(state.range(3)), state.range(4), state.range(5));
  std::vector<float> scratch(conv.scratch_bytes() / sizeof(float) + 16), y(static_cast<size_t>(p.M * p.OH * p.OW));
  float* aligned = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / sizeof(float) % 16) % 16;
  const cpu::Activation relu{cpu::ActKind::kRelu, 0, 0};
  for (auto _ : state) {
    conv.run(x.data(), b.data(), nullptr, relu, y.data(), aligned, pool());
    benchmark::DoNotOptimize(y.data());
  }
  report(state, p.M * p.C * 9 * p.OH * p.OW, 4 * (p.C * p.H * p.W + p.M * p.OH * p.OW));
}

// A direct conv kernel class (constructor (p, w, bias), scratch_bytes(), run(x, residual, act, y, scratch, pool))
// on p (one group): random data, bias + ReLU, scratch 64-byte aligned as the arena gives it.
template <class Conv>
void run_direct_conv(benchmark::State& state, const cpu::Conv2dParams& p) {
  const int64_t K = p.C * p.kh * p.kw;
  const auto x = random_floats(p.C * p.H * p.W), w = random_floats(p.M * K), b = random_floats(p.M);
  const Conv conv = cpu::make_direct_conv<Conv>(p, w.data(), b.data(), g_threads);
  std::vector<float> scratch(conv.scratch_bytes() / sizeof(float) + 16), y(static_cast<size_t>(p.M * p.OH * p.OW));
  float* aligned = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / sizeof(float) % 16) % 16;
  const cpu::Activation relu{cpu::ActKind::kRelu, 0, 0};
  for (auto _ : state) {
    conv.run(x.data(), nullptr, relu, y.data(), aligned, pool());
    benchmark::DoNotOptimize(y.data());
  }
  report(state, p.M * K * p.OH * p.OW, 4 * (p.C * p.H * p.W + p.M * p.OH * p.OW));
}

// Args: C, H = W, M, kernel, stride. The few-input-channel direct kernel (conv_direct_smallc.h) on the stem shapes
// that conv_gemm also runs: one image, 'same' padding.
void BM_ConvDirectSmallC(benchmark::State& state) {
  cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(3), state.range(4));
  p.M = state.range(2);
  p.group = 1;
  run_direct_conv<cpu::DirectSmallCConv>(state, p.with_output_size());
}

// Args: C, H = W, M, k, stride. The channel-vector direct kernel (conv_direct_blocked.h), 'same' padding.
void BM_ConvDirectBlocked(benchmark::State& state) {
  cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(3), state.range(4));
  p.M = state.range(2);
  p.group = 1;
  run_direct_conv<cpu::DirectBlockedConv>(state, p.with_output_size());
}

// Args: k, s, pad (the stem conv, 3 -> 64 channels on 224x224), pool pad, ceil mode, fused, band KiB. The stem conv
// and its 3x3 stride-2 MaxPool: fused = 1 runs SmallCConvMaxPool (bands of at most `band KiB`, 0: the default),
// fused = 0 the two kernels one after the other through a full-size conv output, as unfused nodes do.
void BM_ConvMaxPool(benchmark::State& state) {
  cpu::Conv2dParams c = square(3, 224, state.range(0), state.range(1));
  c.M = 64;
  c.group = 1;
  c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = state.range(2);
  c.with_output_size();
  cpu::Conv2dParams p;
  p.N = 1, p.C = p.M = c.M, p.H = c.OH, p.W = c.OW, p.kh = p.kw = 3, p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = state.range(3);
  p.with_output_size();
  if (state.range(4) != 0) p.OH = (p.H + 2 * p.pad_top - 3 + 1) / 2 + 1, p.OW = p.OH;  // ceil mode
  const auto x = random_floats(c.C * c.H * c.W), w = random_floats(c.M * c.C * c.kh * c.kw), b = random_floats(c.M);
  const cpu::Activation relu{cpu::ActKind::kRelu, 0, 0};
  std::vector<float> y(static_cast<size_t>(p.C * p.OH * p.OW));
  if (state.range(5) != 0) {
    const int64_t band = state.range(6) > 0 ? state.range(6) << 10 : cpu::SmallCConvMaxPool::kBandBytes;
    const cpu::SmallCConvMaxPool k(c, w.data(), b.data(), p, g_threads <= 1 ? 1 : 2 * g_threads, band);
    std::vector<float> scratch(k.scratch_bytes() / sizeof(float) + 16);
    float* aligned = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / sizeof(float) % 16) % 16;
    for (auto _ : state) {
      k.run(x.data(), relu, y.data(), aligned, pool());
      benchmark::DoNotOptimize(y.data());
    }
  } else {
    const cpu::DirectSmallCConv conv(c, w.data(), b.data());
    std::vector<float> scratch(conv.scratch_bytes() / sizeof(float) + 16);
    std::vector<float> mid(static_cast<size_t>(c.M * c.OH * c.OW));
    float* aligned = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / sizeof(float) % 16) % 16;
    for (auto _ : state) {
      conv.run(x.data(), nullptr, relu, mid.data(), aligned, pool());
      cpu::max_pool2d(p, mid.data(), y.data(), pool());
      benchmark::DoNotOptimize(y.data());
    }
  }
  report(state, c.M * c.C * c.kh * c.kw * c.OH * c.OW, 4 * (c.C * c.H * c.W + p.C * p.OH * p.OW));
}

// Args: C, H = W, M (expansion), k, s, fused, band KiB. An inverted-residual block's expand 1x1 conv (C -> M) and
// its k x k depthwise conv, both with Clip(0, 6): fused = 1 runs PointwiseDepthwiseConv (bands of at most `band
// KiB`, 0: the default), fused = 0 the packed GEMM then depthwise_conv2d through a full-size intermediate, as
// unfused nodes do. GMAC/s counts both convs' multiply-adds.
void BM_PointwiseDepthwise(benchmark::State& state) {
  cpu::Conv2dParams pw;
  pw.C = state.range(0), pw.H = pw.W = state.range(1), pw.M = state.range(2);
  pw.with_output_size();
  const cpu::Conv2dParams dw = square(pw.M, pw.H, state.range(3), state.range(4));
  const auto x = random_floats(pw.C * pw.H * pw.W), w1 = random_floats(pw.M * pw.C), b1 = random_floats(pw.M);
  const auto w2 = random_floats(dw.M * dw.kh * dw.kw), b2 = random_floats(dw.M);
  const cpu::Activation relu6{cpu::ActKind::kClip, 0.0f, 6.0f};
  std::vector<float> y(static_cast<size_t>(dw.M * dw.OH * dw.OW));
  if (state.range(5) != 0) {
    const int64_t band = state.range(6) > 0 ? state.range(6) << 10 : cpu::PointwiseDepthwiseConv::kBandBytes;
    const cpu::PointwiseDepthwiseConv k(pw, w1.data(), b1.data(), relu6, dw, w2.data(), b2.data(), relu6,
                                        cpu::PointwiseDepthwiseConv::kChunks, band);
    std::vector<float> scratch(k.scratch_bytes() / sizeof(float) + 16);
    float* aligned = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / sizeof(float) % 16) % 16;
    for (auto _ : state) {
      k.run(x.data(), y.data(), aligned, pool());
      benchmark::DoNotOptimize(y.data());
    }
  } else {
    const cpu::PackedMatrix packed = cpu::pack_a(false, pw.M, pw.C, w1.data(), pw.C);
    std::vector<float> mid(static_cast<size_t>(pw.M * pw.H * pw.W));
    cpu::GemmEpilogue epi;
    epi.bias = b1.data();
    epi.act = relu6;
    const int64_t n = pw.H * pw.W;
    for (auto _ : state) {
      cpu::sgemm_packed_a(packed, n, false, x.data(), n, mid.data(), n, epi, pool());
      cpu::depthwise_conv2d(dw, mid.data(), w2.data(), b2.data(), nullptr, relu6, y.data(), pool());
      benchmark::DoNotOptimize(y.data());
    }
  }
  report(state, pw.M * pw.C * pw.H * pw.W + dw.M * dw.kh * dw.kw * dw.OH * dw.OW,
         4 * (pw.C * pw.H * pw.W + dw.M * dw.OH * dw.OW));
}

// Args: C, H = W, M, k. The padded-plane direct kernel (conv_direct_planes.h) on k x k stride-1 'same' layers
// (3x3: the Winograd shapes; 1x1: the pointwise ones).
void BM_ConvDirectPlanes(benchmark::State& state) {
  cpu::Conv2dParams p = square(state.range(0), state.range(1), state.range(3), 1);
  p.M = state.range(2);
  p.group = 1;
  run_direct_conv<cpu::DirectPlanesConv>(state, p.with_output_size());
}

// Stem convs (C, HW, M, k, s): blazeface, mobilenet_v3_small, efficientnet_b0 / mobilenet_v2, squeezenet1_1,
// resnet18, and stride-1 / 1-channel ones for the crossover with im2col + GEMM.
constexpr int64_t kStemShapes[][5] = {{3, 256, 24, 5, 2}, {3, 224, 16, 3, 2}, {3, 224, 32, 3, 2},
                                      {3, 224, 64, 3, 2}, {3, 224, 64, 7, 2}, {3, 128, 24, 3, 2},
                                      {3, 64, 32, 3, 1},  {1, 64, 16, 3, 1},  {4, 112, 64, 3, 2}};

// Single-threaded runs are timed in CPU time: robust on a shared machine; with --threads=N they use wall time.
benchmark::internal::Benchmark* timed(benchmark::internal::Benchmark* b) {
  return g_threads > 1 ? b->UseRealTime() : b;
}

// 3x3 stride-1 layers: resnet18's four stages, squeezenet1_1's expand convs, ppocr_det's 96 -> 24 head convs,
// thin and small ones for the crossover.
constexpr int64_t kWinogradShapes[][3] = {{64, 56, 64},  {128, 28, 128}, {256, 14, 256}, {512, 7, 512},
                                          {16, 55, 64},  {32, 27, 128},  {48, 13, 192},  {64, 13, 256},
                                          {96, 80, 24},  {8, 64, 8},     {16, 32, 16},   {32, 16, 32},
                                          {16, 16, 64},  {64, 8, 64},    {256, 7, 256}};

// 1x1 layers (C, HW, M, activation as ActKind: 0 none, 1 Relu, 2 Clip(0, 6), 7 SiLU; residual): efficientnet_b0's
// expand / project convs at 112..7 pixels, mobilenet_v2's, blazeface_back's 24 -> 24 block with residual + Relu.
constexpr int64_t kPointwiseShapes[][5] = {
    {16, 112, 96, 7, 0}, {24, 56, 144, 7, 0}, {40, 28, 240, 7, 0}, {112, 14, 672, 7, 0}, {192, 7, 1152, 7, 0},
    {672, 14, 112, 0, 1}, {1152, 7, 192, 0, 1}, {320, 7, 1280, 7, 0}, {96, 14, 576, 2, 0}, {160, 7, 960, 2, 0},
    {960, 7, 160, 0, 1}, {24, 128, 24, 1, 1},
    {16, 112, 96, 0, 0}, {112, 14, 672, 0, 0}, {192, 7, 1152, 0, 0},  // the SiLU layers without an activation
    {240, 28, 40, 0, 1}, {192, 14, 64, 0, 0}, {192, 28, 32, 0, 0},      // K in (160, 256]: the loop-order limit
    {256, 27, 32, 1, 0}, {384, 13, 48, 1, 0}, {512, 13, 64, 1, 0}, {64, 13, 256, 1, 0},  // squeezenet1_1
    {512, 13, 1000, 1, 0}};                                                         // its classifier

void register_all() {
  {
    // The int8 kernel on MobileNetV2 / EfficientNet / BlazeFace depthwise shapes; kern: 0 the planner's choice,
    // 1 the AVX2 row kernel, 2 the channel-packed kernel (qdepthwise_choose's boundary), 3 the AVX-512 VNNI row
    // kernel, 4 the AVX-512 VBMI byte kernel.
    auto* b = benchmark::RegisterBenchmark("depthwise_int8", BM_QDepthwise);
    b->ArgNames({"C", "HW", "k", "s", "kern"});
    const int64_t shapes[][4] = {{960, 7, 3, 1},  {576, 14, 3, 1},  {384, 14, 3, 1},  {576, 14, 3, 2},
                                 {192, 28, 3, 1}, {192, 28, 3, 2},  {144, 56, 3, 1},  {144, 56, 3, 2},
                                 {96, 112, 3, 2}, {32, 112, 3, 1},  {672, 14, 5, 2},  {1152, 7, 5, 1},
                                 {240, 28, 5, 1}, {24, 128, 3, 1},  {48, 32, 3, 1},   {96, 16, 3, 1},
                                 {48, 64, 3, 2},  {96, 32, 3, 2},   {64, 56, 7, 1}};
    for (const auto& sh : shapes) {
      for (int64_t kern : {0, 1, 2, 3, 4}) b->Args({sh[0], sh[1], sh[2], sh[3], kern});
    }
    timed(b);
  }
  for (auto* b : {benchmark::RegisterBenchmark("depthwise", BM_Depthwise),
                  benchmark::RegisterBenchmark("depthwise_naive", BM_DepthwiseNaive)}) {
    b->ArgNames({"C", "HW", "k", "s"});
    b->Args({144, 56, 3, 1})->Args({32, 112, 3, 1})->Args({96, 112, 3, 2})->Args({240, 28, 5, 1});
    b->Args({672, 14, 5, 2})->Args({960, 7, 3, 1})->Args({64, 56, 7, 1});
    b->Args({24, 128, 3, 1})->Args({48, 32, 3, 1});  // BlazeFace (back model) blocks
    // The other stride-2 layers of MobileNetV2 / EfficientNet-B0 (deinterleaved padded rows).
    b->Args({144, 56, 3, 2})->Args({144, 56, 5, 2})->Args({240, 28, 3, 2})->Args({576, 14, 3, 2});
    // Around the channel-packed kernel's boundary (depthwise_packed.cpp): 28x28 / 16x16 3x3 s1, 7x7 5x5.
    b->Args({192, 28, 3, 1})->Args({96, 16, 3, 1})->Args({1152, 7, 5, 1});
    b->Args({96, 32, 3, 2})->Args({48, 64, 3, 2})->Args({96, 8, 3, 1})->Args({576, 7, 5, 1});
    timed(b);
  }
  auto* pools = benchmark::RegisterBenchmark("pool", BM_Pool);
  pools->ArgNames({"C", "HW", "k", "s", "avg", "ceil"});
  pools->Args({64, 111, 3, 2, 0, 0})->Args({64, 112, 3, 2, 0, 0})->Args({64, 112, 2, 2, 0, 0});
  pools->Args({256, 28, 3, 1, 0, 0})->Args({64, 56, 3, 1, 1, 0});
  pools->Args({64, 111, 3, 2, 0, 1})->Args({128, 55, 3, 2, 0, 1})->Args({256, 27, 3, 2, 0, 1});  // squeezenet1_1
  timed(pools);
  auto* global = benchmark::RegisterBenchmark("global_pool", BM_GlobalPool);
  global->ArgNames({"planes", "size", "avg"})->Args({1280, 49, 1})->Args({2048, 49, 1})->Args({512, 3136, 0});
  timed(global);
  auto* cols = benchmark::RegisterBenchmark("im2col", BM_Im2col);
  cols->ArgNames({"C", "HW", "k", "s"})->Args({64, 56, 3, 1})->Args({128, 56, 3, 2})->Args({3, 224, 7, 2});
  timed(cols);
  auto* conv = benchmark::RegisterBenchmark("conv_gemm", BM_ConvGemm);
  // blazeface's first conv (3 -> 24, 5x5 stride 2 on 256x256: M=24, K=75, N=16384); a ResNet-style 3x3.
  conv->ArgNames({"C", "HW", "M", "k", "s", "implicit"});
  for (int implicit : {0, 1}) conv->Args({3, 256, 24, 5, 2, implicit})->Args({64, 56, 64, 3, 1, implicit});
  for (auto [c, hw, m, k, s] : kStemShapes) conv->Args({c, hw, m, k, s, 1});  // vs conv_direct_smallc
  // The Winograd shapes below on the implicit-im2col path, for the crossover.
  for (auto [c, hw, m] : kWinogradShapes) conv->Args({c, hw, m, 3, 1, 1});
  for (auto [c, hw, m] : kWinogradShapes) {
    if (hw < 32) conv->Args({c, hw, m, 3, 1, 2});  // small planes: padded-plane packing
  }
  // resnet18's stride-2 3x3 convs (implicit im2col).
  conv->Args({64, 56, 128, 3, 2, 1})->Args({128, 28, 256, 3, 2, 1})->Args({256, 14, 512, 3, 2, 1});
  timed(conv);
  auto* pointwise = benchmark::RegisterBenchmark("conv_pointwise", BM_ConvPointwise);
  pointwise->ArgNames({"C", "HW", "M", "act", "res"});
  for (const auto& a : kPointwiseShapes) pointwise->Args({a[0], a[1], a[2], a[3], a[4]});
  timed(pointwise);
  auto* direct = benchmark::RegisterBenchmark("conv_direct_smallc", BM_ConvDirectSmallC);
  direct->ArgNames({"C", "HW", "M", "k", "s"});
  for (auto [c, hw, m, k, s] : kStemShapes) direct->Args({c, hw, m, k, s});
  timed(direct);
  auto* blocked = benchmark::RegisterBenchmark("conv_direct_blocked", BM_ConvDirectBlocked);
  blocked->ArgNames({"C", "HW", "M", "k", "s"});
  for (auto [c, hw, m] : kWinogradShapes) blocked->Args({c, hw, m, 3, 1});
  blocked->Args({64, 56, 128, 3, 2})->Args({128, 28, 256, 3, 2})->Args({256, 14, 512, 3, 2});  // resnet18 stride 2
  timed(blocked);
  auto* fused = benchmark::RegisterBenchmark("conv_max_pool", BM_ConvMaxPool);
  fused->ArgNames({"k", "s", "pad", "pool_pad", "ceil", "fused", "band_kib"});
  for (int64_t f : {0, 1}) {
    fused->Args({3, 2, 0, 0, 1, f, 0})->Args({7, 2, 3, 1, 0, f, 0});  // squeezenet1_1, resnet18
  }
  for (int64_t kib : {64, 128, 512, 1024}) fused->Args({3, 2, 0, 0, 1, 1, kib});
  timed(fused);
  auto* pwdw = benchmark::RegisterBenchmark("pointwise_depthwise", BM_PointwiseDepthwise);
  pwdw->ArgNames({"C", "HW", "M", "k", "s", "fused", "band_kib"});
  // mobilenet_v2's features.2 / .3 / .4 and a 28x28 block; efficientnet_b0's 5x5 stride-2 block.
  for (int64_t f : {0, 1}) {
    pwdw->Args({16, 112, 96, 3, 2, f, 0})->Args({24, 56, 144, 3, 1, f, 0})->Args({24, 56, 144, 3, 2, f, 0});
    pwdw->Args({32, 28, 192, 3, 1, f, 0})->Args({24, 56, 144, 5, 2, f, 0});
  }
  for (int64_t kib : {128, 512, 1024, 2048, 8192}) pwdw->Args({16, 112, 96, 3, 2, 1, kib})->Args({24, 56, 144, 3, 1, 1, kib});
  timed(pwdw);
  auto* planes = benchmark::RegisterBenchmark("conv_direct_planes", BM_ConvDirectPlanes);
  planes->ArgNames({"C", "HW", "M", "k"});
  for (auto [c, hw, m] : kWinogradShapes) planes->Args({c, hw, m, 3});
  for (const auto& a : kPointwiseShapes) planes->Args({a[0], a[1], a[2], 1});
  timed(planes);
  auto* wino = benchmark::RegisterBenchmark("conv_winograd", BM_ConvWinograd);
  wino->ArgNames({"C", "HW", "M", "tile", "block", "chunk"});
  for (int64_t tile : {4, 2}) {
    for (auto [c, hw, m] : kWinogradShapes) wino->Args({c, hw, m, tile, 0, 0});
  }
  for (int64_t block : {16, 64, 256}) {  // the tile-block trade-off (L2 residency vs GEMM width)
    wino->Args({64, 56, 64, 4, block, 0})->Args({128, 28, 128, 4, block, 0});
  }
  for (int64_t block : {24, 32, 48, 56, 64, 96}) {  // squeezenet's small-C expand convs (C = 16..64)
    wino->Args({16, 55, 64, 4, block, 0})->Args({32, 27, 128, 4, block, 0})->Args({64, 13, 256, 4, block, 0});
  }
  for (int64_t chunk : {6, 24, 48, 1024}) {  // output channels per GEMM + output transform pass (1024: all)
    for (auto [c, hw, m] : kWinogradShapes) wino->Args({c, hw, m, 4, 0, chunk});
  }
  timed(wino);
}

}  // namespace
}  // namespace ef::bench

int main(int argc, char** argv) {
  // Our own flag first; Google Benchmark rejects flags it does not know.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      ef::bench::g_threads = std::max(1, std::atoi(argv[i] + 10));
    } else if (std::strncmp(argv[i], "--weight-copies=", 16) == 0) {
      ef::bench::g_weight_copies = std::clamp(std::atoi(argv[i] + 16), 1, 256);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::AddCustomContext("threads", std::to_string(ef::bench::g_threads));
  benchmark::AddCustomContext("weight_copies", std::to_string(ef::bench::g_weight_copies));
  ef::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
