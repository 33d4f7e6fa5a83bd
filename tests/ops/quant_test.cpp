#include <cmath>

#include "kernels/reference/conv_integer.h"
#include "ops/op_test_util.h"

namespace ef::test {
namespace quant_test {

Tensor u8(Shape shape, std::vector<uint8_t> v) { return Tensor::from_vector(DType::kUInt8, std::move(shape), v); }
Tensor s8(Shape shape, std::vector<int8_t> v) { return Tensor::from_vector(DType::kInt8, std::move(shape), v); }
Tensor i32(Shape shape, std::vector<int32_t> v) { return Tensor::from_vector(DType::kInt32, std::move(shape), v); }

void expect_invalid(const OpCall& call, const std::vector<Tensor>& inputs) {
  try {
    run_op(call, inputs);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find("test_" + call.op_type), std::string::npos) << e.what();
  }
}

TEST(QuantQuantizeLinear, RoundsHalfToEvenAndSaturates) {
  Tensor x = f32({7}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300, -300});
  auto s = run_op({"QuantizeLinear", 13, {}}, {x, f32({}, {1}), s8({}, {0})});
  EXPECT_EQ(s[0].dtype(), DType::kInt8);
  EXPECT_EQ(values<int8_t>(s[0]), (std::vector<int8_t>{0, 2, 2, 0, -2, 127, -128}));
  auto u = run_op({"QuantizeLinear", 10, {}}, {x, f32({}, {1})});  // no zero point: uint8 0
  EXPECT_EQ(u[0].dtype(), DType::kUInt8);
  EXPECT_EQ(values<uint8_t>(u[0]), (std::vector<uint8_t>{0, 2, 2, 0, 0, 255, 0}));
  auto onnx = run_op({"QuantizeLinear", 10, {}},
                     {f32({6}, {0, 2, 3, 1000, -254, -1000}), f32({}, {2}), u8({}, {128})});
  EXPECT_EQ(values<uint8_t>(onnx[0]), (std::vector<uint8_t>{128, 129, 130, 255, 1, 0}));
  auto from_int = run_op({"QuantizeLinear", 13, {}}, {i32({3}, {5, -5, 7}), f32({}, {2}), s8({}, {1})});
  EXPECT_EQ(values<int8_t>(from_int[0]), (std::vector<int8_t>{3, -1, 5}));  // 2.5 -> 2, -2.5 -> -2, 3.5 -> 4
}

TEST(QuantQuantizeLinear, PerAxisScales) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  auto cols = run_op({"QuantizeLinear", 13, {}}, {x, f32({2}, {1, 2}), s8({2}, {0, -10})});  // axis defaults to 1
  EXPECT_EQ(values<int8_t>(cols[0]), (std::vector<int8_t>{1, -9, 3, -8}));
  auto neg = run_op({"QuantizeLinear", 13, {{"axis", attr_int(-1)}}}, {x, f32({2}, {1, 2}), s8({2}, {0, -10})});
  EXPECT_EQ(values<int8_t>(neg[0]), (std::vector<int8_t>{1, -9, 3, -8}));
  auto rows = run_op({"QuantizeLinear", 13, {{"axis", attr_int(0)}}}, {x, f32({2}, {1, 2}), s8({2}, {0, -10})});
  EXPECT_EQ(values<int8_t>(rows[0]), (std::vector<int8_t>{1, 2, -8, -8}));  // 1.5 -> 2
  expect_invalid({"QuantizeLinear", 10, {}}, {x, f32({2}, {1, 2}), u8({2}, {0, 0})});  // no per-axis before 13
  expect_invalid({"QuantizeLinear", 13, {}}, {x, f32({3}, {1, 2, 3}), u8({3}, {0, 0, 0})});
  expect_invalid({"QuantizeLinear", 13, {}}, {x, f32({}, {1}), i32({}, {0})});
}

TEST(QuantDequantizeLinear, PerTensorPerAxisAndInt32) {
  auto s = run_op({"DequantizeLinear", 10, {}}, {s8({3}, {-128, 0, 127}), f32({}, {0.5f}), s8({}, {-1})});
  EXPECT_EQ(values<float>(s[0]), (std::vector<float>{-63.5f, 0.5f, 64}));
  auto i = run_op({"DequantizeLinear", 13, {}}, {i32({2}, {100000, -3}), f32({}, {0.25f})});
  EXPECT_EQ(values<float>(i[0]), (std::vector<float>{25000, -0.75f}));
  auto axis = run_op({"DequantizeLinear", 13, {{"axis", attr_int(0)}}},
                     {u8({2, 2}, {10, 20, 30, 40}), f32({2}, {1, 0.5f}), u8({2}, {10, 20})});
  EXPECT_EQ(values<float>(axis[0]), (std::vector<float>{0, 10, 5, 10}));
  expect_invalid({"DequantizeLinear", 13, {}}, {u8({2}, {1, 2}), f32({}, {1}), s8({}, {0})});  // zp type differs
  // Per-channel int32 bias without zero point (the QDQ bias layout): zero point 0 on every channel.
  auto bias = run_op({"DequantizeLinear", 13, {{"axis", attr_int(0)}}},
                     {i32({3}, {100, -8, 6}), f32({3}, {0.5f, 0.25f, 2})});
  EXPECT_EQ(values<float>(bias[0]), (std::vector<float>{50, -2, 12}));
  auto q = run_op({"QuantizeLinear", 13, {{"axis", attr_int(0)}}}, {f32({3}, {50, -2, 12}), f32({3}, {0.5f, 0.25f, 2})});
  EXPECT_EQ(values<uint8_t>(q[0]), (std::vector<uint8_t>{100, 0, 6}));
}

