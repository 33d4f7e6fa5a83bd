// The operator registry: for each (domain, op_type) the range of ONNX op versions we implement, the type/shape
// inference function and the reference kernel. Ops own their semantics: inference is the single place output
// shapes are derived; the kernel receives outputs already allocated with the inferred shape (except for
// data-dependent shapes, which the kernel allocates itself). Depends on core and ir.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace ef {

// Node view handed to an op's inference function. During planning only some input values are known
// (initializers, constants, values folded from shapes); at run time every input value is known.
class InferContext {
 public:
  InferContext(const Node& node, std::vector<const ValueType*> input_types, std::vector<const Tensor*> input_values,
               std::vector<ValueType>* output_types, std::vector<Tensor>* output_values);

  const Node& node() const { return node_; }
  int version() const { return node_.version; }

  size_t num_inputs() const { return input_types_.size(); }
  bool has_input(size_t i) const { return i < input_types_.size() && input_types_[i] != nullptr; }
  const ValueType& input_type(size_t i) const;
  DType input_dtype(size_t i) const { return input_type(i).dtype; }
  // Known value of input i, or nullptr.
  const Tensor* input_value(size_t i) const { return i < input_values_.size() ? input_values_[i] : nullptr; }
  // Concrete shape of input i when all its dims are known.
  std::optional<Shape> input_shape(size_t i) const;
  // Input value required for inference (e.g. Reshape's shape); nullptr-safe: returns nullptr when unknown.
  const Tensor* require_value_or_null(size_t i) const { return has_input(i) ? input_value(i) : nullptr; }

  size_t num_outputs() const { return output_types_->size(); }
  bool has_output(size_t i) const;
  void set_output(size_t i, DType dtype, std::optional<Dims> dims);
  void set_output(size_t i, DType dtype, const Shape& shape) { set_output(i, dtype, dims_of(shape)); }
  // The output's value is known at inference time (Shape, Size, ConstantOfShape of known shape, folding).
  void set_output_value(size_t i, Tensor value);

 private:
  const Node& node_;
  std::vector<const ValueType*> input_types_;
  std::vector<const Tensor*> input_values_;
  std::vector<ValueType>* output_types_;
  std::vector<Tensor>* output_values_;
};

// Runs a subgraph (If/Loop/Scan bodies) with the given inputs, resolving outer-scope names through the caller.
using SubgraphRunner = std::function<std::vector<Tensor>(const Graph&, const std::vector<Tensor>&)>;

// Node view handed to a kernel at run time.
class KernelContext {
 public:
  KernelContext(const Node& node, std::vector<const Tensor*> inputs, std::vector<Tensor>* outputs,
                SubgraphRunner subgraphs, int num_threads);

  const Node& node() const { return node_; }
  int version() const { return node_.version; }
  int num_threads() const { return num_threads_; }

  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr && inputs_[i]->defined(); }
  const Tensor& input(size_t i) const;

  size_t num_outputs() const { return outputs_->size(); }
  bool has_output(size_t i) const;
  // Output i as allocated by the executor from the inferred shape.
  Tensor& output(size_t i);
  // For outputs whose shape inference could not know (NonZero, Unique, Loop, ...): allocate now.
  Tensor& allocate_output(size_t i, DType dtype, Shape shape);
  // Hands over a finished tensor as output i (e.g. a subgraph result).
  void set_output(size_t i, Tensor value);

  std::vector<Tensor> run_subgraph(const Graph& graph, const std::vector<Tensor>& inputs) const;

 private:
  const Node& node_;
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor>* outputs_;
  SubgraphRunner subgraphs_;
  int num_threads_;
};

using InferFn = void (*)(InferContext&);
using KernelFn = void (*)(KernelContext&);

struct OpDef {
  std::string domain;  // "" for the standard ONNX domain
  std::string op_type;
  int min_version = 1;    // lowest op since_version implemented
  int max_version = 999;  // highest op since_version implemented
  InferFn infer = nullptr;
  KernelFn kernel = nullptr;
};

class OpRegistry {
 public:
  // Throws kInternal on a duplicate (domain, op_type).
  void add(OpDef def);
  const OpDef* find(const std::string& domain, const std::string& op_type) const;
  // The op definition for a node, or an kUnsupported error naming the node and its op version.
  const OpDef& resolve(const Node& node) const;
  std::vector<const OpDef*> all() const;

  // The registry with every op EdgeForge implements.
  static const OpRegistry& global();

 private:
  std::map<std::pair<std::string, std::string>, OpDef> defs_;
};

// Family registration functions, all called from OpRegistry::global() (ops/all_ops.cpp).
void register_all_ops(OpRegistry& registry);

}  // namespace ef
