// Tests of ef::cpu::im2col: im2col followed by a naive per-group matmul must reproduce the reference convolution
// (kernels/reference/conv.h), and blocks must agree with the whole column matrix.
#include "kernels/cpu/im2col.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/reference/conv.h"
#include "kernels/cpu/conv_test_util.h"

namespace ef::cpu {
namespace im2col_test {

// y = im2col + W_g x col per (n, g), accumulated in double like the reference.
std::vector<float> conv_via_im2col(const Conv2dParams& p, const std::vector<float>& x, const std::vector<float>& w,
                                   const std::vector<float>& bias) {
  const int64_t K = im2col_rows(p), P = im2col_cols(p), Mg = p.M / p.group;
  std::vector<float> y(static_cast<size_t>(p.N * p.M * P));
  std::vector<float> col(static_cast<size_t>(K * P), -777.0f);
  for (int64_t n = 0; n < p.N; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      im2col(p, x.data(), n, g, col.data());
      for (int64_t m = g * Mg; m < (g + 1) * Mg; ++m) {
        for (int64_t j = 0; j < P; ++j) {
          double acc = bias[m];
          for (int64_t k = 0; k < K; ++k) acc += double(w[m * K + k]) * col[k * P + j];
          y[(n * p.M + m) * P + j] = static_cast<float>(acc);
        }
      }
    }
  }
  return y;
}

TEST(CpuConvIm2col, MatmulOverColumnsMatchesReferenceConv) {
  std::mt19937 rng(42);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int checked = 0;
  for (int iter = 0; iter < 300; ++iter) {
    Conv2dParams p;
    p.group = pick(1, 3);
    p.C = p.group * pick(1, 3);
    p.M = p.group * pick(1, 3);
    p.N = pick(1, 2);
    p.H = pick(1, 17);
    p.W = pick(1, 19);
    p.kh = pick(1, 4);
    p.kw = pick(0, 2) ? p.kh : pick(1, 5);
    p.stride_h = pick(1, 3);
    p.stride_w = pick(1, 3);
    p.dilation_h = pick(1, 2);
    p.dilation_w = pick(1, 2);
    p.pad_top = pick(0, 3), p.pad_left = pick(0, 3), p.pad_bottom = pick(0, 3), p.pad_right = pick(0, 3);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1) continue;
    const auto x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
    const auto w = random_floats(static_cast<size_t>(p.M * im2col_rows(p)), rng);
    const auto bias = random_floats(static_cast<size_t>(p.M), rng);
    const std::vector<float> got = conv_via_im2col(p, x, w, bias);
    std::vector<float> want(got.size());
    conv_reference(to_reference(p), x.data(), w.data(), bias.data(), want.data());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::fabs(want[i])))
          << "iter " << iter << " HxW " << p.H << "x" << p.W << " k " << p.kh << "x" << p.kw << " s " << p.stride_h
          << "," << p.stride_w << " d " << p.dilation_h << "," << p.dilation_w << " pads " << p.pad_top << ","
          << p.pad_left << "," << p.pad_bottom << "," << p.pad_right << " group " << p.group << " at " << i;
    }
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

TEST(CpuConvIm2col, BlocksMatchWholeMatrix) {
  std::mt19937 rng(3);
  Conv2dParams p;
  p.N = 2, p.C = 4, p.M = 4, p.group = 2, p.H = 9, p.W = 11, p.kh = 3, p.kw = 2;
  p.stride_h = 2, p.stride_w = 1, p.dilation_h = 1, p.dilation_w = 2;
  p.pad_top = 1, p.pad_left = 2, p.pad_bottom = 0, p.pad_right = 1;
  p.with_output_size();
  const auto x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
  const int64_t K = im2col_rows(p), P = im2col_cols(p);
  std::vector<float> whole(static_cast<size_t>(K * P));
  im2col(p, x.data(), 1, 1, whole.data());
  const float* x_group = x.data() + (1 * p.C + 1 * (p.C / p.group)) * p.H * p.W;
  for (auto [k0, k1, j0, j1] : {std::array<int64_t, 4>{0, K, 0, P}, {1, 5, 3, 4}, {2, K, 5, P - 2}, {0, 1, 0, 1}}) {
    const int64_t ld = j1 - j0 + 3;
    std::vector<float> block(static_cast<size_t>((k1 - k0) * ld), -5.0f);
    im2col_block(p, x_group, k0, k1, j0, j1, block.data(), ld);
    for (int64_t k = k0; k < k1; ++k) {
      for (int64_t j = j0; j < j1; ++j) {
        ASSERT_EQ(block[(k - k0) * ld + (j - j0)], whole[k * P + j]) << k << "," << j;
      }
      for (int64_t j = j1 - j0; j < ld; ++j) ASSERT_EQ(block[(k - k0) * ld + j], -5.0f) << "wrote past the block";
    }
  }
}

TEST(CpuConvIm2col, PointwiseNeedsNoIm2col) {
  std::mt19937 rng(8);
  Conv2dParams p;
  p.N = 1, p.C = 6, p.M = 3, p.group = 3, p.H = 5, p.W = 7;
  p.with_output_size();
  ASSERT_TRUE(conv_needs_no_im2col(p));
  const auto x = random_floats(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
  std::vector<float> col(static_cast<size_t>(im2col_rows(p) * im2col_cols(p)));
  im2col(p, x.data(), 0, 2, col.data());
  const float* b = x.data() + (0 * p.C + 2 * (p.C / p.group)) * p.H * p.W;
  for (size_t i = 0; i < col.size(); ++i) ASSERT_EQ(col[i], b[i]);

  Conv2dParams strided = p;
  strided.stride_w = 2;
  EXPECT_FALSE(conv_needs_no_im2col(strided.with_output_size()));
  Conv2dParams padded = p;
  padded.pad_right = 1;
  EXPECT_FALSE(conv_needs_no_im2col(padded.with_output_size()));
  Conv2dParams wide = p;
  wide.kw = 3;
  EXPECT_FALSE(conv_needs_no_im2col(wide.with_output_size()));
}

}  // namespace
}  // namespace ef::cpu
