#include <gtest/gtest.h>

#include <random>

#include "edgeforge/session.h"
#include "onnx/model_builder.h"
#include "onnx/model_io.h"
#include "runtime/memory_planner.h"

namespace ef::test {
namespace session_test {

std::unique_ptr<Session> add_relu_session() {
  return Session::from_model(load_model_from_bytes(serialize(make_add_relu_model()), ""));
}

Tensor batch(int64_t n) {
  std::vector<float> v;
  for (int64_t i = 0; i < n * 3; ++i) v.push_back(static_cast<float>(i) - 1.0f);
  return Tensor::from_vector(DType::kFloat32, {n, 3}, v);
}

TEST(Session, RunsWithDynamicBatch) {
  auto s = add_relu_session();
  for (int64_t n : {1, 4, 2}) {
    auto out = s->run({{"x", batch(n)}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].shape(), (Shape{n, 3}));
    // x = i - 1, bias = [1, -2, 0.5]
    EXPECT_EQ(out[0].data<float>()[0], 0.0f);  // relu(-1 + 1)
    EXPECT_EQ(out[0].data<float>()[1], 0.0f);  // relu(0 - 2)
    EXPECT_EQ(out[0].data<float>()[2], 1.5f);  // relu(1 + 0.5)
    if (n > 1) {
      EXPECT_EQ(out[0].data<float>()[5], 4.5f);  // relu(4 + 0.5)
    }
  }
}

std::string run_error(Session& s, const NamedTensors& in) {
  try {
    s.run(in);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

TEST(Session, BadInputsGetClearErrors) {
  auto s = add_relu_session();
  EXPECT_NE(run_error(*s, {{"x", Tensor::zeros(DType::kInt64, {1, 3})}}).find("must be float32"), std::string::npos);
  EXPECT_NE(run_error(*s, {{"x", Tensor::zeros(DType::kFloat32, {1, 4})}}).find("dimension 1"), std::string::npos);
  EXPECT_NE(run_error(*s, {{"x", Tensor::zeros(DType::kFloat32, {3})}}).find("shape"), std::string::npos);
  EXPECT_NE(run_error(*s, {{"z", batch(1)}}).find("not an input"), std::string::npos);
  EXPECT_NE(run_error(*s, {}).find("was not given"), std::string::npos);
}

TEST(Session, ProfileNamesEachNodesShapes) {
  auto s = add_relu_session();
  std::vector<NodeProfile> profile;
  s->run_profiled({{"x", batch(2)}}, profile);
  ASSERT_EQ(profile.size(), 2u);  // Add(x, bias) -> Relu
  EXPECT_EQ(profile[0].op_type, "Add");
  EXPECT_EQ(profile[0].input_shapes, (std::vector<Shape>{{2, 3}, {3}}));
  EXPECT_EQ(profile[1].input_shapes, (std::vector<Shape>{{2, 3}}));
  EXPECT_EQ(profile[1].output_shapes, (std::vector<Shape>{{2, 3}}));
  EXPECT_GE(profile[0].seconds, 0.0);
}

TEST(Session, PlansArenaForIntermediates) {
  auto s = add_relu_session();
  // Only 't' (the Add result) is an intermediate: 4 x 3 floats, rounded up to the 64-byte alignment.
  EXPECT_EQ(s->prepare({{"x", {4, 3}}}), 64u);
  EXPECT_EQ(s->prepare({{"x", {100, 3}}}), 1216u);
}

TEST(MemoryPlanner, NeverOverlapsLiveBuffers) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<BufferRequest> reqs;
    for (int i = 0; i < 40; ++i) {
      int first = static_cast<int>(rng() % 30);
      reqs.push_back({1 + rng() % 5000, first, first + static_cast<int>(rng() % 8)});
    }
    MemoryPlan plan = plan_memory_greedy(reqs);
    uint64_t naive = plan_memory_naive(reqs).arena_bytes;
    EXPECT_LE(plan.arena_bytes, naive);
    for (size_t a = 0; a < reqs.size(); ++a) {
      EXPECT_EQ(plan.offsets[a] % kArenaAlignment, 0u);
      EXPECT_LE(plan.offsets[a] + reqs[a].bytes, plan.arena_bytes);
      for (size_t b = a + 1; b < reqs.size(); ++b) {
        bool live_together = reqs[a].first_use <= reqs[b].last_use && reqs[b].first_use <= reqs[a].last_use;
        bool disjoint = plan.offsets[a] + reqs[a].bytes <= plan.offsets[b] ||
                        plan.offsets[b] + reqs[b].bytes <= plan.offsets[a];
        if (live_together) { EXPECT_TRUE(disjoint) << "buffers " << a << " and " << b; }
      }
    }
  }
}

}  // namespace
}  // namespace ef::test
