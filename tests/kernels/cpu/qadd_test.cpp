// ef::cpu::qlinear_add (AVX2 where the CPU has it, and portable) against the DequantizeLinear -> Add ->
// QuantizeLinear formula evaluated step by step in float32, bit for bit: lengths around the vector width,
// uint8 / int8 operands and outputs in every mix, scales that make the sums saturate, in-place output; and the
// prepared kernels (qlinear_add_kernel, which may multiply by the reciprocal or use fixed point) on every byte pair
// and on rows of every length up to two vector steps.
#include "kernels/cpu/qadd.h"

#include <gtest/gtest.h>

#include "kernels/cpu/isa.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace ef::cpu {
namespace qadd_test {

int32_t as_int(uint8_t v, bool is_signed) { return is_signed ? static_cast<int8_t>(v) : v; }

uint8_t expected(uint8_t a, uint8_t b, const QAddParams& p) {
  const float da = static_cast<float>(as_int(a, p.a_signed) - p.a_zero_point) * p.a_scale;
  const float db = static_cast<float>(as_int(b, p.b_signed) - p.b_zero_point) * p.b_scale;
  const float sum = da + db;
  const double q = std::nearbyint(static_cast<double>(sum / p.y_scale)) + p.y_zero_point;
  const double lo = p.y_signed ? -128 : 0, hi = p.y_signed ? 127 : 255;
  return static_cast<uint8_t>(static_cast<int32_t>(std::clamp(q, lo, hi)));
}

TEST(QLinearAddKernel, MatchesTheQdqFormula) {
  std::mt19937 rng(11);
  for (int c = 0; c < 24; ++c) {
    QAddParams p;
    p.a_signed = c % 2, p.b_signed = (c / 2) % 2, p.y_signed = (c / 4) % 2;
    p.a_scale = std::uniform_real_distribution<float>(0.001f, 0.05f)(rng);
    p.b_scale = std::uniform_real_distribution<float>(0.001f, 0.05f)(rng);
    p.y_scale = std::uniform_real_distribution<float>(0.002f, c % 3 == 0 ? 0.01f : 0.1f)(rng);  // some saturate
    p.a_zero_point = p.a_signed ? -3 : 128, p.b_zero_point = p.b_signed ? 7 : 100;
    p.y_zero_point = p.y_signed ? 2 : 131;
    const int64_t n = 1 + c * 5;
    std::vector<uint8_t> a(static_cast<size_t>(n)), b(a.size());
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(rng()), b[i] = static_cast<uint8_t>(rng());
    for (bool avx2 : {false, true}) {
      std::vector<uint8_t> y(a.size());
      qlinear_add(a.data(), b.data(), n, p, y.data(), avx2);
      std::vector<uint8_t> in_place = a;
      qlinear_add(in_place.data(), b.data(), n, p, in_place.data(), avx2);
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(y[i], expected(a[i], b[i], p)) << "case " << c << " element " << i << " avx2 " << avx2;
        ASSERT_EQ(in_place[i], y[i]) << "in place, case " << c << " element " << i;
      }
    }
  }
}

// The prepared kernel for random parameters, on all 65,536 input pairs and on rows whose length leaves tails: the
// reciprocal form must be chosen only where it is exact, and chosen at all on x86 (else its code is untested).
TEST(QLinearAddKernel, PreparedKernelIsExactOnEveryPair) {
  std::mt19937 rng(23);
  std::vector<uint8_t> a(256 * 256), b(a.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i >> 8), b[i] = static_cast<uint8_t>(i);
  int reciprocal = 0;
  for (int c = 0; c < 40; ++c) {
    QAddParams p;
    p.a_signed = c % 2, p.b_signed = (c / 2) % 2, p.y_signed = (c / 4) % 2;
    auto scale = [&](float lo, float hi) { return std::exp(std::uniform_real_distribution<float>(lo, hi)(rng)); };
    p.a_scale = scale(-7, -2), p.b_scale = scale(-7, -2), p.y_scale = scale(-6, -1);
    p.a_zero_point = std::uniform_int_distribution<int>(p.a_signed ? -128 : 0, p.a_signed ? 127 : 255)(rng);
    p.b_zero_point = std::uniform_int_distribution<int>(p.b_signed ? -128 : 0, p.b_signed ? 127 : 255)(rng);
    p.y_zero_point = std::uniform_int_distribution<int>(p.y_signed ? -128 : 0, p.y_signed ? 127 : 255)(rng);
    const QAddKernel k = qlinear_add_kernel(p);
    reciprocal += std::string(k.name).rfind("reciprocal", 0) == 0;
    std::vector<uint8_t> y(a.size());
    k.fn(a.data(), b.data(), static_cast<int64_t>(a.size()), p, y.data());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(y[i], expected(a[i], b[i], p)) << "case " << c << " kernel " << k.name << " a " << int{a[i]} << " b "
                                               << int{b[i]};
    }
    // A row starting mid-array with a length that is no multiple of the vector width, in place.
    const int64_t n = 37 + c;
    std::vector<uint8_t> row(a.begin() + 1000, a.begin() + 1000 + n);
    k.fn(row.data(), b.data() + 1000, n, p, row.data());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(row[static_cast<size_t>(i)], y[static_cast<size_t>(1000 + i)]);
  }
  const bool x86_vectors = std::string(qlinear_add_kernel(QAddParams{}).name) != "portable";
  if (x86_vectors) {
    EXPECT_GT(reciprocal, 0) << "the reciprocal kernels were never chosen";
  }
}


