#include "ops/registry.h"

#include <fmt/format.h>

namespace ef {

InferContext::InferContext(const Node& node, std::vector<const ValueType*> input_types,
                           std::vector<const Tensor*> input_values, std::vector<ValueType>* output_types,
                           std::vector<Tensor>* output_values)
    : node_(node),
      input_types_(std::move(input_types)),
      input_values_(std::move(input_values)),
      output_types_(output_types),
      output_values_(output_values) {}

const ValueType& InferContext::input_type(size_t i) const {
  EF_CHECK(has_input(i), kInvalidModel, "{}: required input {} is missing", node_.label(), i);
  return *input_types_[i];
}

std::optional<Shape> InferContext::input_shape(size_t i) const {
  if (const Tensor* v = input_value(i)) return v->shape();
  return input_type(i).concrete_shape();
}

bool InferContext::has_output(size_t i) const {
  return i < node_.outputs.size() && node_.outputs[i] != kNoValue;
}

void InferContext::set_output(size_t i, DType dtype, std::optional<Dims> dims) {
  if (i >= output_types_->size()) return;  // optional trailing output not requested
  if (dims) {
    for (const Dim& d : *dims) {
      EF_CHECK(d.value >= -1, kInvalidModel, "{}: output {} would have negative dimension {}", node_.label(), i,
               d.value);
    }
  }
  (*output_types_)[i] = ValueType{dtype, std::move(dims)};
}

void InferContext::set_output_value(size_t i, Tensor value) {
  if (i >= output_types_->size()) return;
  set_output(i, value.dtype(), value.shape());
  (*output_values_)[i] = std::move(value);
}

KernelContext::KernelContext(const Node& node, std::vector<const Tensor*> inputs, std::vector<Tensor>* outputs,
                             SubgraphRunner subgraphs, int num_threads)
    : node_(node),
      inputs_(std::move(inputs)),
      outputs_(outputs),
      subgraphs_(std::move(subgraphs)),
      num_threads_(num_threads) {}

const Tensor& KernelContext::input(size_t i) const {
  EF_CHECK(has_input(i), kInvalidModel, "{}: required input {} is missing", node_.label(), i);
  return *inputs_[i];
}

bool KernelContext::has_output(size_t i) const {
  return i < node_.outputs.size() && node_.outputs[i] != kNoValue;
}

Tensor& KernelContext::output(size_t i) {
  EF_CHECK(i < outputs_->size(), kInternal, "{}: output {} out of range", node_.label(), i);
  Tensor& t = (*outputs_)[i];
  EF_CHECK(t.defined(), kInternal, "{}: output {} was not allocated (its shape was not inferred)", node_.label(), i);
  return t;
}

Tensor& KernelContext::allocate_output(size_t i, DType dtype, Shape shape) {
  EF_CHECK(i < outputs_->size(), kInternal, "{}: output {} out of range", node_.label(), i);
  (*outputs_)[i] = Tensor::zeros(dtype, std::move(shape));
  return (*outputs_)[i];
}

void KernelContext::set_output(size_t i, Tensor value) {
  EF_CHECK(i < outputs_->size(), kInternal, "{}: output {} out of range", node_.label(), i);
  (*outputs_)[i] = std::move(value);
}

std::vector<Tensor> KernelContext::run_subgraph(const Graph& graph, const std::vector<Tensor>& inputs) const {
  EF_CHECK(subgraphs_ != nullptr, kInternal, "{}: no subgraph runner", node_.label());
  return subgraphs_(graph, inputs);
}

void OpRegistry::add(OpDef def) {
  auto key = std::make_pair(def.domain, def.op_type);
  EF_CHECK(defs_.count(key) == 0, kInternal, "op {}:{} registered twice", def.domain, def.op_type);
  EF_CHECK(def.infer != nullptr && def.kernel != nullptr, kInternal, "op {} lacks inference or kernel",
           def.op_type);
  defs_.emplace(std::move(key), std::move(def));
}

const OpDef* OpRegistry::find(const std::string& domain, const std::string& op_type) const {
  auto it = defs_.find({domain == "ai.onnx" ? "" : domain, op_type});
  return it == defs_.end() ? nullptr : &it->second;
}

const OpDef& OpRegistry::resolve(const Node& node) const {
  const OpDef* def = find(node.domain, node.op_type);
  EF_CHECK(def != nullptr, kUnsupported, "{}: operator {}{} is not supported", node.label(),
           node.domain.empty() ? "" : node.domain + ":", node.op_type);
  EF_CHECK(node.version >= def->min_version && node.version <= def->max_version, kUnsupported,
           "{}: {} version {} is not supported (supported: {}..{})", node.label(), node.op_type, node.version,
           def->min_version, def->max_version);
  return *def;
}

std::vector<const OpDef*> OpRegistry::all() const {
  std::vector<const OpDef*> out;
  for (const auto& [key, def] : defs_) out.push_back(&def);
  return out;
}

const OpRegistry& OpRegistry::global() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_all_ops(r);
    return r;
  }();
  return registry;
}

}  // namespace ef
