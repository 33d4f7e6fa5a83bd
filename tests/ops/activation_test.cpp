#include <cmath>
#include <limits>

#include "core/dispatch.h"
#include "ops/op_test_util.h"

namespace ef::test {
namespace ops_activation_test {

constexpr float kInf = std::numeric_limits<float>::infinity();

OpCall op(std::string type, int version, std::map<std::string, Attribute> attrs = {}) {
  return OpCall{std::move(type), version, std::move(attrs), ""};
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
    }
  }
}

TEST(Activation, ReluKeepsNaNAndTakesInts) {
  auto out = run_op(op("Relu", 14), {f32({4}, {-1, 0, 2.5f, NAN})});
  auto v = values<float>(out[0]);
  EXPECT_EQ(v[0], 0);
  EXPECT_EQ(v[1], 0);
  EXPECT_EQ(v[2], 2.5f);
  EXPECT_TRUE(std::isnan(v[3]));
  auto i = run_op(op("Relu", 14), {Tensor::from_vector<int32_t>(DType::kInt32, {3}, {-5, 0, 7})});
  EXPECT_EQ(values<int32_t>(i[0]), (std::vector<int32_t>{0, 0, 7}));
}

TEST(Activation, LeakyReluEluSelu) {
  auto lr = run_op(op("LeakyRelu", 6, {{"alpha", attr_float(0.1f)}}), {f32({2}, {-2, 3})});
  expect_near_all(values<float>(lr[0]), {-0.2f, 3});
  auto lr_default = run_op(op("LeakyRelu", 16), {f32({1}, {-1})});
  expect_near_all(values<float>(lr_default[0]), {-0.01f});
  auto elu = run_op(op("Elu", 6, {{"alpha", attr_float(2.0f)}}), {f32({2}, {-1, 1})});
  expect_near_all(values<float>(elu[0]), {2.0f * (std::exp(-1.0f) - 1), 1});
  auto selu = run_op(op("Selu", 6), {f32({2}, {-1, 2})});
  expect_near_all(values<float>(selu[0]), {1.0507010f * 1.6732632f * (std::exp(-1.0f) - 1), 1.0507010f * 2});
  // Opset 1 defaults differ slightly from opset 6.
  auto selu1 = run_op(op("Selu", 1), {f32({1}, {2})});
  EXPECT_FLOAT_EQ(values<float>(selu1[0])[0], 1.0507f * 2);
}

TEST(Activation, CeluAndThresholdedReluAndShrink) {
  auto celu = run_op(op("Celu", 12, {{"alpha", attr_float(2.0f)}}), {f32({2}, {-1, 3})});
  expect_near_all(values<float>(celu[0]), {2.0f * (std::exp(-0.5f) - 1), 3});
  auto tr = run_op(op("ThresholdedRelu", 10, {{"alpha", attr_float(1.5f)}}), {f32({3}, {1, 1.5f, 2})});
  expect_near_all(values<float>(tr[0]), {0, 0, 2});
  auto sh = run_op(op("Shrink", 9, {{"lambd", attr_float(1.0f)}, {"bias", attr_float(0.5f)}}),
                   {f32({5}, {-2, -1, 0, 1, 2})});
  expect_near_all(values<float>(sh[0]), {-1.5f, 0, 0, 0, 1.5f});
  auto shi = run_op(op("Shrink", 9, {{"lambd", attr_float(1.0f)}, {"bias", attr_float(1.0f)}}),
                    {Tensor::from_vector<int8_t>(DType::kInt8, {3}, {-3, 1, 4})});
  EXPECT_EQ(values<int8_t>(shi[0]), (std::vector<int8_t>{-2, 0, 3}));
}

