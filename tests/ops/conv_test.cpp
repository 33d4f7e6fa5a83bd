// Conv and ConvTranspose on small hand-checked cases, plus the reference kernel called directly.
#include "core/dispatch.h"
#include "kernels/reference/conv.h"
#include "ops/op_test_util.h"

namespace ef::test {
namespace conv_test {

std::vector<float> iota(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return v;
}

TEST(Conv, Basic2dNoPadding) {
  auto out = run_op({"Conv", 11, {}}, {f32({1, 1, 3, 3}, iota(9)), f32({1, 1, 2, 2}, {1, 1, 1, 1})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{8, 12, 20, 24}));
}

TEST(Conv, PadsAndBias) {
  auto out = run_op({"Conv", 1, {{"pads", attr_ints({1, 1, 1, 1})}, {"kernel_shape", attr_ints({3, 3})}}},
                    {f32({1, 1, 2, 2}, {1, 1, 1, 1}), f32({1, 1, 3, 3}, std::vector<float>(9, 1)), f32({1}, {1})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{5, 5, 5, 5}));
}

TEST(Conv, AsymmetricPadsWithStride1d) {
  // Padded input [0,1,2,3,4,5]; windows start at 0, 2, 4.
  auto out = run_op({"Conv", 11, {{"pads", attr_ints({1, 0})}, {"strides", attr_ints({2})}}},
                    {f32({1, 1, 5}, {1, 2, 3, 4, 5}), f32({1, 1, 2}, {1, 10})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{10, 32, 54}));
}

TEST(Conv, StrideLargerThanKernelSkipsInputs) {
  auto out = run_op({"Conv", 11, {{"strides", attr_ints({3})}}}, {f32({1, 1, 7}, iota(7)), f32({1, 1, 1}, {2})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 6, 12}));
}

TEST(Conv, Dilation1d) {
  auto out = run_op({"Conv", 11, {{"dilations", attr_ints({2})}}},
                    {f32({1, 1, 5}, {1, 2, 3, 4, 5}), f32({1, 1, 2}, {1, 1})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{4, 6, 8}));
}

TEST(Conv, DepthwiseGroups) {
  auto out = run_op({"Conv", 11, {{"group", attr_int(2)}}},
                    {f32({1, 2, 3}, {1, 2, 3, 4, 5, 6}), f32({2, 1, 1}, {2, 3})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 4, 6, 12, 15, 18}));
}

TEST(Conv, GroupsUseTheirOwnChannels) {
  // Channels hold 1, 2, 3, 4; group 0 sees channels 0-1, group 1 channels 2-3.
  auto out = run_op({"Conv", 11, {{"group", attr_int(2)}}},
                    {f32({1, 4, 1}, {1, 2, 3, 4}), f32({2, 2, 1}, {1, 10, 100, 1000}), f32({2}, {0.5f, 0})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{21.5f, 4300}));
}

TEST(Conv, AutoPadSameUpperAndLower) {
  Tensor x = f32({1, 1, 4}, {1, 2, 3, 4});
  Tensor w = f32({1, 1, 2}, {1, 1});
  auto upper = run_op({"Conv", 11, {{"auto_pad", attr_string("SAME_UPPER")}}}, {x, w});
  EXPECT_EQ(values<float>(upper[0]), (std::vector<float>{3, 5, 7, 4}));
  auto lower = run_op({"Conv", 11, {{"auto_pad", attr_string("SAME_LOWER")}}}, {x, w});
  EXPECT_EQ(values<float>(lower[0]), (std::vector<float>{1, 3, 5, 7}));
  auto valid = run_op({"Conv", 11, {{"auto_pad", attr_string("VALID")}, {"pads", attr_ints({5, 5})}}}, {x, w});
  EXPECT_EQ(values<float>(valid[0]), (std::vector<float>{3, 5, 7}));
}

