// Tests of the implicit-B GEMM used by convolutions: cpu::im2col_pack_panel must write exactly the panels that
// packing the im2col matrix would give, and cpu::sgemm_packed_a_custom_b must give bit-identical results to
// sgemm_packed_a on the same B stored as a matrix, for every SIMD target and thread count; the two together must
// reproduce the reference convolution.
#include <gtest/gtest.h>

#include <array>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/im2col_panels.h"
#include "kernels/cpu/sgemm.h"
#include "kernels/reference/conv.h"
#include "kernels/cpu/conv_test_util.h"

namespace ef::cpu {
namespace im2col_pack_test {

std::string describe(const Conv2dParams& p) {
  return "C " + std::to_string(p.C) + " HxW " + std::to_string(p.H) + "x" + std::to_string(p.W) + " k " +
         std::to_string(p.kh) + "x" + std::to_string(p.kw) + " s " + std::to_string(p.stride_h) + "," +
         std::to_string(p.stride_w) + " d " + std::to_string(p.dilation_h) + "," + std::to_string(p.dilation_w) +
         " pads " + std::to_string(p.pad_top) + "," + std::to_string(p.pad_left) + "," +
         std::to_string(p.pad_bottom) + "," + std::to_string(p.pad_right) + " out " + std::to_string(p.OH) + "x" +
         std::to_string(p.OW);
}

// A random geometry, sometimes wide enough that whole panels fall inside one output row (the copy fast path).
Conv2dParams random_geometry(std::mt19937& rng, int64_t max_c) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  Conv2dParams p;
  p.group = pick(1, 2);
  p.C = p.group * pick(1, max_c);
  p.M = p.group * pick(1, 5);
  p.H = pick(1, 12);
  p.W = pick(0, 1) ? pick(1, 20) : pick(30, 80);
  p.kh = pick(1, 5);
  p.kw = pick(0, 2) ? p.kh : pick(1, 5);
  p.stride_h = pick(1, 2);
  p.stride_w = pick(0, 2) ? 1 : pick(2, 3);
  p.dilation_h = pick(1, 2);
  p.dilation_w = pick(0, 3) ? 1 : 2;
  p.pad_top = pick(0, 3), p.pad_left = pick(0, 3), p.pad_bottom = pick(0, 3), p.pad_right = pick(0, 3);
  return p.with_output_size();
}

// Panels from the explicit column matrix, in BPanelPacker's layout: the expected output of im2col_pack_panel.
std::vector<float> panels_of(const std::vector<float>& col, int64_t ld, int64_t k0, int64_t k1, int64_t j0,
                             int64_t j1, int64_t nr) {
  const int64_t kc = k1 - k0, panels = (j1 - j0 + nr - 1) / nr;
  std::vector<float> out(static_cast<size_t>(panels * nr * kc));
  for (int64_t q = 0; q < panels; ++q) {
    for (int64_t k = k0; k < k1; ++k) {
      for (int64_t x = 0; x < nr; ++x) {
        const int64_t j = j0 + q * nr + x;
        out[static_cast<size_t>(q * nr * kc + (k - k0) * nr + x)] = j < j1 ? col[k * ld + j] : 0.0f;
      }
    }
  }
  return out;
}

// Packs a random block of p's im2col matrix (image 0, last group; or the whole matrix: sgemm asks for K blocks at
// any offset and column ranges that start at a panel boundary of its own split, which need not be a multiple of
// OW) into random-width panels with pack(x_group, k0, k1, j0, j1, nr, dst), and checks them against the column
// matrix packed by hand, and that nothing past them is written. Returns the panel width.
template <class Pick, class Pack>
int64_t check_random_block(const Conv2dParams& p, std::mt19937& rng, Pick& pick, const Pack& pack) {
  const auto x = random_floats(static_cast<size_t>(p.C * p.H * p.W), rng);
  const int64_t K = im2col_rows(p), P = im2col_cols(p), g = p.group - 1;
  std::vector<float> col(static_cast<size_t>(K * P));
  im2col(p, x.data(), 0, g, col.data());
  const float* x_group = x.data() + g * (p.C / p.group) * p.H * p.W;
  const int64_t widths[] = {1, 2, 3, 4, 8, 16, 32, 64};
  const int64_t nr = widths[pick(0, 7)];
  int64_t k0 = 0, k1 = K, j0 = 0, j1 = P;
  if (pick(0, 1)) {
    k0 = pick(0, K - 1), k1 = pick(k0 + 1, K);
    j0 = pick(0, P - 1), j1 = pick(j0 + 1, P);
  }
  const std::vector<float> want = panels_of(col, P, k0, k1, j0, j1, nr);
  std::vector<float> got(want.size() + 16, -7.0f);
  pack(x_group, k0, k1, j0, j1, nr, got.data());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i], want[i]) << describe(p) << " nr " << nr << " block k [" << k0 << "," << k1 << ") j [" << j0
                               << "," << j1 << ") at " << i;
    if (got[i] != want[i]) break;
  }
  for (size_t i = want.size(); i < got.size(); ++i) EXPECT_EQ(got[i], -7.0f) << "wrote past the panels";
  return nr;
}

