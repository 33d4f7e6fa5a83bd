#include <gtest/gtest.h>

#include <cmath>

#include "op_test_util.h"

namespace ef::test {
namespace fused_test {

OpCall fused(const std::string& op, std::map<std::string, Attribute> attrs) {
  return OpCall{op, 1, std::move(attrs), "ai.edgeforge"};
}

TEST(FusedOps, FusedConvAddsResidualThenActivates) {
  // 1x1 conv over 2 channels: y = 2*x0 - x1 + b, then + z, then Clip to [0, 3].
  Tensor x = f32({1, 2, 1, 3}, {1, 2, 3, 0.5f, 1, 4});
  Tensor w = f32({1, 2, 1, 1}, {2, -1});
  Tensor b = f32({1}, {0.25f});
  Tensor z = f32({1, 1, 1, 3}, {1, -10, 0});
  auto y = run_op(fused("FusedConv", {{"activation", attr_string("Clip")}, {"activation_params", attr_floats({0, 3})}}),
                  {x, w, b, z});
  // conv: 2-0.5+.25=1.75, 4-1+.25=3.25, 6-4+.25=2.25; +z: 2.75, -6.75, 2.25; clip: 2.75, 0, 2.25
  EXPECT_EQ(values<float>(y[0]), (std::vector<float>{2.75f, 0.0f, 2.25f}));
}

TEST(FusedOps, FusedConvWithoutBiasOrResidual) {
  Tensor x = f32({1, 1, 1, 2}, {-1, 2});
  Tensor w = f32({1, 1, 1, 1}, {3});
  auto y = run_op(fused("FusedConv", {{"activation", attr_string("LeakyRelu")}, {"activation_params", attr_floats({0.5f})}}),
                  {x, w});
  EXPECT_EQ(values<float>(y[0]), (std::vector<float>{-1.5f, 6.0f}));
}

TEST(FusedOps, FusedGemmAppliesActivation) {
  Tensor a = f32({1, 2}, {1, 2});
  Tensor b = f32({2, 2}, {1, 1, -1, -1});
  Tensor c = f32({2}, {0, 1});
  auto y = run_op(fused("FusedGemm", {{"activation", attr_string("Relu")}, {"transB", attr_int(1)}}), {a, b, c});
  // B^T rows: [1,1], [-1,-1] -> [3, -3] + [0, 1] -> relu [3, 0]
  EXPECT_EQ(values<float>(y[0]), (std::vector<float>{3.0f, 0.0f}));
}

TEST(FusedOps, GeluMatchesErfForm) {
  Tensor x = f32({3}, {-1, 0, 2});
  auto y = run_op(OpCall{"Gelu", 1, {}, "ai.edgeforge"}, {x});
  for (int i = 0; i < 3; ++i) {
    double v = x.data<float>()[i];
    EXPECT_NEAR(y[0].data<float>()[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
  }
}

TEST(FusedOps, RejectsBadActivationAndResidual) {
  Tensor x = f32({1, 1, 1, 2}, {1, 2});
  Tensor w = f32({1, 1, 1, 1}, {1});
  EXPECT_THROW(run_op(fused("FusedConv", {{"activation", attr_string("Swish")}}), {x, w}), Error);
  EXPECT_THROW(run_op(fused("FusedConv", {{"activation", attr_string("Clip")}}), {x, w}), Error);  // needs 2 params
  EXPECT_THROW(run_op(fused("FusedConv", {}), {x, w, Tensor(), f32({1, 1, 1, 3}, {1, 2, 3})}), Error);
}

}  // namespace
}  // namespace ef::test
