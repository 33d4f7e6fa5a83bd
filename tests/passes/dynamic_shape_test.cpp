// Dynamic-shape safety: a model with symbolic dims optimized at level 2 must stay valid for every input shape, and
// fixing the dims (optimize --input-shape) is what lets shape computations fold.
#include "fusion_test_util.h"
#include "onnx/model_io.h"

namespace ef::test {
namespace dynamic_shape_test {

// Conv + BN + Relu, then a Shape -> Gather -> Unsqueeze -> Concat -> Reshape flatten keeping the batch dim.
Model dynamic_model() {
  GraphBuilder b;
  b.input("x", ftype({Dim::symbol("N"), 2, Dim::symbol("H"), Dim::symbol("W")}))
      .init("W", rand_f32({3, 2, 3, 3}, 1))
      .init("scale", rand_f32({3}, 2, 0.5f, 2.0f))
      .init("bias", rand_f32({3}, 3))
      .init("mean", rand_f32({3}, 4))
      .init("var", rand_f32({3}, 5, 0.1f, 2.0f))
      .init("zero", i64({}, {0}))
      .init("axes", i64({1}, {0}))
      .init("minus1", i64({1}, {-1}))
      .node("Conv", 11, {"x", "W"}, {"c"}, conv3x3())
      .node("BatchNormalization", 15, {"c", "scale", "bias", "mean", "var"}, {"n"})
      .node("Relu", 14, {"n"}, {"r"})
      .node("Shape", 13, {"r"}, {"shape"})
      .node("Gather", 13, {"shape", "zero"}, {"batch"})
      .node("Unsqueeze", 13, {"batch", "axes"}, {"batch1"})
      .node("Concat", 13, {"batch1", "minus1"}, {"target"}, {{"axis", int_attr(0)}})
      .node("Reshape", 14, {"r", "target"}, {"y"})
      .output("y");
  return b.build();
}

void expect_same_at(const Model& a, const Model& b, const Shape& shape) {
  auto sa = Session::from_model(clone_model(a));
  auto sb = Session::from_model(clone_model(b));
  Tensor x = rand_f32(shape, static_cast<uint32_t>(shape[0] * 100 + shape[2]));
  std::vector<Tensor> ra = sa->run({{"x", x}});
  std::vector<Tensor> rb = sb->run({{"x", x}});
  ASSERT_EQ(ra[0].shape(), rb[0].shape());
  for (int64_t i = 0; i < ra[0].numel(); ++i) {
    EXPECT_NEAR(ra[0].data<float>()[i], rb[0].data<float>()[i], 1e-5 * std::max(1.0f, std::abs(ra[0].data<float>()[i])));
  }
}

TEST(DynamicShapes, Level2KeepsSymbolicModelValidForEveryShape) {
  Model before = dynamic_model();
  Model after = optimized(before);
  // BN folded and Relu fused, but nothing assumed about N, H, W: the shape computation is still there.
  EXPECT_EQ(count_op(*after.graph, "BatchNormalization"), 0u);
  EXPECT_EQ(count_op(*after.graph, "Shape"), 1u);
  EXPECT_EQ(count_op(*after.graph, "Reshape"), 1u);
  for (const Shape& s : {Shape{1, 2, 5, 5}, Shape{3, 2, 7, 4}}) expect_same_at(before, after, s);
  // The standard-ONNX export behaves the same.
  unfuse_model(after);
  Model reloaded = load_model_from_bytes(export_model_bytes(after), "");
  for (const Shape& s : {Shape{1, 2, 5, 5}, Shape{2, 2, 3, 6}}) expect_same_at(before, reloaded, s);
}

TEST(DynamicShapes, FixedInputShapeLetsShapeComputationsFold) {
  Model before = dynamic_model();
  Model after = clone_model(before);
  fix_input_shapes(*after.graph, {{"x", Shape{2, 2, 5, 5}}});
  PassOptions options;
  options.level = 2;
  optimize_model(after, options);
  EXPECT_EQ(count_op(*after.graph, "Shape"), 0u);
  EXPECT_EQ(count_op(*after.graph, "Concat"), 0u);
  expect_same_at(before, after, Shape{2, 2, 5, 5});
  EXPECT_THROW(fix_input_shapes(*after.graph, {{"nope", Shape{1}}}), Error);
  EXPECT_THROW(fix_input_shapes(*after.graph, {{"x", Shape{3, 2, 5, 5}}}), Error);
}

}  // namespace
}  // namespace ef::test
