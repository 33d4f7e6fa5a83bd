// QLinearConv on the CPU provider's integer kernels against the reference kernel over randomized geometries:
// odd sizes, strides, dilations, asymmetric pads, groups (general, grouped, depthwise), 1-D, batch > 1, uint8 and
// int8 activations and outputs, per-tensor and per-channel weight scales, with and without bias, weights that
// force the saturation-safe split path, 1-3 threads. Results agree within one quantization step (the fast
// epilogue multiplies in float, the reference in double) and almost always exactly.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "kernels/cpu/qdepthwise.h"
#include "onnx/model_builder.h"
#include "providers/provider_test_util.h"

namespace ef::test {
namespace cpu_quant_kernels_test {

struct QConvCase {
  int64_t N, C, M, group;
  std::vector<int64_t> in, kernel, stride, dilation, pads;  // pads: begins then ends
  bool bias = true;
  bool x_signed = false, y_signed = false;
  bool per_channel = true;
  bool wide_weights = false;  // weights up to +-127 everywhere (split path); else within +-64
  // ai.edgeforge QLinearConvAdd instead: the result plus a residual input r of its shape (r_signed: int8 r and
  // output; the output scale is at least the convolution's, so a one-step difference stays within one step).
  bool residual = false, r_signed = false;
  bool integer_add = false;  // residual and output scales with integer ratios (quantize's adds: fixed-point kernel)
};

// Widens a 2-D case's input until its padded extent holds one dilated window (at least one output per axis).
void grow_to_fit_window(QConvCase& c) {
  for (int a = 0; a < 2; ++a) {
    while (c.in[a] + c.pads[a] + c.pads[a + 2] < (c.kernel[a] - 1) * c.dilation[a] + 1) c.in[a]++;
  }
}

template <typename T>
void add_int_initializer(onnx::GraphProto* g, const std::string& name, int type, const std::vector<int64_t>& dims,
                         const std::vector<T>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(values.data(), values.size() * sizeof(T));
}

onnx::ModelProto qconv_model(const QConvCase& c, uint32_t seed, std::vector<int64_t>& y_dims) {
  std::mt19937 rng(seed);
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  const int xt = c.x_signed ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8;
  const int yt = c.y_signed ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8;
  std::vector<int64_t> x_dims{c.N, c.C};
  x_dims.insert(x_dims.end(), c.in.begin(), c.in.end());
  add_io(g, true, "x", xt, x_dims);
  std::vector<int64_t> w_dims{c.M, c.C / c.group};
  w_dims.insert(w_dims.end(), c.kernel.begin(), c.kernel.end());
  const int64_t K = shape_numel(w_dims) / c.M;
  const int lim = c.wide_weights ? 127 : 64;
  std::vector<int8_t> w(static_cast<size_t>(shape_numel(w_dims)));
  for (int8_t& v : w) v = static_cast<int8_t>(std::uniform_int_distribution<int>(-lim, lim)(rng));
  add_int_initializer(g, "w", onnx::TensorProto::INT8, w_dims, w);
  const float xs = 0.02f;
  std::vector<float> ws = random_values(c.per_channel ? c.M : 1, seed + 3, 0.005f, 0.02f);
  const float ys = xs * 0.01f * std::sqrt(static_cast<float>(K)) * 40.0f;
  add_initializer(g, "xs", {}, {xs});
  add_initializer(g, "ws", c.per_channel ? std::vector<int64_t>{c.M} : std::vector<int64_t>{}, ws);
  add_initializer(g, "ys", {}, {ys});
  if (c.x_signed) {
    add_int_initializer<int8_t>(g, "xzp", xt, {}, {-7});
  } else {
    add_int_initializer<uint8_t>(g, "xzp", xt, {}, {131});
  }
  if (c.y_signed) {
    add_int_initializer<int8_t>(g, "yzp", yt, {}, {5});
  } else {
    add_int_initializer<uint8_t>(g, "yzp", yt, {}, {120});
  }
  add_int_initializer(g, "wzp", onnx::TensorProto::INT8, c.per_channel ? std::vector<int64_t>{c.M} : std::vector<int64_t>{},
                      std::vector<int8_t>(c.per_channel ? static_cast<size_t>(c.M) : 1, 0));
  std::vector<std::string> inputs{"x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp"};
  if (c.bias) {
    std::vector<int32_t> b(static_cast<size_t>(c.M));
    for (int32_t& v : b) v = std::uniform_int_distribution<int32_t>(-20000, 20000)(rng);
    add_int_initializer(g, "b", onnx::TensorProto::INT32, {c.M}, b);
    inputs.push_back("b");
  }
  y_dims = {c.N, c.M};
  for (size_t i = 0; i < c.in.size(); ++i) {
    int64_t span = c.in[i] + c.pads[i] + c.pads[i + c.in.size()] - ((c.kernel[i] - 1) * c.dilation[i] + 1);
    y_dims.push_back(span / c.stride[i] + 1);
  }
  if (c.residual) {
    const int rt = c.r_signed ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8;
    add_io(g, true, "r", rt, y_dims);
    add_initializer(g, "rs", {}, {c.integer_add ? ys * 2.0f : ys * 0.7f});
    add_initializer(g, "cs", {}, {c.integer_add ? ys : ys * 1.3f});
    if (c.r_signed) {
      add_int_initializer<int8_t>(g, "rzp", rt, {}, {-3});
      add_int_initializer<int8_t>(g, "czp", rt, {}, {9});
    } else {
      add_int_initializer<uint8_t>(g, "rzp", rt, {}, {140});
      add_int_initializer<uint8_t>(g, "czp", rt, {}, {100});
    }
    if (!c.bias) inputs.push_back("");
    for (const char* name : {"r", "rs", "rzp", "cs", "czp"}) inputs.push_back(name);
    add_io(g, false, "y", rt, y_dims);
    auto* os = m.add_opset_import();
    os->set_domain("ai.edgeforge");
    os->set_version(1);
  } else {
    add_io(g, false, "y", yt, y_dims);
  }
  auto* n = add_node(g, c.residual ? "QLinearConvAdd" : "QLinearConv", inputs, {"y"});
  if (c.residual) n->set_domain("ai.edgeforge");
  set_ints(n, "kernel_shape", c.kernel);
  set_ints(n, "strides", c.stride);
  set_ints(n, "dilations", c.dilation);
  set_ints(n, "pads", c.pads);
  set_int(n, "group", c.group);
  return m;
}

int32_t element(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt8 ? t.data<int8_t>()[i] : t.data<uint8_t>()[i];
}

// name_has: where non-empty, the kernel name must contain it.
void check_case(const QConvCase& c, uint32_t seed, int threads, const std::string& expect_prefix,
                const std::string& name_has = "") {
  std::vector<int64_t> y_dims;
  onnx::ModelProto m = qconv_model(c, seed, y_dims);
  std::vector<int64_t> x_dims{c.N, c.C};
  x_dims.insert(x_dims.end(), c.in.begin(), c.in.end());
  Tensor x = Tensor::zeros(c.x_signed ? DType::kInt8 : DType::kUInt8, x_dims);
  std::mt19937 rng(seed + 11);
  auto* raw = static_cast<uint8_t*>(x.raw());
  for (int64_t i = 0; i < x.numel(); ++i) raw[i] = static_cast<uint8_t>(rng());
  SCOPED_TRACE(testing::Message() << "seed " << seed << " threads " << threads << " C " << c.C << " M " << c.M
                                  << " group " << c.group << " x_signed " << c.x_signed << " y_signed "
                                  << c.y_signed << " residual " << c.residual);
  NamedTensors inputs{{"x", x}};
  if (c.residual) {
    Tensor r = Tensor::zeros(c.r_signed ? DType::kInt8 : DType::kUInt8, y_dims);
    auto* rr = static_cast<uint8_t*>(r.raw());
    for (int64_t i = 0; i < r.numel(); ++i) rr[i] = static_cast<uint8_t>(rng());
    inputs.emplace_back("r", r);
  }
  auto [got, want, profile] = run_fast_and_reference(m, inputs, threads, threads);
  ASSERT_EQ(profile.size(), 1u);
  EXPECT_EQ(profile[0].kernel.rfind(expect_prefix, 0), 0u) << profile[0].kernel;
  EXPECT_EQ(profile[0].kernel.find("+add_") != std::string::npos, c.residual) << profile[0].kernel;
  if (!name_has.empty()) {
    EXPECT_NE(profile[0].kernel.find(name_has), std::string::npos) << profile[0].kernel;
  }
  ASSERT_EQ(got[0].shape(), want[0].shape());
  ASSERT_EQ(got[0].dtype(), want[0].dtype());
  int64_t exact = 0, spread = 0;
  for (int64_t i = 0; i < got[0].numel(); ++i) {
    const int32_t a = element(got[0], i), b = element(want[0], i);
    ASSERT_LE(std::abs(a - b), 1) << "element " << i << ": fast " << a << " reference " << b;
    exact += a == b;
    spread += b != element(want[0], 0);
  }
  EXPECT_GE(static_cast<double>(exact), 0.99 * static_cast<double>(got[0].numel()));
  if (got[0].numel() > 16) { EXPECT_GT(spread, 0) << "outputs all equal: the case tests nothing"; }
}

TEST(CpuProviderQLinearConv, RandomizedGeometries) {
  std::mt19937 rng(4321);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 36; ++i) {
    QConvCase c;
    const int kind = i % 3;  // 0 general, 1 depthwise, 2 grouped
    c.N = pick(1, 2);
    c.group = kind == 0 ? 1 : (kind == 1 ? pick(2, 9) : pick(2, 3));
    c.C = kind == 1 ? c.group : c.group * pick(1, 9);
    c.M = kind == 1 ? c.C * pick(1, 2) : c.group * pick(1, 9);
    c.in = {pick(1, 13), pick(1, 19)};
    c.kernel = {pick(1, 5), pick(1, 5)};
    c.stride = {pick(1, 3), pick(1, 3)};
    c.dilation = {pick(1, 2), pick(1, 2)};
    c.pads = {pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)};
    grow_to_fit_window(c);
    c.bias = i % 4 != 3;
    c.x_signed = (i / 2) % 2 == 1;
    c.y_signed = (i / 3) % 2 == 1;
    c.per_channel = i % 5 != 4;
    c.wide_weights = i % 2 == 0;
    check_case(c, static_cast<uint32_t>(i), 1 + i % 3, kind == 1 ? "qconv.depthwise" : "qconv.");
  }
}

