#include <limits>
#include <numeric>

#include "ops/op_test_util.h"

namespace ef::test {
namespace shape_ops_test {

Tensor iota_f32(Shape shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), 0.0f);
  return f32(std::move(shape), v);
}

template <typename F>
void expect_error(F f, ErrorCode code) {
  try {
    f();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
  }
}

// Runs only inference on a one-node graph with the given input types and known values (nullptr = unknown).
std::vector<ValueType> infer(const OpCall& call, const std::vector<ValueType>& types,
                             const std::vector<const Tensor*>& vals, size_t num_outputs,
                             std::vector<Tensor>* out_values = nullptr) {
  Node node;
  node.name = "test_" + call.op_type;
  node.op_type = call.op_type;
  node.version = call.version;
  node.attrs = call.attrs;
  std::vector<const ValueType*> type_ptrs;
  for (size_t i = 0; i < types.size(); ++i) {
    node.inputs.push_back(static_cast<int>(i));
    type_ptrs.push_back(&types[i]);
  }
  for (size_t i = 0; i < num_outputs; ++i) node.outputs.push_back(static_cast<int>(types.size() + i));
  std::vector<Tensor> known;
  auto out = infer_node(OpRegistry::global().resolve(node), node, type_ptrs, vals, known);
  if (out_values) *out_values = known;
  return out;
}

// ---- Reshape / Flatten / Squeeze / Unsqueeze ----