// Integer scale ratios (what `edgeforge quantize` writes for residual adds) must get the fixed-point kernels, at
// every x86 level this CPU has, and they must equal the float formula on all pairs and on rows of any length.
TEST(QLinearAddKernel, IntegerScaleRatiosUseExactFixedPoint) {
  const std::vector<std::string> isas = available_isas();
  std::vector<std::string> levels;
  for (const std::string& isa : isas) {
    const bool avx512 = isa.rfind("AVX3", 0) == 0;
    if ((avx512 || isa == "AVX2") && (levels.empty() || avx512 != (levels.back().rfind("AVX3", 0) == 0))) {
      levels.push_back(isa);
    }
  }
  std::mt19937 rng(5);
  std::vector<uint8_t> a(256 * 256), b(a.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i >> 8), b[i] = static_cast<uint8_t>(i);
  struct RestoreIsa {
    std::string best;
    ~RestoreIsa() { limit_isa(best); }
  } restore{isas.front()};
  for (const std::string& isa : levels) {
    ASSERT_TRUE(limit_isa(isa));
    for (int c = 0; c < 16; ++c) {
      QAddParams p;
      p.a_signed = c % 2, p.b_signed = (c / 2) % 2, p.y_signed = (c / 4) % 2;
      p.y_scale = std::exp(std::uniform_real_distribution<float>(-6, -2)(rng));
      p.a_scale = p.y_scale * static_cast<float>(1 + c % 3), p.b_scale = p.y_scale * static_cast<float>(1 + (c / 3) % 2);
      p.a_zero_point = std::uniform_int_distribution<int>(p.a_signed ? -128 : 0, p.a_signed ? 127 : 255)(rng);
      p.b_zero_point = std::uniform_int_distribution<int>(p.b_signed ? -128 : 0, p.b_signed ? 127 : 255)(rng);
      p.y_zero_point = std::uniform_int_distribution<int>(p.y_signed ? -128 : 0, p.y_signed ? 127 : 255)(rng);
      const QAddKernel k = qlinear_add_kernel(p);
      ASSERT_EQ(std::string(k.name).rfind("fixed", 0), 0u) << isa << " case " << c << " chose " << k.name;
      std::vector<uint8_t> y(a.size());
      k(a.data(), b.data(), static_cast<int64_t>(a.size()), y.data());
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(y[i], expected(a[i], b[i], p)) << isa << " case " << c << " a " << int{a[i]} << " b " << int{b[i]};
      }
      for (int64_t n = 1; n <= 130; ++n) {
        const size_t at = static_cast<size_t>(std::uniform_int_distribution<int>(0, 60000)(rng));
        std::vector<uint8_t> row(a.begin() + static_cast<std::ptrdiff_t>(at), a.begin() + static_cast<std::ptrdiff_t>(at) + n);
        k(row.data(), b.data() + at, n, row.data());
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(row[static_cast<size_t>(i)], y[at + static_cast<size_t>(i)]) << isa << " row length " << n;
        }
      }
    }
  }
  if (levels.empty()) GTEST_SKIP() << "no AVX2 / AVX-512 on this CPU: the fixed-point kernels do not apply";
}

// qlinear_add_scalar (a table of the 256 results, mapped with VBMI where the CPU has it) against the formula for
// every element: lengths around the 64-byte step, in place, uint8 / int8 mixes, broadcast values at the edges.
TEST(QLinearAddKernel, ScalarBroadcastTableMatchesTheFormula) {
  std::mt19937 rng(17);
  for (int i = 0; i < 24; ++i) {
    QAddParams p;
    p.a_scale = 0.01f + static_cast<float>(rng() % 1000) * 1e-4f;
    p.b_scale = 0.01f + static_cast<float>(rng() % 1000) * 1e-4f;
    p.y_scale = 0.02f + static_cast<float>(rng() % 1000) * 1e-4f;
    p.a_signed = i % 2, p.b_signed = (i / 2) % 2, p.y_signed = (i / 4) % 2;
    p.a_zero_point = p.a_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
    p.b_zero_point = p.b_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
    p.y_zero_point = p.y_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
    const int64_t lengths[] = {1, 63, 64, 65, 200, 1001};
    const int64_t n = lengths[i % 6];
    const uint8_t b = i % 3 == 0 ? 0 : (i % 3 == 1 ? 255 : static_cast<uint8_t>(rng()));
    std::vector<uint8_t> a(static_cast<size_t>(n)), y(static_cast<size_t>(n));
    for (uint8_t& v : a) v = static_cast<uint8_t>(rng());
    const bool in_place = i % 5 == 0;
    std::vector<uint8_t> a_copy = a;
    qlinear_add_scalar(a.data(), n, b, p, in_place ? a.data() : y.data());
    const std::vector<uint8_t>& got = in_place ? a : y;
    for (int64_t j = 0; j < n; ++j) {
      ASSERT_EQ(got[static_cast<size_t>(j)], expected(a_copy[static_cast<size_t>(j)], b, p)) << "case " << i << " at " << j;
    }
  }
}

}  // namespace
}  // namespace ef::cpu
