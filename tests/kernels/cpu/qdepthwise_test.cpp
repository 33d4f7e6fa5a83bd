// ef::cpu::qdepthwise_conv2d against the reference integer convolution (conv_integer_reference) + the shared
// requantization, bit for bit, on the AVX2 kernel (where the CPU has it) and the portable one: 3x3 / 5x5 and odd
// kernels, stride 1 and 2 (and 3 / dilation 2 on the portable path), asymmetric padding, widths that are not a
// multiple of 16, channel multipliers, uint8 / int8 activations and outputs, full-range weights (-128 included),
// 1-3 threads; small stride-1 planes (W <= 16) on the flattened AVX2 kernel; the channel-packed kernel (16-channel
// blocks) wherever it fits: channel counts that are not a multiple of 16, planes under 16 and 32 positions.
#include "kernels/cpu/qdepthwise.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/reference/conv_integer.h"

namespace ef::cpu {
namespace qdepthwise_test {

struct Case {
  int64_t N, C, mult, H, W, kh, kw, stride_h, stride_w, dilation, pt, pl, pb, pr;
  bool x_signed, y_signed;
};

const char* kernel_name(QdwKernel k) {
  switch (k) {
    case QdwKernel::kPacked: return "packed";
    case QdwKernel::kRows: return "rows";
    case QdwKernel::kRowsAvx512: return "rows_avx512";
    case QdwKernel::kBytesVbmi: return "bytes_vbmi";
    default: return "portable";
  }
}

// The depthwise convolution a case describes (M = C * mult, output size derived).
Conv2dParams params_of(const Case& c) {
  Conv2dParams p;
  p.N = c.N, p.C = c.C, p.M = c.C * c.mult, p.H = c.H, p.W = c.W, p.kh = c.kh, p.kw = c.kw, p.group = c.C;
  p.stride_h = c.stride_h, p.stride_w = c.stride_w, p.dilation_h = p.dilation_w = c.dilation;
  p.pad_top = c.pt, p.pad_left = c.pl, p.pad_bottom = c.pb, p.pad_right = c.pr;
  p.with_output_size();
  return p;
}

void check(const Case& c, QdwKernel kernel, int threads, uint32_t seed) {
  const Conv2dParams p = params_of(c);
  ASSERT_GT(p.OH * p.OW, 0);
  std::mt19937 rng(seed);
  std::vector<uint8_t> x(static_cast<size_t>(p.N * p.C * p.H * p.W));
  for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
  std::vector<int8_t> w(static_cast<size_t>(p.M * p.kh * p.kw));
  for (int8_t& v : w) v = static_cast<int8_t>(rng());  // full range, -128 included
  std::vector<int32_t> bias(static_cast<size_t>(p.M));
  std::vector<float> scale(static_cast<size_t>(p.M));
  for (int64_t m = 0; m < p.M; ++m) {
    bias[static_cast<size_t>(m)] = std::uniform_int_distribution<int32_t>(-3000, 3000)(rng);
    scale[static_cast<size_t>(m)] = std::uniform_real_distribution<float>(0.0005f, 0.004f)(rng);
  }
  const int32_t x_zp = c.x_signed ? -9 : 137;  // in the activations' own type

  // Oracle: exact int32 sums, then the requantization every int8 kernel shares.
  ConvIntegerParams rp;
  rp.batch = p.N, rp.in_channels = p.C, rp.out_channels = p.M, rp.group = p.C;
  rp.in_spatial = {p.H, p.W}, rp.out_spatial = {p.OH, p.OW}, rp.kernel = {p.kh, p.kw};
  rp.strides = {p.stride_h, p.stride_w}, rp.dilations = {c.dilation, c.dilation}, rp.pads_begin = {p.pad_top, p.pad_left};
  const int64_t plane = p.OH * p.OW;
  std::vector<int32_t> acc(static_cast<size_t>(p.N * p.M * plane));
  conv_integer_reference(rp, x.data(), c.x_signed, x_zp, w.data(), true, nullptr, 0, acc.data());
  QRequant rq;
  rq.out_signed = c.y_signed;
  rq.zero_point = c.y_signed ? 3 : 121;
  rq.lo = c.y_signed ? -128 : 0;
  rq.hi = c.y_signed ? 127 : 255;
  std::vector<uint8_t> want(acc.size());
  for (int64_t nm = 0; nm < p.N * p.M; ++nm) {
    const int64_t m = nm % p.M;
    requantize_rows(acc.data() + nm * plane, 1, plane, bias.data() + m, scale.data() + m, rq,
                    want.data() + nm * plane);
  }

  QDepthwiseArgs a;
  a.x = x.data();
  a.flip = c.x_signed ? 0x80 : 0;
  a.x_zero_point = c.x_signed ? x_zp + 128 : x_zp;
  a.w = w.data();
  a.bias = bias.data();
  a.scale = scale.data();
  a.rq = rq;
  QdwPacked packed;
  if (kernel == QdwKernel::kPacked) packed = qdw_pack(p, w.data(), bias.data(), scale.data());
  a.packed = &packed;
  std::vector<uint8_t> got(want.size(), 0xAB);
  a.y = got.data();
  ThreadPool pool(threads);
  qdepthwise_conv2d(p, a, kernel, pool);
  int64_t distinct = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << "element " << i << " of [" << p.N << "," << p.M << "," << p.OH << "," << p.OW
                               << "] kernel " << kernel_name(kernel);
    distinct += want[i] != want[0];
  }
  EXPECT_GT(distinct, 0) << "outputs all equal: the case tests nothing";
}

// Every kernel that can run the case.
std::vector<QdwKernel> kernels_to_test(const Case& c) {
  const Conv2dParams p = params_of(c);
  std::vector<QdwKernel> k{QdwKernel::kPortable};
  if (qdepthwise_use_avx2(p)) k.push_back(QdwKernel::kRows);
  if (qdepthwise_avx512_fits(p)) k.push_back(QdwKernel::kRowsAvx512);
  if (qdepthwise_vbmi_fits(p)) k.push_back(QdwKernel::kBytesVbmi);
  if (qdepthwise_packed_fits(p)) k.push_back(QdwKernel::kPacked);
  return k;
}

TEST(QDepthwise, RandomizedGeometries) {
  std::mt19937 rng(97);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 48; ++i) {
    Case c{};
    c.N = pick(1, 2), c.C = pick(1, 7), c.mult = i % 5 == 0 ? 2 : 1;
    const int64_t k = i % 3 == 0 ? 5 : (i % 3 == 1 ? 3 : pick(1, 7));
    c.kh = k, c.kw = i % 7 == 6 ? pick(1, 4) : k;
    c.stride_h = pick(1, 2), c.stride_w = i % 2 == 0 ? 1 : 2;
    c.dilation = 1;
    c.H = pick(c.kh, 21), c.W = pick(c.kw, 41);
    c.pt = pick(0, 2), c.pl = pick(0, 3), c.pb = pick(0, 2), c.pr = pick(0, 3);
    c.x_signed = (i / 2) % 2 == 1, c.y_signed = (i / 3) % 2 == 1;
    for (QdwKernel kernel : kernels_to_test(c)) {
      SCOPED_TRACE(testing::Message() << "case " << i << " k " << c.kh << "x" << c.kw << " s " << c.stride_h << ","
                                      << c.stride_w << " HxW " << c.H << "x" << c.W);
      check(c, kernel, 1 + i % 3, static_cast<uint32_t>(i));
    }
  }
}

