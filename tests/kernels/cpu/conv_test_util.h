// Shared by the fast-conv (and pooling) kernel tests: the reference kernel's view of a 2-D fast-kernel geometry, so
// every test compares against kernels/reference/conv on exactly the shape it ran, and their random data.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/thread_pool.h"

#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_params.h"
#include "kernels/reference/conv.h"

namespace ef::cpu {

inline ConvParams to_reference(const Conv2dParams& p) {
  ConvParams r;
  r.batch = p.N;
  r.in_channels = p.C;
  r.out_channels = p.M;
  r.group = p.group;
  r.in_spatial = {p.H, p.W};
  r.out_spatial = {p.OH, p.OW};
  r.axes = {WindowAxis{p.kh, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom},
            WindowAxis{p.kw, p.stride_w, p.dilation_w, p.pad_left, p.pad_right}};
  return r;
}

// What a fused conv kernel must produce: the reference conv, then the residual (if any), then the activation.
inline std::vector<float> fused_conv_reference(const Conv2dParams& p, const float* x, const float* w,
                                               const float* bias, const float* residual, const Activation& act) {
  std::vector<float> y(static_cast<size_t>(p.N * p.M * p.OH * p.OW));
  conv_reference(to_reference(p), x, w, bias, y.data());
  for (size_t i = 0; i < y.size(); ++i) {
    if (residual != nullptr) y[i] += residual[i];
    y[i] = activation_reference(act, y[i]);
  }
  return y;
}

// Every activation kind, with parameters where it takes them: the fused epilogues the conv kernel tests cover.
inline constexpr Activation kAllActivations[] = {
    {ActKind::kNone, 0, 0},         {ActKind::kRelu, 0, 0},    {ActKind::kClip, -0.25f, 0.5f},
    {ActKind::kLeakyRelu, 0.1f, 0}, {ActKind::kSigmoid, 0, 0}, {ActKind::kHardSigmoid, 0.2f, 0.5f},
    {ActKind::kHardSwish, 0, 0},    {ActKind::kSilu, 0, 0},    {ActKind::kTanh, 0, 0},
    {ActKind::kGelu, 0, 0},
};

// A depthwise layer (M = C = group) with a k x k kernel, stride s and the same padding on every side.
inline Conv2dParams depthwise_params(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t s, int64_t pad) {
  Conv2dParams p;
  p.N = n, p.C = c, p.M = c, p.group = c, p.H = h, p.W = w, p.kh = k, p.kw = k;
  p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  return p.with_output_size();
}

// Uniform values in [lo, hi): inputs, weights, biases and residuals of the randomized kernel tests.
inline std::vector<float> random_floats(size_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// One randomized fused-conv problem (input, weights, bias, residual, activation) and the output the reference
// gives for it; each kernel's test adds the call of its kernel.
struct FusedConvCase {
  Conv2dParams p;
  std::vector<float> x, w, bias, residual;
  bool use_bias = true, use_residual = false;
  Activation act;

  const float* bias_ptr() const { return use_bias ? bias.data() : nullptr; }
  const float* residual_ptr() const { return use_residual ? residual.data() : nullptr; }
  size_t out_size() const { return static_cast<size_t>(p.N * p.M * p.OH * p.OW); }

  void fill(std::mt19937& rng) {
    x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
    w = random_floats(static_cast<size_t>(p.M * (p.C / p.group) * p.kh * p.kw), rng);
    bias = random_floats(static_cast<size_t>(p.M), rng);
    residual = random_floats(out_size(), rng);
  }

  std::vector<float> expected() const {
    return fused_conv_reference(p, x.data(), w.data(), bias_ptr(), residual_ptr(), act);
  }

  // A random epilogue (bias half the time, residual a third of the time, any activation), then random data.
  template <class Pick>
  void randomize_epilogue_and_fill(Pick& pick, std::mt19937& rng) {
    use_bias = pick(0, 1);
    use_residual = pick(0, 2) == 0;
    act = kAllActivations[pick(0, 9)];
    fill(rng);
  }
};

// The window of a random depthwise layer (N, C, M, group, H and W already set): kernels 1..7 with 3 and 5 most
// often, strides 1..3, dilation 2 a quarter of the time, pads 0..3. OH or OW comes out < 1 when no window fits;
// callers skip those.
template <class Pick>
void random_depthwise_window(Pick& pick, Conv2dParams& p) {
  static constexpr int kKernels[] = {1, 2, 3, 3, 3, 4, 5, 5, 7};
  p.kh = kKernels[pick(0, 8)];
  p.kw = pick(0, 2) == 0 ? kKernels[pick(0, 8)] : p.kh;
  p.stride_h = pick(1, 3);
  p.stride_w = pick(0, 1) ? p.stride_h : pick(1, 3);
  p.dilation_h = pick(0, 3) == 0 ? 2 : 1;
  p.dilation_w = pick(0, 3) == 0 ? 2 : 1;
  p.pad_top = pick(0, 3), p.pad_left = pick(0, 3), p.pad_bottom = pick(0, 3), p.pad_right = pick(0, 3);
  p.with_output_size();
}

// Runs a case (anything with run(ThreadPool&) returning the output) on 1, 2 and 3 threads: how a kernel splits
// its work must not change a single bit of the result.
template <class Case>
void expect_same_bits_for_thread_counts(const Case& c) {
  ThreadPool one(1), two(2), three(3);
  const std::vector<float> a = c.run(one), b = c.run(two), d = c.run(three);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.data(), d.data(), a.size() * sizeof(float)));
}

}  // namespace ef::cpu