TEST(CpuProviderQLinearConv, PointwiseLargeKAndOneDimensional) {
  QConvCase pw{2, 37, 21, 1, {7, 11}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}};
  check_case(pw, 1, 2, "qconv.pointwise_");
  // K = 600 spans two k blocks of the GEMM.
  QConvCase big{1, 600, 9, 1, {5, 6}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}};
  big.wide_weights = true;
  check_case(big, 2, 1, "qconv.pointwise_");
  QConvCase narrow = big;
  narrow.wide_weights = false;
  check_case(narrow, 3, 3, "qconv.pointwise_");
  QConvCase one_d{2, 4, 6, 2, {37}, {3}, {2}, {1}, {1, 2}};
  check_case(one_d, 4, 2, "qconv.im2col");
  QConvCase dw{1, 5, 5, 5, {40}, {5}, {1}, {2}, {4, 4}};
  check_case(dw, 5, 1, "qconv.depthwise");
}

// Channels per group a multiple of 4: the im2col panels are packed tap-major and the weights permuted to match
// (qconv_tap_major), at stride 1 on AVX-512 from quad planes; resnet-like 3x3 / 7x7 windows, strides 1-3, planes wider
// than a panel, groups, 1-3 threads.
TEST(CpuProviderQLinearConv, TapMajorIm2col) {
  std::mt19937 rng(77);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 18; ++i) {
    QConvCase c;
    c.N = pick(1, 2);
    c.group = i % 4 == 3 ? 2 : 1;
    c.C = c.group * 4 * pick(1, 6);
    c.M = c.group * pick(1, 21);
    c.in = {pick(3, 12), pick(5, 40)};
    const int64_t k = i % 6 == 5 ? 7 : (i % 3 == 2 ? pick(2, 5) : 3);
    c.kernel = {k, i % 7 == 6 ? 1 : k};
    c.stride = {pick(1, 2), i % 5 == 4 ? 3 : pick(1, 2)};
    c.dilation = {1, i % 8 == 7 ? 2 : 1};
    const int64_t pad = k / 2;
    c.pads = {pad, pad, pick(0, pad), pick(0, pad)};
    grow_to_fit_window(c);
    c.x_signed = i % 2 == 1;
    c.y_signed = (i / 2) % 2 == 1;
    c.wide_weights = i % 3 == 0;
    // Stride 1 on AVX-512: from quad planes (qconv_plane_pack.h).
    const bool planes = c.stride[0] == 1 && c.stride[1] == 1 && ef::cpu::detail::cpu_has_avx512bw();
    check_case(c, static_cast<uint32_t>(100 + i), 1 + i % 3, "qconv.im2col", planes ? "im2col_planes_" : "");
  }
}

