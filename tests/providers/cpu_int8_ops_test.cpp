// The CPU provider's 8-bit kernels for the ops qdq-fusion moves onto 8-bit tensors -- MaxPool (pool.max_8bit),
// constant Pad (pad.constant) and ai.edgeforge QLinearAdd -- against the reference kernels, byte for byte, for
// uint8 and int8, odd sizes, strides, dilation, padding, ceil mode; QLinearAdd of a tensor and one broadcast element
// (qlinear_add.scalar_table) or one per channel plane (broadcast_table), either side, an input or a constant.
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

// QLinearAdd of a tensor and a single element (hard-swish's x + 3 in QDQ models) runs a 256-entry table, on
// either input side, uint8 and int8, scale ratios that are and are not integers, the element a constant or a graph
// input, tensor sizes around the 64-byte vector step; one element per channel ([1, C, 1, 1], batch 2) a table per
// channel plane.
TEST(CpuProviderInt8Ops, QLinearAddOfOneBroadcastElement) {
  uint32_t seed = 700;
  int checked = 0;
  for (int type : {onnx::TensorProto::UINT8, onnx::TensorProto::INT8}) {
    for (int scalar_side = 0; scalar_side < 2; ++scalar_side) {
      for (int constant = 0; constant < 3; ++constant) {  // 2: one element per channel, a constant [1, C, 1, 1]
        const std::vector<int64_t> x_dims = constant == 2 ? std::vector<int64_t>{2, 3, 17, 19 + scalar_side}
                                                          : std::vector<int64_t>{1, 3, 5, 13 + 17 * scalar_side + 9 * constant};
        const std::vector<int64_t> one_dims = constant == 2 ? std::vector<int64_t>{1, 3, 1, 1}
                                              : constant  ? std::vector<int64_t>{1}
                                                          : std::vector<int64_t>{1, 1, 1, 1};
        onnx::ModelProto m = make_model(13);
        auto* os = m.add_opset_import();
        os->set_domain("ai.edgeforge");
        os->set_version(1);
        auto* g = m.mutable_graph();
        add_io(g, true, "x", type, x_dims);
        if (!constant) add_io(g, true, "s", type, one_dims);
        auto* out = g->add_output();
        out->set_name("y");
        out->mutable_type()->mutable_tensor_type()->set_elem_type(type);
        auto scalar_init = [&](const char* name, int elem, const void* v, size_t bytes, bool rank1) {
          auto* t = g->add_initializer();
          t->set_name(name);
          t->set_data_type(elem);
          if (rank1) t->add_dims(1);
          t->set_raw_data(v, bytes);
        };
        const uint8_t s_values[3] = {77, 0, 255}, zx = type == onnx::TensorProto::INT8 ? 250 : 120, zs = 3, zy = 131;
        if (constant == 1) scalar_init("s", type, s_values, 1, true);
        if (constant == 2) {
          auto* t = g->add_initializer();
          t->set_name("s");
          t->set_data_type(type);
          for (int64_t d : one_dims) t->add_dims(d);
          t->set_raw_data(s_values, 3);
        }
        // x's and y's scales differ by a non-integer ratio on one side, an integer one on the other.
        const float xs = scalar_side ? 0.05f : 0.1f, ss = 0.0371f, ys = 0.1f;
        scalar_init("xs", onnx::TensorProto::FLOAT, &xs, 4, false);
        scalar_init("ss", onnx::TensorProto::FLOAT, &ss, 4, false);
        scalar_init("ys", onnx::TensorProto::FLOAT, &ys, 4, false);
        scalar_init("xz", type, &zx, 1, false);
        scalar_init("sz", type, &zs, 1, false);
        scalar_init("yz", type, &zy, 1, false);
        std::vector<std::string> in = scalar_side ? std::vector<std::string>{"s", "ss", "sz", "x", "xs", "xz"}
                                                  : std::vector<std::string>{"x", "xs", "xz", "s", "ss", "sz"};
        in.push_back("ys");
        in.push_back("yz");
        add_node(g, "QLinearAdd", in, {"y"})->set_domain("ai.edgeforge");
        const DType dt = type == onnx::TensorProto::INT8 ? DType::kInt8 : DType::kUInt8;
        NamedTensors inputs{{"x", random_bytes(dt, x_dims, ++seed)}};
        if (!constant) inputs.emplace_back("s", random_bytes(dt, one_dims, ++seed));
        SCOPED_TRACE(testing::Message() << "type " << type << " scalar side " << scalar_side << " constant "
                                        << constant);
        const std::vector<std::string> k = expect_same_bytes(m, inputs);
        ASSERT_EQ(k.size(), 1u);
        EXPECT_EQ(k[0], constant == 2 ? "qlinear_add.broadcast_table" : "qlinear_add.scalar_table");
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 12);
}

}  // namespace
}  // namespace ef::test
