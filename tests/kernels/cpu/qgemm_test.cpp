// ef::cpu::qgemm against a plain int32 GEMM + the requantization formula, on every kernel this CPU runs (the
// VNNI / AVX-512 ones only where present), narrow weights (vpmaddubsw-safe), a few large weights and uniform
// full-range weights, odd M, N and K, several row blocks and panel groups, strided (transposed) outputs, int32
// outputs (MatMulInteger), bounds narrowed by a fused Clip, and 1-3 threads giving identical bytes.
#include "kernels/cpu/qgemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace ef::cpu {
namespace qgemm_test {

class DensePanels final : public QPanelPacker {
 public:
  DensePanels(const std::vector<uint8_t>& x, int64_t K, int64_t N) : x_(x), K_(K), N_(N) {}
  void pack(int64_t j0, int64_t j1, uint8_t* dst) const override {
    const int64_t quads = (K_ + 3) / 4;
    for (int64_t q = 0; q < quads; ++q) {
      for (int64_t j = 0; j < kQgemmNR; ++j) {
        for (int64_t i = 0; i < 4; ++i) {
          const int64_t k = q * 4 + i;
          dst[(q * kQgemmNR + j) * 4 + i] = k < K_ && j0 + j < j1 ? x_[static_cast<size_t>(k * N_ + j0 + j)] : 0;
        }
      }
    }
  }

 private:
  const std::vector<uint8_t>& x_;
  int64_t K_, N_;
};

// weight_limit 0: typical trained weights, mostly small with a few near +-128 (pairs that do not fit vpmaddubsw);
// -1: trained 7-bit weights (|w| half-normal around 15, at most 64: a few lanes of four do not fit avx2_acc16).
// clip: a fused Clip's narrower bounds (lo above the type's minimum, hi below its maximum).
void check(int64_t M, int64_t N, int64_t K, int weight_limit, QKernel kernel, bool out_signed, uint32_t seed,
           bool out_int32 = false, bool clip = false) {
  std::mt19937 rng(seed);
  std::vector<int8_t> w(static_cast<size_t>(M * K));
  for (size_t i = 0; i < w.size(); ++i) {
    if (weight_limit > 0) {
      w[i] = static_cast<int8_t>(std::uniform_int_distribution<int>(-weight_limit, weight_limit)(rng));
    } else if (weight_limit < 0) {
      w[i] = static_cast<int8_t>(std::clamp(std::lround(std::normal_distribution<float>(0.0f, 19.0f)(rng)), -64L, 64L));
    } else {
      const bool big = rng() % 16 == 0;
      const int v = big ? 90 + static_cast<int>(rng() % 39) : static_cast<int>(rng() % 41);
      w[i] = static_cast<int8_t>(rng() % 2 ? -v : v);
    }
  }
  std::vector<uint8_t> x(static_cast<size_t>(K * N));
  for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
  std::vector<int32_t> offset(static_cast<size_t>(M));
  std::vector<float> scale(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    offset[static_cast<size_t>(m)] = std::uniform_int_distribution<int32_t>(-100000, 100000)(rng);
    scale[static_cast<size_t>(m)] = 1.0f / (static_cast<float>(K) * 300.0f) * (1.0f + static_cast<float>(m % 3));
  }
  QPackedWeights packed = qpack_weights(M, K, w.data(), K, kernel);
  // kAvx2 takes weights whose k pairs do not fit vpmaddubsw through residuals, unless there are too many
  // (uniform full-range weights): then the int16 kernel.
  if (kernel == QKernel::kAvx2 && weight_limit == 127) {
    if (M * K > 64) { EXPECT_EQ(packed.kernel, QKernel::kAvx2Int16); }
  } else if (kernel == QKernel::kAvx2 && weight_limit == 0) {
    if (M * K > 64) { EXPECT_FALSE(packed.residuals.empty()); }
  } else if (kernel == QKernel::kAvx2Acc16 && weight_limit == -1) {
    if (M * K >= 256) { EXPECT_EQ(packed.kernel, kernel); }  // a few residuals at most
  } else if (kernel == QKernel::kAvx2Acc16 && weight_limit != 32) {
    // Lanes of four weights that do not fit: residuals, or (too many) the kAvx2 / int16 kernels.
    if (M * K > 64) { EXPECT_TRUE(packed.kernel != kernel || !packed.residuals.empty()); }
  } else {
    EXPECT_EQ(packed.kernel, kernel);
    EXPECT_TRUE(packed.residuals.empty());
  }
  QRequant rq;
  rq.offset = offset.data();
  rq.scale = scale.data();
  rq.zero_point = out_signed ? -3 : 128;
  rq.lo = out_signed ? -128 : 0;
  rq.hi = out_signed ? 127 : 255;
  if (clip) rq.lo += 40, rq.hi -= 30;
  rq.out_signed = out_signed;
  rq.out_int32 = out_int32;
  const size_t elem = out_int32 ? 4 : 1;
  DensePanels panels(x, K, N);
  std::vector<uint8_t> first;
  for (int threads = 1; threads <= 3; ++threads) {
    ThreadPool pool(threads);
    // Column-major output (y_row 1, y_col M) exercises the strided epilogue; row-major the fused one.
    for (bool transposed : {false, true}) {
      std::vector<uint8_t> y(static_cast<size_t>(M * N) * elem, 0xAB);
      qgemm(packed, N, panels, rq, y.data(), transposed ? 1 : N, transposed ? M : 1, pool);
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n) {
          int32_t acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += w[static_cast<size_t>(m * K + k)] * x[static_cast<size_t>(k * N + n)];
          const size_t at = static_cast<size_t>(transposed ? n * M + m : m * N + n);
          if (out_int32) {
            int32_t got;
            std::memcpy(&got, y.data() + at * 4, 4);
            ASSERT_EQ(got, acc + offset[static_cast<size_t>(m)]) << "m " << m << " n " << n;
            continue;
          }
          const float v = static_cast<float>(acc + offset[static_cast<size_t>(m)]) * scale[static_cast<size_t>(m)];
          const int32_t want = std::clamp(static_cast<int32_t>(std::nearbyint(v)) + rq.zero_point, rq.lo, rq.hi);
          const int32_t got = out_signed ? static_cast<int8_t>(y[at]) : y[at];
          ASSERT_EQ(got, want) << "m " << m << " n " << n << " threads " << threads << " transposed " << transposed;
        }
      }
      if (!transposed) {
        if (first.empty()) first = y;
        EXPECT_EQ(y, first) << "threads " << threads;
      }
    }
  }
}