// Few channels, 7x7 / 4x4 / 8x8 / 3x3 / 5x5 windows at stride 1 and 2 (the resnet, mobilenet and BlazeFace stems): window-quad panels, the weights
// padded to whole quads of taps (qconv_window_pack.h); planes narrower than 16 bytes and panels spanning rows.
TEST(CpuProviderQLinearConv, WindowQuadIm2col) {
  std::mt19937 rng(91);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 20; ++i) {
    QConvCase c;
    c.N = pick(1, 2);
    c.group = i % 5 == 4 ? 3 : 1;
    c.C = c.group * pick(1, 3);
    c.M = c.group * pick(1, 19);
    const int64_t kws[5] = {7, 4, 8, 3, 5};
    const int64_t k = kws[i % 5];
    c.kernel = {i % 5 == 3 ? pick(1, 7) : k, k};
    c.in = {pick(k, 20), i % 3 == 2 ? pick(k, 15) : pick(16, 48)};
    c.stride = {pick(1, 2), pick(1, 2)};
    c.dilation = {i % 6 == 5 ? 2 : 1, 1};
    c.pads = {pick(0, 3), k / 2, pick(0, 3), pick(0, k / 2)};
    grow_to_fit_window(c);
    c.x_signed = i % 2 == 1;
    c.y_signed = (i / 2) % 2 == 1;
    c.wide_weights = i % 3 == 1;
    check_case(c, static_cast<uint32_t>(200 + i), 1 + i % 3, "qconv.im2col");
  }
}