TEST(Conv, SameUpperWithStrideOnOddSize) {
  // in 5, stride 2 -> out 3; total pad (3-1)*2+3-5 = 2 split 1/1.
  auto out = run_op({"Conv", 11, {{"auto_pad", attr_string("SAME_UPPER")}, {"strides", attr_ints({2})}}},
                    {f32({1, 1, 5}, {1, 2, 3, 4, 5}), f32({1, 1, 3}, {1, 1, 1})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 9, 9}));
}

TEST(Conv, ThreeDimensional) {
  auto out = run_op({"Conv", 11, {{"kernel_shape", attr_ints({2, 2, 2})}}},
                    {f32({1, 1, 2, 2, 3}, iota(12)), f32({1, 1, 2, 2, 2}, std::vector<float>(8, 1))});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 1, 1, 2}));
  // Window at w=0 covers values {0,1,3,4,6,7,9,10}; at w=1 each value is one larger.
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{40, 48}));
}

TEST(Conv, BatchAndMultipleOutputChannels) {
  auto out = run_op({"Conv", 11, {}}, {f32({2, 1, 2}, {1, 2, 3, 4}), f32({2, 1, 1}, {1, -1})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, -1, -2, 3, 4, -3, -4}));
}

TEST(Conv, Float16AndFloat64) {
  Tensor x16 = Tensor::from_vector(DType::kFloat16, {1, 1, 3}, std::vector<Float16>{Float16(1), Float16(2), Float16(3)});
  Tensor w16 = Tensor::from_vector(DType::kFloat16, {1, 1, 2}, std::vector<Float16>{Float16(0.5f), Float16(2)});
  auto h = run_op({"Conv", 11, {}}, {x16, w16});
  ASSERT_EQ(h[0].dtype(), DType::kFloat16);
  EXPECT_EQ(static_cast<float>(h[0].data<Float16>()[0]), 4.5f);
  EXPECT_EQ(static_cast<float>(h[0].data<Float16>()[1]), 7.0f);
  Tensor x64 = Tensor::from_vector(DType::kFloat64, {1, 1, 2}, std::vector<double>{1e-9, 1});
  Tensor w64 = Tensor::from_vector(DType::kFloat64, {1, 1, 1}, std::vector<double>{3});
  auto d = run_op({"Conv", 11, {}}, {x64, w64});
  EXPECT_DOUBLE_EQ(values<double>(d[0])[0], 3e-9);
  EXPECT_DOUBLE_EQ(values<double>(d[0])[1], 3);
}

TEST(Conv, InfersSymbolicBatch) {
  Node node;
  node.name = "c";
  node.op_type = "Conv";
  node.version = 11;
  node.attrs["strides"] = attr_ints({2, 2});
  node.inputs = {0, 1};
  node.outputs = {2};
  ValueType x{DType::kFloat32, Dims{Dim::symbol("N"), 3, 9, Dim()}};
  ValueType w{DType::kFloat32, Dims{8, 3, 3, 3}};
  std::vector<Tensor> values_out;
  auto types = infer_node(OpRegistry::global().resolve(node), node, {&x, &w}, {nullptr, nullptr}, values_out);
  ASSERT_TRUE(types[0].dims.has_value());
  EXPECT_EQ(dims_str(*types[0].dims), dims_str(Dims{Dim::symbol("N"), 8, 4, Dim()}));
}