// The AVX-512 VNNI row kernel: rows of 17 to 140 outputs (32-output blocks, the last one partial), 3x3 / 5x5 / 7x7,
// both strides on each axis, asymmetric pads, a channel multiplier, 1-3 threads.
// Random geometries for one of the AVX-512 row kernels (3x3 / 5x5 / 7x7, strides 1 and 2 in both directions,
// asymmetric padding, rows of any length over 16 outputs, channel multipliers, int8 / uint8 in and out); returns
// how many the kernel could run.
int check_row_kernel(QdwKernel kernel, bool (*fits)(const Conv2dParams&), uint32_t seed, int cases, int64_t max_w) {
  std::mt19937 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int ran = 0;
  for (int i = 0; i < cases; ++i) {
    Case c{};
    c.N = pick(1, 2), c.C = pick(1, 5), c.mult = i % 4 == 0 ? 2 : 1;
    c.kh = c.kw = 3 + 2 * (i % 3);
    c.stride_h = 1 + (i / 3) % 2, c.stride_w = 1 + (i / 6) % 2;
    c.dilation = 1;
    c.pt = pick(0, c.kh / 2), c.pl = pick(0, c.kw / 2), c.pb = pick(0, c.kh / 2), c.pr = pick(0, c.kw / 2);
    c.H = pick(c.kh, 19), c.W = pick(17 * c.stride_w + c.kw, max_w);
    c.x_signed = i % 2 == 1, c.y_signed = (i / 2) % 2 == 1;
    if (!fits(params_of(c))) continue;
    SCOPED_TRACE(testing::Message() << "case " << i << " k " << c.kh << " s " << c.stride_h << "," << c.stride_w
                                    << " HxW " << c.H << "x" << c.W);
    check(c, kernel, 1 + i % 3, seed + static_cast<uint32_t>(i));
    ++ran;
  }
  return ran;
}