// The BlazeFace stem shape (3 channels, 5x5, stride 2, TF-style asymmetric padding) and its neighbours: row-window
// panels where the CPU has AVX-512 VBMI (qconv_row_window_pack.h), window quads elsewhere; rows wider than one
// 64-byte span, and 5 channels x 3 taps.
TEST(CpuProviderQLinearConv, RowWindowStems) {
  std::mt19937 rng(93);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 8; ++i) {
    QConvCase c;
    c.N = 1 + i % 2;
    c.group = 1;
    c.C = i % 4 == 3 ? 5 : 3;
    c.M = i % 3 == 0 ? 24 : pick(1, 40);
    const int64_t k = c.C == 5 ? 3 : 5;
    c.kernel = {k, k};
    c.in = {pick(k, 24), i < 4 ? pick(70, 150) : pick(16, 40)};
    c.stride = {1 + i % 2, 1 + (i / 2) % 2};
    c.dilation = {1, 1};
    c.pads = {pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)};
    grow_to_fit_window(c);
    c.x_signed = i % 2 == 0;
    c.y_signed = (i / 4) % 2 == 1;
    check_case(c, static_cast<uint32_t>(300 + i), 1 + i % 3, "qconv.im2col");
  }
}

TEST(CpuProviderQLinearConv, OnePixelOnTheGemvKernel) {
  // 1x1 convolutions of 1x1 planes (qdq-fusion's classifier heads): the matrix-vector kernel, batches, K tails,
  // padding after the pixel (stride 2 still gives one output), 1-D, u8/s8, per tensor / per channel.
  const QConvCase cases[] = {{1, 1280, 37, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}},
                             {3, 19, 5, 1, {1, 1}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 1, 1}},
                             {2, 50, 9, 1, {1}, {1}, {1}, {1}, {0, 0}},
                             {1, 7, 1, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}}};
  int i = 0;
  for (QConvCase c : cases) {
    c.x_signed = i % 2 == 1;
    c.y_signed = i / 2 == 1;
    c.per_channel = i != 2;
    c.wide_weights = i % 2 == 0;
    c.bias = i != 3;
    check_case(c, static_cast<uint32_t>(100 + i), 1 + i % 3, "qconv.gemv_");
    ++i;
  }
}