TEST(QGemm, MatchesIntegerReferenceOnEveryKernel) {
  uint32_t seed = 1;
  for (QKernel kernel : qgemm_kernels_available()) {
    SCOPED_TRACE(qkernel_name(kernel));
    for (int limit : {32, 64, 127, 0, -1}) {
      check(1, 1, 1, limit, kernel, false, seed++);
      check(5, 17, 3, limit, kernel, true, seed++);
      check(13, 33, 77, limit, kernel, false, seed++);
      check(20, 48, 64, limit, kernel, true, seed++);
      check(4, 16, 600, limit, kernel, true, seed++);
      check(37, 70, 1030, limit, kernel, false, seed++);  // several row blocks and panel groups
    }
    check(21, 37, 40, 64, kernel, false, seed++, false, /*clip=*/true);
    check(18, 16, 19, 127, kernel, true, seed++, false, /*clip=*/true);
    check(9, 21, 45, 0, kernel, false, seed++, /*out_int32=*/true);
    check(17, 100, 300, 127, kernel, true, seed++, /*out_int32=*/true);
    // Rows 2 KiB apart: fused tiles staged and copied out (qgemm's `stage`); M = 24 / 40 take the 24-row
    // avx512_vnni tile there; int32 outputs are never staged.
    check(24, 2048, 24, 64, kernel, false, seed++);
    check(40, 2048 + 2048, 9, 127, kernel, true, seed++, false, /*clip=*/true);
    check(8, 2048, 33, 32, kernel, false, seed++);
    check(24, 2048, 12, 127, kernel, true, seed++, /*out_int32=*/true);
    check(24, 53, 70, 64, kernel, true, seed++);  // the 24-row tile unstaged, with a partial last panel
    // Last panels of 1-4 columns: avx512_vnni computes them with the rows in the lanes (K % 16 != 0 included).
    check(24, 49, 301, 127, kernel, false, seed++);
    check(40, 65, 130, 64, kernel, true, seed++, false, /*clip=*/true);
    check(20, 196, 300, 32, kernel, false, seed++);
  }
}

