// ConvTranspose (GEMM + col2im), inference BatchNormalization and integer nearest Resize on the CPU provider
// against the reference kernels.
#include <random>

#include <gtest/gtest.h>

#include "onnx/model_builder.h"
#include "providers/provider_test_util.h"

namespace ef::test {
namespace cpu_image_kernels_test {

onnx::ValueInfoProto* add_untyped_output(onnx::GraphProto* g, const std::string& name) {
  auto* out = g->add_output();
  out->set_name(name);
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return out;
}

TEST(CpuProviderConvTranspose, RandomizedGeometries) {
  std::mt19937 rng(77);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 24; ++i) {
    const int64_t group = pick(1, 2), C = group * pick(1, 4), M = group * pick(1, 4);
    const std::vector<int64_t> x{pick(1, 2), C, pick(1, 9), pick(1, 11)};
    const std::vector<int64_t> k{pick(1, 4), pick(1, 4)}, s{pick(1, 3), pick(1, 3)}, d{pick(1, 2), pick(1, 2)};
    const std::vector<int64_t> pads{pick(0, 1), pick(0, 1), pick(0, 1), pick(0, 1)};
    const std::vector<int64_t> out_pad{pick(0, s[0] - 1), pick(0, s[1] - 1)};
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    add_io(g, true, "x", onnx::TensorProto::FLOAT, x);
    add_initializer(g, "w", {C, M / group, k[0], k[1]}, random_values(C * (M / group) * k[0] * k[1], i));
    std::vector<std::string> inputs{"x", "w"};
    if (i % 2 == 0) {
      add_initializer(g, "b", {M}, random_values(M, i + 100));
      inputs.push_back("b");
    }
    add_untyped_output(g, "y");
    auto* n = add_node(g, "ConvTranspose", inputs, {"y"});
    set_ints(n, "kernel_shape", k);
    set_ints(n, "strides", s);
    set_ints(n, "dilations", d);
    set_ints(n, "pads", pads);
    set_ints(n, "output_padding", out_pad);
    set_int(n, "group", group);
    SCOPED_TRACE(testing::Message() << "case " << i);
    auto r = compare_fast_to_reference(m, {{"x", random_float_tensor(x, i + 7)}}, 1 + i % 2, 1e-4);
    EXPECT_EQ(r.kernels[0], "conv_transpose.gemm_col2im");
  }
}

TEST(CpuProviderImage, BatchNormalizationAffine) {
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {2, 5, 7, 3});
  add_initializer(g, "scale", {5}, random_values(5, 1));
  add_initializer(g, "bias", {5}, random_values(5, 2));
  add_initializer(g, "mean", {5}, random_values(5, 3));
  add_initializer(g, "var", {5}, random_values(5, 4, 0.1f, 2.0f));
  add_untyped_output(g, "y");
  add_node(g, "BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y"});
  auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({2, 5, 7, 3}, 5)}}, 2);
  EXPECT_EQ(r.kernels[0], "batchnorm.affine");
}

TEST(CpuProviderImage, NearestResizeIntegerFactorsAndFallback) {
  struct Case {
    std::vector<float> scales;
    std::string ctm;
    std::string kernel;
  };
  const std::vector<Case> cases{
      {{1, 1, 2, 2}, "asymmetric", "resize.nearest_integer"},
      {{1, 1, 4, 3}, "asymmetric", "resize.nearest_integer"},
      {{1, 1, 2, 2}, "half_pixel", "reference"},
      {{1, 1, 1.5f, 2}, "asymmetric", "reference"},
  };
  uint32_t seed = 40;
  for (const Case& c : cases) {
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    add_io(g, true, "x", onnx::TensorProto::FLOAT, {1, 3, 6, 5});
    add_initializer(g, "roi", {0}, {});
    add_initializer(g, "scales", {4}, c.scales);
    add_untyped_output(g, "y");
    auto* n = add_node(g, "Resize", {"x", "roi", "scales"}, {"y"});
    set_string(n, "mode", "nearest");
    set_string(n, "coordinate_transformation_mode", c.ctm);
    set_string(n, "nearest_mode", "floor");
    auto r = compare_fast_to_reference(m, {{"x", random_float_tensor({1, 3, 6, 5}, ++seed)}}, 2, 0.0);
    EXPECT_EQ(r.kernels[0], c.kernel) << c.ctm;
  }
}

}  // namespace
}  // namespace ef::test
