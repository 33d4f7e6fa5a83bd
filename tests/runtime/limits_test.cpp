// Resource limits (SessionOptions::max_*, runtime/limits.h): tiny models that ask for huge tensors, too much memory,
// too many weights or nodes fail with kOutOfMemory naming the value and the limit, before anything is allocated;
// models inside the limits still run. The CLI flags are covered in tests/cli/limits_cli_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "edgeforge/session.h"
#include "onnx/model_builder.h"
#include "onnx/model_io.h"
#include "runtime/limits.h"

namespace ef {
namespace limits_test {

using test::add_initializer;
using test::add_io;
using test::add_node;
using test::make_model;
using test::serialize;

// Runs `f` and returns the ef::Error it throws; fails the test when it throws nothing.
template <typename F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no ef::Error thrown";
  return Error(ErrorCode::kInternal, "");
}

void add_int64_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values) t->add_int64_data(v);
}

// ConstantOfShape(shape) -> y: the output shape is the initializer's contents.
std::string constant_of_shape_model(const std::vector<int64_t>& dims) {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_int64_initializer(g, "shape", dims);
  add_node(g, "ConstantOfShape", {"shape"}, {"y"}, "fill");
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {});
  m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  return serialize(m);
}

std::unique_ptr<Session> session_from_bytes(const std::string& bytes, const SessionOptions& options) {
  return Session::from_model(load_model_from_bytes(bytes, "", import_options_for(options)), options);
}

