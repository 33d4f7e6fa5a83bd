#include "pass_test_util.h"

namespace ef::test {
namespace pass_manager_test {

Model messy_model() {
  GraphBuilder b;
  b.input("x", ftype({2, 3}))
      .init("w", f32({3}, {1, 2, 3}))
      .init("w_copy", f32({3}, {1, 2, 3}))
      .init("unused", f32({2}, {0, 0}))
      .init("one", f32({}, {1}))
      .node("Identity", 13, {"x"}, {"xi"})
      .node("Add", 13, {"w", "one"}, {"w1"})          // folds
      .node("Mul", 13, {"xi", "w1"}, {"m1"})
      .node("Add", 13, {"w_copy", "one"}, {"w1b"})    // folds, then its result merges with w1
      .node("Mul", 13, {"xi", "w1b"}, {"m2"})         // CSE once w1b is w1
      .node("Cast", 13, {"m2"}, {"c"}, {{"to", int_attr(static_cast<int64_t>(DType::kFloat32))}})
      .node("Add", 13, {"m1", "c"}, {"s"})
      .node("Exp", 13, {"x"}, {"dead"})
      .node("Identity", 13, {"s"}, {"y"})
      .output("y", ftype({2, 3}));
  return b.build();
}

int64_t count_of(const PassReport& r, const std::string& name) {
  for (const PassCount& c : r.passes) {
    if (c.name == name) return c.rewrites;
  }
  ADD_FAILURE() << "no pass " << name;
  return -1;
}

TEST(PassManager, Level1PipelineConverges) {
  Model before = messy_model();
  Model after = clone_model(before);
  PassReport r = optimize_model(after, PassOptions{});
  EXPECT_TRUE(r.converged);
  EXPECT_FALSE(r.budget_exhausted);
  EXPECT_EQ(count_of(r, "identity-elimination"), 2);
  EXPECT_EQ(count_of(r, "noop-elimination"), 1);
  EXPECT_EQ(count_of(r, "constant-folding"), 2);
  EXPECT_EQ(count_of(r, "duplicate-initializer-elimination"), 1);
  EXPECT_EQ(count_of(r, "common-subexpression-elimination"), 1);
  EXPECT_EQ(count_of(r, "dead-node-elimination"), 1);
  EXPECT_GE(count_of(r, "unused-initializer-elimination"), 1);
  EXPECT_EQ(after.graph->nodes.size(), 2u);  // Mul(x, w1) and Add(m1, m1), which now writes "y"
  EXPECT_EQ(after.graph->values[static_cast<size_t>(after.graph->outputs[0])].name, "y");
  expect_same_outputs(before, after);
}

TEST(PassManager, MaxRewritesBisects) {
  Model before = messy_model();
  for (int64_t budget : {0, 1, 3, 5}) {
    Model after = clone_model(before);
    PassOptions options;
    options.max_rewrites = budget;
    PassReport r = optimize_model(after, options);
    EXPECT_EQ(r.total_rewrites, budget);
    EXPECT_TRUE(r.budget_exhausted);
    expect_same_outputs(before, after);
  }
}

// A broken pass: makes the first node read a value nothing defines.
class BreakingPass : public Pass {
 public:
  const char* name() const override { return "breaking"; }
  int level() const override { return 1; }
  const char* precondition() const override { return "none"; }
  int run(Graph& g, PassContext&) override {
    g.nodes[0].inputs[0] = g.add_value("nowhere");
    return 1;
  }
};

TEST(PassManager, InvalidGraphAfterPassNamesThePass) {
  Model m = messy_model();
  std::vector<std::unique_ptr<Pass>> passes;
  passes.push_back(std::make_unique<BreakingPass>());
  try {
    PassManager(std::move(passes)).run(*m.graph, PassOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_NE(std::string(e.what()).find("pass 'breaking'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos) << e.what();
  }
}

TEST(PassManager, RejectsBadLevel) {
  Model m = messy_model();
  PassOptions options;
  options.level = 3;
  EXPECT_THROW(optimize_model(m, options), Error);
}

TEST(PassManager, EveryPassHasNameLevelAndPrecondition) {
  for (int level : {1, 2}) {
    for (const auto& p : passes_for_level(level)) {
      EXPECT_GT(std::string(p->name()).size(), 0u);
      EXPECT_LE(p->level(), level);
      EXPECT_GT(std::string(p->precondition()).size(), 0u);
    }
  }
}

}  // namespace
}  // namespace ef::test
