// Tests of the vectorized activation epilogue (kernels/cpu/activation.cpp) against its scalar definition
// activation_reference: dense sweeps, special values, every tail length, unaligned pointers. Prints the measured
// worst error and the speedup over the scalar loop (informational only; nothing is timed against a threshold).
#include "kernels/cpu/activation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "hwy/targets.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace cpu_activation_test {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Tolerance of the vector kernels against the reference: 2e-6 relative, 1e-7 absolute for results near 0
// (where, e.g., HardSigmoid's alpha*x+beta cancels).
constexpr double kRelTol = 2e-6;
constexpr double kAbsTol = 1e-7;

std::vector<Activation> all_activations() {
  return {{ActKind::kRelu},          {ActKind::kClip, -1.5f, 6.0f}, {ActKind::kLeakyRelu, 0.1f},
          {ActKind::kSigmoid},       {ActKind::kHardSigmoid, 0.2f, 0.5f}, {ActKind::kHardSwish},
          {ActKind::kSilu},          {ActKind::kTanh},        {ActKind::kGelu}};
}

const char* name_of(ActKind k) {
  switch (k) {
    case ActKind::kNone: return "None";
    case ActKind::kRelu: return "Relu";
    case ActKind::kClip: return "Clip";
    case ActKind::kLeakyRelu: return "LeakyRelu";
    case ActKind::kSigmoid: return "Sigmoid";
    case ActKind::kHardSigmoid: return "HardSigmoid";
    case ActKind::kHardSwish: return "HardSwish";
    case ActKind::kSilu: return "Silu";
    case ActKind::kTanh: return "Tanh";
    case ActKind::kGelu: return "Gelu";
  }
  return "?";
}

std::vector<float> sweep_inputs() {
  std::vector<float> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);  // [-20, 20]
  for (float v : {0.0f, -0.0f, kInf, -kInf, std::numeric_limits<float>::quiet_NaN(), 1e-30f, -1e-30f, 1e-40f,
                  -1e-40f, 50.0f, -50.0f, 87.0f, -87.0f, 88.7f, -88.7f, 89.0f, -89.0f, 100.0f, -100.0f, 104.0f,
                  -104.0f, 1e10f, -1e10f, 3e38f, -3e38f, std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
                  std::numeric_limits<float>::denorm_min()}) {
    x.push_back(v);
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-30.0f, 30.0f);
  for (int i = 0; i < 20000; ++i) {
    const float m = std::pow(2.0f, exponent(rng));
    x.push_back(i % 2 ? m : -m);
  }
  return x;
}

// True when got matches want; accumulates the worst relative error seen on values above the absolute floor.
bool close(float got, float want, double* worst_rel) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  const double err = std::abs(static_cast<double>(got) - want);
  if (std::abs(want) > 1e-6) *worst_rel = std::max(*worst_rel, err / std::abs(want));
  return err <= kRelTol * std::abs(want) + kAbsTol;
}

TEST(CpuActivation, MatchesReferenceOnSweepAndSpecialValues) {
  const std::vector<float> x = sweep_inputs();
  for (const Activation& act : all_activations()) {
    std::vector<float> y = x;
    apply_activation(act, y.data(), y.size());
    double worst_rel = 0;
    int failures = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = activation_reference(act, x[i]);
      if (!close(y[i], want, &worst_rel) && ++failures <= 5) {
        ADD_FAILURE() << name_of(act.kind) << "(" << x[i] << ") = " << y[i] << ", want " << want;
      }
    }
    std::printf("[ info ] %-11s worst relative error %.3g (|y| > 1e-6)\n", name_of(act.kind), worst_rel);
  }
}

TEST(CpuActivation, ReferenceSpecialValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Activation& act : all_activations()) {
    EXPECT_TRUE(std::isnan(activation_reference(act, nan))) << name_of(act.kind);
  }
  EXPECT_EQ(activation_reference({ActKind::kSigmoid}, -kInf), 0.0f);
  EXPECT_EQ(activation_reference({ActKind::kSigmoid}, kInf), 1.0f);
  EXPECT_EQ(activation_reference({ActKind::kTanh}, -kInf), -1.0f);
  EXPECT_EQ(activation_reference({ActKind::kGelu}, kInf), kInf);
  EXPECT_FLOAT_EQ(activation_reference({ActKind::kGelu}, 1.0f), 0.8413447f);
  EXPECT_FLOAT_EQ(activation_reference({ActKind::kGelu}, -6.0f), -5.9195259e-09f);
  EXPECT_EQ(activation_reference({ActKind::kHardSwish}, 3.0f), 3.0f);
  EXPECT_EQ(activation_reference({ActKind::kClip, 0.0f, 6.0f}, 7.0f), 6.0f);
  EXPECT_TRUE(std::signbit(activation_reference({ActKind::kRelu}, -0.0f)));
}