TEST(Activation, SigmoidFamilyIsStableAtExtremes) {
  auto s = run_op(op("Sigmoid", 13), {f32({4}, {0, -1000, 1000, 2})});
  expect_near_all(values<float>(s[0]), {0.5f, 0, 1, 1 / (1 + std::exp(-2.0f))});
  auto sp = run_op(op("Softplus", 1), {f32({3}, {0, 1000, -1000})});
  expect_near_all(values<float>(sp[0]), {std::log(2.0f), 1000, 0});
  auto hs = run_op(op("HardSigmoid", 6, {{"alpha", attr_float(0.5f)}, {"beta", attr_float(0.6f)}}),
                   {f32({3}, {-2, 0, 1})});
  expect_near_all(values<float>(hs[0]), {0, 0.6f, 1});
  auto hw = run_op(op("HardSwish", 14), {f32({4}, {-4, -1, 1, 4})});
  expect_near_all(values<float>(hw[0]), {0, -1.0f / 3, 2.0f / 3, 4});
  auto ss = run_op(op("Softsign", 1), {f32({2}, {-3, 1})});
  expect_near_all(values<float>(ss[0]), {-0.75f, 0.5f});
  auto th = run_op(op("Tanh", 13), {f32({2}, {0, 0.5f})});
  expect_near_all(values<float>(th[0]), {0, std::tanh(0.5f)});
}

TEST(Activation, Float16AndDoubleInputs) {
  Tensor h = Tensor::from_vector<uint16_t>(DType::kFloat16, {2}, {float_to_half(-2.0f), float_to_half(3.0f)});
  auto out = run_op(op("Relu", 6), {h});
  ASSERT_EQ(out[0].dtype(), DType::kFloat16);
  EXPECT_EQ(half_to_float(out[0].data<uint16_t>()[0]), 0.0f);
  EXPECT_EQ(half_to_float(out[0].data<uint16_t>()[1]), 3.0f);
  Tensor d = Tensor::from_vector<double>(DType::kFloat64, {1}, {-1.0});
  auto elu = run_op(op("Elu", 6), {d});
  EXPECT_DOUBLE_EQ(values<double>(elu[0])[0], std::expm1(-1.0));
}

TEST(Activation, FloatOnlyOpRejectsIntegers) {
  EXPECT_THROW(run_op(op("Sigmoid", 13), {i64({1}, {1})}), Error);
}

TEST(Activation, ClipAllVersions) {
  Tensor x = f32({5}, {-kInf, -2, 0, 2, kInf});
  auto v1 = run_op(op("Clip", 1, {{"max", attr_float(1)}}), {x});  // no min: unbounded below
  expect_near_all(values<float>(v1[0]), {-kInf, -2, 0, 1, 1});
  auto v6 = run_op(op("Clip", 6, {{"min", attr_float(-1)}}), {x});  // max defaults to FLT_MAX
  auto r6 = values<float>(v6[0]);
  EXPECT_EQ(r6[0], -1);
  EXPECT_EQ(r6[4], std::numeric_limits<float>::max());
  auto v11 = run_op(op("Clip", 11), {x, Tensor(), f32({}, {1})});
  expect_near_all(values<float>(v11[0]), {-kInf, -2, 0, 1, 1});
  auto v13 = run_op(op("Clip", 13), {f32({3}, {-5, 0.5f, NAN}), f32({}, {-1}), f32({}, {1})});
  auto r13 = values<float>(v13[0]);
  EXPECT_EQ(r13[0], -1);
  EXPECT_EQ(r13[1], 0.5f);
  EXPECT_TRUE(std::isnan(r13[2]));
  // min > max: everything becomes max.
  auto swapped = run_op(op("Clip", 13), {f32({2}, {-5, 5}), f32({}, {2}), f32({}, {1})});
  expect_near_all(values<float>(swapped[0]), {1, 1});
  auto ints = run_op(op("Clip", 13), {Tensor::from_vector<int8_t>(DType::kInt8, {3}, {-128, 5, 127}),
                                      Tensor::scalar<int8_t>(DType::kInt8, -3)});
  EXPECT_EQ(values<int8_t>(ints[0]), (std::vector<int8_t>{-3, 5, 127}));
}

TEST(Activation, ClipRejectsNonScalarBound) {
  EXPECT_THROW(run_op(op("Clip", 13), {f32({2}, {1, 2}), f32({2}, {0, 0})}), Error);
}

