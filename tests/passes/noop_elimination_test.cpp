#include "pass_test_util.h"

namespace ef::test {
namespace noop_elimination_test {

Attribute to(DType t) { return int_attr(static_cast<int64_t>(t)); }

TEST(NoopElimination, RemovesProvenNoops) {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .input("n", ftype({Dim::symbol("N"), 3}))
      .init("same", i64({2}, {2, 3}))
      .init("copy_dims", i64({2}, {0, 3}))
      .init("wild", i64({2}, {-1, 3}))
      .init("other", i64({2}, {3, -1}))
      .node("Cast", 13, {"x"}, {"c1"}, {{"to", to(DType::kFloat32)}})            // no-op
      .node("Cast", 13, {"c1"}, {"c2"}, {{"to", to(DType::kFloat64)}})           // real
      .node("Cast", 13, {"c2"}, {"c3"}, {{"to", to(DType::kFloat32)}})           // real
      .node("Reshape", 13, {"c3", "same"}, {"r1"})                                // no-op (static)
      .node("Transpose", 13, {"r1"}, {"t1"}, {{"perm", ints_attr({0, 1})}})       // no-op
      .node("Transpose", 13, {"t1"}, {"t2"}, {{"perm", ints_attr({1, 0})}})       // real
      .node("Reshape", 13, {"n", "copy_dims"}, {"s1"})                            // no-op: [N,3] -> [N,3]
      .node("Reshape", 13, {"s1", "wild"}, {"s2"})                                // no-op: -1 must be N
      .node("Reshape", 13, {"s2", "other"}, {"s3"})                               // real
      .output("t2", ftype({3, 2}))
      .output("s3");
  Model before = b.build();
  Model after = clone_model(before);
  EXPECT_EQ(run_pass(after, make_noop_elimination()), 5);
  const Graph& g = *after.graph;
  EXPECT_EQ(count_op(g, "Cast"), 2u);
  EXPECT_EQ(count_op(g, "Reshape"), 1u);
  EXPECT_EQ(count_op(g, "Transpose"), 1u);
  expect_same_outputs(before, after);
}

TEST(NoopElimination, DynamicDimsAreNeverAssumed) {
  GraphBuilder b;
  b.input("n", ftype({Dim::symbol("N"), Dim::symbol("M")}))
      .init("wild", i64({2}, {-1, 3}))      // would be a no-op only if M == 3
      .init("fixed", i64({2}, {2, 3}))
      .node("Reshape", 13, {"n", "wild"}, {"a"})
      .node("Reshape", 13, {"a", "fixed"}, {"b"})  // a is [?,3]: unknown first dim
      .node("Transpose", 13, {"b"}, {"c"})         // default perm reverses a rank-2 value
      .output("c");
  Model m = b.build();
  EXPECT_EQ(run_pass(m, make_noop_elimination()), 0);
}

TEST(NoopElimination, InputToOutputCastStays) {
  GraphBuilder b;
  b.input("x", ftype({2}))
      .node("Cast", 13, {"x"}, {"y"}, {{"to", to(DType::kFloat32)}})  // a no-op by types
      .output("y", ftype({2}));
  Model before = b.build();
  Model after = clone_model(before);
  // y is a graph output and x a graph input: the node must stay to keep both names.
  EXPECT_EQ(run_pass(after, make_noop_elimination()), 0);
  expect_same_outputs(before, after);
}

}  // namespace
}  // namespace ef::test
