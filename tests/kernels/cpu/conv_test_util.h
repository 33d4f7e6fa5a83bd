// Shared by the fast-conv (and pooling) kernel tests: the reference kernel's view of a 2-D fast-kernel geometry, so
// every test compares against kernels/reference/conv on exactly the shape it ran, and their random data.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
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

// The case's geometry and epilogue in one line, for failure messages.
inline std::string describe_conv_case(const FusedConvCase& c) {
  const Conv2dParams& p = c.p;
  char buf[384];
  std::snprintf(buf, sizeof buf,
                "N=%lld C=%lld M=%lld HxW=%lldx%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld pads(t,l,b,r)=%lld,%lld,%lld,"
                "%lld out=%lldx%lld bias=%d residual=%d act=%d",
                (long long)p.N, (long long)p.C, (long long)p.M, (long long)p.H, (long long)p.W, (long long)p.kh,
                (long long)p.kw, (long long)p.stride_h, (long long)p.stride_w, (long long)p.dilation_h,
                (long long)p.dilation_w, (long long)p.pad_top, (long long)p.pad_left, (long long)p.pad_bottom,
                (long long)p.pad_right, (long long)p.OH, (long long)p.OW, c.use_bias, c.use_residual,
                static_cast<int>(c.act.kind));
  return buf;
}

// Runs a direct conv kernel class (Conv(p, w, bias), scratch_bytes(), run(x, residual, act, y, scratch, pool)) on
// the case. Scratch is poisoned with NaN, so a read of a slot the kernel did not write shows up in the output, and
// the output pre-filled with a sentinel, so a position the kernel skipped shows up too. With y_in, the output is
// written there over the residual it holds (the aliasing case).
// plan_threads: for kernels that split their work for a thread count at construction, the count they are built
// for, whatever the pool that runs them (make_direct_conv).
template <class Conv>
std::vector<float> run_direct_conv(const FusedConvCase& c, ThreadPool& pool, float* y_in = nullptr,
                                   int plan_threads = 1) {
  const Conv conv = make_direct_conv<Conv>(c.p, c.w.data(), c.bias_ptr(), plan_threads);
  std::vector<float> scratch(conv.scratch_bytes() / sizeof(float), std::nanf(""));
  std::vector<float> y(c.out_size(), -12345.0f);
  float* out = y_in ? y_in : y.data();
  conv.run(c.x.data(), y_in ? y_in : c.residual_ptr(), c.act, out, scratch.data(), pool);
  return y_in ? std::vector<float>(y_in, y_in + c.out_size()) : y;
}

// got == want within tol * (1 + |want|) per element; NaN where want is NaN.
inline void expect_close_to_reference(const std::vector<float>& got, const std::vector<float>& want,
                                      const FusedConvCase& c, float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << describe_conv_case(c) << " at " << i;
      continue;
    }
    ASSERT_NEAR(got[i], want[i], tol * (1.0f + std::fabs(want[i]))) << describe_conv_case(c) << " at " << i;
  }
}

// A case run on the direct kernel class Conv (run_direct_conv), checked against the reference with a tolerance from
// the sum's magnitude: K = C kh kw products of values in [-1, 1] accumulated in another order.
template <class Conv>
struct DirectConvProblem : FusedConvCase {
  int plan_threads = 1;  // see run_direct_conv
  std::vector<float> run(ThreadPool& pool, float* y_in = nullptr) const {
    return run_direct_conv<Conv>(*this, pool, y_in, plan_threads);
  }
};

inline void expect_close_to_reference_k(const std::vector<float>& got, const std::vector<float>& want,
                                        const FusedConvCase& c) {
  expect_close_to_reference(got, want, c, 2e-6f * static_cast<float>(c.p.C * c.p.kh * c.p.kw));
}

// A c -> m 3x3 'same' convolution on h x w (stride 1).
inline Conv2dParams same3x3(int64_t c, int64_t m, int64_t h, int64_t w) {
  Conv2dParams p;
  p.C = c, p.M = m, p.H = h, p.W = w, p.kh = p.kw = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  return p.with_output_size();
}

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
