// The QDQ layout choices that make other runtimes' fused integer kernels agree with the QDQ semantics (integer Add
// scale ratios), and the compaction of the written file (quant/compact.h).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "onnx/model_io.h"
#include "quant/quantize.h"
#include "quant_test_util.h"

namespace ef::test {
namespace qdq_layout_test {

const Node* producer(const Graph& g, int v) {
  const int p = g.values[static_cast<size_t>(v)].producer;
  return p < 0 ? nullptr : &g.nodes[static_cast<size_t>(p)];
}

float scalar_init(const Graph& g, int v) { return g.values[static_cast<size_t>(v)].initializer.data<float>()[0]; }

// Scale of the DequantizeLinear feeding input i of `n`, and of the QuantizeLinear reading its output.
struct AddScales {
  float a = 0, b = 0, out = 0;
};

AddScales add_scales(const Model& m) {
  const Graph& g = *m.graph;
  for (const Node& n : g.nodes) {
    if (n.op_type != "Add") continue;
    AddScales s;
    s.a = scalar_init(g, producer(g, n.inputs[0])->inputs[1]);
    s.b = scalar_init(g, producer(g, n.inputs[1])->inputs[1]);
    for (const Node& q : g.nodes) {
      if (q.op_type == "QuantizeLinear" && q.inputs[0] == n.outputs[0]) s.out = scalar_init(g, q.inputs[1]);
    }
    return s;
  }
  ADD_FAILURE() << "no Add";
  return {};
}

bool integer_ratio(float in, float out) {
  const float r = in / out;
  return r >= 1.0f && r == std::round(r);
}

TEST(QuantLayout, AddInputScalesAreIntegerMultiplesOfTheOutputScale) {
  auto dir = temp_dir("add_scales");
  write_npy_samples(dir / "calib", 8, {1, 3, 8, 8});
  QuantizeOptions o;
  CalibrationSpec spec;
  spec.dir = (dir / "calib").string();
  o.calibration_data = spec;
  o.config.per_channel = true;
  Model fp = load_model_from_bytes(serialize(make_small_convnet()), "");
  const AddScales exact = add_scales(quantize_model(fp, o).model);
  ASSERT_GT(exact.out, 0.0f);
  EXPECT_TRUE(integer_ratio(exact.a, exact.out)) << exact.a << " / " << exact.out;
  EXPECT_TRUE(integer_ratio(exact.b, exact.out)) << exact.b << " / " << exact.out;
  // Without it each tensor keeps the scale of its own range, and the ratios are not integers.
  o.config.exact_add_scales = false;
  const AddScales own = add_scales(quantize_model(fp, o).model);
  EXPECT_FALSE(integer_ratio(own.a, own.out) && integer_ratio(own.b, own.out));
  EXPECT_GE(exact.a, own.a);  // never finer than the input's own range needs
  EXPECT_GE(exact.b, own.b);
  std::filesystem::remove_all(dir);
}

TEST(QuantLayout, CompactFileKeepsOriginalNamesAndComputesBiasScales) {
  auto dir = temp_dir("compact");
  write_npy_samples(dir / "calib", 4, {1, 3, 8, 8});
  QuantizeOptions o;
  CalibrationSpec spec;
  spec.dir = (dir / "calib").string();
  o.calibration_data = spec;
  o.config.per_channel = true;
  Model fp = load_model_from_bytes(serialize(make_small_convnet()), "");
  const Model q = quantize_model(fp, o).model;
  const Graph& g = *q.graph;
  std::set<std::string> original;
  for (const Value& v : fp.graph->values) original.insert(v.name);
  for (const Value& v : g.values) {
    if (!original.count(v.name)) { EXPECT_LE(v.name.size(), 4u) << v.name; }
  }
  EXPECT_NE(g.find_value("p1"), kNoValue);  // --per-layer still matches by name
  int bias_scale_products = 0;
  for (const Node& n : g.nodes) {
    EXPECT_TRUE(n.name.empty());
    if (n.op_type != "Conv") continue;
    const Node* bias_dq = producer(g, n.inputs[2]);
    const Node* mul = producer(g, bias_dq->inputs[1]);
    ASSERT_NE(mul, nullptr);
    EXPECT_EQ(mul->op_type, "Mul");
    ++bias_scale_products;
  }
  EXPECT_EQ(bias_scale_products, 2);
  // Scalar scales and zero points are stored once per distinct value.
  std::set<std::pair<DType, float>> seen;
  for (const Value& v : g.values) {
    if (!v.initializer.defined() || v.initializer.rank() != 0) continue;
    EXPECT_TRUE(seen.insert({v.initializer.dtype(), static_cast<float>(v.initializer.value_as_double(0))}).second);
  }
  EXPECT_NO_THROW(export_model_bytes(q));
  // --strip-names: only the graph inputs and outputs keep their names.
  o.strip_names = true;
  const Model stripped = quantize_model(fp, o).model;
  for (const Value& v : stripped.graph->values) {
    if (v.name != "x" && v.name != "y") { EXPECT_EQ(v.name[0], '_') << v.name; }
  }
  EXPECT_EQ(stripped.graph->find_value("p1"), kNoValue);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ef::test
