#include "edgeforge/session.h"

#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "ir/graph.h"
#include "onnx/model_io.h"
#include "passes/pass.h"
#include "providers/provider.h"
#include "runtime/executor.h"
#include "runtime/limits.h"
#include "runtime/plan.h"

namespace ef {

std::string IoInfo::shape_str() const {
  if (!has_shape) return "[...]";
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += dims[i] >= 0 ? std::to_string(dims[i]) : (dim_params[i].empty() ? "?" : dim_params[i]);
  }
  return s + "]";
}

namespace {

IoInfo io_info(const std::string& name, const ValueType& type) {
  IoInfo info;
  info.name = name;
  info.dtype = type.dtype;
  info.has_shape = type.dims.has_value();
  if (type.dims) {
    for (const Dim& d : *type.dims) {
      info.dims.push_back(d.value);
      info.dim_params.push_back(d.param);
    }
  }
  return info;
}

int default_threads() { return physical_core_count(); }

}  // namespace

struct Session::Impl {
  Model model;
  SessionOptions options;
  std::vector<IoInfo> inputs, outputs;
  std::vector<std::unique_ptr<ExecutionProvider>> providers;
  uint64_t weight_bytes = 0;  // charged against max_memory_bytes with each plan's arena
  std::unique_ptr<ThreadPool> pool;
  std::mutex mutex;  // guards plans, last_plan and free_arenas
  std::map<std::vector<Shape>, std::shared_ptr<const Plan>> plans;
  std::shared_ptr<const Plan> last_plan;
  // Arenas of finished runs, by plan, so steady-state runs allocate no activation memory.
  std::map<const Plan*, std::vector<Tensor>> free_arenas;

  Tensor take_arena(const Plan& plan) {
    if (plan.arena_bytes == 0) return Tensor();
    {
      std::lock_guard<std::mutex> lock(mutex);
      std::vector<Tensor>& free = free_arenas[&plan];
      if (!free.empty()) {
        Tensor t = std::move(free.back());
        free.pop_back();
        return t;
      }
    }
    return Tensor::zeros(DType::kUInt8, {static_cast<int64_t>(plan.arena_bytes)});
  }
  void return_arena(const Plan& plan, Tensor arena) {
    if (!arena.defined()) return;
    std::lock_guard<std::mutex> lock(mutex);
    free_arenas[&plan].push_back(std::move(arena));
  }

  const Graph& graph() const { return *model.graph; }

  // Checks a caller's tensor against the declared input; returns an error naming the input otherwise.
  void check_input(size_t i, const Tensor& t) const {
    const IoInfo& info = inputs[i];
    EF_CHECK(t.defined(), kInvalidArgument, "input '{}' is empty", info.name);
    EF_CHECK(t.dtype() == info.dtype, kInvalidArgument, "input '{}' must be {}, got {}", info.name,
             dtype_name(info.dtype), dtype_name(t.dtype()));
    EF_CHECK(options.max_tensor_elements <= 0 || t.numel() <= options.max_tensor_elements, kOutOfMemory,
             "input '{}' has shape {} ({} elements), above the limit of {} elements per tensor", info.name,
             shape_str(t.shape()), t.numel(), options.max_tensor_elements);
    if (!info.has_shape) return;
    EF_CHECK(t.rank() == info.dims.size(), kInvalidArgument, "input '{}' must have shape {}, got {}", info.name,
             info.shape_str(), shape_str(t.shape()));
    for (size_t d = 0; d < info.dims.size(); ++d) {
      EF_CHECK(info.dims[d] < 0 || info.dims[d] == t.dim(d), kInvalidArgument,
               "input '{}' must have shape {}, got {} (dimension {} differs)", info.name, info.shape_str(),
               shape_str(t.shape()), d);
    }
  }

