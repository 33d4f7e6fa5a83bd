#include <cmath>
#include <cstdint>

#include "ops/op_test_util.h"

namespace ef::test {
namespace elementwise_test {

TEST(Elementwise, AddBroadcastsRowVector) {
  auto out = run_op({"Add", 14, {}}, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {10, 20, 30})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST(Elementwise, LegacyBroadcastUsesAxis) {
  auto out = run_op({"Add", 6, {{"broadcast", attr_int(1)}, {"axis", attr_int(0)}}},
                    {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {10, 20})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{11, 12, 13, 24, 25, 26}));
}

TEST(Elementwise, IncompatibleShapesNameTheNode) {
  try {
    run_op({"Mul", 14, {}}, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 2})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test_Mul"), std::string::npos) << e.what();
  }
}

// Integer overflow wraps around (two's complement), never undefined behaviour (a fuzzer input multiplied two
// 4.7e14 int64 values; UBSan stopped the run).
TEST(Elementwise, SignedIntegerOverflowWrapsAround) {
  const int64_t big = 113684797980673;
  auto mul = run_op({"Mul", 14, {}}, {i64({2}, {big, INT64_MAX}), i64({2}, {big, 2})});
  EXPECT_EQ(values<int64_t>(mul[0]),
            (std::vector<int64_t>{static_cast<int64_t>(static_cast<uint64_t>(big) * static_cast<uint64_t>(big)), -2}));
  auto add = run_op({"Add", 14, {}}, {i64({1}, {INT64_MAX}), i64({1}, {1})});
  EXPECT_EQ(values<int64_t>(add[0]), (std::vector<int64_t>{INT64_MIN}));
  auto sub = run_op({"Sub", 14, {}}, {i64({1}, {INT64_MIN}), i64({1}, {1})});
  EXPECT_EQ(values<int64_t>(sub[0]), (std::vector<int64_t>{INT64_MAX}));
  auto mul32 = run_op({"Mul", 14, {}}, {Tensor::from_vector(DType::kInt32, {1}, std::vector<int32_t>{65536}),
                                        Tensor::from_vector(DType::kInt32, {1}, std::vector<int32_t>{65536})});
  EXPECT_EQ(values<int32_t>(mul32[0]), (std::vector<int32_t>{0}));
  auto mul16 = run_op({"Mul", 14, {}}, {Tensor::from_vector(DType::kInt16, {1}, std::vector<int16_t>{-32768}),
                                        Tensor::from_vector(DType::kInt16, {1}, std::vector<int16_t>{-32768})});
  EXPECT_EQ(values<int16_t>(mul16[0]), (std::vector<int16_t>{0}));
}

// ONNX defines Acosh, Log, Reciprocal and the other math functions on floating-point tensors only: an integer
// input is a clear model error, not a NaN converted to int16 (a fuzzer input ran Acosh on int16; UBSan stopped it)
// or an integer division by zero (Reciprocal of 0). Erf, Abs, Neg and Sign keep their integer forms.
TEST(Elementwise, FloatOnlyMathRejectsIntegerInputs) {
  const Tensor x16 = Tensor::from_vector(DType::kInt16, {3}, std::vector<int16_t>{0, 1, -7});
  for (const char* op : {"Acosh", "Log", "Reciprocal", "Sqrt", "Floor"}) {
    SCOPED_TRACE(op);
    try {
      run_op({op, 9, {}}, {x16});
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
      EXPECT_NE(std::string(e.what()).find("floating-point"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(values<int16_t>(run_op({"Abs", 13, {}}, {x16})[0]), (std::vector<int16_t>{0, 1, 7}));
  EXPECT_EQ(values<float>(run_op({"Acosh", 9, {}}, {f32({1}, {1.0f})})[0]), (std::vector<float>{0.0f}));
}

TEST(Elementwise, ModFollowsDivisorSignUnlessFmod) {
  auto out = run_op({"Mod", 13, {}}, {i64({2}, {-7, 7}), i64({2}, {3, -3})});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{2, -2}));
  auto f = run_op({"Mod", 13, {{"fmod", attr_int(1)}}}, {f32({2}, {-7, 7}), f32({2}, {3, -3})});
  EXPECT_EQ(values<float>(f[0]), (std::vector<float>{-1, 1}));
}

TEST(Elementwise, MaxIsVariadicAndPropagatesNaN) {
  auto out = run_op({"Max", 13, {}}, {f32({3}, {1, NAN, 3}), f32({1}, {2}), f32({3}, {0, 0, 5})});
  auto v = values<float>(out[0]);
  EXPECT_EQ(v[0], 2);
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_EQ(v[2], 5);
}

TEST(Elementwise, WhereSelectsWithBroadcast) {
  Tensor cond = Tensor::from_vector<uint8_t>(DType::kBool, {2, 1}, {1, 0});
  auto out = run_op({"Where", 16, {}}, {cond, f32({2}, {1, 2}), f32({1}, {9})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 9, 9}));
}

}  // namespace
}  // namespace ef::test
