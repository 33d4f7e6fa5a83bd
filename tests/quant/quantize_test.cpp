// Static QDQ quantization end to end on a small conv net: structure of the written graph, accuracy against the
// float model, and the errors for bad calibration data and options.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/compare.h"
#include "edgeforge/session.h"
#include "onnx/model_io.h"
#include "quant/quantize.h"
#include "quant/ranges_io.h"
#include "quant_test_util.h"

namespace ef::test {
namespace quant_quantize_test {

Model small_model(int64_t opset = 13) { return load_model_from_bytes(serialize(make_small_convnet(opset)), ""); }

int count_op(const Model& m, const std::string& op) {
  int n = 0;
  for (const Node& node : m.graph->nodes) n += node.op_type == op;
  return n;
}

const Value* value_named(const Model& m, const std::string& name) {
  int v = m.graph->find_value(name);
  return v == kNoValue ? nullptr : &m.graph->values[static_cast<size_t>(v)];
}

// Input `part` (0: the integer initializer, 1: the scale) of the DequantizeLinear feeding input `i` of the k-th node
// of type `op` (quantized models keep no generated node names).
const Value* dq_source(const Model& m, const std::string& op, int k, size_t i, int part = 0) {
  const Graph& g = *m.graph;
  for (const Node& n : g.nodes) {
    if (n.op_type != op || k-- > 0) continue;
    const int p = g.values[static_cast<size_t>(n.inputs[i])].producer;
    if (p < 0 || g.nodes[static_cast<size_t>(p)].op_type != "DequantizeLinear") return nullptr;
    return &g.values[static_cast<size_t>(g.nodes[static_cast<size_t>(p)].inputs[static_cast<size_t>(part)])];
  }
  return nullptr;
}

QuantizeOptions npy_options(const std::filesystem::path& dir) {
  QuantizeOptions o;
  CalibrationSpec spec;
  spec.dir = dir.string();
  o.calibration_data = spec;
  return o;
}

// Runs both models on a fresh sample; returns the output SQNR in dB.
double output_sqnr(const Model& fp, const Model& q) {
  auto v = seeded_values(3 * 8 * 8, 999, 1.0f);
  NamedTensors in = {{"x", Tensor::from_vector(DType::kFloat32, {1, 3, 8, 8}, v)}};
  auto a = Session::from_model(fp)->run(in);
  auto b = Session::from_model(load_model_from_bytes(export_model_bytes(q), ""))->run(in);
  return compare_tensors(a[0], b[0]).sqnr_db;
}

TEST(QuantStatic, WritesStandardQdqThatTracksTheFloatModel) {
  auto dir = temp_dir("static");
  write_npy_samples(dir / "calib", 16, {1, 3, 8, 8});
  QuantizeOptions o = npy_options(dir / "calib");
  o.config.per_channel = true;
  o.save_ranges_file = (dir / "ranges.json").string();
  Model fp = small_model();
  QuantizeResult r = quantize_model(fp, o);
  const Model& q = r.model;
  EXPECT_EQ(r.samples, 16u);
  EXPECT_EQ(count_op(q, "Relu"), 0);  // folded into conv1's output range (uint8, zero point 0)
  EXPECT_EQ(r.qdq.folded.size(), 1u);
  EXPECT_EQ(count_op(q, "Conv"), 2);
  EXPECT_GT(count_op(q, "QuantizeLinear"), 5);
  // Weights int8 per channel, biases int32, the float originals gone.
  const Value* w1 = dq_source(q, "Conv", 0, 1);
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->initializer.dtype(), DType::kInt8);
  EXPECT_EQ(dq_source(q, "Conv", 0, 1, 1)->initializer.shape(), (Shape{4}));
  EXPECT_EQ(dq_source(q, "Conv", 0, 2)->initializer.dtype(), DType::kInt32);
  EXPECT_EQ(dq_source(q, "Gemm", 0, 1)->initializer.dtype(), DType::kInt8);
  EXPECT_EQ(value_named(q, "w1"), nullptr);
  // Graph output keeps its name, produced by a DequantizeLinear.
  const Graph& g = *q.graph;
  const Value& y = g.values[static_cast<size_t>(g.outputs[0])];
  EXPECT_EQ(y.name, "y");
  EXPECT_EQ(g.nodes[static_cast<size_t>(y.producer)].op_type, "DequantizeLinear");
  // MaxPool reuses its input's quantization parameters.
  for (const Node& n : g.nodes) {
    if (n.op_type != "MaxPool") continue;
    const Node& dq_in = g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(n.inputs[0])].producer)];
    EXPECT_EQ(dq_in.op_type, "DequantizeLinear");
  }
  EXPECT_NO_THROW(export_model_bytes(q));  // onnx::checker
  EXPECT_GT(output_sqnr(fp, q), 25.0);
  // Read back, the file runs its convolutions on the integer kernels: the compaction must keep what QDQ fusion
  // looks for (it once dropped the weights' all-zero zero points, and every conv ran in float).
  {
    auto session = Session::from_model(load_model_from_bytes(export_model_bytes(q), ""));
    std::vector<NodeProfile> profile;
    session->run_profiled({{"x", Tensor::from_vector(DType::kFloat32, {1, 3, 8, 8}, seeded_values(192, 5, 1.0f))}},
                          profile);
    int integer_convs = 0, float_convs = 0;
    for (const NodeProfile& p : profile) {
      integer_convs += p.op_type.rfind("QLinearConv", 0) == 0;
      float_convs += p.op_type == "Conv";
    }
    EXPECT_EQ(integer_convs, count_op(q, "Conv") + count_op(q, "Gemm"));  // the Gemm: a 1x1 QLinearConv
    EXPECT_EQ(float_convs, 0);
  }

  // The saved ranges reproduce the same model without calibration data.
  QuantizeOptions again;
  again.config.per_channel = true;
  again.ranges_file = o.save_ranges_file;
  QuantizeResult r2 = quantize_model(fp, again);
  EXPECT_EQ(export_model_bytes(r2.model), export_model_bytes(q));
  std::filesystem::remove_all(dir);
}