TEST(Activation, SoftmaxOpset13UsesSingleAxis) {
  // [2, 2] softmax along axis 0 (columns).
  auto out = run_op(op("Softmax", 13, {{"axis", attr_int(0)}}), {f32({2, 2}, {0, 1, 0, 3})});
  float e2 = std::exp(2.0f);
  expect_near_all(values<float>(out[0]), {0.5f, 1 / (1 + e2), 0.5f, e2 / (1 + e2)});
  auto neg = run_op(op("Softmax", 13, {{"axis", attr_int(-1)}}), {f32({1, 3}, {1000, 1000, 1000})});
  expect_near_all(values<float>(neg[0]), {1.0f / 3, 1.0f / 3, 1.0f / 3});
}

TEST(Activation, SoftmaxOpset1CoercesTo2D) {
  // Axis 1 of [1, 2, 2]: all four elements form one row.
  auto out = run_op(op("Softmax", 1), {f32({1, 2, 2}, {0, 0, 0, 0})});
  expect_near_all(values<float>(out[0]), {0.25f, 0.25f, 0.25f, 0.25f});
  auto v13 = run_op(op("Softmax", 13, {{"axis", attr_int(1)}}), {f32({1, 2, 2}, {0, 0, 0, 0})});
  expect_near_all(values<float>(v13[0]), {0.5f, 0.5f, 0.5f, 0.5f});
  auto log = run_op(op("LogSoftmax", 11, {{"axis", attr_int(0)}}), {f32({2, 1}, {1, 1})});
  expect_near_all(values<float>(log[0]), {-std::log(2.0f), -std::log(2.0f)});
}

TEST(Activation, HardmaxPicksFirstMaximum) {
  auto out = run_op(op("Hardmax", 13), {f32({2, 3}, {1, 3, 3, -1, -2, -3})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 0, 1, 0, 0}));
  auto v1 = run_op(op("Hardmax", 1), {f32({1, 2, 2}, {1, 2, 4, 3})});
  EXPECT_EQ(values<float>(v1[0]), (std::vector<float>{0, 0, 1, 0}));
}

TEST(Activation, SoftmaxRejectsBadAxis) {
  EXPECT_THROW(run_op(op("Softmax", 13, {{"axis", attr_int(2)}}), {f32({2, 2}, {0, 0, 0, 0})}), Error);
}

TEST(Activation, CastBetweenTypes) {
  auto to_int = run_op(op("Cast", 13, {{"to", attr_int(static_cast<int64_t>(DType::kInt32))}}),
                       {f32({4}, {-2.7f, 2.7f, NAN, 1e20f})});
  auto iv = values<int32_t>(to_int[0]);
  EXPECT_EQ(iv[0], -2);
  EXPECT_EQ(iv[1], 2);
  EXPECT_EQ(iv[2], 0);
  auto to_u8 = run_op(op("Cast", 13, {{"to", attr_int(static_cast<int64_t>(DType::kUInt8))}}), {f32({1}, {-1})});
  EXPECT_EQ(values<uint8_t>(to_u8[0])[0], 255);
  auto to_bool = run_op(op("Cast", 9, {{"to", attr_int(static_cast<int64_t>(DType::kBool))}}),
                        {f32({3}, {0, -0.5f, NAN})});
  EXPECT_EQ(values<bool>(to_bool[0]), (std::vector<bool>{false, true, true}));
  auto to_half = run_op(op("Cast", 13, {{"to", attr_int(static_cast<int64_t>(DType::kFloat16))}}),
                        {i64({2}, {3, 70000})});
  EXPECT_EQ(half_to_float(to_half[0].data<uint16_t>()[0]), 3.0f);
  EXPECT_TRUE(std::isinf(half_to_float(to_half[0].data<uint16_t>()[1])));
  // Opset 1 names the type with a string.
  auto v1 = run_op(op("Cast", 1, {{"to", attr_string("DOUBLE")}}), {i64({1}, {5})});
  EXPECT_EQ(v1[0].dtype(), DType::kFloat64);
  EXPECT_EQ(values<double>(v1[0])[0], 5.0);
}

