// Execution providers: the interface between the planner and the fast kernels. When a plan is built, each
// non-folded node is offered to the providers in priority order; the first one that returns a PreparedKernel runs
// the node, and a node no provider takes falls back to the op's reference kernel (per-node fallback). Preparing
// is where kernel choice happens (algorithm per shape, weights pre-packed), so the run loop does no dispatch.
// Depends on core, ir and kernels; the runtime depends on this, never the reverse.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace ef {

class ThreadPool;

// What a provider sees of a node at plan time. Types of non-folded values have concrete shapes when the provider
// is asked (the planner never offers a node whose shapes are data-dependent).
struct NodeSignature {
  const Node* node = nullptr;
  std::vector<const ValueType*> input_types;  // nullptr for omitted optional inputs
  std::vector<const Tensor*> input_values;    // known at plan time (initializers, folded constants) or nullptr
  std::vector<const ValueType*> output_types;  // nullptr for omitted outputs
  // Intra-op threads the kernel will run with. A kernel's results must not depend on the pool it runs on, but the
  // choice of kernel may (an algorithm that wins on one core can lose on two).
  int threads = 1;

  bool has_input(size_t i) const { return i < input_types.size() && input_types[i] != nullptr; }
  const Tensor* constant(size_t i) const { return i < input_values.size() ? input_values[i] : nullptr; }
  Shape input_shape(size_t i) const { return *input_types[i]->concrete_shape(); }
  Shape output_shape(size_t i) const { return *output_types[i]->concrete_shape(); }
  DType input_dtype(size_t i) const { return input_types[i]->dtype; }
};

// One call of a prepared kernel. Outputs are allocated with the planned shapes and hold garbage (not zeros).
struct KernelArgs {
  const Tensor* const* inputs = nullptr;  // nullptr entries for omitted inputs
  size_t num_inputs = 0;
  Tensor* outputs = nullptr;
  size_t num_outputs = 0;
  void* scratch = nullptr;  // scratch_bytes() bytes, 64-byte aligned, private to this call
  ThreadPool* pool = nullptr;

  const Tensor& input(size_t i) const { return *inputs[i]; }
  bool has_input(size_t i) const { return i < num_inputs && inputs[i] != nullptr; }
  Tensor& output(size_t i) const { return outputs[i]; }
};

class PreparedKernel {
 public:
  virtual ~PreparedKernel() = default;
  // The algorithm chosen, for profiles and `--verbose` plans, e.g. "conv.depthwise3x3".
  virtual std::string name() const = 0;
  virtual uint64_t scratch_bytes() const { return 0; }
  // Index of an input whose buffer output 0 may share (the kernel then reads and writes the same memory), or -1.
  // The planner shares it only when that input has the output's size and no later node reads it.
  virtual int in_place_input() const { return -1; }
  // Must be safe to call from several threads at once (concurrent runs of one session): no mutable state.
  virtual void run(const KernelArgs& args) const = 0;
};

class ExecutionProvider {
 public:
  virtual ~ExecutionProvider() = default;
  virtual const char* name() const = 0;
  // A kernel for this node, or nullptr when the provider does not handle it (dtype, attributes, shapes). Throws
  // only for errors the reference kernel would also report.
  virtual std::unique_ptr<PreparedKernel> prepare(const NodeSignature& sig) const = 0;
};

// The portable CPU provider (Highway kernels with runtime ISA dispatch).
std::unique_ptr<ExecutionProvider> make_cpu_provider();

}  // namespace ef