// The depthwise kernel the planner picks for a 2-D depthwise case (qdepthwise_choose), as the kernel name.
std::string depthwise_kernel_name(const QConvCase& c) {
  ef::cpu::Conv2dParams p;
  p.N = c.N, p.C = c.C, p.M = c.M, p.group = c.group, p.H = c.in[0], p.W = c.in[1], p.kh = c.kernel[0];
  p.kw = c.kernel[1], p.stride_h = c.stride[0], p.stride_w = c.stride[1], p.dilation_h = c.dilation[0];
  p.dilation_w = c.dilation[1], p.pad_top = c.pads[0], p.pad_left = c.pads[1], p.pad_bottom = c.pads[2];
  p.pad_right = c.pads[3];
  p.with_output_size();
  switch (ef::cpu::qdepthwise_choose(p)) {
    case ef::cpu::QdwKernel::kPacked: return "qconv.depthwise_packed_avx2";
    case ef::cpu::QdwKernel::kRows: return "qconv.depthwise_avx2";
    case ef::cpu::QdwKernel::kRowsAvx512: return "qconv.depthwise_avx512_vnni";
    case ef::cpu::QdwKernel::kBytesVbmi: return "qconv.depthwise_avx512_vbmi";
    default: return "qconv.depthwise_scalar";
  }
}

TEST(CpuProviderQLinearConv, DepthwiseDirectKernel) {
  // The shapes of mobilenet / BlazeFace blocks: 3x3 and 5x5, stride 1 and 2, "same" padding, widths not a
  // multiple of 16, a channel multiplier; the AVX2 kernels where the CPU has them.
  int seed = 40;
  for (int64_t k : {3, 5}) {
    for (int64_t s : {1, 2}) {
      const int64_t pad = k / 2;
      QConvCase c{1, 6, 6, 6, {13, 29}, {k, k}, {s, s}, {1, 1}, {pad, pad, pad, pad}};
      c.x_signed = s == 2;
      c.y_signed = k == 5;
      c.wide_weights = true;
      check_case(c, static_cast<uint32_t>(seed++), 1 + static_cast<int>(s), depthwise_kernel_name(c));
      QConvCase multiplier{2, 3, 6, 3, {9, 18}, {k, k}, {s, s}, {1, 1}, {0, pad, pad + 1, pad}};
      multiplier.per_channel = false;
      check_case(multiplier, static_cast<uint32_t>(seed++), 1, depthwise_kernel_name(multiplier));
    }
  }
}