TEST(Activation, CastHalfTypesAndBool) {
  auto cast = [](const Tensor& x, DType to) {
    return run_op(op("Cast", 13, {{"to", attr_int(static_cast<int64_t>(to))}}), {x})[0];
  };
  Tensor h = Tensor::from_vector<uint16_t>(DType::kFloat16, {2}, {float_to_half(-2.5f), float_to_half(7.75f)});
  EXPECT_EQ(values<int32_t>(cast(h, DType::kInt32)), (std::vector<int32_t>{-2, 7}));
  Tensor bf = cast(h, DType::kBFloat16);
  EXPECT_EQ(bf16_to_float(bf.data<uint16_t>()[0]), -2.5f);
  EXPECT_EQ(values<double>(cast(bf, DType::kFloat64)), (std::vector<double>{-2.5, 7.75}));
  Tensor b = Tensor::from_vector<uint8_t>(DType::kBool, {2}, {1, 0});
  Tensor bh = cast(b, DType::kFloat16);
  EXPECT_EQ(half_to_float(bh.data<uint16_t>()[0]), 1.0f);
  EXPECT_EQ(half_to_float(bh.data<uint16_t>()[1]), 0.0f);
  EXPECT_EQ(values<int64_t>(cast(b, DType::kInt64)), (std::vector<int64_t>{1, 0}));
  Tensor big = Tensor::from_vector<uint64_t>(DType::kUInt64, {1}, {uint64_t{1} << 63});
  EXPECT_EQ(values<float>(cast(big, DType::kFloat32))[0], 9223372036854775808.0f);
  EXPECT_EQ(values<int8_t>(cast(i64({1}, {300}), DType::kInt8))[0], 44);  // integer narrowing wraps
}

TEST(Activation, CastToBFloat16TruncatesLikeTheOnnxReference) {
  auto out = run_op(op("Cast", 13, {{"to", attr_int(static_cast<int64_t>(DType::kBFloat16))}}),
                    {f32({4}, {0.48033667f, -0.49968487f, NAN, kInf})});
  const uint16_t* b = out[0].data<uint16_t>();
  EXPECT_EQ(b[0], 0x3ef5);  // round-to-nearest would give 0x3ef6
  EXPECT_EQ(b[1], 0xbeff);
  EXPECT_TRUE(std::isnan(bf16_to_float(b[2])));
  EXPECT_EQ(bf16_to_float(b[3]), kInf);
}

TEST(Activation, CastDoubleToHalfRoundsOnce) {
  // 1 + 2^-11 + 2^-40 lies just above the midpoint of two halves; via float it would become the midpoint and
  // round to even (1.0). Rounded once it must go up to 1 + 2^-10.
  double d = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  auto out = run_op(op("Cast", 13, {{"to", attr_int(static_cast<int64_t>(DType::kFloat16))}}),
                    {Tensor::from_vector<double>(DType::kFloat64, {1}, {d})});
  EXPECT_EQ(half_to_float(out[0].data<uint16_t>()[0]), 1.0f + std::ldexp(1.0f, -10));
}

TEST(Activation, CastLikeTakesTypeOfSecondInput) {
  auto out = run_op(op("CastLike", 15), {f32({2}, {1.5f, -1.5f}), i64({}, {0})});
  EXPECT_EQ(out[0].dtype(), DType::kInt64);
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{1, -1}));
}