TEST(QuantStatic, MethodsTypesAndOldOpsets) {
  auto dir = temp_dir("variants");
  write_npy_samples(dir / "calib", 8, {1, 3, 8, 8});
  for (CalibrationMethod m : {CalibrationMethod::kPercentile, CalibrationMethod::kEntropy}) {
    QuantizeOptions o = npy_options(dir / "calib");
    o.calibration.method = m;
    o.config.activation_type = DType::kInt8;
    o.config.symmetric_activations = true;
    Model fp = small_model();
    QuantizeResult r = quantize_model(fp, o);
    EXPECT_EQ(count_op(r.model, "Relu"), 1) << "symmetric int8 cannot clamp at 0: the Relu stays";
    EXPECT_GT(output_sqnr(fp, r.model), 15.0) << calibration_method_name(m);
  }
  // Opset 11 per-tensor stays at 11; per-channel converts to 13.
  QuantizeOptions o = npy_options(dir / "calib");
  o.config.weight_type = DType::kUInt8;
  QuantizeResult r11 = quantize_model(small_model(11), o);
  EXPECT_EQ(r11.model.opset(""), 11);
  EXPECT_EQ(dq_source(r11.model, "Conv", 0, 1)->initializer.dtype(), DType::kUInt8);
  o.config.per_channel = true;
  QuantizeResult r13 = quantize_model(small_model(11), o);
  EXPECT_EQ(r13.prepare.opset_before, 11);
  EXPECT_EQ(r13.model.opset(""), 13);
  EXPECT_GT(output_sqnr(small_model(), r13.model), 25.0);
  std::filesystem::remove_all(dir);
}

TEST(QuantStatic, ExclusionsLeaveNodesFloat) {
  auto dir = temp_dir("exclude");
  write_npy_samples(dir / "calib", 4, {1, 3, 8, 8});
  QuantizeOptions o = npy_options(dir / "calib");
  o.config.exclude_nodes = {"conv2"};
  o.config.exclude_ops = {"Gemm"};
  QuantizeResult r = quantize_model(small_model(), o);
  EXPECT_EQ(value_named(r.model, "w2")->initializer.dtype(), DType::kFloat32);
  EXPECT_EQ(value_named(r.model, "wf")->initializer.dtype(), DType::kFloat32);
  EXPECT_NE(dq_source(r.model, "Conv", 0, 1), nullptr);
  o.config.exclude_nodes = {"no_such_node"};
  EXPECT_THROW(quantize_model(small_model(), o), Error);
  o.config.exclude_nodes.clear();
  o.config.exclude_ops = {"LSTM"};
  EXPECT_THROW(quantize_model(small_model(), o), Error);
  std::filesystem::remove_all(dir);
}