TEST(CpuIm2colPackPanel, MatchesPackedColumnMatrix) {
  std::mt19937 rng(11);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0, fast_shapes = 0;
  for (int iter = 0; iter < 400; ++iter) {
    const Conv2dParams p = random_geometry(rng, 3);
    if (p.OH < 1 || p.OW < 1) continue;
    const int64_t nr = check_random_block(p, rng, pick, [&](const float* x_group, auto... block) {
      im2col_pack_panel(p, x_group, block...);
    });
    if (HasFailure()) return;
    fast_shapes += p.OW >= nr && p.stride_w == 1;
    ++checked;
  }
  EXPECT_GT(checked, 300);
  EXPECT_GT(fast_shapes, 50);
}

// The padded-plane packer writes the same panels, for stride-1 geometries (any pads, dilations, kernels, blocks).
TEST(CpuIm2colPackPanel, PaddedPlanesMatchPackedColumnMatrix) {
  std::mt19937 rng(23);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0;
  for (int iter = 0; iter < 400; ++iter) {
    Conv2dParams p = random_geometry(rng, 4);
    p.stride_h = p.stride_w = 1;
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1) continue;
    ASSERT_TRUE(im2col_padded_applicable(p)) << describe(p);
    const int64_t channels = p.C / p.group;
    check_random_block(p, rng, pick, [&](const float* x_group, auto... block) {
      // Padded in two calls (as two threads would), over scratch poisoned with NaN.
      std::vector<float> xpad(static_cast<size_t>(im2col_padded_floats(p, channels)), std::nanf(""));
      const int64_t split = pick(0, channels);
      im2col_pad_planes(p, x_group, channels, 0, split, xpad.data());
      im2col_pad_planes(p, x_group, channels, split, channels, xpad.data());
      im2col_pack_panel_padded(p, xpad.data(), block...);
    });
    if (HasFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 300);
}

// op(B) from a stored K x N matrix, packed by hand: the simplest conforming packer.
class MatrixPanels final : public BPanelPacker {
 public:
  MatrixPanels(const float* b, int64_t ld) : b_(b), ld_(ld) {}
  void pack(int64_t k0, int64_t k1, int64_t j0, int64_t j1, int64_t nr, float* dst) const override {
    for (int64_t j = j0; j < j1; j += nr, dst += nr * (k1 - k0)) {
      for (int64_t k = k0; k < k1; ++k) {
        for (int64_t x = 0; x < nr; ++x) dst[(k - k0) * nr + x] = j + x < j1 ? b_[k * ld_ + j + x] : 0.0f;
      }
    }
  }

 private:
  const float* b_;
  int64_t ld_;
};

// Restores the best SIMD target when a test that walks the targets ends, even by a failed assertion.
struct TargetGuard {
  ~TargetGuard() { set_max_isa(""); }
};

TEST(CpuSgemmCustomB, BitIdenticalToPackedAOnEveryTargetAndThreadCount) {
  TargetGuard guard;
  std::mt19937 rng(5);
  struct Shape {
    int64_t M, N, K;
  };
  // Edge tiles, K past one K block (256), N past one column block (4096), N == 1 (the column path), many threads.
  const Shape shapes[] = {{1, 1, 1},    {7, 1, 300},   {5, 17, 3},    {24, 333, 75},
                          {13, 50, 600}, {64, 4200, 9}, {30, 40, 257}, {2, 3, 0}};
  for (const std::string& target : sgemm_targets()) {
    ASSERT_TRUE(set_max_isa(target));
    for (const Shape& s : shapes) {
      const auto a = random_floats(static_cast<size_t>(s.M * s.K), rng);
      const auto b = random_floats(static_cast<size_t>(s.K * s.N), rng);
      const auto bias = random_floats(static_cast<size_t>(s.M), rng);
      const auto residual = random_floats(static_cast<size_t>(s.M * s.N), rng);
      const PackedMatrix packed = pack_a(false, s.M, s.K, a.data(), s.K);
      GemmEpilogue epi;
      epi.bias = bias.data();
      epi.residual = residual.data();
      epi.ldr = s.N;
      epi.act = Activation{ActKind::kRelu, 0, 0};
      ThreadPool one(1);
      std::vector<float> want(static_cast<size_t>(s.M * s.N), NAN);
      sgemm_packed_a(packed, s.N, false, b.data(), s.N, want.data(), s.N, epi, one);
      const MatrixPanels panels(b.data(), s.N);
      for (int threads : {1, 2, 3, 5}) {
        ThreadPool pool(threads);
        std::vector<float> got(want.size(), NAN);
        sgemm_packed_a_custom_b(packed, s.N, panels, got.data(), s.N, epi, pool);
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(got[i], want[i]) << target << " M " << s.M << " N " << s.N << " K " << s.K << " threads "
                                     << threads << " at " << i;
        }
      }
    }
  }
}