TEST(ShapeOps, ReshapeZeroCopiesAndMinusOneInfers) {
  auto out = run_op({"Reshape", 14, {}}, {iota_f32({2, 3, 4}), i64({3}, {0, -1, 2})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(values<float>(out[0])[13], 13.0f);
}

TEST(ShapeOps, ReshapeAllowZeroKeepsLiteralZero) {
  auto out = run_op({"Reshape", 14, {{"allowzero", attr_int(1)}}}, {f32({0, 3}, {}), i64({3}, {3, 0, 4})});
  EXPECT_EQ(out[0].shape(), (Shape{3, 0, 4}));
  expect_error([] { run_op({"Reshape", 14, {{"allowzero", attr_int(1)}}}, {f32({0, 3}, {}), i64({2}, {0, -1})}); },
               ErrorCode::kInvalidModel);
}

TEST(ShapeOps, ReshapeLegacyAttribute) {
  auto out = run_op({"Reshape", 1, {{"shape", attr_ints({-1})}}}, {iota_f32({2, 2})});
  EXPECT_EQ(out[0].shape(), (Shape{4}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 2, 3}));
}

TEST(ShapeOps, ReshapeRejectsWrongElementCount) {
  expect_error([] { run_op({"Reshape", 13, {}}, {iota_f32({2, 3}), i64({2}, {4, 2})}); }, ErrorCode::kInvalidModel);
  expect_error([] { run_op({"Reshape", 13, {}}, {iota_f32({2, 3}), i64({2}, {-1, -1})}); }, ErrorCode::kInvalidModel);
}

TEST(ShapeOps, ReshapeInfersSymbolicBatch) {
  ValueType x{DType::kFloat32, Dims{Dim::symbol("N"), 3, 4}};
  ValueType s{DType::kInt64, Dims{2}};
  Tensor target = i64({2}, {0, -1});
  auto out = infer({"Reshape", 13, {}}, {x, s}, {nullptr, &target}, 1);
  ASSERT_TRUE(out[0].dims);
  EXPECT_EQ(dims_str(*out[0].dims), dims_str(Dims{Dim::symbol("N"), 12}));
  // Shape value unknown: only the rank is known.
  auto unknown = infer({"Reshape", 13, {}}, {x, s}, {nullptr, nullptr}, 1);
  ASSERT_TRUE(unknown[0].dims);
  EXPECT_EQ(unknown[0].dims->size(), 2u);
  EXPECT_FALSE((*unknown[0].dims)[0].known());
}

TEST(ShapeOps, FlattenAxes) {
  EXPECT_EQ(run_op({"Flatten", 13, {{"axis", attr_int(0)}}}, {iota_f32({2, 3, 4})})[0].shape(), (Shape{1, 24}));
  EXPECT_EQ(run_op({"Flatten", 13, {{"axis", attr_int(-1)}}}, {iota_f32({2, 3, 4})})[0].shape(), (Shape{6, 4}));
  EXPECT_EQ(run_op({"Flatten", 1, {}}, {iota_f32({2, 3, 4})})[0].shape(), (Shape{2, 12}));
  expect_error([] { run_op({"Flatten", 9, {{"axis", attr_int(-1)}}}, {iota_f32({2, 3})}); },
               ErrorCode::kInvalidModel);
}

TEST(ShapeOps, SqueezeAndUnsqueezeBothForms) {
  EXPECT_EQ(run_op({"Squeeze", 13, {}}, {iota_f32({1, 3, 1, 2})})[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(run_op({"Squeeze", 13, {}}, {iota_f32({1, 3, 1, 2}), i64({1}, {-2})})[0].shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(run_op({"Squeeze", 1, {{"axes", attr_ints({0})}}}, {iota_f32({1, 3})})[0].shape(), (Shape{3}));
  expect_error([] { run_op({"Squeeze", 13, {}}, {iota_f32({1, 3}), i64({1}, {1})}); }, ErrorCode::kInvalidModel);
  auto u = run_op({"Unsqueeze", 13, {}}, {iota_f32({3, 2}), i64({3}, {-1, 0, 2})});
  EXPECT_EQ(u[0].shape(), (Shape{1, 3, 1, 2, 1}));
  EXPECT_EQ(values<float>(u[0]), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(run_op({"Unsqueeze", 11, {{"axes", attr_ints({1})}}}, {iota_f32({3})})[0].shape(), (Shape{3, 1}));
  expect_error([] { run_op({"Unsqueeze", 13, {}}, {iota_f32({3}), i64({2}, {0, 0})}); }, ErrorCode::kInvalidModel);
}

// ---- Shape / Size / Constant / ConstantOfShape / Range ----

TEST(ShapeOps, ShapeStartEndAndValueAtInference) {
  auto out = run_op({"Shape", 15, {{"start", attr_int(-2)}, {"end", attr_int(10)}}}, {iota_f32({2, 3, 4})});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{3, 4}));
  ValueType x{DType::kFloat32, Dims{Dim::symbol("N"), 3, 4}};
  std::vector<Tensor> known;
  infer({"Shape", 15, {{"start", attr_int(1)}}}, {x}, {nullptr}, 1, &known);
  ASSERT_TRUE(known[0].defined());  // the symbolic batch dim is sliced away
  EXPECT_EQ(values<int64_t>(known[0]), (std::vector<int64_t>{3, 4}));
  auto t = infer({"Shape", 13, {}}, {x}, {nullptr}, 1, &known);
  EXPECT_FALSE(known[0].defined());
  EXPECT_EQ(dims_str(*t[0].dims), "[3]");
}

TEST(ShapeOps, SizeAndConstantForms) {
  EXPECT_EQ(values<int64_t>(run_op({"Size", 13, {}}, {iota_f32({2, 5})})[0]), (std::vector<int64_t>{10}));
  Attribute tensor;
  tensor.kind = Attribute::Kind::kTensor;
  tensor.t = i64({2}, {7, 8});
  EXPECT_EQ(values<int64_t>(run_op({"Constant", 1, {{"value", tensor}}}, {})[0]), (std::vector<int64_t>{7, 8}));
  auto f = run_op({"Constant", 13, {{"value_floats", attr_floats({1.5f, 2})}}}, {})[0];
  EXPECT_EQ(f.shape(), (Shape{2}));
  EXPECT_EQ(values<float>(f), (std::vector<float>{1.5f, 2}));
  auto i = run_op({"Constant", 13, {{"value_int", attr_int(3)}}}, {})[0];
  EXPECT_EQ(i.shape(), Shape{});
  EXPECT_EQ(values<int64_t>(i), (std::vector<int64_t>{3}));
  expect_error([] { run_op({"Constant", 13, {{"value_string", attr_string("x")}}}, {}); }, ErrorCode::kUnsupported);
}

TEST(ShapeOps, ConstantOfShapeUsesValueAttribute) {
  Attribute v;
  v.kind = Attribute::Kind::kTensor;
  v.t = Tensor::from_vector<int32_t>(DType::kInt32, {1}, {7});
  auto out = run_op({"ConstantOfShape", 9, {{"value", v}}}, {i64({2}, {2, 1})});
  EXPECT_EQ(out[0].dtype(), DType::kInt32);
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{7, 7}));
  auto scalar = run_op({"ConstantOfShape", 9, {}}, {i64({0}, {})});
  EXPECT_EQ(scalar[0].shape(), Shape{});
  EXPECT_EQ(values<float>(scalar[0]), (std::vector<float>{0}));
}

TEST(ShapeOps, RangeIntAndFloat) {
  auto i32 = [](int32_t v) { return Tensor::scalar<int32_t>(DType::kInt32, v); };
  auto i = run_op({"Range", 11, {}}, {i32(10), i32(3), i32(-3)});
  EXPECT_EQ(values<int32_t>(i[0]), (std::vector<int32_t>{10, 7, 4}));
  auto f = run_op({"Range", 11, {}}, {f32({}, {1}), f32({}, {2}), f32({}, {0.25f})});
  EXPECT_EQ(values<float>(f[0]), (std::vector<float>{1, 1.25f, 1.5f, 1.75f}));
  auto empty = run_op({"Range", 11, {}}, {i64({}, {5}), i64({}, {1}), i64({}, {2})});
  EXPECT_EQ(empty[0].shape(), (Shape{0}));
  expect_error([] { run_op({"Range", 11, {}}, {i64({}, {0}), i64({}, {1}), i64({}, {0})}); },
               ErrorCode::kInvalidArgument);
}

// ---- Transpose / Concat / Split / Expand / Tile / DepthToSpace ----

TEST(ShapeOps, TransposeDefaultAndPerm) {
  auto d = run_op({"Transpose", 13, {}}, {iota_f32({2, 3})});
  EXPECT_EQ(d[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>(d[0]), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  auto p = run_op({"Transpose", 1, {{"perm", attr_ints({1, 2, 0})}}}, {iota_f32({2, 1, 3})});
  EXPECT_EQ(p[0].shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(values<float>(p[0]), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  expect_error([] { run_op({"Transpose", 13, {{"perm", attr_ints({0, 0})}}}, {iota_f32({2, 2})}); },
               ErrorCode::kInvalidModel);
}

TEST(ShapeOps, ConcatNegativeAxisAndLegacyDefault) {
  auto out = run_op({"Concat", 13, {{"axis", attr_int(-1)}}}, {iota_f32({2, 1}), f32({2, 2}, {9, 9, 8, 8})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 9, 9, 1, 8, 8}));
  auto legacy = run_op({"Concat", 1, {}}, {iota_f32({1, 1}), f32({1, 1}, {5})});
  EXPECT_EQ(legacy[0].shape(), (Shape{1, 2}));
  auto empty = run_op({"Concat", 13, {{"axis", attr_int(0)}}}, {i64({0}, {}), i64({2}, {1, 2})});
  EXPECT_EQ(values<int64_t>(empty[0]), (std::vector<int64_t>{1, 2}));
  expect_error([] { run_op({"Concat", 13, {{"axis", attr_int(0)}}}, {iota_f32({2, 1}), iota_f32({2, 2})}); },
               ErrorCode::kInvalidModel);
}

TEST(ShapeOps, SplitEqualAndExplicit) {
  auto eq = run_op({"Split", 13, {{"axis", attr_int(1)}}}, {iota_f32({2, 4})}, 2);
  EXPECT_EQ(values<float>(eq[0]), (std::vector<float>{0, 1, 4, 5}));
  EXPECT_EQ(values<float>(eq[1]), (std::vector<float>{2, 3, 6, 7}));
  auto ex = run_op({"Split", 13, {}}, {iota_f32({5}), i64({3}, {2, 0, 3})}, 3);
  EXPECT_EQ(ex[1].shape(), (Shape{0}));
  EXPECT_EQ(values<float>(ex[2]), (std::vector<float>{2, 3, 4}));
  auto attr = run_op({"Split", 2, {{"split", attr_ints({1, 2})}}}, {iota_f32({3})}, 2);
  EXPECT_EQ(values<float>(attr[1]), (std::vector<float>{1, 2}));
  expect_error([] { run_op({"Split", 13, {}}, {iota_f32({5})}, 2); }, ErrorCode::kInvalidModel);
}

TEST(ShapeOps, ExpandBroadcastsBothWays) {
  auto out = run_op({"Expand", 13, {}}, {f32({3, 1}, {1, 2, 3}), i64({3}, {2, 1, 2})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  expect_error([] { run_op({"Expand", 13, {}}, {f32({3}, {1, 2, 3}), i64({1}, {2})}); }, ErrorCode::kInvalidModel);
}

TEST(ShapeOps, TileModernAndLegacy) {
  auto out = run_op({"Tile", 13, {}}, {f32({1, 2}, {1, 2}), i64({2}, {2, 2})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 1, 2, 1, 2, 1, 2}));
  auto legacy = run_op({"Tile", 1, {}}, {f32({2, 1}, {1, 2}), f32({}, {3}), f32({}, {1})});
  EXPECT_EQ(legacy[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(legacy[0]), (std::vector<float>{1, 1, 1, 2, 2, 2}));
  expect_error([] { run_op({"Tile", 13, {}}, {f32({2}, {1, 2}), i64({2}, {1, 1})}); }, ErrorCode::kInvalidModel);
  // Repeats whose product with the axis size passes int64 (found by fuzzing: signed overflow at shape inference).
  expect_error([] { run_op({"Tile", 13, {}}, {f32({2}, {1, 2}), i64({1}, {int64_t{1} << 62})}); },
               ErrorCode::kInvalidModel);
}

TEST(ShapeOps, DepthToSpaceModesAndInverse) {
  Tensor x = iota_f32({1, 8, 1, 1});
  auto dcr = run_op({"DepthToSpace", 13, {{"blocksize", attr_int(2)}}}, {x});
  EXPECT_EQ(dcr[0].shape(), (Shape{1, 2, 2, 2}));
  EXPECT_EQ(values<float>(dcr[0]), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
  auto crd = run_op({"DepthToSpace", 13, {{"blocksize", attr_int(2)}, {"mode", attr_string("CRD")}}}, {x});
  EXPECT_EQ(values<float>(crd[0]), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  auto back = run_op({"SpaceToDepth", 13, {{"blocksize", attr_int(2)}}}, {dcr[0]});
  EXPECT_EQ(back[0].shape(), (Shape{1, 8, 1, 1}));
  EXPECT_EQ(values<float>(back[0]), values<float>(x));
  expect_error([] { run_op({"SpaceToDepth", 13, {{"blocksize", attr_int(2)}}}, {iota_f32({1, 1, 3, 2})}); },
               ErrorCode::kInvalidModel);
}

// ---- Slice / Pad / Trilu / EyeLike ----

TEST(ShapeOps, SliceExtremeBoundsAndSteps) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  Tensor x = iota_f32({5});
  auto fwd = run_op({"Slice", 13, {}}, {x, i64({1}, {kMin}), i64({1}, {kMax}), i64({1}, {0}), i64({1}, {kMax})});
  EXPECT_EQ(values<float>(fwd[0]), (std::vector<float>{0}));
  auto back = run_op({"Slice", 13, {}}, {x, i64({1}, {kMax}), i64({1}, {kMin}), i64({1}, {0}), i64({1}, {kMin})});
  EXPECT_EQ(values<float>(back[0]), (std::vector<float>{4}));
  auto rev = run_op({"Slice", 13, {}}, {x, i64({1}, {-1}), i64({1}, {kMin}), i64({1}, {0}), i64({1}, {-1})});
  EXPECT_EQ(values<float>(rev[0]), (std::vector<float>{4, 3, 2, 1, 0}));
}

TEST(ShapeOps, InferenceWithUnknownValuesKeepsRank) {
  ValueType x{DType::kFloat32, Dims{Dim::symbol("N"), 6}};
  ValueType vec1{DType::kInt64, Dims{1}};
  auto sl = infer({"Slice", 13, {}}, {x, vec1, vec1}, {nullptr, nullptr, nullptr}, 1);
  ASSERT_TRUE(sl[0].dims);
  EXPECT_EQ(sl[0].dims->size(), 2u);
  ValueType vec2{DType::kInt64, Dims{2}};
  auto sp = infer({"Split", 13, {{"axis", attr_int(1)}}}, {x, vec2}, {nullptr, nullptr}, 2);
  EXPECT_EQ(dims_str(*sp[1].dims), dims_str(Dims{Dim::symbol("N"), Dim()}));
  auto eq = infer({"Split", 13, {{"axis", attr_int(1)}}}, {x}, {nullptr}, 3);
  EXPECT_EQ(dims_str(*eq[2].dims), dims_str(Dims{Dim::symbol("N"), 2}));
  Tensor start = i64({}, {0}), limit = i64({}, {7}), delta = i64({}, {2});
  ValueType scalar{DType::kInt64, Dims{}};
  auto range = infer({"Range", 11, {}}, {scalar, scalar, scalar}, {&start, &limit, &delta}, 1);
  EXPECT_EQ(dims_str(*range[0].dims), "[4]");
}

TEST(ShapeOps, SliceStepsClampingAndLegacy) {
  Tensor x = iota_f32({3, 4});
  auto out = run_op({"Slice", 13, {}}, {x, i64({2}, {-1, 100}), i64({2}, {-100, -5}), i64({2}, {0, 1}),
                                        i64({2}, {-2, -3})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{11, 8, 3, 0}));
  OpCall legacy_call{"Slice", 1, {{"starts", attr_ints({1})}, {"ends", attr_ints({1000})}, {"axes", attr_ints({1})}}};
  auto legacy = run_op(legacy_call, {x});
  EXPECT_EQ(legacy[0].shape(), (Shape{3, 3}));
  auto empty = run_op({"Slice", 10, {}}, {x, i64({1}, {3}), i64({1}, {1})});
  EXPECT_EQ(empty[0].shape(), (Shape{0, 4}));
  expect_error([&] { run_op({"Slice", 13, {}}, {x, i64({1}, {0}), i64({1}, {1}), i64({1}, {0}), i64({1}, {0})}); },
               ErrorCode::kInvalidModel);
}

TEST(ShapeOps, PadModes) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto c = run_op({"Pad", 13, {}}, {x, i64({4}, {0, 1, 1, -1}), f32({}, {9})});
  EXPECT_EQ(c[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(values<float>(c[0]), (std::vector<float>{9, 1, 2, 9, 4, 5, 9, 9, 9}));
  auto r = run_op({"Pad", 13, {{"mode", attr_string("reflect")}}}, {x, i64({4}, {0, 2, 0, 2})});
  EXPECT_EQ(values<float>(r[0]), (std::vector<float>{3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4}));
  auto e = run_op({"Pad", 2, {{"mode", attr_string("edge")}, {"pads", attr_ints({1, 0, 0, 1})}}}, {x});
  EXPECT_EQ(values<float>(e[0]), (std::vector<float>{1, 2, 3, 3, 1, 2, 3, 3, 4, 5, 6, 6}));
  auto legacy = run_op({"Pad", 1, {{"paddings", attr_ints({0, 1, 0, 0})}, {"value", attr_float(-1)}}}, {x});
  EXPECT_EQ(values<float>(legacy[0]), (std::vector<float>{-1, 1, 2, 3, -1, 4, 5, 6}));
  expect_error([&] { run_op({"Pad", 13, {{"mode", attr_string("wrap")}}}, {x, i64({4}, {0, 0, 0, 0})}); },
               ErrorCode::kInvalidModel);
}

TEST(ShapeOps, TriluAndEyeLike) {
  Tensor x = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(values<float>(run_op({"Trilu", 14, {}}, {x})[0]), (std::vector<float>{1, 2, 3, 0, 5, 6, 0, 0, 9}));
  EXPECT_EQ(values<float>(run_op({"Trilu", 14, {{"upper", attr_int(0)}}}, {x, i64({}, {-1})})[0]),
            (std::vector<float>{0, 0, 0, 4, 0, 0, 7, 8, 0}));
  auto eye = run_op({"EyeLike", 9, {{"k", attr_int(1)}, {"dtype", attr_int(7)}}}, {iota_f32({2, 3})});
  EXPECT_EQ(eye[0].dtype(), DType::kInt64);
  EXPECT_EQ(values<int64_t>(eye[0]), (std::vector<int64_t>{0, 1, 0, 0, 0, 1}));
  expect_error([] { run_op({"EyeLike", 9, {}}, {iota_f32({3})}); }, ErrorCode::kInvalidModel);
}

TEST(ShapeOps, DataMovementWorksOnHalfAndBool) {
  Tensor h = Tensor::from_vector<uint16_t>(DType::kFloat16, {2, 2}, {0x3c00, 0x4000, 0x4200, 0x4400});
  auto t = run_op({"Transpose", 13, {}}, {h});
  EXPECT_EQ(values<uint16_t>(t[0]), (std::vector<uint16_t>{0x3c00, 0x4200, 0x4000, 0x4400}));
  Tensor b = Tensor::from_vector<uint8_t>(DType::kBool, {2}, {1, 0});
  auto tiled = run_op({"Tile", 13, {}}, {b, i64({1}, {2})});
  EXPECT_EQ(values<uint8_t>(tiled[0]), (std::vector<uint8_t>{1, 0, 1, 0}));
}

}  // namespace
}  // namespace ef::test