TEST(CpuProviderQLinearConv, DepthwiseChannelPacked) {
  // MobileNetV2's small planes (14x14 and 7x7, stride 1 and 2) with channel counts that are not a multiple of
  // the kernel's 16-channel block, batch 2, per-tensor and per-channel scales, 1-3 threads: the channel-packed
  // kernel where the CPU has AVX2.
  const std::string expect =
      ef::cpu::qdepthwise_use_avx2({}) ? "qconv.depthwise_packed_avx2" : "qconv.depthwise_scalar";
  int seed = 60;
  for (int64_t k : {3, 5}) {
    for (int64_t s : {1, 2}) {
      const int64_t pad = k / 2;
      QConvCase c{2, 37, 37, 37, {14, 14}, {k, k}, {s, s}, {1, 1}, {pad, pad, pad, pad}};
      c.x_signed = k == 5;
      c.y_signed = s == 2;
      c.wide_weights = s == 1;
      c.per_channel = k == 3;
      check_case(c, static_cast<uint32_t>(seed), 1 + seed % 3, expect);
      ++seed;
      QConvCase small{1, 21, 21, 21, {7, 7}, {k, k}, {s, s}, {1, 1}, {pad, pad - 1 + s, pad, pad}};
      small.bias = k == 5;
      check_case(small, static_cast<uint32_t>(seed++), 2, expect);
    }
  }
}

// QLinearConvAdd on every algorithm: the GEMM ones add the residual per finished column block (pointwise, im2col,
// grouped, several blocks and threads), the others after the whole convolution (depthwise, gemv).
TEST(CpuProviderQLinearConvAdd, EveryAlgorithmAddsTheResidual) {
  std::mt19937 rng(555);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 20; ++i) {
    const int kind = i % 4;  // 0 pointwise, 1 im2col (general or grouped), 2 depthwise, 3 one pixel (gemv)
    QConvCase c;
    c.N = pick(1, 2);
    c.group = kind == 2 ? pick(2, 20) : (kind == 1 && i % 3 == 0 ? 2 : 1);
    c.C = kind == 2 ? c.group : c.group * pick(1, 40);
    c.M = kind == 2 ? c.C : c.group * pick(1, 40);
    const int64_t k = kind == 1 ? pick(2, 3) : (kind == 2 ? 3 : 1);
    c.kernel = {k, k};
    c.in = kind == 3 ? std::vector<int64_t>{1, 1} : std::vector<int64_t>{pick(3, 30), pick(5, 70)};
    const int64_t s = kind == 0 || kind == 3 ? 1 : pick(1, 2);
    c.stride = {s, s};
    c.dilation = {1, 1};
    c.pads = {k / 2, k / 2, k / 2, k / 2};
    grow_to_fit_window(c);
    c.bias = i % 5 != 4;
    c.x_signed = i % 2 == 1;
    c.y_signed = (i / 2) % 2 == 1;
    c.r_signed = (i / 3) % 2 == 1;
    c.residual = true;
    const char* prefix[] = {"qconv.pointwise_", "qconv.im2col_", "qconv.depthwise", "qconv.gemv_"};
    check_case(c, static_cast<uint32_t>(500 + i), 1 + i % 3, prefix[kind]);
  }
}

// QLinearConvAdd with integer scale ratios (the fixed-point add) on the GEMM paths this stop reworked: 64 x 32
// planes (output rows 2 KiB apart: staged tiles; M = 24: the 24-row tile), 7 x 7 planes (a 1-column last panel:
// the column kernel), 3x3 and pointwise, 1-3 threads.
TEST(CpuProviderQLinearConvAdd, FixedPointAddOnStagedTilesAndColumnTails) {
  int i = 0;
  for (const std::vector<int64_t>& in : {std::vector<int64_t>{64, 32}, std::vector<int64_t>{7, 7}}) {
    for (int64_t k : {1, 3}) {
      for (int64_t M : {24, 40}) {
        QConvCase c;
        c.N = 1, c.group = 1, c.C = 20, c.M = M;
        c.kernel = {k, k};
        c.in = in;
        c.stride = {1, 1};
        c.dilation = {1, 1};
        c.pads = {k / 2, k / 2, k / 2, k / 2};
        c.x_signed = i % 2 == 1;
        c.r_signed = (i / 2) % 2 == 1;
        c.residual = true;
        c.integer_add = true;
        // On x86 with AVX2 the add must be the fixed-point kernel.
        check_case(c, static_cast<uint32_t>(700 + i), 1 + i % 3, k == 1 ? "qconv.pointwise_" : "qconv.im2col_",
                   ef::cpu::detail::cpu_has_avx2() ? "+add_fixed_avx" : "");
        ++i;
      }
    }
  }
}

