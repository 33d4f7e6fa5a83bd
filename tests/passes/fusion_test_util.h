// Shared bits of the level-2 fusion pass tests: deterministic weights and a conv attribute set.
#pragma once
#include <random>

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

}  // namespace ef::test
