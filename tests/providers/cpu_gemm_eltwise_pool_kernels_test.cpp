// Gemm / FusedGemm / MatMul, broadcasting binary ops and pooling on the CPU provider against the reference kernels.
#include <gtest/gtest.h>

#include "onnx/model_builder.h"
#include "providers/provider_test_util.h"

namespace ef::test {
namespace cpu_gemm_eltwise_pool_kernels_test {

void expect_kernel(const FastVsReference& r, const std::string& prefix) {
  ASSERT_FALSE(r.kernels.empty());
  EXPECT_EQ(r.kernels.back().rfind(prefix, 0), 0u) << r.kernels.back();
}

TEST(CpuProviderGemm, TransposesAlphaBetaAndEveryCShape) {
  const int64_t M = 7, K = 13, N = 19;
  const std::vector<std::vector<int64_t>> c_shapes{{}, {N}, {1, N}, {M, 1}, {M, N}, {1, 1}};
  uint32_t seed = 0;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      for (const auto& c_shape : c_shapes) {
        for (bool constant_b : {true, false}) {
          onnx::ModelProto m = make_model(13);
          auto* g = m.mutable_graph();
          std::vector<int64_t> a_dims = ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K};
          std::vector<int64_t> b_dims = tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
          add_io(g, true, "a", onnx::TensorProto::FLOAT, a_dims);
          NamedTensors inputs{{"a", random_float_tensor(a_dims, ++seed)}};
          if (constant_b) {
            add_initializer(g, "b", b_dims, random_values(K * N, ++seed));
          } else {
            add_io(g, true, "b", onnx::TensorProto::FLOAT, b_dims);
            inputs.emplace_back("b", random_float_tensor(b_dims, ++seed));
          }
          add_initializer(g, "c", c_shape, random_values(shape_numel(c_shape), ++seed));
          add_io(g, false, "y", onnx::TensorProto::FLOAT, {M, N});
          auto* n = add_node(g, "Gemm", {"a", "b", "c"}, {"y"});
          set_int(n, "transA", ta);
          set_int(n, "transB", tb);
          set_float(n, "alpha", 0.75f);
          set_float(n, "beta", 1.5f);
          SCOPED_TRACE(testing::Message() << "ta " << ta << " tb " << tb << " c rank " << c_shape.size());
          auto r = compare_fast_to_reference(m, inputs, 2);
          expect_kernel(r, constant_b ? "gemm.packed_b" : "gemm.sgemm");
        }
      }
    }
  }
}

TEST(CpuProviderGemm, FusedGemmAppliesItsActivation) {
  onnx::ModelProto m = make_model(13);
  auto* os = m.add_opset_import();
  os->set_domain("ai.edgeforge");
  os->set_version(1);
  auto* g = m.mutable_graph();
  add_io(g, true, "a", onnx::TensorProto::FLOAT, {3, 40});
  add_initializer(g, "b", {40, 33}, random_values(40 * 33, 3));
  add_initializer(g, "c", {33}, random_values(33, 4));
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {3, 33});
  auto* n = add_node(g, "FusedGemm", {"a", "b", "c"}, {"y"});
  n->set_domain("ai.edgeforge");
  set_string(n, "activation", "Relu");
  auto r = compare_fast_to_reference(m, {{"a", random_float_tensor({3, 40}, 5)}});
  expect_kernel(r, "gemm.packed_b");
}

TEST(CpuProviderMatMul, BatchedSharedAndConstantB) {
  struct Case {
    std::vector<int64_t> a, b;
    bool constant_b;
    std::string kernel;
  };
  const std::vector<Case> cases{
      {{2, 3, 5, 17}, {17, 9}, true, "matmul.packed_b"},
      {{5, 17}, {17, 9}, false, "matmul.batched_sgemm"},
      {{4, 6, 11}, {4, 11, 3}, false, "matmul.batched_sgemm"},
      {{17}, {17, 9}, true, "matmul.packed_b"},
      {{4, 6, 11}, {1, 11, 3}, false, "reference"},  // broadcast batch: reference
  };
  uint32_t seed = 50;
  for (const Case& c : cases) {
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    add_io(g, true, "a", onnx::TensorProto::FLOAT, c.a);
    NamedTensors inputs{{"a", random_float_tensor(c.a, ++seed)}};
    if (c.constant_b) {
      add_initializer(g, "b", c.b, random_values(shape_numel(c.b), ++seed));
    } else {
      add_io(g, true, "b", onnx::TensorProto::FLOAT, c.b);
      inputs.emplace_back("b", random_float_tensor(c.b, ++seed));
    }
    std::vector<int64_t> y = c.a.size() >= c.b.size() ? c.a : c.b;
    y.back() = c.b.back();
    if (c.a.size() >= 2) y[y.size() - 2] = c.a[c.a.size() - 2];
    if (c.a.size() == 1) y = {c.b.back()};
    add_io(g, false, "y", onnx::TensorProto::FLOAT, y);
    add_node(g, "MatMul", {"a", "b"}, {"y"});
    auto r = compare_fast_to_reference(m, inputs, 2);
    expect_kernel(r, c.kernel);
  }
}