// MatMulInteger / QLinearMatMul on the quantized GEMM against the reference kernels.
struct QMatMulCase {
  std::vector<int64_t> a_dims;  // [..., M, K]
  int64_t N;
  bool a_signed = false, b_signed = true;
  bool b_fits = true;            // b minus its zero point fits int8 (else: reference kernel)
  bool runtime_a_zp = false;     // MatMulInteger: a_zero_point as a graph input
  bool qlinear = false, y_signed = false, per_column = true;
};

Tensor random_8bit(DType t, const std::vector<int64_t>& dims, uint32_t seed) {
  Tensor x = Tensor::zeros(t, dims);
  std::mt19937 rng(seed);
  auto* raw = static_cast<uint8_t*>(x.raw());
  for (int64_t i = 0; i < x.numel(); ++i) raw[i] = static_cast<uint8_t>(rng());
  return x;
}

void check_matmul(const QMatMulCase& c, uint32_t seed, int threads, const std::string& expect_prefix) {
  std::mt19937 rng(seed);
  const int64_t K = c.a_dims.back(), N = c.N;
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  const int at = c.a_signed ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8;
  const int bt = c.b_signed ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8;
  add_io(g, true, "a", at, c.a_dims);
  // b around its zero points: int8 with zero zero points, or uint8 around per-column points near 128.
  std::vector<int64_t> zp_dims = c.per_column ? std::vector<int64_t>{N} : std::vector<int64_t>{};
  const size_t zp_count = c.per_column ? static_cast<size_t>(N) : 1;
  std::vector<int32_t> bzp(zp_count, 0);
  if (!c.b_signed) {
    for (int32_t& z : bzp) z = c.b_fits ? 120 + static_cast<int32_t>(rng() % 16) : 0;
  }
  std::vector<int64_t> b_dims{K, N};
  std::vector<uint8_t> b(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t n = 0; n < N; ++n) {
      const int32_t z = bzp[c.per_column ? static_cast<size_t>(n) : 0];
      const int32_t lim = c.b_signed ? 127 : 100;
      const int32_t v = c.b_fits ? z + std::uniform_int_distribution<int32_t>(-lim, lim)(rng)
                           : 130 + static_cast<int32_t>(rng() % 100);
      b[static_cast<size_t>(k * N + n)] = static_cast<uint8_t>(v);
    }
  }
  add_int_initializer(g, "b", bt, b_dims, b);
  std::vector<uint8_t> zp_bytes(bzp.begin(), bzp.end());
  add_int_initializer(g, "bzp", bt, zp_dims, zp_bytes);
  std::vector<int64_t> y_dims = c.a_dims;
  y_dims.back() = N;
  NamedTensors inputs{{"a", random_8bit(c.a_signed ? DType::kInt8 : DType::kUInt8, c.a_dims, seed + 1)}};
  const std::vector<uint8_t> azp{static_cast<uint8_t>(c.a_signed ? 0xF9 : 131)};
  if (c.qlinear) {
    const int yt = c.y_signed ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8;
    add_initializer(g, "as", {}, {0.02f});
    add_int_initializer(g, "azp", at, {}, azp);
    add_initializer(g, "bs", c.per_column ? std::vector<int64_t>{N} : std::vector<int64_t>{},
                    random_values(static_cast<int64_t>(zp_count), seed + 3, 0.005f, 0.02f));
    add_initializer(g, "ys", {}, {0.02f * 0.01f * std::sqrt(static_cast<float>(K)) * 40.0f});
    add_int_initializer(g, "yzp", yt, {}, std::vector<uint8_t>{static_cast<uint8_t>(c.y_signed ? 5 : 120)});
    add_io(g, false, "y", yt, y_dims);
    add_node(g, "QLinearMatMul", {"a", "as", "azp", "b", "bs", "bzp", "ys", "yzp"}, {"y"});
  } else {
    if (c.runtime_a_zp) {
      add_io(g, true, "azp", at, {});
      Tensor z = Tensor::zeros(c.a_signed ? DType::kInt8 : DType::kUInt8, {});
      static_cast<uint8_t*>(z.raw())[0] = azp[0];
      inputs.emplace_back("azp", z);
    } else {
      add_int_initializer(g, "azp", at, {}, azp);
    }
    add_io(g, false, "y", onnx::TensorProto::INT32, y_dims);
    add_node(g, "MatMulInteger", {"a", "b", "azp", "bzp"}, {"y"});
  }
  SCOPED_TRACE(testing::Message() << "seed " << seed << " threads " << threads << " K " << K << " N " << N);
  auto [got, want, profile] = run_fast_and_reference(m, inputs, threads, threads);
  ASSERT_EQ(profile.size(), 1u);
  EXPECT_EQ(profile[0].kernel.rfind(expect_prefix, 0), 0u) << profile[0].kernel;
  ASSERT_EQ(got[0].shape(), want[0].shape());
  ASSERT_EQ(got[0].dtype(), want[0].dtype());
  if (!c.qlinear) {
    for (int64_t i = 0; i < got[0].numel(); ++i) {
      ASSERT_EQ(got[0].data<int32_t>()[i], want[0].data<int32_t>()[i]) << "element " << i;
    }
    return;
  }
  int64_t exact = 0, spread = 0;
  for (int64_t i = 0; i < got[0].numel(); ++i) {
    const int32_t x = element(got[0], i), y = element(want[0], i);
    ASSERT_LE(std::abs(x - y), 1) << "element " << i << ": fast " << x << " reference " << y;
    exact += x == y;
    spread += y != element(want[0], 0);
  }
  EXPECT_GE(static_cast<double>(exact), 0.99 * static_cast<double>(got[0].numel()));
  EXPECT_GT(spread, 0) << "outputs all equal: the case tests nothing";
}