TEST(CpuActivation, EveryLengthAndAlignmentTouchesOnlyItsRange) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-8.0f, 8.0f);
  std::vector<float> base(200);
  for (float& v : base) v = dist(rng);
  for (const Activation& act : all_activations()) {
    for (size_t offset = 0; offset < 4; ++offset) {
      for (size_t n = 0; n <= 70; ++n) {
        std::vector<float> y = base;
        apply_activation(act, y.data() + 1 + offset, n);
        for (size_t i = 0; i < base.size(); ++i) {
          const bool inside = i >= 1 + offset && i < 1 + offset + n;
          const float want = inside ? activation_reference(act, base[i]) : base[i];
          double ignored = 0;
          ASSERT_TRUE(inside ? close(y[i], want, &ignored) : y[i] == want)
              << name_of(act.kind) << " n=" << n << " offset=" << offset << " i=" << i;
        }
      }
    }
  }
}

TEST(CpuActivation, NoneLeavesDataUntouched) {
  std::vector<float> y = {1.0f, -2.0f, std::numeric_limits<float>::quiet_NaN()};
  apply_activation({ActKind::kNone}, y.data(), y.size());
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_TRUE(std::isnan(y[2]));
}

TEST(CpuActivation, EveryCompiledTargetMatchesReference) {
  const std::vector<float> x = sweep_inputs();
  for_each_compiled_target([&](const char* target) {
    std::printf("[ info ] activation kernels checked on target %s\n", target);
    for (const Activation& act : all_activations()) {
      for (size_t offset : {size_t{0}, size_t{3}}) {  // unaligned start and a masked tail
        std::vector<float> y(x.begin() + static_cast<long>(offset), x.end());
        apply_activation(act, y.data(), y.size());
        double ignored = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          const float want = activation_reference(act, x[i + offset]);
          ASSERT_TRUE(close(y[i], want, &ignored))
              << target << " " << name_of(act.kind) << "(" << x[i + offset] << ") = " << y[i] << ", want " << want;
        }
      }
    }
  });
}

// Error of got against the exact value want, in units in the last place of want's binade (2^-149 for subnormal
// results). Special values must match exactly (NaN for NaN, equal infinities).
double ulp_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0.0 : HUGE_VAL;
  if (std::isinf(want) || std::isinf(got)) return static_cast<double>(got) == want ? 0.0 : HUGE_VAL;
  const double a = std::abs(want);
  int exponent = 0;
  std::frexp(a, &exponent);
  const double ulp = a < std::numeric_limits<float>::min() ? std::ldexp(1.0, -149) : std::ldexp(1.0, exponent - 24);
  return std::abs(static_cast<double>(got) - want) / ulp;
}

// Every 8191st float bit pattern (all binades, both signs, subnormals, infinities, NaNs) plus the dense sweep.
std::vector<float> accuracy_inputs() {
  std::vector<float> x = sweep_inputs();
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 8191) {
    const auto b = static_cast<uint32_t>(bits);
    float v;
    std::memcpy(&v, &b, sizeof v);
    x.push_back(v);
  }
  return x;
}

// Relative error of got against the exact value want, with FLT_MIN as the floor of |want| (a subnormal result may
// be off by a few units of 2^-149). Special values must match exactly (NaN for NaN, equal infinities).
double relative_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0.0 : HUGE_VAL;
  if (std::isinf(want) || std::isinf(got)) return static_cast<double>(got) == want ? 0.0 : HUGE_VAL;
  return std::abs(static_cast<double>(got) - want) /
         std::max(std::abs(want), static_cast<double>(std::numeric_limits<float>::min()));
}

// The exp-based kernels against double precision on every compiled target. Sigmoid and SiLU promise 1e-6
// relative error (worst measured: AVX2 3.7e-7 / 4.3e-7, at x = -85 / -92 where the float ln2 of the one-FMA
// argument reduction costs most; targets without FMA 2.6e-7 / 3.0e-7); tanh, with the few-ulp exp, 2.5 ulp
// (measured 1.33).
// tanh's odd polynomial below 0.625 keeps its error relative as tanh(x) -> x. Subnormal results are counted in
// units of 2^-149 (ulp) or of FLT_MIN (relative).
TEST(CpuActivation, ExpBasedKernelsAreAccurateAgainstDouble) {
  struct Case {
    ActKind kind;
    double (*exact)(double);
    double (*error)(float, double);
    double bound;
  };
  const Case cases[] = {
      {ActKind::kSigmoid, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, relative_error, 1e-6},
      {ActKind::kSilu, [](double v) { return v / (1.0 + std::exp(-v)); }, relative_error, 1e-6},
      {ActKind::kTanh, [](double v) { return std::tanh(v); }, ulp_error, 2.5},
  };
  const std::vector<float> x = accuracy_inputs();
  for_each_compiled_target([&](const char* target) {
    for (const Case& c : cases) {
      std::vector<float> y = x;
      apply_activation({c.kind}, y.data(), y.size());
      double worst = 0;
      float worst_x = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double err = c.error(y[i], c.exact(static_cast<double>(x[i])));
        if (err > worst) {
          worst = err;
          worst_x = x[i];
        }
      }
      std::printf("[ info ] %-6s %-7s worst error %.3g (%s) at x = %.9g\n", target, name_of(c.kind), worst,
                  c.error == ulp_error ? "ulp" : "relative", worst_x);
      EXPECT_LE(worst, c.bound) << target << " " << name_of(c.kind) << " at x = " << worst_x;
    }
  });
}

