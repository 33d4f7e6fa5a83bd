// Runs a small ONNX model twice, on the fast CPU kernels and on the reference kernels (the oracle), and compares
// the outputs; also reports which kernel each node got, so a test can insist the fast path was really taken.
#pragma once
#include <onnx/onnx_pb.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "edgeforge/session.h"
#include "ir/graph.h"
#include "onnx/model_io.h"

namespace ef::test {

inline Tensor random_float_tensor(const Shape& shape, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  Tensor t = Tensor::zeros(DType::kFloat32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

struct FastVsReference {
  std::vector<std::string> kernels;  // per node of the fast session: kernel name or "reference"
  double max_rel_diff = 0;
};

// The outputs of `proto` on the fast kernels (at `threads`, with the per-node profile) and on the reference kernels
// (at `reference_threads`), both unoptimized so the fast session runs exactly the nodes as written.
struct FastAndReferenceRun {
  std::vector<Tensor> got, want;
  std::vector<NodeProfile> profile;
};
inline FastAndReferenceRun run_fast_and_reference(const onnx::ModelProto& proto, const NamedTensors& inputs,
                                                  int threads, int reference_threads) {
  std::string bytes;
  proto.SerializeToString(&bytes);
  SessionOptions fast_opts;
  fast_opts.num_threads = threads;
  fast_opts.optimization_level = 0;
  SessionOptions ref_opts = fast_opts;
  ref_opts.num_threads = reference_threads;
  ref_opts.reference_kernels = true;
  auto fast = Session::from_model(load_model_from_bytes(bytes, "."), fast_opts);
  auto ref = Session::from_model(load_model_from_bytes(bytes, "."), ref_opts);
  FastAndReferenceRun r;
  r.got = fast->run_profiled(inputs, r.profile);
  r.want = ref->run(inputs);
  return r;
}

// Runs `model` with `inputs` on the fast path (at `threads`) and the reference path; EXPECTs every output to match
// within rtol * max(1, |ref|).
inline FastVsReference compare_fast_to_reference(const onnx::ModelProto& proto, const NamedTensors& inputs,
                                                 int threads = 1, double rtol = 1e-5) {
  FastVsReference result;
  auto [got, want, profile] = run_fast_and_reference(proto, inputs, threads, 1);
  for (const NodeProfile& p : profile) result.kernels.push_back(p.kernel);
  EXPECT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size() && o < want.size(); ++o) {
    EXPECT_EQ(got[o].shape(), want[o].shape());
    if (got[o].shape() != want[o].shape() || got[o].dtype() != DType::kFloat32) continue;
    const float* g = got[o].data<float>();
    const float* w = want[o].data<float>();
    for (int64_t i = 0; i < got[o].numel(); ++i) {
      double tol = rtol * std::max(1.0, std::abs(static_cast<double>(w[i])));
      double diff = std::abs(static_cast<double>(g[i]) - w[i]);
      if (std::isnan(w[i]) && std::isnan(g[i])) continue;
      result.max_rel_diff = std::max(result.max_rel_diff, diff / std::max(1.0, std::abs(static_cast<double>(w[i]))));
      if (!(diff <= tol)) {
        ADD_FAILURE() << "output " << o << " element " << i << ": fast " << g[i] << " reference " << w[i];
        return result;
      }
    }
  }
  return result;
}

}  // namespace ef::test

namespace ef::test {

inline void set_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}
inline void set_int(onnx::NodeProto* n, const std::string& name, int64_t value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
inline void set_float(onnx::NodeProto* n, const std::string& name, float value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}
inline void set_string(onnx::NodeProto* n, const std::string& name, const std::string& value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}
inline std::vector<float> random_values(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

}  // namespace ef::test