TEST(Conv, RejectsBadModels) {
  Tensor x = f32({1, 2, 3}, std::vector<float>(6, 1));
  // W expects 1 channel per group, X has 2 with group 1.
  EXPECT_THROW(run_op({"Conv", 11, {}}, {x, f32({1, 1, 1}, {1})}), Error);
  EXPECT_THROW(run_op({"Conv", 11, {{"kernel_shape", attr_ints({2})}}}, {x, f32({1, 2, 1}, {1, 1})}), Error);
  EXPECT_THROW(run_op({"Conv", 11, {}}, {x, f32({1, 2, 4}, std::vector<float>(8, 1))}), Error);  // kernel > input
  EXPECT_THROW(run_op({"Conv", 11, {{"auto_pad", attr_string("SAME")}}}, {x, f32({1, 2, 1}, {1, 1})}), Error);
  EXPECT_THROW(run_op({"Conv", 11, {{"strides", attr_ints({0})}}}, {x, f32({1, 2, 1}, {1, 1})}), Error);
  EXPECT_THROW(run_op({"Conv", 11, {}}, {x, f32({1, 2, 1}, {1, 1}), f32({2}, {0, 0})}), Error);  // bias size
  try {
    run_op({"Conv", 11, {{"group", attr_int(3)}}}, {x, f32({3, 1, 1}, {1, 1, 1})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("test_Conv"), std::string::npos) << e.what();
  }
}

TEST(ConvTranspose, Stride1FullOverlap) {
  auto out = run_op({"ConvTranspose", 11, {}}, {f32({1, 1, 3}, {1, 2, 3}), f32({1, 1, 3}, {1, 1, 1})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 3, 6, 5, 3}));
}

TEST(ConvTranspose, StridePadsAndOutputPadding) {
  Tensor x = f32({1, 1, 2}, {1, 2});
  Tensor w = f32({1, 1, 3}, {1, 1, 1});
  auto plain = run_op({"ConvTranspose", 11, {{"strides", attr_ints({2})}}}, {x, w});
  EXPECT_EQ(values<float>(plain[0]), (std::vector<float>{1, 1, 3, 2, 2}));
  auto padded = run_op({"ConvTranspose", 11, {{"strides", attr_ints({2})}, {"pads", attr_ints({1, 1})}}}, {x, w});
  EXPECT_EQ(values<float>(padded[0]), (std::vector<float>{1, 3, 2}));
  auto extra = run_op({"ConvTranspose", 1, {{"strides", attr_ints({2})}, {"output_padding", attr_ints({1})}}},
                      {x, w, f32({1}, {10})});
  EXPECT_EQ(values<float>(extra[0]), (std::vector<float>{11, 11, 13, 12, 12, 10}));
}

TEST(ConvTranspose, OutputShapeLargerThanNaturalExtendsBothEnds) {
  // Natural size 5, requested 7: total padding -2 splits into -1 / -1.
  auto out = run_op({"ConvTranspose", 11, {{"strides", attr_ints({2})}, {"output_shape", attr_ints({7})}}},
                    {f32({1, 1, 2}, {1, 2}), f32({1, 1, 3}, {1, 1, 1})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 1, 3, 2, 2, 0}));
  // A full N, C, spatial output_shape is accepted too.
  auto full = run_op({"ConvTranspose", 11, {{"strides", attr_ints({2})}, {"output_shape", attr_ints({1, 1, 4})}}},
                     {f32({1, 1, 2}, {1, 2}), f32({1, 1, 3}, {1, 1, 1})});
  EXPECT_EQ(values<float>(full[0]), (std::vector<float>{1, 3, 2, 2}));
}

TEST(ConvTranspose, AutoPadSame) {
  Tensor x = f32({1, 1, 3}, {1, 2, 3});
  Tensor w = f32({1, 1, 3}, {1, 1, 1});
  // Natural output [1,1,3,2,5,3,3] trimmed to in * stride = 6 elements.
  auto upper = run_op({"ConvTranspose", 11, {{"strides", attr_ints({2})}, {"auto_pad", attr_string("SAME_UPPER")}}},
                      {x, w});
  EXPECT_EQ(values<float>(upper[0]), (std::vector<float>{1, 1, 3, 2, 5, 3}));
  auto lower = run_op({"ConvTranspose", 11, {{"strides", attr_ints({2})}, {"auto_pad", attr_string("SAME_LOWER")}}},
                      {x, w});
  EXPECT_EQ(values<float>(lower[0]), (std::vector<float>{1, 3, 2, 5, 3, 3}));
}