TEST(Limits, TinyModelCannotAskForATerabyte) {
  std::string bytes = constant_of_shape_model({1 << 20, 1 << 20});  // 2^40 floats = 4 TiB
  ASSERT_LT(bytes.size(), 1024u);
  Error e = error_of([&] { session_from_bytes(bytes, {}); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("fill"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("limit of 4294967296 elements"), std::string::npos) << e.what();
}

TEST(Limits, ElementCapIsAnOption) {
  SessionOptions opts;
  opts.max_tensor_elements = 1000;
  EXPECT_EQ(error_of([&] { session_from_bytes(constant_of_shape_model({10, 101}), opts); }).code(),
            ErrorCode::kOutOfMemory);
  auto session = session_from_bytes(constant_of_shape_model({10, 100}), opts);
  EXPECT_EQ(session->run({})[0].numel(), 1000);
}

// The shape comes from a graph input, so only the run knows it: the reference path checks it before allocating.
TEST(Limits, RunTimeShapesAreCheckedBeforeAllocation) {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "shape", onnx::TensorProto::INT64, {2});
  add_node(g, "ConstantOfShape", {"shape"}, {"y"}, "fill");
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {});
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  SessionOptions opts;
  opts.max_tensor_elements = 1 << 20;
  auto session = session_from_bytes(serialize(m), opts);
  Tensor shape = Tensor::zeros(DType::kInt64, {2});
  shape.data<int64_t>()[0] = 1 << 16;
  shape.data<int64_t>()[1] = 1 << 16;
  Error e = error_of([&] { session->run({{"shape", shape}}); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  EXPECT_NE(std::string(e.what()).find("fill"), std::string::npos) << e.what();
  shape.data<int64_t>()[0] = 4;
  EXPECT_EQ(session->run({{"shape", shape}})[0].numel(), 4 << 16);
}

TEST(Limits, CallerInputsAboveTheElementCapAreRefused) {
  SessionOptions opts;
  opts.max_tensor_elements = 30;
  auto session = session_from_bytes(serialize(test::make_add_relu_model()), opts);
  Error e = error_of([&] { session->run({{"x", Tensor::zeros(DType::kFloat32, {11, 3})}}); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  EXPECT_NE(std::string(e.what()).find("input 'x'"), std::string::npos) << e.what();
  EXPECT_EQ(session->run({{"x", Tensor::zeros(DType::kFloat32, {10, 3})}})[0].numel(), 30);
}

// max_memory_bytes covers weights + the planned arena + outputs; x[100000,3] + bias -> t (1.2 MB in the arena)
// -> Relu -> y (1.2 MB output).
TEST(Limits, MaxMemoryCoversWeightsAndArena) {
  SessionOptions opts;
  opts.optimization_level = 0;  // keep t: Add + Relu would fuse
  opts.input_shapes["x"] = {100000, 3};
  opts.max_memory_bytes = 1 << 20;
  Error e = error_of([&] { session_from_bytes(serialize(test::make_add_relu_model()), opts); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  EXPECT_NE(std::string(e.what()).find("memory limit of 1048576 bytes"), std::string::npos) << e.what();
  opts.max_memory_bytes = 3 << 20;
  auto session = session_from_bytes(serialize(test::make_add_relu_model()), opts);
  EXPECT_GE(session->planned_arena_bytes(), 1200000u);
}

TEST(Limits, InitializerBytesAreCappedAtImport) {
  onnx::ModelProto m = test::make_add_relu_model();
  add_initializer(m.mutable_graph(), "unused", {1000}, std::vector<float>(1000, 1.0f));
  SessionOptions opts;
  opts.max_initializer_bytes = 2000;
  Error e = error_of([&] { session_from_bytes(serialize(m), opts); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  EXPECT_NE(std::string(e.what()).find("initializer 'unused'"), std::string::npos) << e.what();
  // A model imported without the limit is checked again when the session is created.
  Model loaded = load_model_from_bytes(serialize(m), "");
  EXPECT_EQ(error_of([&] { Session::from_model(loaded, opts); }).code(), ErrorCode::kOutOfMemory);
  opts.max_initializer_bytes = 8000;
  EXPECT_NO_THROW(session_from_bytes(serialize(m), opts));
}

// Declared dims alone (no payload) must not allocate: 2^40 elements is refused by the element cap.
TEST(Limits, HugeInitializerDimsAreRefusedBeforeAllocation) {
  onnx::ModelProto m = test::make_add_relu_model();
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name("huge");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(int64_t{1} << 40);
  Error e = error_of([&] { session_from_bytes(serialize(m), {}); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  EXPECT_NE(std::string(e.what()).find("'huge'"), std::string::npos) << e.what();
}

TEST(Limits, NodeCountIsCappedAtImportAndSessionCreation) {
  SessionOptions opts;
  opts.max_nodes = 1;
  std::string bytes = serialize(test::make_add_relu_model());  // 2 nodes
  EXPECT_EQ(error_of([&] { session_from_bytes(bytes, opts); }).code(), ErrorCode::kOutOfMemory);
  Error e = error_of([&] { Session::from_model(load_model_from_bytes(bytes, ""), opts); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  EXPECT_NE(std::string(e.what()).find("2 nodes"), std::string::npos) << e.what();
  opts.max_nodes = 2;
  EXPECT_NO_THROW(session_from_bytes(bytes, opts));
}

// Session::load goes through import_options_for: the limits apply while the file is parsed.
TEST(Limits, SessionLoadAppliesTheLimitsToTheFile) {
  auto dir = std::filesystem::temp_directory_path() / ("ef_limits_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "m.onnx").string();
  std::ofstream(path, std::ios::binary) << serialize(test::make_add_relu_model());
  SessionOptions opts;
  opts.max_nodes = 1;
  EXPECT_EQ(error_of([&] { Session::load(path, opts); }).code(), ErrorCode::kOutOfMemory);
  opts.max_nodes = 10;
  EXPECT_NO_THROW(Session::load(path, opts));
  std::filesystem::remove_all(dir);
}

TEST(Limits, PhysicalMemoryIsTheDefaultMemoryLimit) {
  EXPECT_GT(physical_memory_bytes(), uint64_t{1} << 26);
  EXPECT_EQ(effective_max_memory({}), physical_memory_bytes());
  SessionOptions opts;
  opts.max_memory_bytes = 12345;
  EXPECT_EQ(effective_max_memory(opts), 12345u);
}

}  // namespace
}  // namespace ef
