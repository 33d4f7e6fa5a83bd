// Helpers for op unit tests: build a one-node graph and run it through inference + the reference kernel,
// exactly as the executor does.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ops/registry.h"
#include "runtime/node_runner.h"

namespace ef::test {

struct OpCall {
  std::string op_type;
  int version;  // op since_version
  std::map<std::string, Attribute> attrs = {};
  std::string domain = "";
};

inline Attribute attr_int(int64_t v) { return Attribute::of_int(v); }
inline Attribute attr_float(float v) { return Attribute::of_float(v); }
inline Attribute attr_string(std::string v) { Attribute a; a.kind = Attribute::Kind::kString; a.s = std::move(v); return a; }
inline Attribute attr_ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
inline Attribute attr_floats(std::vector<float> v) { Attribute a; a.kind = Attribute::Kind::kFloats; a.floats = std::move(v); return a; }

// Runs the op on `inputs` (an undefined Tensor marks an omitted optional input) producing `num_outputs` outputs.
inline std::vector<Tensor> run_op(const OpCall& call, const std::vector<Tensor>& inputs, size_t num_outputs = 1) {
  Node node;
  node.name = "test_" + call.op_type;
  node.op_type = call.op_type;
  node.domain = call.domain;
  node.version = call.version;
  node.attrs = call.attrs;
  std::vector<const Tensor*> ptrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    node.inputs.push_back(inputs[i].defined() ? static_cast<int>(i) : kNoValue);
    ptrs.push_back(inputs[i].defined() ? &inputs[i] : nullptr);
  }
  for (size_t i = 0; i < num_outputs; ++i) node.outputs.push_back(static_cast<int>(inputs.size() + i));
  const OpDef& def = OpRegistry::global().resolve(node);
  std::vector<Tensor> outputs;
  run_node(def, node, ptrs, outputs, nullptr, 1);
  return outputs;
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

inline Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_vector(DType::kFloat32, std::move(shape), v); }
inline Tensor i64(Shape shape, std::vector<int64_t> v) { return Tensor::from_vector(DType::kInt64, std::move(shape), v); }

}  // namespace ef::test
