// Builds small ONNX models in tests without any file on disk.
#pragma once
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace ef::test {

inline onnx::ModelProto make_model(int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("edgeforge-tests");
  auto* os = m.add_opset_import();
  os->set_domain("");
  os->set_version(opset);
  m.mutable_graph()->set_name("g");
  return m;
}

inline void add_io(onnx::GraphProto* g, bool input, const std::string& name, int elem_type,
                   const std::vector<int64_t>& dims) {
  auto* vi = input ? g->add_input() : g->add_output();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d >= 0) shape->add_dim()->set_dim_value(d);
    else shape->add_dim()->set_dim_param("N");
  }
}

inline onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& in,
                                 const std::vector<std::string>& out, const std::string& name = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + "_node" : name);
  for (const auto& i : in) n->add_input(i);
  for (const auto& o : out) n->add_output(o);
  return n;
}

inline onnx::TensorProto* add_initializer(onnx::GraphProto* g, const std::string& name,
                                          const std::vector<int64_t>& dims, const std::vector<float>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(values.data(), values.size() * sizeof(float));
  return t;
}

// x[N,3] + bias[3] -> Relu -> y: a small valid model.
inline onnx::ModelProto make_add_relu_model() {
  onnx::ModelProto m = make_model();
  auto* g = m.mutable_graph();
  add_io(g, true, "x", onnx::TensorProto::FLOAT, {-1, 3});
  add_io(g, false, "y", onnx::TensorProto::FLOAT, {-1, 3});
  add_initializer(g, "bias", {3}, {1.0f, -2.0f, 0.5f});
  add_node(g, "Add", {"x", "bias"}, {"t"}, "add");
  add_node(g, "Relu", {"t"}, {"y"}, "relu");
  return m;
}

inline std::string serialize(const onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

}  // namespace ef::test
