// ef::cpu::qgemv (AVX2 where the CPU has it, and portable) against the int32 dot products formed here and the
// GEMM's own epilogue (requantize_rows), bit for bit: K around and far from the 16-wide step (tails), row counts
// that leave 1-3 rows after the 4-row blocks and span several 32-row tasks, full-range int8 weights, uint8 and
// int8 activations and outputs, a clamp narrower than the type (fused Relu), offsets that make the int32 sum wrap,
// 1, 2 and 3 threads identical.
#include "kernels/cpu/qgemv.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace ef::cpu {
namespace qgemv_test {

TEST(QGemvKernel, MatchesTheGemmEpilogueBitForBit) {
  std::mt19937 rng(29);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  const int64_t shapes[][2] = {{1, 1}, {3, 15}, {4, 16}, {5, 17}, {37, 33}, {70, 300}, {65, 1280}, {9, 4099}};
  for (int c = 0; c < 16; ++c) {
    const int64_t M = c < 8 ? shapes[c][0] : pick(1, 90), K = c < 8 ? shapes[c][1] : pick(1, 700);
    QGemvArgs a;
    a.M = M, a.K = K;
    a.flip = c % 2 ? 0x80 : 0;
    a.rq.out_signed = (c / 2) % 2 == 1;
    a.rq.zero_point = a.rq.out_signed ? -5 : 120;
    a.rq.lo = a.rq.out_signed ? -128 : 0, a.rq.hi = a.rq.out_signed ? 127 : 255;
    if (c % 5 == 3) a.rq.lo = a.rq.zero_point;  // a fused Relu
    std::vector<int8_t> w(static_cast<size_t>(M * K));
    std::vector<uint8_t> x(static_cast<size_t>(K));
    std::vector<int32_t> offset(static_cast<size_t>(M));
    std::vector<float> scale(static_cast<size_t>(M));
    for (auto& v : w) v = static_cast<int8_t>(rng());
    for (auto& v : x) v = static_cast<uint8_t>(rng());
    for (auto& v : offset) v = static_cast<int32_t>(rng());  // any int32: sums wrap as the GEMM's do
    for (auto& v : scale) v = std::uniform_real_distribution<float>(0.2f, 3.0f)(rng) / static_cast<float>(K * 64);
    if (c == 6) offset.assign(offset.size(), 0);
    std::vector<int32_t> acc(static_cast<size_t>(M));
    for (int64_t m = 0; m < M; ++m) {
      uint32_t sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        sum += static_cast<uint32_t>(w[static_cast<size_t>(m * K + k)] * static_cast<int32_t>(x[static_cast<size_t>(k)] ^ a.flip));
      }
      acc[static_cast<size_t>(m)] = static_cast<int32_t>(sum);
    }
    std::vector<uint8_t> want(static_cast<size_t>(M));
    requantize_rows(acc.data(), M, 1, offset.data(), scale.data(), a.rq, want.data());
    a.w = w.data(), a.x = x.data(), a.offset = offset.data(), a.scale = scale.data();
    int64_t spread = 0;
    for (size_t i = 0; i < want.size(); ++i) spread += want[i] != want[0];
    if (M > 8) { EXPECT_GT(spread, 0) << "case " << c << ": outputs all equal, the case tests nothing"; }
    for (bool avx2 : {false, true}) {
      if (avx2 && !qgemv_use_avx2()) continue;
      for (ThreadPool& pool : pools) {
        std::vector<uint8_t> y(static_cast<size_t>(M), 0xAA);
        a.y = y.data();
        qgemv(a, avx2, pool);
        ASSERT_EQ(y, want) << "case " << c << " M " << M << " K " << K << " avx2 " << avx2 << " threads "
                           << pool.num_threads();
      }
    }
  }
}

}  // namespace
}  // namespace ef::cpu