// IEEE-style limits and signed zeros of the exp-based kernels (NaN in, NaN out; SiLU(-inf) = -inf * 0 = NaN, as
// the unfused x * Sigmoid(x) graph gives).
TEST(CpuActivation, ExpBasedKernelsSpecialValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float tiny = std::numeric_limits<float>::denorm_min();
  for_each_compiled_target([&](const char* target) {
    auto run = [](ActKind kind, std::vector<float> v) {
      apply_activation({kind}, v.data(), v.size());
      return v;
    };
    const auto s = run(ActKind::kSigmoid, {-kInf, kInf, nan, 0.0f, -0.0f, -200.0f, 200.0f, tiny});
    EXPECT_EQ(s[0], 0.0f) << target;
    EXPECT_EQ(s[1], 1.0f) << target;
    EXPECT_TRUE(std::isnan(s[2])) << target;
    EXPECT_EQ(s[3], 0.5f) << target;
    EXPECT_EQ(s[4], 0.5f) << target;
    EXPECT_EQ(s[5], 0.0f) << target;
    EXPECT_EQ(s[6], 1.0f) << target;
    EXPECT_EQ(s[7], 0.5f) << target;
    const auto si = run(ActKind::kSilu, {-kInf, kInf, nan, -0.0f, -1e30f, 1e30f, -tiny});
    EXPECT_TRUE(std::isnan(si[0])) << target;
    EXPECT_EQ(si[1], kInf) << target;
    EXPECT_TRUE(std::isnan(si[2])) << target;
    EXPECT_TRUE(si[3] == 0.0f && std::signbit(si[3])) << target;
    EXPECT_TRUE(si[4] == 0.0f && std::signbit(si[4])) << target;
    EXPECT_EQ(si[5], 1e30f) << target;
    EXPECT_EQ(si[6], 0.0f) << target;  // -tiny / 2 rounds to zero
    const auto t = run(ActKind::kTanh, {-kInf, kInf, nan, -0.0f, tiny, -tiny, 30.0f, -30.0f});
    EXPECT_EQ(t[0], -1.0f) << target;
    EXPECT_EQ(t[1], 1.0f) << target;
    EXPECT_TRUE(std::isnan(t[2])) << target;
    EXPECT_TRUE(t[3] == 0.0f && std::signbit(t[3])) << target;
    EXPECT_EQ(t[4], tiny) << target;
    EXPECT_EQ(t[5], -tiny) << target;
    EXPECT_EQ(t[6], 1.0f) << target;
    EXPECT_EQ(t[7], -1.0f) << target;
  });
}

// Informational: the speed of the epilogue on GEMM-sized chunks (256 floats) against the scalar definition.
TEST(CpuActivation, PrintSpeedupOverScalar) {
  std::vector<float> chunk(256);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-6.0f, 6.0f);
  for (float& v : chunk) v = dist(rng);
  constexpr int kReps = 2000;
  for (const Activation& act : all_activations()) {
    std::vector<float> y = chunk;
    auto t0 = thread_now();
    for (int r = 0; r < kReps; ++r) {
      y = chunk;  // both loops copy, so the copy cancels out of the comparison
      for (float& v : y) v = activation_reference(act, v);
    }
    auto t1 = thread_now();
    for (int r = 0; r < kReps; ++r) {
      y = chunk;
      apply_activation(act, y.data(), y.size());
    }
    auto t2 = thread_now();
    const double scalar_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / (kReps * 256.0);
    const double vector_ns = std::chrono::duration<double, std::nano>(t2 - t1).count() / (kReps * 256.0);
    std::printf("[ info ] %-11s scalar %.2f ns/elem, vector %.3f ns/elem, speedup %.1fx\n", name_of(act.kind),
                scalar_ns, vector_ns, scalar_ns / vector_ns);
  }
}

}  // namespace
}  // namespace ef::cpu
