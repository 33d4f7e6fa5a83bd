// ef::cpu::quantize_linear / dequantize_linear (AVX-512, AVX2 and the portable tail) against the formulas evaluated
// one element at a time: lengths around both vector widths, uint8 and int8, zero points at the range ends, values
// that saturate, infinities, NaN, and exact halves (round half to even).
#include "kernels/cpu/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace ef::cpu {
namespace quantize_test {

uint8_t quantized(float x, float scale, int32_t zp, bool out_signed) {
  const int32_t lo = out_signed ? -128 : 0, hi = out_signed ? 127 : 255;
  const float v = x / scale;
  if (std::isnan(v)) return static_cast<uint8_t>(std::clamp(zp, lo, hi));
  const double r = std::nearbyint(static_cast<double>(std::clamp(v, -65536.0f, 65536.0f)));
  return static_cast<uint8_t>(std::clamp(static_cast<int32_t>(r) + zp, lo, hi));
}

TEST(QuantizeLinearKernel, MatchesTheFormulaElementByElement) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-40.0f, 40.0f);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 1e30f, -1e30f, 0.0f, -0.0f};
  for (int i = 0; i < 40; ++i) {
    const bool out_signed = i % 2;
    const float scale = i % 3 == 0 ? 0.25f : 0.01f + static_cast<float>(rng() % 1000) * 1e-3f;
    const int32_t zp = i % 5 == 0 ? (out_signed ? -128 : 255) : (out_signed ? -7 : 131);
    const int64_t n = i < 34 ? i : 1000 + i;
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      float v = u(rng);
      if (j % 7 == 3) v = specials[(j / 7) % 7];
      if (j % 11 == 5) v = (std::floor(v) + 0.5f) * 0.25f;  // exact halves of the quotient when scale = 0.25
      x[static_cast<size_t>(j)] = v;
    }
    std::vector<uint8_t> y(static_cast<size_t>(n) + 1, 0xEE);
    quantize_linear(x.data(), n, scale, zp, out_signed, y.data());
    for (int64_t j = 0; j < n; ++j) {
      ASSERT_EQ(y[static_cast<size_t>(j)], quantized(x[static_cast<size_t>(j)], scale, zp, out_signed))
          << "case " << i << " element " << j << " x " << x[static_cast<size_t>(j)];
    }
    EXPECT_EQ(y[static_cast<size_t>(n)], 0xEE) << "wrote past the end, case " << i;
  }
}

TEST(DequantizeLinearKernel, MatchesTheFormulaElementByElement) {
  std::mt19937 rng(4);
  for (int i = 0; i < 30; ++i) {
    const bool in_signed = i % 2;
    const float scale = 0.01f + static_cast<float>(rng() % 1000) * 1e-3f;
    const int32_t zp = in_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
    const int64_t n = i < 20 ? i : 500 + i;
    std::vector<uint8_t> x(static_cast<size_t>(n));
    for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
    std::vector<float> y(static_cast<size_t>(n));
    dequantize_linear(x.data(), in_signed, n, scale, zp, y.data());
    for (int64_t j = 0; j < n; ++j) {
      const int32_t v = in_signed ? static_cast<int8_t>(x[static_cast<size_t>(j)]) : x[static_cast<size_t>(j)];
      ASSERT_EQ(y[static_cast<size_t>(j)], static_cast<float>(v - zp) * scale) << "case " << i << " element " << j;
    }
  }
}

}  // namespace quantize_test
}  // namespace ef::cpu