TEST(QuantPlan, DerivedNodeNames) {
  EXPECT_TRUE(derived_node_name("conv2", "conv2"));
  EXPECT_TRUE(derived_node_name("conv2_Conv", "conv2"));
  EXPECT_TRUE(derived_node_name("conv2_Conv_Add_2", "conv2"));
  EXPECT_FALSE(derived_node_name("conv2_1", "conv2"));
  EXPECT_FALSE(derived_node_name("conv20", "conv2"));
}

void expect_error(const QuantizeOptions& o, const std::string& fragment, Model model = small_model()) {
  try {
    quantize_model(model, o);
    ADD_FAILURE() << "expected an error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(QuantStatic, BadCalibrationDataIsOneClearError) {
  auto dir = temp_dir("bad");
  std::filesystem::create_directories(dir / "empty");
  expect_error(npy_options(dir / "empty"), "holds no .npy files");
  expect_error(npy_options(dir / "missing"), "is not a folder");
  write_npy_samples(dir / "shape", 2, {1, 3, 4, 4});
  expect_error(npy_options(dir / "shape"), "does not fit input 'x'");
  std::filesystem::create_directories(dir / "dtype");
  write_npy(Tensor::zeros(DType::kFloat64, {1, 3, 8, 8}), (dir / "dtype" / "a.npy").string());
  expect_error(npy_options(dir / "dtype"), "dtype float64");
  write_npy_samples(dir / "count", 2, {1, 3, 8, 8});
  QuantizeOptions too_many = npy_options(dir / "count");
  too_many.calibration_data->max_samples = 5;
  expect_error(too_many, "holds only 2 samples");
  write_file(dir / "broken" / "a.npy", "not numpy");
  expect_error(npy_options(dir / "broken"), "a.npy");
  write_file(dir / "image" / "a.png", "not a png");
  expect_error(npy_options(dir / "image"), "a.png");
  write_npy_samples(dir / "mixed", 1, {1, 3, 8, 8});
  write_file(dir / "mixed" / "b.png", "x");
  expect_error(npy_options(dir / "mixed"), "mixes");
  // A missing input file in a sample folder names it.
  std::filesystem::create_directories(dir / "folders" / "s0");
  expect_error(npy_options(dir / "folders"), "has no 'x.npy'");
  QuantizeOptions none;
  expect_error(none, "needs calibration data");
  std::filesystem::remove_all(dir);
}

TEST(QuantStatic, ModelWithoutFloatInputIsRejected) {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "i", onnx::TensorProto::INT64, {2});
  add_io(g, false, "o", onnx::TensorProto::INT64, {2});
  add_node(g, "Neg", {"i"}, {"o"});
  auto dir = temp_dir("int_model");
  expect_error(npy_options(dir), "no float32 input", load_model_from_bytes(serialize(m), ""));
  std::filesystem::remove_all(dir);
}