TEST(CpuProviderBinary, BroadcastFormsInPlaceFriendly) {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes{
      {{2, 5, 7, 9}, {2, 5, 7, 9}}, {{2, 5, 7, 9}, {}},        {{2, 5, 7, 9}, {1, 5, 1, 1}},
      {{2, 5, 7, 9}, {2, 5, 1, 1}}, {{2, 5, 7, 9}, {9}},       {{5, 1, 9}, {2, 1, 7, 1}},
      {{1}, {3, 4}},                {{3, 1, 4}, {1, 5, 1}},
  };
  uint32_t seed = 70;
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    for (const auto& [sa, sb] : shapes) {
      onnx::ModelProto m = make_model(13);
      auto* g = m.mutable_graph();
      add_io(g, true, "a", onnx::TensorProto::FLOAT, sa);
      add_io(g, true, "b", onnx::TensorProto::FLOAT, sb);
      std::vector<int64_t> out(std::max(sa.size(), sb.size()), 1);
      for (size_t i = 0; i < out.size(); ++i) {
        int64_t da = i < out.size() - sa.size() ? 1 : sa[i - (out.size() - sa.size())];
        int64_t db = i < out.size() - sb.size() ? 1 : sb[i - (out.size() - sb.size())];
        out[i] = std::max(da, db);
      }
      // A Relu after the op makes the binary output an intermediate (arena-placed) value.
      add_io(g, false, "y", onnx::TensorProto::FLOAT, out);
      add_node(g, op, {"a", "b"}, {"t"});
      add_node(g, "Relu", {"t"}, {"y"});
      SCOPED_TRACE(testing::Message() << op << " shape ranks " << sa.size() << "," << sb.size());
      auto r = compare_fast_to_reference(
          m, {{"a", random_float_tensor(sa, ++seed)}, {"b", random_float_tensor(sb, ++seed, 0.5f, 2.0f)}}, 2);
      ASSERT_EQ(r.kernels.size(), 2u);
      EXPECT_EQ(r.kernels[0].rfind(std::string("binary.") + op, 0), 0u) << r.kernels[0];
    }
  }
}

TEST(CpuProviderPool, MaxAverageAndGlobal) {
  struct Case {
    std::string op;
    std::vector<int64_t> x, kernel, strides, pads;
    int ceil = 0, include_pad = 0;
  };
  const std::vector<Case> cases{
      {"MaxPool", {1, 3, 17, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
      {"MaxPool", {2, 4, 9, 10}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 1},
      {"AveragePool", {1, 5, 11, 7}, {3, 2}, {1, 2}, {1, 0, 1, 1}, 0, 1},
      {"AveragePool", {1, 5, 11, 7}, {3, 3}, {2, 2}, {1, 1, 0, 0}, 1, 0},
      {"MaxPool", {2, 3, 30}, {4}, {3}, {1, 2}},
      {"GlobalAveragePool", {2, 6, 5, 9}, {}, {}, {}},
      {"GlobalMaxPool", {2, 6, 5, 9}, {}, {}, {}},
  };
  uint32_t seed = 90;
  for (const Case& c : cases) {
    onnx::ModelProto m = make_model(13);
    auto* g = m.mutable_graph();
    add_io(g, true, "x", onnx::TensorProto::FLOAT, c.x);
    // The output shape is left to inference (no dims declared).
    auto* out = g->add_output();
    out->set_name("y");
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    auto* n = add_node(g, c.op, {"x"}, {"y"});
    if (!c.kernel.empty()) {
      set_ints(n, "kernel_shape", c.kernel);
      set_ints(n, "strides", c.strides);
      set_ints(n, "pads", c.pads);
      set_int(n, "ceil_mode", c.ceil);
      if (c.op == "AveragePool") set_int(n, "count_include_pad", c.include_pad);
    }
    SCOPED_TRACE(c.op);
    auto r = compare_fast_to_reference(m, {{"x", random_float_tensor(c.x, ++seed)}}, 2);
    expect_kernel(r, "pool.");
  }
}

// ReduceMean over trailing axes (size-1 axes anywhere) runs on the global-average kernel; other axis sets, and
// axes the reference kernel rejects, stay on the reference kernel.
TEST(CpuProviderPool, ReduceMeanOverTrailingAxes) {
  struct Case {
    std::vector<int64_t> x, axes;
    int keepdims;
    bool fast;
  };
  const std::vector<Case> cases{
      {{2, 7, 5, 9}, {2, 3}, 1, true},    {{2, 7, 5, 9}, {-1, -2}, 0, true}, {{1, 3, 1, 13}, {3}, 1, true},
      {{3, 1, 4, 1, 5}, {1, 2, 4}, 0, true}, {{4, 6}, {}, 1, true},          {{1, 1, 5}, {0, 2}, 1, true},
      {{2, 7, 5, 9}, {1}, 1, false},      {{2, 7, 5, 9}, {1, 3}, 0, false},
  };
  uint32_t seed = 200;
  for (const Case& c : cases) {
    for (int threads : {1, 3}) {
      onnx::ModelProto m = make_model(13);
      auto* g = m.mutable_graph();
      add_io(g, true, "x", onnx::TensorProto::FLOAT, c.x);
      auto* out = g->add_output();
      out->set_name("y");
      out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
      auto* n = add_node(g, "ReduceMean", {"x"}, {"y"});
      if (!c.axes.empty()) set_ints(n, "axes", c.axes);
      set_int(n, "keepdims", c.keepdims);
      SCOPED_TRACE(::testing::Message() << "axes " << c.axes.size() << " threads " << threads << " x rank " << c.x.size());
      auto r = compare_fast_to_reference(m, {{"x", random_float_tensor(c.x, ++seed)}}, threads);
      ASSERT_FALSE(r.kernels.empty());
      EXPECT_EQ(r.kernels.back() == "reduce.mean_trailing", c.fast) << r.kernels.back();
    }
  }
}

}  // namespace
}  // namespace ef::test
