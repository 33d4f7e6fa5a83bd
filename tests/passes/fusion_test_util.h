// Shared bits of the level-2 fusion pass tests: deterministic weights and a conv attribute set.
#pragma once
#include <algorithm>
#include <cmath>
#include <random>

#include "onnx/model_io.h"
#include "ops/fused.h"
#include "pass_test_util.h"

namespace ef::test {

// Deterministic non-trivial values in [lo, hi): folding bugs hide behind all-ones scales and zero shifts.
inline std::vector<float> rand_values(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline Tensor rand_f32(Shape shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return f32(std::move(shape), rand_values(static_cast<size_t>(n), lo, hi, seed));
}

// A QDQ graph as written (level 0, reference kernels) against `after` (level 0, fast kernels) on input x: every
// element within one output quantization step. Returns how many elements there are, how many differ from the first
// (so that a constant output cannot pass) and how many are exactly equal, for each test's own expectations.
struct OneStepAgreement {
  int64_t elements = 0, distinct = 0, exact = 0;
};
inline OneStepAgreement compare_within_one_step(const Model& before, const Model& after, const Tensor& x,
                                                float step) {
  SessionOptions ref;
  ref.optimization_level = 0;
  ref.reference_kernels = true;
  SessionOptions fast;
  fast.optimization_level = 0;
  NamedTensors in{{"x", x}};
  Tensor ya = Session::from_model(clone_model(before), ref)->run(in)[0];
  Tensor yb = Session::from_model(clone_model(after), fast)->run(in)[0];
  OneStepAgreement r;
  EXPECT_EQ(ya.shape(), yb.shape());
  if (ya.shape() != yb.shape()) return r;
  r.elements = ya.numel();
  for (int64_t i = 0; i < ya.numel(); ++i) {
    EXPECT_LE(std::abs(ya.data<float>()[i] - yb.data<float>()[i]), step * 1.001f) << "element " << i;
    r.distinct += ya.data<float>()[i] != ya.data<float>()[0];
    r.exact += ya.data<float>()[i] == yb.data<float>()[i];
  }
  return r;
}

inline std::map<std::string, Attribute> conv3x3() {
  return {{"kernel_shape", ints_attr({3, 3})}, {"pads", ints_attr({1, 1, 1, 1})}};
}

inline size_t count_domain(const Graph& g, const std::string& domain) {
  size_t n = 0;
  for (const Node& node : g.nodes) n += node.domain == domain;
  return n;
}

// Runs the level's whole pipeline (as `edgeforge optimize` does) on a copy and returns it.
inline Model optimized(const Model& m, int level = 2) {
  Model out = clone_model(m);
  PassOptions options;
  options.level = level;
  optimize_model(out, options);
  return out;
}

// A one-input model's output on x (input "x") as the graph stands (optimization level 0), on the reference or the
// fast kernels; with `profile`, the per-node profile of that run too.
inline Tensor run_level0(const Model& m, const Tensor& x, bool reference_kernels, int threads = 1,
                         std::vector<NodeProfile>* profile = nullptr) {
  SessionOptions options;
  options.optimization_level = 0;
  options.reference_kernels = reference_kernels;
  options.num_threads = threads;
  auto session = Session::from_model(clone_model(m), options);
  NamedTensors in{{"x", x}};
  if (profile != nullptr) return session->run_profiled(in, *profile)[0];
  return session->run(in)[0];
}

// got within 1e-5 relative of want, element by element, and want not constant (which would prove nothing).
inline void expect_close_outputs(const Tensor& got, const Tensor& want, const char* what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  int64_t distinct = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const float a = got.data<float>()[i], b = want.data<float>()[i];
    ASSERT_NEAR(a, b, 1e-5f * std::max(1.0f, std::abs(b))) << what << " element " << i;
    distinct += b != want.data<float>()[0];
  }
  EXPECT_GT(distinct, 0) << what << ": a constant output proves nothing";
}

// The export round trip of `after`, `before` optimized into `fused_nodes` ai.edgeforge nodes: exported with them
// kept (--keep-fused) and read back by our loader, then unfused into standard nodes (onnx::checker runs in export)
// and read back; both compute what `before` computes on x. Returns the unfused graph for the test's node counts.
inline Model expect_export_round_trip(const Model& before, Model after, const Tensor& x, int fused_nodes) {
  const Tensor want = run_level0(before, x, true);
  const Model kept = load_model_from_bytes(export_model_bytes(after), "");
  expect_close_outputs(run_level0(kept, x, false), want, "fused node after export and import");
  EXPECT_EQ(unfuse_model(after), fused_nodes);
  EXPECT_EQ(count_domain(*after.graph, kEdgeForgeDomain), 0u);
  const Model reloaded = load_model_from_bytes(export_model_bytes(after), "");
  expect_close_outputs(run_level0(reloaded, x, true), want, "unfused standard nodes");
  return after;
}

}  // namespace ef::test