TEST(QuantDynamicQuantizeLinear, FollowsTheOnnxFormula) {
  auto out = run_op({"DynamicQuantizeLinear", 11, {}}, {f32({6}, {0, 2, -3, -2.5f, 1.34f, 0.5f})}, 3);
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{153, 255, 0, 26, 221, 179}));
  EXPECT_EQ(out[1].shape(), (Shape{}));
  EXPECT_FLOAT_EQ(out[1].data<float>()[0], 5.0f / 255.0f);
  EXPECT_EQ(out[2].data<uint8_t>()[0], 153);
  auto zeros = run_op({"DynamicQuantizeLinear", 11, {}}, {f32({2}, {0, 0})}, 3);
  EXPECT_EQ(values<uint8_t>(zeros[0]), (std::vector<uint8_t>{0, 0}));
  EXPECT_EQ(zeros[1].data<float>()[0], 0);
  EXPECT_EQ(zeros[2].data<uint8_t>()[0], 0);
}

TEST(QuantMatMulInteger, PerRowAndPerColumnZeroPoints) {
  auto onnx = run_op({"MatMulInteger", 10, {}}, {u8({4, 3}, {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0}),
                                                 u8({3, 2}, {1, 4, 2, 5, 3, 6}), u8({1}, {12}), u8({1}, {0})});
  EXPECT_EQ(onnx[0].dtype(), DType::kInt32);
  EXPECT_EQ(values<int32_t>(onnx[0]), (std::vector<int32_t>{-38, -83, -44, -98, -50, -113, -56, -128}));
  auto rc = run_op({"MatMulInteger", 10, {}},
                   {u8({2, 2}, {10, 20, 30, 40}), s8({2, 2}, {-1, 2, 3, -4}), u8({2}, {10, 20}), s8({2}, {1, -2})});
  EXPECT_EQ(values<int32_t>(rc[0]), (std::vector<int32_t>{20, -20, 20, 0}));
  // N-D per-row zero point [batch, M, 1]: one per batch entry here
  auto nd = run_op({"MatMulInteger", 10, {}},
                   {u8({2, 1, 2}, {1, 2, 3, 4}), u8({2, 1}, {1, 1}), u8({2, 1, 1}, {1, 3})});
  EXPECT_EQ(nd[0].shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(values<int32_t>(nd[0]), (std::vector<int32_t>{1, 1}));
  expect_invalid({"MatMulInteger", 10, {}}, {u8({2, 2}, {1, 2, 3, 4}), u8({2, 2}, {1, 2, 3, 4}), u8({3}, {1, 2, 3})});
}

TEST(QuantQLinearMatMul, MatchesOnnxExample) {
  auto out = run_op({"QLinearMatMul", 10, {}},
                    {u8({2, 4}, {208, 236, 0, 238, 3, 214, 255, 29}), f32({1}, {0.0066f}), u8({1}, {113}),
                     u8({4, 3}, {152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247}), f32({1}, {0.00705f}),
                     u8({1}, {114}), f32({1}, {0.0107f}), u8({1}, {118})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{168, 115, 255, 1, 66, 151}));
  // per-column b scale, int8 output: acc = [[2, 4]] -> [2 * 0.5, 4 * 1.5] = [1, 6]
  auto cols = run_op({"QLinearMatMul", 10, {}}, {s8({1, 1}, {2}), f32({}, {1}), s8({}, {0}), s8({1, 2}, {1, 2}),
                                                 f32({2}, {0.5f, 1.5f}), s8({2}, {0, 0}), f32({}, {1}), s8({}, {-3})});
  EXPECT_EQ(values<int8_t>(cols[0]), (std::vector<int8_t>{-2, 3}));
}

TEST(QuantConvInteger, PaddingMatchesOnnxExample) {
  auto out = run_op({"ConvInteger", 10, {{"pads", attr_ints({1, 1, 1, 1})}}},
                    {u8({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10}), u8({1, 1, 2, 2}, {1, 1, 1, 1}), u8({}, {1})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}));
}

