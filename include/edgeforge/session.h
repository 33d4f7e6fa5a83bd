// Public inference API: load a model, optionally fix input shapes, run.
//
//   ef::SessionOptions opts;
//   opts.num_threads = 2;
//   auto session = ef::Session::load("model.onnx", opts);
//   auto outputs = session->run({{"input", tensor}});
//
// A session plans once per distinct set of input shapes (type/shape inference, constant folding, memory plan) and
// reuses that plan for later runs with the same shapes.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edgeforge/tensor.h"

namespace ef {

struct Model;

struct SessionOptions {
  int num_threads = 0;  // 0: one per physical core
  // Fixes the shape of named inputs (resolving symbolic dims) for planning before the first run.
  std::map<std::string, Shape> input_shapes;
  // Upper bound on the planned activation arena (0: unlimited).
  uint64_t max_arena_bytes = 0;

  // Resource limits against hostile or broken models. Each is checked from dims and shapes before the memory is
  // allocated; a model over a limit fails with ErrorCode::kOutOfMemory naming the limit and the tensor or node.
  // Weights (initializer and constant-attribute bytes) plus, per input-shape plan, the activation arena and the
  // graph outputs. 0: the machine's physical memory.
  uint64_t max_memory_bytes = 0;
  // Elements of any one tensor: initializer, caller input, or value planned or allocated by the runtime.
  int64_t max_tensor_elements = int64_t{1} << 32;
  // Graph size, checked while the model is imported by Session::load: nodes (subgraphs included) and the total
  // bytes of all initializers and constant attributes (0: max_memory_bytes).
  int64_t max_nodes = 1'000'000;
  uint64_t max_initializer_bytes = 0;
  // Graph optimization applied when the session is created: 0 none, 1 basic, 2 extended (fusions).
  int optimization_level = 2;
  // Run every node on its reference kernel (the oracle) instead of the fast CPU kernels: for debugging.
  bool reference_kernels = false;
};

// Time spent in one node over the profiled runs.
struct NodeProfile {
  std::string node;     // node name (or its first output's name)
  std::string op_type;
  std::string kernel;   // the fast kernel chosen, or "reference"
  // Per input and per output, as planned (empty: omitted, or the shape is unknown before running).
  std::vector<Shape> input_shapes, output_shapes;
  double seconds = 0;   // summed over runs
};

// A graph input or output as declared by the model: dims < 0 are dynamic, named by dim_params when symbolic.
struct IoInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> dims;
  std::vector<std::string> dim_params;
  bool has_shape = false;
  std::string shape_str() const;  // "[batch,3,224,224]"
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Session {
 public:
  static std::unique_ptr<Session> load(const std::string& path, const SessionOptions& options = {});
  static std::unique_ptr<Session> from_model(Model model, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<IoInfo>& inputs() const;
  const std::vector<IoInfo>& outputs() const;
  const Model& model() const;
  int num_threads() const;

  // Runs the model. Every graph input must be given (by name) with the declared dtype and a shape compatible with
  // the declared one. Returns the graph outputs in declaration order.
  std::vector<Tensor> run(const NamedTensors& inputs);
  NamedTensors run_named(const NamedTensors& inputs);
  // run() that also adds each node's wall time into `profile` (resized to the node count on first use).
  std::vector<Tensor> run_profiled(const NamedTensors& inputs, std::vector<NodeProfile>& profile);

  // Plans for these input shapes now (also done lazily by run). Returns the planned arena size in bytes.
  uint64_t prepare(const std::map<std::string, Shape>& input_shapes);
  // Arena size of the most recent plan; 0 before any plan.
  uint64_t planned_arena_bytes() const;
  // The graph outputs as type/shape inference sees them under the most recent plan (dims < 0: data-dependent).
  std::vector<IoInfo> planned_outputs() const;

  struct Impl;

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ef
