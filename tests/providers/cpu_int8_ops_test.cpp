// The CPU provider's 8-bit kernels for the ops qdq-fusion moves onto 8-bit tensors -- MaxPool (pool.max_8bit),
// constant Pad (pad.constant) and ai.edgeforge QLinearAdd -- against the reference kernels, byte for byte, for
// uint8 and int8, odd sizes, strides, dilation, padding, ceil mode; QLinearAdd with broadcasting stays on the
// reference kernel.
#include <random>

#include <gtest/gtest.h>

#include "onnx/model_builder.h"
#include "providers/provider_test_util.h"

namespace ef::test {
namespace cpu_int8_ops_test {

Tensor random_bytes(DType t, const Shape& shape, uint32_t seed) {
  Tensor x = Tensor::zeros(t, shape);
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < x.numel(); ++i) static_cast<uint8_t*>(x.raw())[i] = static_cast<uint8_t>(rng());
  return x;
}

// Runs `m` on the fast and the reference kernels; expects identical bytes; returns the fast kernels' names.
std::vector<std::string> expect_same_bytes(const onnx::ModelProto& m, const NamedTensors& inputs) {
  auto [got, want, profile] = run_fast_and_reference(m, inputs, 2, 2);
  EXPECT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size() && o < want.size(); ++o) {
    EXPECT_EQ(got[o].shape(), want[o].shape());
    EXPECT_EQ(got[o].dtype(), want[o].dtype());
    if (got[o].shape() != want[o].shape()) continue;
    for (int64_t i = 0; i < got[o].numel(); ++i) {
      EXPECT_EQ(static_cast<const uint8_t*>(got[o].raw())[i], static_cast<const uint8_t*>(want[o].raw())[i])
          << "output " << o << " element " << i;
    }
  }
  std::vector<std::string> kernels;
  for (const NodeProfile& p : profile) kernels.push_back(p.kernel);
  return kernels;
}

TEST(CpuProviderInt8Ops, MaxPoolAndPad) {
  struct Case {
    std::vector<int64_t> x, kernel, strides, dilations, pads;
    int ceil;
  };
  const std::vector<Case> cases{
      {{1, 3, 17, 13}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0},
      {{2, 4, 9, 10}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 1},
      {{1, 2, 12, 11}, {3, 2}, {1, 3}, {2, 1}, {2, 0, 1, 1}, 0},
      {{2, 3, 30}, {4}, {3}, {1}, {1, 2}, 0},
      // Rows wide enough for the vector paths: stride 1 (16 outputs a step) and stride 2 (8), odd tails.
      {{1, 2, 9, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 0},
      {{1, 3, 8, 41}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0},
      {{1, 2, 7, 35}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 1},
      // 2x2 stride 2 wholly inside: the dedicated path (16 outputs a step, odd input sizes, a scalar tail).
      {{2, 3, 9, 71}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0},
      {{1, 2, 16, 64}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0},
  };
  uint32_t seed = 300;
  for (int type : {onnx::TensorProto::UINT8, onnx::TensorProto::INT8}) {
    for (const Case& c : cases) {
      onnx::ModelProto m = make_model(13);
      auto* g = m.mutable_graph();
      add_io(g, true, "x", type, c.x);
      for (const char* name : {"y", "z"}) {
        auto* out = g->add_output();
        out->set_name(name);
        out->mutable_type()->mutable_tensor_type()->set_elem_type(type);
      }
      auto* n = add_node(g, "MaxPool", {"x"}, {"y"});
      set_ints(n, "kernel_shape", c.kernel);
      set_ints(n, "strides", c.strides);
      set_ints(n, "dilations", c.dilations);
      set_ints(n, "pads", c.pads);
      set_int(n, "ceil_mode", c.ceil);
      // Pad every axis but the batch: begins 0,1,2..., ends 2,1,0...
      const size_t r = c.x.size();
      std::vector<int64_t> pads(2 * r, 0);
      for (size_t i = 1; i < r; ++i) pads[i] = static_cast<int64_t>(i - 1), pads[i + r] = static_cast<int64_t>(3 - i);
      auto* p = g->add_initializer();
      p->set_name("pads");
      p->set_data_type(onnx::TensorProto::INT64);
      p->add_dims(static_cast<int64_t>(pads.size()));
      p->set_raw_data(pads.data(), pads.size() * sizeof(int64_t));
      auto* v = g->add_initializer();
      v->set_name("v");
      v->set_data_type(type);
      const uint8_t value = 201;
      v->set_raw_data(&value, 1);
      add_node(g, "Pad", {"x", "pads", "v"}, {"z"});
      const DType dt = type == onnx::TensorProto::INT8 ? DType::kInt8 : DType::kUInt8;
      SCOPED_TRACE(testing::Message() << "rank " << r << " type " << type);
      const std::vector<std::string> k = expect_same_bytes(m, {{"x", random_bytes(dt, c.x, ++seed)}});
      ASSERT_EQ(k.size(), 2u);
      EXPECT_EQ(k[0], "pool.max_8bit");
      EXPECT_EQ(k[1], "pad.constant");
    }
  }
}

}  // namespace
}  // namespace ef::test