TEST(QuantRanges, RejectsMalformedFiles) {
  auto dir = temp_dir("ranges");
  std::string bad = write_file(dir / "bad.json", "{\"format\": \"edgeforge-ranges\", \"version\": 1, \"tensors\": "
                                                 "{\"a\": {\"min\": 2, \"max\": 1}}}");
  EXPECT_THROW(load_ranges(bad), Error);
  EXPECT_THROW(load_ranges(write_file(dir / "other.json", "[1, 2]")), Error);
  EXPECT_THROW(load_ranges(write_file(dir / "text.json", "not json")), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ef::test

namespace ef::test {
namespace quant_quantize_test {

TEST(QuantAccuracy, KeepsTheMostSensitiveLayersFloat) {
  auto dir = temp_dir("accuracy");
  write_npy_samples(dir / "calib", 6, {1, 3, 8, 8});
  QuantizeOptions o = npy_options(dir / "calib");
  AccuracyOptions a;
  a.keep_fp32 = 1;
  a.samples = 4;
  o.accuracy = a;
  QuantizeResult one = quantize_model(small_model(), o);
  ASSERT_TRUE(one.accuracy.has_value());
  EXPECT_EQ(one.accuracy->kept_fp32.size(), 1u);
  EXPECT_EQ(one.accuracy->ranking.size(), 5u);  // conv1, conv2, add, gap, fc
  EXPECT_LE(one.accuracy->final_drop_db, one.accuracy->baseline_drop_db + 1e-9);
  EXPECT_EQ(one.accuracy->ranking[0].node, one.accuracy->kept_fp32[0]);
  // A budget the fully quantized model already meets keeps nothing float; an impossible one keeps all.
  a.keep_fp32 = -1;
  a.max_sqnr_drop_db = 1000;
  o.accuracy = a;
  EXPECT_TRUE(quantize_model(small_model(), o).accuracy->kept_fp32.empty());
  a.max_sqnr_drop_db = -0.5;
  a.keep_fp32 = 0;  // a count wins over the target
  o.accuracy = a;
  EXPECT_TRUE(quantize_model(small_model(), o).accuracy->kept_fp32.empty());
  // Measuring needs samples: a ranges file alone is not enough.
  QuantizeOptions r;
  r.ranges_file = (dir / "r.json").string();
  o.save_ranges_file = r.ranges_file;
  o.accuracy.reset();
  quantize_model(small_model(), o);
  a.max_sqnr_drop_db = 1;
  a.keep_fp32 = -1;
  r.accuracy = a;
  expect_error(r, "give --calib");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ef::test

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace ef::test {
namespace quant_quantize_test {

TEST(QuantCalibration, SampleFoldersForMultiInputModels) {
  onnx::ModelProto m = make_model(13);
  auto* g = m.mutable_graph();
  add_io(g, true, "a:0", onnx::TensorProto::FLOAT, {1, 4});
  add_io(g, true, "scope/b", onnx::TensorProto::FLOAT, {1, 4});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {1, 3});
  add_initializer(g, "w", {4, 3}, seeded_values(12, 8, 0.5f));
  add_node(g, "Add", {"a:0", "scope/b"}, {"s"}, "add");
  add_node(g, "MatMul", {"s", "w"}, {"y"}, "mm");
  auto dir = temp_dir("folders");
  for (int i = 0; i < 3; ++i) {
    const auto sample = dir / "calib" / fmt::format("s{}", i);
    std::filesystem::create_directories(sample);
    write_npy(Tensor::from_vector(DType::kFloat32, {1, 4}, seeded_values(4, 20 + i, 1.0f)), (sample / "a_0.npy").string());
    write_npy(Tensor::from_vector(DType::kFloat32, {4}, seeded_values(4, 40 + i, 1.0f)), (sample / "scope_b.npy").string());
  }
  QuantizeResult r = quantize_model(load_model_from_bytes(serialize(m), ""), npy_options(dir / "calib"));
  EXPECT_EQ(r.samples, 3u);
  EXPECT_EQ(r.calibration_kind, "sample folders");
  EXPECT_EQ(r.qdq.quantized.size(), 2u);  // Add and MatMul
  EXPECT_NO_THROW(export_model_bytes(r.model));
  // A folder of .npy files cannot feed two inputs.
  write_npy_samples(dir / "flat", 2, {1, 4});
  expect_error(npy_options(dir / "flat"), "this model has 2 inputs", load_model_from_bytes(serialize(m), ""));
  std::filesystem::remove_all(dir);
}

TEST(QuantCalibration, ImageFoldersArePreprocessedIntoTheInput) {
  auto dir = temp_dir("images");
  std::filesystem::create_directories(dir / "img");
  for (int i = 0; i < 4; ++i) {
    std::vector<uint8_t> px(16 * 12 * 3);
    for (size_t k = 0; k < px.size(); ++k) px[k] = static_cast<uint8_t>((k * 7 + static_cast<size_t>(i) * 31) % 256);
    stbi_write_png((dir / "img" / fmt::format("{}.png", i)).string().c_str(), 16, 12, 3, px.data(), 16 * 3);
  }
  QuantizeOptions o = npy_options(dir / "img");
  o.calibration_data->image.mean = {0.5f, 0.5f, 0.5f};
  o.calibration_data->image.std = {0.5f, 0.5f, 0.5f};
  o.save_ranges_file = (dir / "r.json").string();
  QuantizeResult r = quantize_model(small_model(), o);  // resized 16x12 -> 8x8 (the input's static dims)
  EXPECT_EQ(r.calibration_kind, "images");
  EXPECT_EQ(r.samples, 4u);
  // The input range is the normalized pixel range, inside [-1, 1].
  const TensorRange in = r.ranges.at("x");
  EXPECT_GE(in.min, -1.0f);
  EXPECT_LE(in.max, 1.0f);
  EXPECT_LT(in.min, 0.0f);
  // An NHWC layout does not fit this NCHW input: a clear error, not a crash.
  o.calibration_data->nchw = false;
  expect_error(o, "channels");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ef::test
