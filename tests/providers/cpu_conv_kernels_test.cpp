// Conv / FusedConv on the CPU provider against the reference kernel over randomized geometries: odd sizes,
// strides, dilations, asymmetric padding, groups (depthwise and general), 1-D, batch > 1, bias, residual and
// activation epilogues, 1-3 threads.
#include <random>

#include <gtest/gtest.h>

#include "onnx/model_builder.h"
#include "providers/provider_test_util.h"

namespace ef::test {
namespace cpu_conv_kernels_test {

struct ConvCase {
  int64_t N, C, M, group;
  std::vector<int64_t> in, kernel, stride, dilation, pads;  // pads: begins then ends
  bool bias = true;
  std::string activation;  // FusedConv when non-empty or residual
  bool residual = false;
};

onnx::ModelProto conv_model(const ConvCase& c, uint32_t seed) {
  const bool fused = !c.activation.empty() || c.residual;
  onnx::ModelProto m = make_model(13);
  if (fused) {
    auto* os = m.add_opset_import();
    os->set_domain("ai.edgeforge");
    os->set_version(1);
  }
  auto* g = m.mutable_graph();
  std::vector<int64_t> x_dims{c.N, c.C};
  x_dims.insert(x_dims.end(), c.in.begin(), c.in.end());
  add_io(g, true, "x", onnx::TensorProto::FLOAT, x_dims);
  std::vector<int64_t> w_dims{c.M, c.C / c.group};
  w_dims.insert(w_dims.end(), c.kernel.begin(), c.kernel.end());
  add_initializer(g, "w", w_dims, random_values(shape_numel(w_dims), seed));
  std::vector<std::string> inputs{"x", "w"};
  if (c.bias || c.residual) {
    if (c.bias) add_initializer(g, "b", {c.M}, random_values(c.M, seed + 1));
    inputs.push_back(c.bias ? "b" : "");
  }
  std::vector<int64_t> y_dims{c.N, c.M};
  for (size_t i = 0; i < c.in.size(); ++i) {
    int64_t span = c.in[i] + c.pads[i] + c.pads[i + c.in.size()] - ((c.kernel[i] - 1) * c.dilation[i] + 1);
    y_dims.push_back(span / c.stride[i] + 1);
  }
  if (c.residual) {
    add_io(g, true, "z", onnx::TensorProto::FLOAT, y_dims);
    inputs.push_back("z");
  }
  add_io(g, false, "y", onnx::TensorProto::FLOAT, y_dims);
  auto* n = add_node(g, fused ? "FusedConv" : "Conv", inputs, {"y"});
  if (fused) n->set_domain("ai.edgeforge");
  set_ints(n, "kernel_shape", c.kernel);
  set_ints(n, "strides", c.stride);
  set_ints(n, "dilations", c.dilation);
  set_ints(n, "pads", c.pads);
  set_int(n, "group", c.group);
  if (!c.activation.empty()) set_string(n, "activation", c.activation);
  return m;
}

void check_case(const ConvCase& c, uint32_t seed, int threads, const std::string& expect_prefix,
                double rtol = 1e-4) {
  onnx::ModelProto m = conv_model(c, seed);
  const auto& g = m.graph();
  NamedTensors inputs;
  for (const auto& vi : g.input()) {
    Shape s;
    for (const auto& d : vi.type().tensor_type().shape().dim()) s.push_back(d.dim_value());
    inputs.emplace_back(vi.name(), random_float_tensor(s, seed + 7));
  }
  SCOPED_TRACE(testing::Message() << "seed " << seed << " threads " << threads << " C " << c.C << " M " << c.M
                                  << " group " << c.group << " act '" << c.activation << "'");
  auto r = compare_fast_to_reference(m, inputs, threads, rtol);
  ASSERT_EQ(r.kernels.size(), 1u);
  EXPECT_EQ(r.kernels[0].rfind(expect_prefix, 0), 0u) << r.kernels[0];
}

TEST(CpuProviderConv, RandomizedGeometries2D) {
  std::mt19937 rng(1234);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const char* acts[] = {"", "Relu", "HardSwish", "Sigmoid", "LeakyRelu"};
  for (int i = 0; i < 40; ++i) {
    ConvCase c;
    const int kind = i % 3;  // 0 general, 1 depthwise, 2 grouped
    c.N = pick(1, 2);
    c.group = kind == 0 ? 1 : (kind == 1 ? pick(1, 9) : pick(2, 3));
    c.C = kind == 1 ? c.group : c.group * pick(1, 5);
    c.M = kind == 1 ? c.C : c.group * pick(1, 6);
    c.in = {pick(1, 13), pick(1, 17)};
    c.kernel = {pick(1, 5), pick(1, 5)};
    c.stride = {pick(1, 3), pick(1, 3)};
    c.dilation = {pick(1, 2), pick(1, 2)};
    c.pads = {pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)};
    // Keep at least one output position.
    for (int a = 0; a < 2; ++a) {
      while (c.in[a] + c.pads[a] + c.pads[a + 2] < (c.kernel[a] - 1) * c.dilation[a] + 1) c.in[a]++;
    }
    c.bias = i % 4 != 3;
    c.activation = acts[i % 5];
    c.residual = i % 7 == 2;
    const std::string expect = kind == 1 ? "conv.depthwise" : "conv.";
    check_case(c, static_cast<uint32_t>(i), 1 + i % 3, expect);
  }
}

TEST(CpuProviderConv, DepthwiseFastShapesAndPointwise) {
  for (int64_t k : {3, 5}) {
    for (int64_t s : {1, 2}) {
      ConvCase c{1, 8, 8, 8, {19, 23}, {k, k}, {s, s}, {1, 1}, {k / 2, k / 2, k / 2, k / 2}, true, "Relu"};
      check_case(c, static_cast<uint32_t>(k * 10 + s), 2, "conv.depthwise");
    }
  }
  ConvCase pw{2, 17, 9, 1, {7, 11}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, "", true};
  check_case(pw, 99, 2, "conv.pointwise_gemm");
  ConvCase stem{1, 3, 16, 1, {31, 29}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, "Silu"};  // few channels
  check_case(stem, 98, 1, "conv.direct_smallc");
  ConvCase general{1, 5, 16, 1, {31, 29}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, "Silu"};
  check_case(general, 97, 2, "conv.im2col_gemm");
}

// Dense 3x3 stride-1 layers with enough channels and tiles take Winograd F(4x4, 3x3) (small planes F(2x2, 3x3));
// its rounding error grows with the magnitude of the summed terms (tests/kernels/cpu/winograd_test.cpp), hence
// the looser tolerance.
TEST(CpuProviderConv, Winograd3x3) {
  ConvCase same{2, 33, 17, 1, {15, 21}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, "Relu", true};
  check_case(same, 71, 2, "conv.winograd", 2e-4);
  ConvCase valid{1, 40, 24, 1, {19, 18}, {3, 3}, {1, 1}, {1, 1}, {0, 2, 1, 0}, false, "HardSwish"};
  check_case(valid, 72, 1, "conv.winograd", 2e-4);
  ConvCase thin{1, 4, 24, 1, {19, 18}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ""};  // too few channels
  check_case(thin, 73, 1, "conv.direct_smallc");
  ConvCase small{2, 24, 20, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, "Relu", true};  // 2x2 tiles
  check_case(small, 74, 2, "conv.winograd_f2x2", 2e-4);
  ConvCase tiny{1, 64, 64, 1, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ""};  // 4 2x2 tiles: too few
  check_case(tiny, 75, 1, "conv.im2col_gemm");
}

// Squeezenet-like 3x3 layers: 13x13 planes (one block of 16 Winograd tiles) take the direct padded-plane kernel
// at any thread count (below direct_blocked's 48 input channels); few input channels on larger planes stay on
// Winograd at one and two threads.
TEST(CpuProviderConv, DirectPlanes3x3) {
  ConvCase small_plane{1, 40, 60, 1, {13, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, "Relu", true};
  check_case(small_plane, 81, 1, "conv.direct_planes");
  check_case(small_plane, 82, 2, "conv.direct_planes");
  ConvCase few_channels{1, 16, 40, 1, {27, 29}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, "Relu"};
  check_case(few_channels, 83, 2, "conv.winograd_f4x4", 2e-4);
  check_case(few_channels, 84, 1, "conv.winograd_f4x4", 2e-4);
}

// Stride-1 GEMM layers on small planes with enough work pack their panels from zero-padded copies of the input.
TEST(CpuProviderConv, Im2colFromPaddedPlanes) {
  ConvCase five{1, 64, 64, 1, {14, 14}, {5, 5}, {1, 1}, {1, 1}, {2, 2, 2, 2}, true, "Relu", true};
  check_case(five, 91, 1, "conv.im2col_gemm");
  check_case(five, 92, 2, "conv.im2col_gemm");
  ConvCase dilated{2, 96, 96, 1, {15, 17}, {3, 3}, {1, 1}, {2, 2}, {2, 1, 2, 3}, false, ""};
  check_case(dilated, 93, 2, "conv.im2col_gemm");
}

// Thin outputs with large weights split K between the threads (each adds its part) from two threads on: 3x3 on
// 7x7 with 4.7 MB of weights, stride 1 and 2, with bias, residual and activation applied after the parts' sum.
TEST(CpuProviderConv, KSplitOnThinLargeLayers) {
  ConvCase same{1, 512, 256, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, "Relu", true};
  check_case(same, 101, 2, "conv.im2col_gemm_ksplit");
  check_case(same, 102, 3, "conv.im2col_gemm_ksplit");
  ConvCase strided{1, 256, 512, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, false, "Sigmoid"};
  check_case(strided, 103, 2, "conv.im2col_gemm_ksplit");
}

TEST(CpuProviderConv, OneDimensional) {
  ConvCase c{2, 4, 6, 2, {37}, {3}, {2}, {1}, {1, 2}, true, ""};
  check_case(c, 5, 2, "conv.im2col_gemm");
  ConvCase dw{1, 5, 5, 5, {40}, {5}, {1}, {2}, {4, 4}, false, "Tanh"};
  check_case(dw, 6, 1, "conv.depthwise");
}

TEST(CpuProviderConv, RuntimeWeightsFallBackToReference) {
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {1, 2, 5, 5});
  add_io(g, true, "w", onnx::TensorProto::FLOAT, {3, 2, 3, 3});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {1, 3, 3, 3});
  add_node(g, "Conv", {"x", "w"}, {"y"});
  auto r = compare_fast_to_reference(
      m, {{"x", random_float_tensor({1, 2, 5, 5}, 1)}, {"w", random_float_tensor({3, 2, 3, 3}, 2)}});
  EXPECT_EQ(r.kernels[0], "reference");
}

}  // namespace
}  // namespace ef::test