TEST(Activation, CastRejectsStringsAndUnknownTypes) {
  try {
    run_op(op("Cast", 13, {{"to", attr_int(static_cast<int64_t>(DType::kString))}}), {f32({1}, {1})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  EXPECT_THROW(run_op(op("Cast", 13, {{"to", attr_int(99)}}), {f32({1}, {1})}), Error);
}

TEST(Activation, DropoutInferenceCopiesWithFullMask) {
  Tensor x = f32({3}, {1, 2, 3});
  auto v10 = run_op(op("Dropout", 10, {{"ratio", attr_float(0.3f)}}), {x}, 2);
  EXPECT_EQ(values<float>(v10[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(v10[1].dtype(), DType::kBool);
  EXPECT_EQ(values<bool>(v10[1]), (std::vector<bool>{true, true, true}));
  auto v7 = run_op(op("Dropout", 7), {x}, 2);
  EXPECT_EQ(v7[1].dtype(), DType::kFloat32);  // before opset 10 the mask had the data's type
  EXPECT_EQ(values<float>(v7[1]), (std::vector<float>{1, 1, 1}));
  Tensor yes = Tensor::from_vector<uint8_t>(DType::kBool, {}, {1});
  auto zero_ratio = run_op(op("Dropout", 13), {x, f32({}, {0}), yes}, 2);
  EXPECT_EQ(values<float>(zero_ratio[0]), (std::vector<float>{1, 2, 3}));
  try {
    run_op(op("Dropout", 13), {x, f32({}, {0.5f}), yes});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
}

TEST(Activation, NllLossReductions) {
  // N=2, C=3; logp laid out [N, C].
  Tensor input = f32({2, 3}, {-1, -2, -3, -4, -5, -6});
  Tensor target = i64({2}, {2, 0});
  auto none = run_op(op("NegativeLogLikelihoodLoss", 13, {{"reduction", attr_string("none")}}), {input, target});
  EXPECT_EQ(none[0].shape(), (Shape{2}));
  expect_near_all(values<float>(none[0]), {3, 4});
  auto mean = run_op(op("NegativeLogLikelihoodLoss", 13), {input, target});
  EXPECT_EQ(mean[0].shape(), Shape{});
  expect_near_all(values<float>(mean[0]), {3.5f});
  Tensor weight = f32({3}, {0.5f, 1, 2});
  auto wmean = run_op(op("NegativeLogLikelihoodLoss", 12), {input, target, weight});
  expect_near_all(values<float>(wmean[0]), {(3 * 2 + 4 * 0.5f) / 2.5f});
  auto wsum = run_op(op("NegativeLogLikelihoodLoss", 13, {{"reduction", attr_string("sum")}}), {input, target, weight});
  expect_near_all(values<float>(wsum[0]), {8});
}

TEST(Activation, NllLossIgnoreIndexWithSpatialDims) {
  // N=1, C=2, D=3; target -1 is ignored and leaves the mean's denominator.
  Tensor input = f32({1, 2, 3}, {-1, -2, -3, -4, -5, -6});
  Tensor target = Tensor::from_vector<int32_t>(DType::kInt32, {1, 3}, {1, -1, 0});
  auto mean = run_op(op("NegativeLogLikelihoodLoss", 13, {{"ignore_index", attr_int(-1)}}), {input, target});
  expect_near_all(values<float>(mean[0]), {(4 + 3) / 2.0f});
  auto none = run_op(op("NegativeLogLikelihoodLoss", 13, {{"ignore_index", attr_int(-1)}, {"reduction",
                                                           attr_string("none")}}), {input, target});
  EXPECT_EQ(none[0].shape(), (Shape{1, 3}));
  expect_near_all(values<float>(none[0]), {4, 0, 3});
}

TEST(Activation, NllLossRejectsBadLabels) {
  Tensor input = f32({1, 2}, {-1, -2});
  try {
    run_op(op("NegativeLogLikelihoodLoss", 13), {input, i64({1}, {2})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_THROW(run_op(op("NegativeLogLikelihoodLoss", 13), {input, i64({2}, {0, 0})}), Error);
  EXPECT_THROW(run_op(op("NegativeLogLikelihoodLoss", 13, {{"reduction", attr_string("avg")}}), {input, i64({1}, {0})}),
               Error);
}

TEST(Activation, SoftmaxCrossEntropyWithLogProb) {
  Tensor scores = f32({2, 2}, {0, 0, 1, 3});
  Tensor labels = i64({2}, {1, 0});
  auto out = run_op(op("SoftmaxCrossEntropyLoss", 13, {{"reduction", attr_string("sum")}}), {scores, labels}, 2);
  float lp10 = 1 - (3 + std::log(1 + std::exp(-2.0f)));  // log softmax of 1 in {1, 3}
  std::vector<float> logp = {-std::log(2.0f), -std::log(2.0f), lp10, 3 - (3 + std::log(1 + std::exp(-2.0f)))};
  expect_near_all(values<float>(out[1]), logp);
  expect_near_all(values<float>(out[0]), {std::log(2.0f) - lp10});
  auto ignored = run_op(op("SoftmaxCrossEntropyLoss", 13, {{"ignore_index", attr_int(0)}}), {scores, labels});
  expect_near_all(values<float>(ignored[0]), {std::log(2.0f)});
}

}  // namespace
}  // namespace ef::test
