#include "runtime/executor.h"

#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "runtime/node_runner.h"

namespace ef {

const Tensor* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent) {
    int v = s->graph->find_value(name);
    if (v != kNoValue && (*s->values)[static_cast<size_t>(v)].defined()) return &(*s->values)[static_cast<size_t>(v)];
  }
  return nullptr;
}

std::vector<Tensor> execute_graph(const Graph& graph, const Plan* plan, const std::vector<Tensor>& inputs,
                                  const Scope* parent, const ExecOptions& options) {
  std::vector<Tensor> values(graph.values.size());
  Scope scope{&graph, &values, parent};
  for (size_t v = 0; v < graph.values.size(); ++v) {
    const Value& val = graph.values[v];
    if (plan != nullptr && plan->known[v].defined()) {
      values[v] = plan->known[v];
    } else if (val.initializer.defined()) {
      values[v] = val.initializer;
    } else if (val.is_outer) {
      const Tensor* outer = parent ? parent->find(val.name) : nullptr;
      EF_CHECK(outer != nullptr, kInvalidModel, "graph '{}': outer-scope value '{}' is not available", graph.name,
               val.name);
      values[v] = *outer;
    }
  }
  EF_CHECK(inputs.size() == graph.inputs.size(), kInvalidArgument, "graph '{}' takes {} inputs, got {}", graph.name,
           graph.inputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) values[static_cast<size_t>(graph.inputs[i])] = inputs[i];

  // Heap-allocated intermediates are released after their last reader (arena slots are simply reused); a plan
  // has the lists ready, a subgraph run makes them here.
  std::vector<std::vector<int>> own_release_after;
  if (plan == nullptr) {
    const std::vector<int> last_use = graph.last_uses();
    std::vector<bool> keep(graph.values.size(), false);
    for (int v : graph.outputs) keep[static_cast<size_t>(v)] = true;
    own_release_after.resize(graph.nodes.size());
    for (size_t v = 0; v < values.size(); ++v) {
      if (last_use[v] >= 0 && !keep[v] && graph.values[v].producer >= 0) {
        own_release_after[static_cast<size_t>(last_use[v])].push_back(static_cast<int>(v));
      }
    }
  }
  const std::vector<std::vector<int>>& release_after = plan != nullptr ? plan->release_after : own_release_after;

  SubgraphRunner run_subgraph = [&scope, &options](const Graph& sub, const std::vector<Tensor>& sub_inputs) {
    ExecOptions sub_options;
    sub_options.num_threads = options.num_threads;
    sub_options.max_tensor_elements = options.max_tensor_elements;
    return execute_graph(sub, nullptr, sub_inputs, &scope, sub_options);
  };
  auto* arena = static_cast<uint8_t*>(options.arena);
  ThreadPool* pool = options.pool != nullptr ? options.pool : &ThreadPool::inline_pool();
  using Clock = std::chrono::steady_clock;
  std::vector<const Tensor*> in_ptrs;
  std::vector<Tensor> outs;
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    if (plan != nullptr && plan->folded[ni]) continue;
    const Node& node = graph.nodes[ni];
    const Clock::time_point start = options.node_seconds != nullptr ? Clock::now() : Clock::time_point();
    const PreparedKernel* kernel = plan != nullptr ? plan->kernels[ni].get() : nullptr;
    try {
      const OpDef& def = plan != nullptr ? *plan->ops[ni] : OpRegistry::global().resolve(node);
      in_ptrs.assign(node.inputs.size(), nullptr);
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        int v = node.inputs[k];
        if (v == kNoValue) continue;
        EF_CHECK(values[static_cast<size_t>(v)].defined(), kInternal, "input '{}' has no value",
                 graph.values[static_cast<size_t>(v)].name);
        in_ptrs[k] = &values[static_cast<size_t>(v)];
      }
      outs.assign(node.outputs.size(), Tensor());
      if (kernel != nullptr) {
        // Prepared kernels get every output preallocated with its planned shape, uninitialized.
        for (size_t k = 0; k < node.outputs.size(); ++k) {
          int v = node.outputs[k];
          if (v == kNoValue) continue;
          const DType dtype = plan->types[static_cast<size_t>(v)].dtype;
          const Shape& shape = plan->shapes[static_cast<size_t>(v)];
          int64_t offset = plan->arena_offset[static_cast<size_t>(v)];
          outs[k] = offset >= 0 ? Tensor::borrow(dtype, shape, arena + offset) : Tensor::zeros(dtype, shape);
        }
        KernelArgs args;
        args.inputs = in_ptrs.data();
        args.num_inputs = in_ptrs.size();
        args.outputs = outs.data();
        args.num_outputs = outs.size();
        args.scratch = plan->scratch_offset[ni] >= 0 ? arena + plan->scratch_offset[ni] : nullptr;
        args.pool = pool;
        kernel->run(args);
      } else if (plan != nullptr && arena != nullptr) {
        for (size_t k = 0; k < node.outputs.size(); ++k) {
          int v = node.outputs[k];
          if (v == kNoValue || plan->arena_offset[static_cast<size_t>(v)] < 0) continue;
          const ValueType& t = plan->types[static_cast<size_t>(v)];
          uint8_t* slot = arena + plan->arena_offset[static_cast<size_t>(v)];
          outs[k] = Tensor::borrow(t.dtype, *t.concrete_shape(), slot);
          // Reference kernels may rely on zero-initialized outputs, as fresh allocations are.
          std::memset(slot, 0, outs[k].nbytes());
        }
      }
      if (kernel == nullptr) {
        run_node(def, node, in_ptrs, outs, run_subgraph, options.num_threads, options.max_tensor_elements);
      }
    } catch (const Error& e) {
      if (std::string(e.what()).find(node.label()) != std::string::npos) throw;
      throw e.with_context(node.label());
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      if (node.outputs[k] != kNoValue) values[static_cast<size_t>(node.outputs[k])] = std::move(outs[k]);
    }
    for (int v : release_after[ni]) values[static_cast<size_t>(v)] = Tensor();
    if (options.node_seconds != nullptr) {
      (*options.node_seconds)[ni] += std::chrono::duration<double>(Clock::now() - start).count();
    }
  }
  std::vector<Tensor> results;
  results.reserve(graph.outputs.size());
  for (int v : graph.outputs) {
    const Tensor& t = values[static_cast<size_t>(v)];
    EF_CHECK(t.defined(), kInvalidModel, "graph '{}': output '{}' was not computed", graph.name,
             graph.values[static_cast<size_t>(v)].name);
    results.push_back(t);
  }
  return results;
}

}  // namespace ef