TEST(CpuSgemmCustomB, RejectsAPackedBOperand) {
  const std::vector<float> b(6, 1.0f);
  const PackedMatrix packed_b = pack_b(false, 2, 3, b.data(), 3);
  const MatrixPanels panels(b.data(), 3);
  std::vector<float> c(4);
  ThreadPool pool(1);
  EXPECT_THROW(sgemm_packed_a_custom_b(packed_b, 2, panels, c.data(), 2, GemmEpilogue{}, pool),
               std::invalid_argument);
  EXPECT_THROW(sgemm_packed_a_custom_b(PackedMatrix{}, 2, panels, c.data(), 2, GemmEpilogue{}, pool),
               std::invalid_argument);
}

// K slices on K-block boundaries: the whole range is sgemm_packed_a without an epilogue bit for bit, and the
// slices of a split add up to it within rounding (N = 49 takes the column tail); ranges off the blocks throw.
TEST(CpuSgemmCustomB, KSlicesAddUpToTheProductOnEveryTarget) {
  TargetGuard guard;
  std::mt19937 rng(6);
  for (const std::string& target : sgemm_targets()) {
    ASSERT_TRUE(set_max_isa(target));
    for (const auto [M, N, K] : {std::array<int64_t, 3>{37, 49, 1100}, {12, 33, 512}, {5, 1, 700}}) {
      const auto a = random_floats(static_cast<size_t>(M * K), rng);
      const auto b = random_floats(static_cast<size_t>(K * N), rng);
      const PackedMatrix packed = pack_a(false, M, K, a.data(), K);
      const int64_t kc = gemm_tile_shape(packed).kc;
      const MatrixPanels panels(b.data(), N);
      std::vector<float> want(static_cast<size_t>(M * N), NAN), whole(want.size(), NAN);
      sgemm_packed_a(packed, N, false, b.data(), N, want.data(), N, GemmEpilogue{}, ThreadPool::inline_pool());
      sgemm_packed_a_custom_b_kslice(packed, 0, K, N, panels, whole.data(), N);
      for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(whole[i], want[i]) << target << " at " << i;
      // Three parts on block boundaries (the last one shorter, or empty when K has too few blocks).
      const int64_t cut1 = std::min(K, kc), cut2 = std::min(K, 2 * kc);
      std::vector<float> sum(want.size(), 0.0f), part(want.size(), NAN);
      for (const auto [k0, k1] : {std::array<int64_t, 2>{0, cut1}, {cut1, cut2}, {cut2, K}}) {
        sgemm_packed_a_custom_b_kslice(packed, k0, k1, N, panels, part.data(), N);
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
      }
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(sum[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << target << " M " << M << " at " << i;
      }
      std::vector<float> c(want.size());
      EXPECT_THROW(sgemm_packed_a_custom_b_kslice(packed, 1, K, N, panels, c.data(), N), std::invalid_argument);
      EXPECT_THROW(sgemm_packed_a_custom_b_kslice(packed, 0, K + 1, N, panels, c.data(), N), std::invalid_argument);
    }
  }
}

// The convolution as GemmConv runs it: equal to im2col + sgemm_packed_a bit for bit, and to the reference within
// float rounding, for any thread count.
TEST(CpuSgemmCustomB, Im2colPanelsConvMatchesReferenceAndExplicitIm2col) {
  std::mt19937 rng(21);
  int checked = 0;
  for (int iter = 0; iter < 120; ++iter) {
    const Conv2dParams p = random_geometry(rng, 12);
    if (p.OH < 1 || p.OW < 1) continue;
    const int64_t K = im2col_rows(p), P = im2col_cols(p), Mg = p.M / p.group, Cg = p.C / p.group;
    const auto x = random_floats(static_cast<size_t>(p.C * p.H * p.W), rng);
    const auto w = random_floats(static_cast<size_t>(p.M * K), rng);
    const auto bias = random_floats(static_cast<size_t>(p.M), rng);
    std::vector<float> want(static_cast<size_t>(p.M * P));
    conv_reference(to_reference(p), x.data(), w.data(), bias.data(), want.data());
    std::vector<float> col(static_cast<size_t>(K * P));
    std::vector<float> explicit_y(want.size(), NAN), implicit_y(want.size(), NAN);
    ThreadPool pool(1 + iter % 3);
    for (int64_t g = 0; g < p.group; ++g) {
      const PackedMatrix packed = pack_a(false, Mg, K, w.data() + g * Mg * K, K);
      GemmEpilogue epi;
      epi.bias = bias.data() + g * Mg;
      float* y_explicit = explicit_y.data() + g * Mg * P;
      im2col(p, x.data(), 0, g, col.data());
      sgemm_packed_a(packed, P, false, col.data(), P, y_explicit, P, epi, pool);
      const Im2colPanels panels(p, x.data() + g * Cg * p.H * p.W);
      sgemm_packed_a_custom_b(packed, P, panels, implicit_y.data() + g * Mg * P, P, epi, pool);
    }
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(implicit_y[i], explicit_y[i]) << describe(p) << " at " << i;
      ASSERT_NEAR(implicit_y[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << describe(p) << " at " << i;
    }
    ++checked;
  }
  EXPECT_GT(checked, 80);
}

}  // namespace
}  // namespace ef::cpu