TEST(QDepthwise, Avx512RowsRandomized) {
  if (check_row_kernel(QdwKernel::kRowsAvx512, qdepthwise_avx512_fits, 700, 24, 140) == 0) {
    GTEST_SKIP() << "no AVX-512 VNNI on this CPU (or --isa below AVX3)";
  }
}

// The VBMI byte kernel on the same kind of geometries, more of them and wider rows (several 64-byte spans).
TEST(QDepthwise, VbmiBytesRandomized) {
  if (check_row_kernel(QdwKernel::kBytesVbmi, qdepthwise_vbmi_fits, 900, 36, 150) == 0) {
    GTEST_SKIP() << "no AVX-512 VBMI on this CPU (or --isa below AVX3)";
  }
}

TEST(QDepthwise, PortableOnlyGeometriesAndWideRows) {
  // Stride 3 and dilation 2 take the portable loops; a 70-wide row spans several 16-output blocks.
  check({1, 3, 1, 17, 23, 3, 3, 3, 3, 1, 1, 1, 1, 1, false, false}, QdwKernel::kPortable, 2, 1);
  check({2, 4, 1, 15, 19, 3, 3, 1, 1, 2, 2, 2, 2, 2, true, false}, QdwKernel::kPortable, 1, 2);
  Case wide{1, 5, 1, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, true};
  for (QdwKernel kernel : kernels_to_test(wide)) check(wide, kernel, 3, 3);
  Case wide2{1, 2, 3, 8, 67, 5, 5, 2, 2, 1, 2, 2, 2, 2, true, true};
  for (QdwKernel kernel : kernels_to_test(wide2)) check(wide2, kernel, 2, 4);
}

TEST(QDepthwise, SmallPlanesFlattened) {
  // Stride 1, W <= 16: the flattened kernel. 7x7 / 14x14 as in MobileNetV2, planes under 16 bytes (the byte-copy
  // row loads), exactly 16 wide, asymmetric and no padding, kernels wider than the padding, channel multipliers;
  // N = 2 so the last plane ends at the tensor's end (the shifted end-of-plane row loads).
  const Case cases[] = {
      {2, 5, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, false},
      {1, 3, 2, 14, 14, 5, 5, 1, 1, 1, 2, 2, 2, 2, true, false},
      {2, 4, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, true},
      {1, 2, 1, 2, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, true},
      {2, 3, 1, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, false},
      {1, 6, 1, 11, 13, 3, 5, 1, 1, 1, 0, 2, 1, 0, true, false},
      {2, 2, 3, 5, 12, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, true},
      {1, 3, 1, 8, 15, 7, 7, 1, 1, 1, 3, 3, 3, 2, false, false},
      {2, 3, 1, 16, 10, 4, 2, 1, 1, 1, 2, 1, 1, 0, true, true},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    const Case& c = cases[i];
    EXPECT_TRUE(detail::qdw_plane_geometry(params_of(c)).flat) << "case " << i;
    for (QdwKernel kernel : kernels_to_test(c)) {
      SCOPED_TRACE(testing::Message() << "case " << i);
      for (int threads = 1; threads <= 3; ++threads) check(c, kernel, threads, static_cast<uint32_t>(100 + i));
    }
  }
}

TEST(QDepthwise, ShortRowsOnTheRowKernel) {
  // W <= 16 at stride 2 (or a vertical stride of 2): the row kernel over a plane built with one store per row.
  const Case cases[] = {
      {2, 5, 1, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1, false, false},
      {1, 3, 2, 13, 9, 5, 5, 2, 2, 1, 2, 2, 2, 2, true, false},
      {2, 2, 1, 4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, false, true},
      {1, 3, 1, 16, 16, 3, 3, 2, 2, 1, 0, 0, 1, 1, true, true},
      {1, 3, 1, 9, 11, 3, 3, 1, 2, 1, 1, 1, 1, 1, false, false},
      {2, 3, 1, 10, 15, 3, 3, 2, 1, 1, 1, 1, 1, 1, true, false},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    const Case& c = cases[i];
    for (QdwKernel kernel : kernels_to_test(c)) {
      SCOPED_TRACE(testing::Message() << "case " << i);
      for (int threads = 1; threads <= 3; ++threads) check(c, kernel, threads, static_cast<uint32_t>(200 + i));
    }
  }
}

