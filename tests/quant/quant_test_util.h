// A small conv net for the quantization tests and helpers to write calibration samples.
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "io/npy.h"
#include "onnx/model_builder.h"

namespace ef::test {

inline std::vector<float> seeded_values(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// x[1,3,8,8] -> Conv(4, 3x3, pad 1) + bias -> Relu -> MaxPool 2x2 -> Conv 1x1(4) -> Add(skip) -> GlobalAveragePool
//   -> Flatten -> Gemm(5) -> y[1,5]
inline onnx::ModelProto make_small_convnet(int64_t opset = 13) {
  onnx::ModelProto m = make_model(opset);
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {1, 3, 8, 8});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {1, 5});
  add_initializer(g, "w1", {4, 3, 3, 3}, seeded_values(4 * 27, 1, 0.3f));
  add_initializer(g, "b1", {4}, {0.1f, -0.2f, 0.05f, 0.3f});
  add_initializer(g, "w2", {4, 4, 1, 1}, seeded_values(16, 2, 0.5f));
  add_initializer(g, "b2", {4}, {0.0f, 0.1f, -0.1f, 0.2f});
  add_initializer(g, "wf", {5, 4}, seeded_values(20, 3, 0.5f));
  add_initializer(g, "bf", {5}, {0.01f, 0.02f, 0.03f, 0.04f, 0.05f});
  auto* c1 = add_node(g, "Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  auto* pads = c1->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  add_node(g, "Relu", {"c1"}, {"r1"}, "relu1");
  auto* mp = add_node(g, "MaxPool", {"r1"}, {"p1"}, "pool1");
  for (const char* key : {"kernel_shape", "strides"}) {
    auto* a = mp->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(2);
    a->add_ints(2);
  }
  add_node(g, "Conv", {"p1", "w2", "b2"}, {"c2"}, "conv2");
  add_node(g, "Add", {"c2", "p1"}, {"s"}, "add");
  add_node(g, "GlobalAveragePool", {"s"}, {"gap"}, "gap");
  add_node(g, "Flatten", {"gap"}, {"flat"}, "flatten");
  auto* gemm = add_node(g, "Gemm", {"flat", "wf", "bf"}, {"y"}, "fc");
  auto* tb = gemm->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  return m;
}

inline std::string write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

// `count` seeded float32 samples of `shape` as <dir>/NNN.npy.
inline void write_npy_samples(const std::filesystem::path& dir, int count, const Shape& shape, uint32_t seed = 11) {
  std::filesystem::create_directories(dir);
  for (int i = 0; i < count; ++i) {
    auto v = seeded_values(static_cast<size_t>(shape_numel(shape)), seed + static_cast<uint32_t>(i), 1.0f);
    write_npy(Tensor::from_vector(DType::kFloat32, shape, v), (dir / fmt::format("{:03d}.npy", i)).string());
  }
}

// A fresh, empty temporary folder for one test.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("ef_quant_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace ef::test