TEST(QGemm, HugeProductsSaturateToTheRightEnd) {
  std::vector<int8_t> w = {127, 127, -127, -127};  // rows: +, -
  std::vector<uint8_t> x = {255, 255};            // K = 2, N = 1
  std::vector<int32_t> offset = {0, 0};
  std::vector<float> scale = {1e30f, 1e30f};
  for (QKernel kernel : qgemm_kernels_available()) {
    QPackedWeights packed = qpack_weights(2, 2, w.data(), 2, kernel);
    QRequant rq;
    rq.offset = offset.data();
    rq.scale = scale.data();
    DensePanels panels(x, 2, 1);
    std::vector<uint8_t> y(2, 7);
    qgemm(packed, 1, panels, rq, y.data(), 1, 1, ThreadPool::inline_pool());
    EXPECT_EQ(y[0], 255) << qkernel_name(kernel);
    EXPECT_EQ(y[1], 0) << qkernel_name(kernel);
  }
}

TEST(QGemm, KernelChoiceFollowsTheWeights) {
  std::vector<int8_t> w(64, 100);  // 100 + 100 > 128 everywhere: residuals on every pair
  const QKernel best = qgemm_kernels_available().front();
  const QKernel chosen = qpack_weights(4, 16, w.data(), 16).kernel;
  const bool avx2 = best == QKernel::kAvx2 || best == QKernel::kAvx2Acc16;
  EXPECT_EQ(chosen, avx2 ? QKernel::kAvx2Int16 : best);
  if (best == QKernel::kAvx2Acc16) {
    std::vector<int8_t> small(64, 40);  // 40 + 40 fits a pair, four 40s do not fit a lane of avx2_acc16
    EXPECT_EQ(qpack_weights(4, 16, small.data(), 16).kernel, QKernel::kAvx2);
    EXPECT_TRUE(qpack_weights(4, 16, small.data(), 16).residuals.empty());
    small.assign(64, 1);
    EXPECT_EQ(qpack_weights(4, 16, small.data(), 16).kernel, QKernel::kAvx2Acc16);
    small[0] = small[1] = 64;
    small[4] = 10;  // lane (k 0, 1, 4, 5) = 64 + 64 + 10 + 1: 10 and 1 clamped to 0
    const QPackedWeights p = qpack_weights(4, 16, small.data(), 16);
    EXPECT_EQ(p.kernel, QKernel::kAvx2Acc16);
    ASSERT_EQ(p.residuals.size(), 2u);
    EXPECT_EQ(p.residuals[0].k, 4);
    EXPECT_EQ(p.residuals[0].r, 10);
    EXPECT_EQ(p.residuals[1].k, 5);
  }
  w[0] = 127;  // one pair too large: one residual
  for (size_t i = 1; i < w.size(); ++i) w[i] = 1;
  if (avx2) { EXPECT_EQ(qpack_weights(4, 16, w.data(), 16, QKernel::kAvx2).residuals.size(), 0u); }
  w[1] = 2;
  if (avx2) {
    EXPECT_STREQ(qpack_weights(4, 16, w.data(), 16, QKernel::kAvx2).kernel_name(), "avx2_residual");
  }
  EXPECT_EQ(qpack_weights(4, 16, w.data(), 16, QKernel::kScalar).kernel, QKernel::kScalar);
  EXPECT_EQ(qgemm_kernels_available().back(), QKernel::kScalar);
}

}  // namespace
}  // namespace ef::cpu