  // Checks the caller's inputs and puts them in graph input order.
  std::vector<Tensor> order_inputs(const NamedTensors& named) const {
    std::vector<Tensor> ordered(inputs.size());
    for (const auto& [name, tensor] : named) {
      size_t i = 0;
      while (i < inputs.size() && inputs[i].name != name) ++i;
      if (i == inputs.size()) {
        std::string names;
        for (const IoInfo& info : inputs) names += (names.empty() ? "" : ", ") + info.name;
        fail(ErrorCode::kInvalidArgument, fmt::format("'{}' is not an input of the model (inputs: {})", name, names));
      }
      EF_CHECK(!ordered[i].defined(), kInvalidArgument, "input '{}' given twice", name);
      check_input(i, tensor);
      ordered[i] = tensor;
    }
    for (size_t i = 0; i < ordered.size(); ++i) {
      EF_CHECK(ordered[i].defined(), kInvalidArgument, "input '{}' {} was not given", inputs[i].name,
               inputs[i].shape_str());
    }
    return ordered;
  }

  std::vector<Tensor> execute(const std::vector<Tensor>& ordered, std::vector<double>* node_seconds) {
    std::vector<Shape> shapes;
    for (const Tensor& t : ordered) shapes.push_back(t.shape());
    std::shared_ptr<const Plan> plan = plan_for(shapes);
    // Each run has its own arena, so concurrent runs on one session stay independent.
    Tensor arena = take_arena(*plan);
    ExecOptions exec;
    exec.num_threads = options.num_threads;
    exec.arena = arena.defined() ? arena.raw() : nullptr;
    exec.pool = pool.get();
    exec.node_seconds = node_seconds;
    exec.max_tensor_elements = options.max_tensor_elements;
    std::vector<Tensor> results = execute_graph(graph(), plan.get(), ordered, nullptr, exec);
    return_arena(*plan, std::move(arena));
    return results;
  }

  std::shared_ptr<const Plan> plan_for(const std::vector<Shape>& shapes) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = plans.find(shapes);
    if (it != plans.end()) return last_plan = it->second;
    std::vector<ValueType> types;
    for (size_t i = 0; i < shapes.size(); ++i) types.push_back(ValueType{inputs[i].dtype, dims_of(shapes[i])});
    PlanOptions popts;
    popts.max_arena_bytes = options.max_arena_bytes;
    popts.max_tensor_elements = options.max_tensor_elements;
    popts.max_memory_bytes = effective_max_memory(options);
    popts.weight_bytes = weight_bytes;
    popts.threads = options.num_threads;
    for (const auto& provider : providers) popts.providers.push_back(provider.get());
    auto plan = std::make_shared<const Plan>(build_plan(graph(), types, popts));
    plans.emplace(shapes, plan);
    return last_plan = plan;
  }
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

std::unique_ptr<Session> Session::load(const std::string& path, const SessionOptions& options) {
  return from_model(load_model(path, import_options_for(options)), options);
}

std::unique_ptr<Session> Session::from_model(Model model, const SessionOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->model = std::move(model);
  impl->options = options;
  EF_CHECK(options.max_tensor_elements >= 0 && options.max_nodes >= 0, kInvalidArgument,
           "resource limits must not be negative (max_tensor_elements {}, max_nodes {})", options.max_tensor_elements,
           options.max_nodes);
  check_graph_limits(*impl->model.graph, options);
  if (impl->options.num_threads <= 0) impl->options.num_threads = default_threads();
  impl->pool = std::make_unique<ThreadPool>(impl->options.num_threads);
  if (!options.reference_kernels) impl->providers.push_back(make_cpu_provider());
  if (options.optimization_level > 0) {
    EF_CHECK(options.optimization_level <= 2, kInvalidArgument, "optimization level must be 0, 1 or 2, got {}",
             options.optimization_level);
    // The caller may share the graph: optimize a private copy.
    impl->model.graph = std::make_shared<Graph>(*impl->model.graph);
    PassOptions popts;
    popts.level = options.optimization_level;
    optimize_model(impl->model, popts);
  }
  const Graph& g = impl->graph();
  impl->weight_bytes = weight_bytes(g);
  auto declared = [&g](int v) {
    const Value& value = g.values[static_cast<size_t>(v)];
    return io_info(value.name, value.type);
  };
  for (int v : g.inputs) impl->inputs.push_back(declared(v));
  for (int v : g.outputs) impl->outputs.push_back(declared(v));
  for (const auto& [name, shape] : options.input_shapes) {
    bool found = false;
    for (const IoInfo& info : impl->inputs) found |= info.name == name;
    EF_CHECK(found, kInvalidArgument, "--shape names '{}', which is not a model input", name);
  }
  // Resolve every op now so an unsupported op fails at load, naming the node, not at the first run.
  for (const Node& n : g.nodes) OpRegistry::global().resolve(n);
  auto session = std::unique_ptr<Session>(new Session(std::move(impl)));
  bool all_static = true;
  std::map<std::string, Shape> shapes = options.input_shapes;
  for (const IoInfo& info : session->inputs()) {
    if (shapes.count(info.name)) continue;
    bool known = info.has_shape;
    for (int64_t d : info.dims) known &= d >= 0;
    if (known) {
      shapes[info.name] = Shape(info.dims.begin(), info.dims.end());
    } else {
      all_static = false;
    }
  }
  if (all_static) session->prepare(shapes);
  return session;
}