TEST(ConvTranspose, DilationAndGroups) {
  auto dil = run_op({"ConvTranspose", 11, {{"dilations", attr_ints({2})}}},
                    {f32({1, 1, 2}, {1, 2}), f32({1, 1, 2}, {1, 1})});
  EXPECT_EQ(values<float>(dil[0]), (std::vector<float>{1, 2, 1, 2}));
  // Group 2, two output channels per group: W [C=2, M/group=2, 1].
  auto grouped = run_op({"ConvTranspose", 11, {{"group", attr_int(2)}}},
                        {f32({1, 2, 1}, {1, 2}), f32({2, 2, 1}, {3, 4, 5, 6})});
  EXPECT_EQ(grouped[0].shape(), (Shape{1, 4, 1}));
  EXPECT_EQ(values<float>(grouped[0]), (std::vector<float>{3, 4, 10, 12}));
}

TEST(ConvTranspose, TwoDimensionalWithMultipleInputChannels) {
  // Two input channels both feed the single output channel.
  auto out = run_op({"ConvTranspose", 11, {}},
                    {f32({1, 2, 1, 1}, {1, 2}), f32({2, 1, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{21, 42, 63, 84}));
}

TEST(ConvTranspose, RejectsBadModels) {
  Tensor x = f32({1, 1, 2}, {1, 2});
  Tensor w = f32({1, 1, 3}, {1, 1, 1});
  EXPECT_THROW(run_op({"ConvTranspose", 11, {{"output_padding", attr_ints({1})}}}, {x, w}), Error);
  EXPECT_THROW(run_op({"ConvTranspose", 11, {{"output_shape", attr_ints({2, 2})}}}, {x, w}), Error);
  EXPECT_THROW(run_op({"ConvTranspose", 11, {}}, {x, f32({2, 1, 3}, std::vector<float>(6, 1))}), Error);
}

TEST(ConvReference, MatchesNaiveTwoDimensionalSum) {
  // 2 x 3 x 5 x 4 input, 4 output channels, stride 2 x 1, dilation 1 x 2, pads 1/1 and 0/2 (asymmetric).
  ConvParams p;
  p.batch = 2;
  p.in_channels = 3;
  p.out_channels = 4;
  p.in_spatial = {5, 4};
  p.axes = {WindowAxis{3, 2, 1, 1, 1}, WindowAxis{2, 1, 2, 0, 2}};
  p.out_spatial = {3, 4};
  std::vector<float> x(2 * 3 * 5 * 4), w(4 * 3 * 3 * 2), b{1, 2, 3, 4}, y(2 * 4 * 3 * 4);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7) % 11) - 5;
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 5) % 7) - 3;
  conv_reference(p, x.data(), w.data(), b.data(), y.data());
  for (int n = 0; n < 2; ++n) {
    for (int m = 0; m < 4; ++m) {
      for (int oh = 0; oh < 3; ++oh) {
        for (int ow = 0; ow < 4; ++ow) {
          float expect = b[static_cast<size_t>(m)];
          for (int c = 0; c < 3; ++c) {
            for (int kh = 0; kh < 3; ++kh) {
              for (int kw = 0; kw < 2; ++kw) {
                int ih = oh * 2 - 1 + kh, iw = ow + kw * 2;
                if (ih < 0 || ih >= 5 || iw < 0 || iw >= 4) continue;
                expect += x[static_cast<size_t>(((n * 3 + c) * 5 + ih) * 4 + iw)] *
                          w[static_cast<size_t>(((m * 3 + c) * 3 + kh) * 2 + kw)];
              }
            }
          }
          EXPECT_EQ(y[static_cast<size_t>(((n * 4 + m) * 3 + oh) * 4 + ow)], expect) << n << m << oh << ow;
        }
      }
    }
  }
}

}  // namespace
}  // namespace ef::test
