#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "edgeforge/session.h"
#include "onnx/model_builder.h"
#include "onnx/model_io.h"

namespace ef::test {
namespace import_test {

std::string load_error(const std::string& bytes, const std::string& base_dir = "") {
  try {
    load_model_from_bytes(bytes, base_dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "message: " << text;
}

TEST(Import, ValidModelBecomesIr) {
  Model m = load_model_from_bytes(serialize(make_add_relu_model()), "");
  ASSERT_EQ(m.graph->nodes.size(), 2u);
  EXPECT_EQ(m.graph->nodes[0].op_type, "Add");
  EXPECT_EQ(m.graph->nodes[0].version, 13);  // Add has since_versions 1, 6, 7, 13, 14
  EXPECT_EQ(m.graph->inputs.size(), 1u);
  const Value& x = m.graph->values[static_cast<size_t>(m.graph->inputs[0])];
  ASSERT_TRUE(x.type.dims.has_value());
  EXPECT_EQ((*x.type.dims)[0].param, "N");
}

TEST(Import, RecognizesCommonNonModelFiles) {
  expect_contains(load_error(""), "empty");
  expect_contains(load_error("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"), "Git LFS");
  expect_contains(load_error("<!DOCTYPE html><html><body>404</body></html>"), "HTML");
  expect_contains(load_error("ir_version: 8\ngraph {\n  node { op_type: \"Relu\" }\n}\n"), "text-format");
}

TEST(Import, RecognizesTruncatedDownload) {
  onnx::ModelProto m = make_add_relu_model();
  add_initializer(m.mutable_graph(), "big", {1000}, std::vector<float>(1000, 1.0f));
  std::string bytes = serialize(m);
  std::string msg = load_error(bytes.substr(0, bytes.size() / 2));
  expect_contains(msg, "truncated");
  expect_contains(msg, "promises");
}

TEST(Import, MissingInitializerNamesNodeAndInput) {
  onnx::ModelProto m = make_add_relu_model();
  m.mutable_graph()->mutable_initializer()->Clear();
  std::string msg = load_error(serialize(m));
  expect_contains(msg, "node 'add'");
  expect_contains(msg, "'bias'");
}

TEST(Import, RejectsCycles) {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {2});
  add_io(g, false, "b", onnx::TensorProto::FLOAT, {2});
  add_node(g, "Add", {"x", "b"}, {"a"}, "n1");
  add_node(g, "Relu", {"a"}, {"b"}, "n2");
  expect_contains(load_error(serialize(m)), "cycle");
}

// From the mutation test: a node with more outputs or fewer inputs than its schema (an op type swapped, an input
// deleted) used to reach the kernels and end in an internal error.
TEST(Import, RejectsNodesWithTheWrongNumberOfInputsOrOutputs) {
  onnx::ModelProto m = make_add_relu_model();
  m.mutable_graph()->mutable_node(1)->add_output("extra");
  expect_contains(load_error(serialize(m)), "node 'relu' (Relu) has 2 outputs; Relu gives 1..1");
  m = make_add_relu_model();
  m.mutable_graph()->mutable_node(0)->mutable_input()->RemoveLast();
  expect_contains(load_error(serialize(m)), "node 'add' (Add) has 1 inputs; Add takes 2..2");
}

TEST(Import, RejectsDuplicateProducers) {
  onnx::ModelProto m = make_add_relu_model();
  add_node(m.mutable_graph(), "Relu", {"x"}, {"t"}, "again");
  expect_contains(load_error(serialize(m)), "already defined");
}

TEST(Import, RejectsTooNewOpset) {
  onnx::ModelProto m = make_add_relu_model();
  m.mutable_opset_import(0)->set_version(99);
  expect_contains(load_error(serialize(m)), "opset 99");
}

TEST(Import, InconsistentInitializerPayload) {
  onnx::ModelProto m = make_add_relu_model();
  m.mutable_graph()->mutable_initializer(0)->add_dims(7);  // shape [3,7] but 3 floats of data
  expect_contains(load_error(serialize(m)), "initializer 'bias'");
  onnx::ModelProto neg = make_add_relu_model();
  neg.mutable_graph()->mutable_initializer(0)->set_dims(0, -3);
  expect_contains(load_error(serialize(neg)), "negative");
}

TEST(Import, HugeDimensionsFailBeforeAllocating) {
  onnx::ModelProto m = make_add_relu_model();
  auto* t = m.mutable_graph()->mutable_initializer(0);
  t->clear_dims();
  t->add_dims(int64_t{1} << 40);
  t->add_dims(int64_t{1} << 30);
  std::string msg = load_error(serialize(m));
  EXPECT_FALSE(msg.empty());
  expect_contains(msg, "bias");
}

TEST(Import, UnsupportedOpFailsAtSessionCreationNamingNode) {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {2});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {2});
  auto* n = add_node(g, "FancyOp", {"x"}, {"y"}, "fancy");
  n->set_domain("com.example");
  auto* os = m.add_opset_import();
  os->set_domain("com.example");
  os->set_version(1);
  try {
    Session::from_model(load_model_from_bytes(serialize(m), ""));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    expect_contains(e.what(), "node 'fancy'");
  }
}

class ExternalDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ef_ext_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "model");
    std::ofstream(dir_ / "model" / "weights.bin", std::ios::binary).write("\0\0\x80?\0\0\0@\0\0@@", 12);
    std::ofstream(dir_ / "secret.bin", std::ios::binary).write("0123456789ab", 12);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string model_with_location(const std::string& location, const std::string& offset = "0") {
    onnx::ModelProto m = make_add_relu_model();
    auto* t = m.mutable_graph()->mutable_initializer(0);
    t->clear_raw_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value(location);
    auto* off = t->add_external_data();
    off->set_key("offset");
    off->set_value(offset);
    return serialize(m);
  }
  std::filesystem::path dir_;
};

TEST_F(ExternalDataTest, LoadsDataInsideTheModelFolder) {
  Model m = load_model_from_bytes(model_with_location("weights.bin"), (dir_ / "model").string());
  const Value& bias = m.graph->values[static_cast<size_t>(m.graph->find_value("bias"))];
  EXPECT_EQ(bias.initializer.data<float>()[0], 1.0f);
  EXPECT_EQ(bias.initializer.data<float>()[2], 3.0f);
}

TEST_F(ExternalDataTest, RefusesPathsLeavingTheFolder) {
  std::string base = (dir_ / "model").string();
  expect_contains(load_error(model_with_location("../secret.bin"), base), "leaves the model's folder");
  expect_contains(load_error(model_with_location((dir_ / "secret.bin").string()), base), "relative");
  std::filesystem::create_symlink(dir_ / "secret.bin", dir_ / "model" / "link.bin");
  expect_contains(load_error(model_with_location("link.bin"), base), "outside the model's folder");
  expect_contains(load_error(model_with_location("nope.bin"), base), "not found");
  expect_contains(load_error(model_with_location("weights.bin", "8"), base), "at offset 8");
}

TEST(Export, RoundTripsThroughOnnxChecker) {
  Model m = load_model_from_bytes(serialize(make_add_relu_model()), "");
  std::string bytes = export_model_bytes(m);
  Model again = load_model_from_bytes(bytes, "");
  ASSERT_EQ(again.graph->nodes.size(), 2u);
  EXPECT_EQ(again.graph->nodes[1].op_type, "Relu");
  const Value& bias = again.graph->values[static_cast<size_t>(again.graph->find_value("bias"))];
  EXPECT_EQ(bias.initializer.data<float>()[1], -2.0f);
}

}  // namespace
}  // namespace ef::test