const std::vector<IoInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<IoInfo>& Session::outputs() const { return impl_->outputs; }
const Model& Session::model() const { return impl_->model; }
int Session::num_threads() const { return impl_->options.num_threads; }

uint64_t Session::prepare(const std::map<std::string, Shape>& input_shapes) {
  std::vector<Shape> shapes;
  for (const IoInfo& info : impl_->inputs) {
    auto it = input_shapes.find(info.name);
    EF_CHECK(it != input_shapes.end(), kInvalidArgument, "no shape given for input '{}' {}", info.name,
             info.shape_str());
    Tensor probe = Tensor::borrow(info.dtype, it->second, nullptr);
    impl_->check_input(static_cast<size_t>(&info - impl_->inputs.data()), probe);
    shapes.push_back(it->second);
  }
  return impl_->plan_for(shapes)->arena_bytes;
}

uint64_t Session::planned_arena_bytes() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->last_plan ? impl_->last_plan->arena_bytes : 0;
}

std::vector<IoInfo> Session::planned_outputs() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<IoInfo> out;
  if (!impl_->last_plan) return out;
  for (int v : impl_->graph().outputs) {
    const auto i = static_cast<size_t>(v);
    out.push_back(io_info(impl_->graph().values[i].name, impl_->last_plan->types[i]));
  }
  return out;
}


std::vector<Tensor> Session::run(const NamedTensors& inputs) {
  std::vector<Tensor> ordered = impl_->order_inputs(inputs);
  return impl_->execute(ordered, nullptr);
}

std::vector<Tensor> Session::run_profiled(const NamedTensors& inputs, std::vector<NodeProfile>& profile) {
  std::vector<Tensor> ordered = impl_->order_inputs(inputs);
  const Graph& g = impl_->graph();
  std::vector<double> seconds(g.nodes.size(), 0.0);
  std::vector<Tensor> results = impl_->execute(ordered, &seconds);
  std::shared_ptr<const Plan> plan;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    plan = impl_->last_plan;
  }
  if (profile.size() != g.nodes.size()) {
    profile.assign(g.nodes.size(), NodeProfile());
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
      const Node& n = g.nodes[ni];
      profile[ni].node = !n.name.empty() ? n.name
                         : (!n.outputs.empty() && n.outputs[0] != kNoValue)
                             ? g.values[static_cast<size_t>(n.outputs[0])].name
                             : "#" + std::to_string(ni);
      profile[ni].op_type = n.op_type;
      const PreparedKernel* k = plan ? plan->kernels[ni].get() : nullptr;
      profile[ni].kernel = k != nullptr ? k->name() : (plan && plan->folded[ni] ? "folded" : "reference");
      // Shapes let a profile be matched node by node with another runtime's, whose node names differ after fusion.
      const auto planned = [&](int v) {
        const bool known = plan && v != kNoValue && static_cast<size_t>(v) < plan->shapes.size();
        return known ? plan->shapes[static_cast<size_t>(v)] : Shape{};
      };
      for (int v : n.inputs) profile[ni].input_shapes.push_back(planned(v));
      for (int v : n.outputs) profile[ni].output_shapes.push_back(planned(v));
    }
  }
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) profile[ni].seconds += seconds[ni];
  return results;
}

NamedTensors Session::run_named(const NamedTensors& inputs) {
  std::vector<Tensor> results = run(inputs);
  NamedTensors named;
  for (size_t i = 0; i < results.size(); ++i) named.emplace_back(impl_->outputs[i].name, std::move(results[i]));
  return named;
}

}  // namespace ef