TEST(QDepthwise, ChannelPackedBlocks) {
  // The packed kernel on the geometries it takes in models (7x7 / 14x14 / 28x28, stride 1 and 2, 3x3 / 5x5) and
  // around its edges: channel counts below, at and past a block of 16 (the last block's repeated lanes), planes of
  // under 16, 16..31 and over 32 positions (the transposes' three paths, shifted-back chunks), odd and even
  // widths (odd window starts at stride 1), asymmetric and no padding, kernels wider than the padding, even
  // kernel widths, 7x7, a vertical stride over a horizontal stride of 1, batch 2.
  const Case cases[] = {
      {1, 16, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, false},
      {2, 37, 1, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, false},
      {1, 21, 1, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1, false, true},
      {1, 48, 1, 7, 7, 5, 5, 1, 1, 1, 2, 2, 2, 2, true, true},
      {2, 9, 1, 28, 28, 3, 3, 2, 2, 1, 0, 0, 1, 1, false, false},
      {1, 5, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, false},
      {1, 17, 1, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, false},
      {1, 33, 1, 5, 6, 3, 3, 1, 1, 1, 0, 1, 2, 0, false, true},
      {2, 18, 1, 11, 13, 5, 3, 1, 1, 1, 2, 1, 2, 1, true, true},
      {1, 20, 1, 9, 10, 4, 2, 1, 1, 1, 1, 0, 2, 1, false, false},
      {1, 16, 1, 15, 9, 7, 7, 1, 2, 1, 3, 3, 3, 3, true, false},
      {2, 31, 1, 13, 15, 5, 5, 2, 2, 1, 2, 2, 2, 2, false, true},
      {1, 19, 1, 12, 17, 3, 3, 2, 1, 1, 1, 1, 1, 1, true, true},
      {1, 3, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, false},
      {1, 7, 1, 1, 9, 1, 3, 1, 1, 1, 0, 1, 0, 1, true, false},
      {1, 24, 1, 6, 6, 6, 6, 2, 1, 1, 0, 0, 0, 0, false, true},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    const Case& c = cases[i];
    const Conv2dParams p = params_of(c);
    if (!qdepthwise_use_avx2(p)) GTEST_SKIP() << "no AVX2";
    ASSERT_TRUE(qdepthwise_packed_fits(p)) << "case " << i;
    SCOPED_TRACE(testing::Message() << "case " << i);
    for (int threads = 1; threads <= 3; ++threads) {
      check(c, QdwKernel::kPacked, threads, static_cast<uint32_t>(300 + i));
    }
  }
}

TEST(QDepthwise, ChannelPackedRandomized) {
  std::mt19937 rng(4242);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int ran = 0;
  for (int i = 0; i < 60; ++i) {
    Case c{};
    c.N = pick(1, 2), c.C = pick(1, 40), c.mult = 1;
    c.kh = pick(1, 7), c.kw = i % 4 == 0 ? pick(1, 7) : c.kh;
    c.stride_h = pick(1, 3), c.stride_w = pick(1, 2), c.dilation = 1;
    c.H = pick(c.kh, 20), c.W = pick(c.kw, 20);
    c.pt = pick(0, 3), c.pl = pick(0, 3), c.pb = pick(0, 3), c.pr = pick(0, 3);
    c.x_signed = i % 2 == 1, c.y_signed = (i / 2) % 2 == 1;
    const auto kernels = kernels_to_test(c);
    if (std::find(kernels.begin(), kernels.end(), QdwKernel::kPacked) == kernels.end()) continue;
    SCOPED_TRACE(testing::Message() << "case " << i << " C " << c.C << " k " << c.kh << "x" << c.kw << " s "
                                    << c.stride_h << "," << c.stride_w << " HxW " << c.H << "x" << c.W);
    check(c, QdwKernel::kPacked, 1 + i % 3, static_cast<uint32_t>(400 + i));
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "no AVX2";
}

}  // namespace
}  // namespace ef::cpu