TEST(QuantConvInteger, GroupsStridesDilationsAndPerChannelWeightZeroPoint) {
  auto out = run_op({"ConvInteger", 10, {{"group", attr_int(2)}, {"strides", attr_ints({1, 2})},
                                         {"dilations", attr_ints({1, 2})}}},
                    {s8({1, 2, 1, 5}, {1, 2, 3, 4, 5, -1, -2, -3, -4, -5}), u8({2, 1, 1, 2}, {1, 1, 2, 1}),
                     s8({}, {0}), u8({2}, {0, 1})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 2, 1, 2}));
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{4, 8, -1, -3}));
}

TEST(QuantConvInteger, AutoPadSameUpperAndLower) {
  Tensor x = u8({1, 1, 1, 4}, {1, 2, 3, 4});
  Tensor w = u8({1, 1, 1, 3}, {1, 1, 1});
  auto upper = run_op({"ConvInteger", 10, {{"auto_pad", attr_string("SAME_UPPER")}, {"strides", attr_ints({1, 2})}}},
                      {x, w});
  EXPECT_EQ(upper[0].shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(values<int32_t>(upper[0]), (std::vector<int32_t>{6, 7}));
  auto lower = run_op({"ConvInteger", 10, {{"auto_pad", attr_string("SAME_LOWER")}, {"strides", attr_ints({1, 2})}}},
                      {x, w});
  EXPECT_EQ(values<int32_t>(lower[0]), (std::vector<int32_t>{3, 9}));
  expect_invalid({"ConvInteger", 10, {{"group", attr_int(2)}}}, {x, w});
  expect_invalid({"ConvInteger", 10, {{"auto_pad", attr_string("SAME")}}}, {x, w});
}

TEST(QuantQLinearConv, PerChannelScalesBiasAndRoundHalfToEven) {
  auto out = run_op({"QLinearConv", 10, {}},
                    {u8({1, 1, 1, 3}, {10, 20, 30}), f32({}, {0.5f}), u8({}, {10}), s8({2, 1, 1, 1}, {2, -1}),
                     f32({2}, {1, 0.25f}), s8({2}, {0, 1}), f32({}, {1}), u8({}, {100}), i32({2}, {3, -4})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 2, 1, 3}));
  EXPECT_EQ(out[0].dtype(), DType::kUInt8);
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{102, 112, 122, 100, 97, 94}));
  expect_invalid({"QLinearConv", 10, {}},
                 {u8({1, 1, 1, 3}, {10, 20, 30}), f32({}, {0.5f}), u8({}, {10}), s8({2, 1, 1, 1}, {2, -1}),
                  f32({3}, {1, 1, 1}), s8({3}, {0, 0, 0}), f32({}, {1}), u8({}, {100})});
}

// ai.edgeforge QLinearConvAdd: the QLinearConv above (real values 2, 12, 22, 0, -3, -6 before its own rounding to
// y_scale 1), plus R = 0.5 * (1 .. 6), requantized to scale 1 / zero point 10 with halves to even.
TEST(QuantQLinearConvAdd, AddsTheResidualToTheRoundedConvolution) {
  const OpCall call{"QLinearConvAdd", 1, {}, "ai.edgeforge"};
  auto inputs = [](Tensor r) {
    return std::vector<Tensor>{u8({1, 1, 1, 3}, {10, 20, 30}), f32({}, {0.5f}), u8({}, {10}), s8({2, 1, 1, 1}, {2, -1}),
                               f32({2}, {1, 0.25f}), s8({2}, {0, 1}), f32({}, {1}), u8({}, {100}), i32({2}, {3, -4}),
                               std::move(r), f32({}, {0.5f}), s8({}, {0}), f32({}, {1}), u8({}, {10})};
  };
  auto out = run_op(call, inputs(s8({1, 2, 1, 3}, {1, 2, 3, 4, 5, 6})));
  EXPECT_EQ(out[0].shape(), (Shape{1, 2, 1, 3}));
  EXPECT_EQ(out[0].dtype(), DType::kUInt8);
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{12, 23, 34, 12, 10, 7}));
  expect_invalid(call, inputs(s8({1, 2, 1, 2}, {1, 2, 3, 4})));  // R is not the convolution's shape
}

TEST(QuantConvIntegerReference, ThreeDimensionalWithPadding) {
  ConvIntegerParams p;
  p.in_spatial = {2, 1, 1};
  p.out_spatial = {3, 1, 1};
  p.kernel = {2, 1, 1};
  p.strides = {1, 1, 1};
  p.dilations = {1, 1, 1};
  p.pads_begin = {1, 0, 0};
  std::vector<uint8_t> x = {5, 7};
  std::vector<int8_t> w = {1, -1};
  std::vector<int32_t> y(3);
  conv_integer_reference(p, x.data(), false, 1, w.data(), true, nullptr, 0, y.data());
  EXPECT_EQ(y, (std::vector<int32_t>{-4, 4 - 6, 6}));  // taps: (pad, x0), (x0, x1), (x1, pad)
}

}  // namespace
}  // namespace ef::test
