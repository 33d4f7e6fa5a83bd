// ef::cpu::QQuadPlanePanels against a naive tap-major im2col: every byte of every panel column that holds an
// output pixel, on random stride-1 geometries (kernels 1x2 .. 5x5, dilations, asymmetric padding, groups, widths
// from 1 (a panel spanning 16 output rows) to past 16, planes smaller than a panel), with the input in a buffer of
// exactly its size and the planes in one of exactly qconv_quad_plane_bytes (reads past either show under ASan).
// Runs the AVX-512 code where the CPU has it, else the portable code.
#include "kernels/cpu/qconv_plane_pack.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/qconv_pack.h"
#include "kernels/cpu/qconv_panel_check.h"

namespace ef::cpu {
namespace qconv_plane_pack_test {

TEST(QQuadPlanePanels, MatchNaiveTapMajorIm2col) {
  std::mt19937 rng(73);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  ThreadPool pool(2);
  int checked = 0, narrow = 0;
  for (int i = 0; i < 90; ++i) {
    Conv2dParams p;
    p.group = pick(1, 2);
    p.C = p.group * 4 * pick(1, 3);
    p.M = p.group;
    p.H = pick(1, 14);
    p.W = i % 3 == 0 ? pick(1, 15) : pick(16, 70);
    p.kh = pick(1, 5);
    p.kw = pick(1, 5);
    p.dilation_h = pick(1, 2);
    p.dilation_w = pick(1, 2);
    p.pad_top = pick(0, 3);
    p.pad_left = pick(0, 3);
    p.pad_bottom = pick(0, 3);
    p.pad_right = pick(0, 3);
    p.with_output_size();
    if (p.OH < 1 || p.OW < 1 || !qconv_tap_major(p)) continue;
    SCOPED_TRACE(testing::Message() << "case " << i << " C " << p.C << " H " << p.H << " W " << p.W << " k "
                                    << p.kh << "x" << p.kw << " d " << p.dilation_h << "," << p.dilation_w);
    const auto flip = static_cast<uint8_t>(i % 2 ? 0x80 : 0), pad = static_cast<uint8_t>(pick(0, 255));
    for (int64_t g = 0; g < p.group; ++g) {
      std::vector<uint8_t> x(static_cast<size_t>(p.C / p.group * p.H * p.W));
      for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
      std::vector<uint8_t> planes(static_cast<size_t>(qconv_quad_plane_bytes(p)));
      QQuadPlanePanels::build(p, x.data(), flip, pad, planes.data(), pool);
      const QQuadPlanePanels panels(p, planes.data());
      expect_im2col_panels(p, x, flip, pad, /*tap_major=*/true, g,
                           [&](int64_t j0, int64_t j1, uint8_t* dst) { panels.pack(j0, j1, dst); });
    }
    ++checked;
    narrow += p.OW < 8;
  }
  EXPECT_GT(checked, 50);
  EXPECT_GT(narrow, 5);  // panels over three or more output rows
}

TEST(QQuadPlanePanels, AppliesToStrideOneTapMajorLayersOnly) {
  Conv2dParams p;
  p.C = 64;
  p.M = 64;
  p.H = p.W = 56;
  p.kh = p.kw = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.with_output_size();
  EXPECT_EQ(qconv_quad_planes(p), detail::cpu_has_avx512bw() && avx512_in_use());
  p.stride_h = p.stride_w = 2;
  p.with_output_size();
  EXPECT_FALSE(qconv_quad_planes(p));
  p.stride_h = p.stride_w = 1;
  p.C = 6;  // not a multiple of 4: not tap-major
  p.with_output_size();
  EXPECT_FALSE(qconv_quad_planes(p));
}

}  // namespace qconv_plane_pack_test
}  // namespace ef::cpu