TEST(CpuProviderQMatMul, MatMulIntegerOnTheQuantizedGemm) {
  QMatMulCase batched{{2, 5, 37}, 19};
  batched.runtime_a_zp = true;
  check_matmul(batched, 1, 1, "matmul_integer.qgemm_");
  QMatMulCase signed_a{{7, 64}, 33};
  signed_a.a_signed = true;
  signed_a.b_signed = false;  // uint8 weights around per-column zero points
  check_matmul(signed_a, 2, 3, "matmul_integer.qgemm_");
  QMatMulCase wide{{40, 300}, 70};
  wide.per_column = false;
  wide.runtime_a_zp = true;
  check_matmul(wide, 3, 2, "matmul_integer.qgemm_");
  QMatMulCase vector_a{{129}, 3};
  check_matmul(vector_a, 4, 1, "matmul_integer.qgemm_");
  QMatMulCase misfit{{3, 9}, 4};  // uint8 weights far from a zero zero point: int8 cannot hold them
  misfit.b_signed = false;
  misfit.b_fits = false;
  check_matmul(misfit, 5, 1, "");
}

TEST(CpuProviderQMatMul, QLinearMatMulOnTheQuantizedGemm) {
  uint32_t seed = 20;
  for (bool a_signed : {false, true}) {
    for (bool y_signed : {false, true}) {
      QMatMulCase c{{3, 17, 45}, 23};
      c.qlinear = true;
      c.a_signed = a_signed;
      c.y_signed = y_signed;
      c.per_column = !y_signed;
      check_matmul(c, seed, 1 + static_cast<int>(seed % 3), "qlinear_matmul.qgemm_");
      ++seed;
    }
  }
}

}  // namespace
}  // namespace ef::test
