#include "edgeforge/session.h"

#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "ir/graph.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
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

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace

struct Session::Impl {
  Model model;
  SessionOptions options;
  std::vector<IoInfo> inputs, outputs;
  std::mutex mutex;  // guards plans
  std::map<std::vector<Shape>, std::shared_ptr<const Plan>> plans;
  std::shared_ptr<const Plan> last_plan;

  const Graph& graph() const { return *model.graph; }

  // Checks a caller's tensor against the declared input; returns an error naming the input otherwise.
  void check_input(size_t i, const Tensor& t) const {
    const IoInfo& info = inputs[i];
    EF_CHECK(t.defined(), kInvalidArgument, "input '{}' is empty", info.name);
    EF_CHECK(t.dtype() == info.dtype, kInvalidArgument, "input '{}' must be {}, got {}", info.name,
             dtype_name(info.dtype), dtype_name(t.dtype()));
    if (!info.has_shape) return;
    EF_CHECK(t.rank() == info.dims.size(), kInvalidArgument, "input '{}' must have shape {}, got {}", info.name,
             info.shape_str(), shape_str(t.shape()));
    for (size_t d = 0; d < info.dims.size(); ++d) {
      EF_CHECK(info.dims[d] < 0 || info.dims[d] == t.dim(d), kInvalidArgument,
               "input '{}' must have shape {}, got {} (dimension {} differs)", info.name, info.shape_str(),
               shape_str(t.shape()), d);
    }
  }

  std::shared_ptr<const Plan> plan_for(const std::vector<Shape>& shapes) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = plans.find(shapes);
    if (it != plans.end()) return last_plan = it->second;
    std::vector<ValueType> types;
    for (size_t i = 0; i < shapes.size(); ++i) types.push_back(ValueType{inputs[i].dtype, dims_of(shapes[i])});
    PlanOptions popts;
    popts.max_arena_bytes = options.max_arena_bytes;
    auto plan = std::make_shared<const Plan>(build_plan(graph(), types, popts));
    plans.emplace(shapes, plan);
    return last_plan = plan;
  }
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

std::unique_ptr<Session> Session::load(const std::string& path, const SessionOptions& options) {
  return from_model(load_model(path), options);
}

std::unique_ptr<Session> Session::from_model(Model model, const SessionOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->model = std::move(model);
  impl->options = options;
  if (impl->options.num_threads <= 0) impl->options.num_threads = default_threads();
  const Graph& g = impl->graph();
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
  std::vector<Tensor> ordered(impl_->inputs.size());
  for (const auto& [name, tensor] : inputs) {
    size_t i = 0;
    while (i < impl_->inputs.size() && impl_->inputs[i].name != name) ++i;
    if (i == impl_->inputs.size()) {
      std::string names;
      for (const IoInfo& info : impl_->inputs) names += (names.empty() ? "" : ", ") + info.name;
      fail(ErrorCode::kInvalidArgument, fmt::format("'{}' is not an input of the model (inputs: {})", name, names));
    }
    EF_CHECK(!ordered[i].defined(), kInvalidArgument, "input '{}' given twice", name);
    impl_->check_input(i, tensor);
    ordered[i] = tensor;
  }
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ordered.size(); ++i) {
    EF_CHECK(ordered[i].defined(), kInvalidArgument, "input '{}' {} was not given", impl_->inputs[i].name,
             impl_->inputs[i].shape_str());
    shapes.push_back(ordered[i].shape());
  }
  std::shared_ptr<const Plan> plan = impl_->plan_for(shapes);
  // One arena per run keeps concurrent runs on one session independent.
  Tensor arena = plan->arena_bytes ? Tensor::zeros(DType::kUInt8, {static_cast<int64_t>(plan->arena_bytes)}) : Tensor();
  ExecOptions exec{impl_->options.num_threads, arena.defined() ? arena.raw() : nullptr};
  return execute_graph(impl_->graph(), plan.get(), ordered, nullptr, exec);
}

NamedTensors Session::run_named(const NamedTensors& inputs) {
  std::vector<Tensor> results = run(inputs);
  NamedTensors named;
  for (size_t i = 0; i < results.size(); ++i) named.emplace_back(impl_->outputs[i].name, std::move(results[i]));
  return named;
}

}  // namespace ef
