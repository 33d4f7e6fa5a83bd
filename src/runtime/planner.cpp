#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "runtime/memory_planner.h"
#include "runtime/node_runner.h"
#include "runtime/plan.h"

namespace ef {
namespace {

bool has_subgraph(const Node& node) {
  for (const auto& [key, attr] : node.attrs) {
    if (attr.kind == Attribute::Kind::kGraph || attr.kind == Attribute::Kind::kGraphs) return true;
  }
  return false;
}

// Adds "node 'x' (Op)" in front of errors that do not already name the node.
[[noreturn]] void rethrow_with_node(const Error& e, const Node& node) {
  if (std::string(e.what()).find(node.label()) != std::string::npos) throw e;
  throw e.with_context(node.label());
}

// Refuses a value whose inferred shape has more elements than the limit, before it is folded or planned: a tiny
// model can otherwise ask for terabytes through a Reshape/Expand/ConstantOfShape with a huge dims vector.
void check_value_size(const Graph& graph, int v, const ValueType& t, const PlanOptions& options) {
  if (options.max_tensor_elements <= 0 || !t.dims) return;
  int64_t n = 1;
  for (const Dim& d : *t.dims) {
    if (d.value < 0) return;  // symbolic or data-dependent: checked when allocated
    if (d.value == 0) return;
    if (n > options.max_tensor_elements / d.value) {
      fail(ErrorCode::kOutOfMemory,
           fmt::format("value '{}' would have shape {}, more than the limit of {} elements per tensor",
                       graph.values[static_cast<size_t>(v)].name, t.str(), options.max_tensor_elements));
    }
    n *= d.value;
  }
}

void infer_and_fold(const Graph& graph, Plan& p, const PlanOptions& options) {
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    const Node& node = graph.nodes[ni];
    p.ops[ni] = &OpRegistry::global().resolve(node);
    std::vector<const ValueType*> types(node.inputs.size(), nullptr);
    std::vector<const Tensor*> values(node.inputs.size(), nullptr);
    bool all_known = true;
    int64_t input_elements = 0;
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      int v = node.inputs[k];
      if (v == kNoValue) continue;
      types[k] = &p.types[static_cast<size_t>(v)];
      if (p.known[static_cast<size_t>(v)].defined()) {
        values[k] = &p.known[static_cast<size_t>(v)];
        input_elements += values[k]->numel();
      } else {
        all_known = false;
      }
    }
    std::vector<Tensor> out_values;
    try {
      std::vector<ValueType> out_types = infer_node(*p.ops[ni], node, types, values, out_values);
      for (size_t k = 0; k < node.outputs.size(); ++k) {
        if (node.outputs[k] == kNoValue) continue;
        check_value_size(graph, node.outputs[k], out_types[k], options);
        p.types[static_cast<size_t>(node.outputs[k])] = out_types[k];
      }
      bool outputs_known = true;
      for (size_t k = 0; k < node.outputs.size(); ++k) {
        if (node.outputs[k] != kNoValue && !out_values[k].defined()) outputs_known = false;
      }
      // Folding is capped on both sides: small inputs can still ask for a huge output (Expand, Tile, ...).
      int64_t output_elements = 0;
      for (const ValueType& t : out_types) {
        if (auto shape = t.concrete_shape()) output_elements += shape_numel(*shape);
      }
      // DequantizeLinear of constant weights folds at any size (the float copy is 4x the int8 weights): otherwise
      // a quantized model's large float-consumed weights would be dequantized on every run.
      const bool dequantize = node.domain.empty() && node.op_type == "DequantizeLinear";
      if (!outputs_known && all_known && !node.inputs.empty() &&
          (dequantize || (input_elements <= options.fold_max_elements &&
                          output_elements <= options.fold_max_elements)) &&
          !has_subgraph(node)) {
        run_node(*p.ops[ni], node, values, out_values, nullptr, 1);
        outputs_known = true;
      }
      if (outputs_known) {
        p.folded[ni] = true;
        for (size_t k = 0; k < node.outputs.size(); ++k) {
          if (node.outputs[k] == kNoValue) continue;
          const Tensor& t = out_values[k];
          p.known[static_cast<size_t>(node.outputs[k])] = t;
          p.types[static_cast<size_t>(node.outputs[k])] = ValueType{t.dtype(), dims_of(t.shape())};
        }
      }
    } catch (const Error& e) {
      rethrow_with_node(e, node);
    }
  }
}

// The signature of node `ni` under the plan, or nullopt when a shape is still unknown (data-dependent).
std::optional<NodeSignature> signature_of(const Graph& graph, const Plan& p, size_t ni, int threads) {
  const Node& node = graph.nodes[ni];
  NodeSignature sig;
  sig.node = &node;
  sig.threads = threads;
  auto concrete = [](const ValueType& t) { return t.concrete_shape().has_value() && dtype_is_supported(t.dtype); };
  for (int v : node.inputs) {
    const ValueType* t = v == kNoValue ? nullptr : &p.types[static_cast<size_t>(v)];
    if (t != nullptr && !concrete(*t)) return std::nullopt;
    sig.input_types.push_back(t);
    const Tensor* known = v == kNoValue || !p.known[static_cast<size_t>(v)].defined() ? nullptr
                                                                                       : &p.known[static_cast<size_t>(v)];
    sig.input_values.push_back(known);
  }
  for (int v : node.outputs) {
    const ValueType* t = v == kNoValue ? nullptr : &p.types[static_cast<size_t>(v)];
    if (t != nullptr && !concrete(*t)) return std::nullopt;
    sig.output_types.push_back(t);
  }
  return sig;
}

void choose_kernels(const Graph& graph, Plan& p, const PlanOptions& options) {
  p.kernels.assign(graph.nodes.size(), nullptr);
  p.scratch_offset.assign(graph.nodes.size(), -1);
  if (options.providers.empty()) return;
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    const Node& node = graph.nodes[ni];
    if (p.folded[ni] || has_subgraph(node)) continue;
    std::optional<NodeSignature> sig = signature_of(graph, p, ni, options.threads);
    if (!sig) continue;
    try {
      for (const ExecutionProvider* provider : options.providers) {
        if (auto kernel = provider->prepare(*sig)) {
          p.kernels[ni] = std::move(kernel);
          break;
        }
      }
    } catch (const Error& e) {
      rethrow_with_node(e, node);
    }
  }
}

// Concat along an axis with only size-1 dimensions before it (a fire module's channel concat at batch 1): each
// input is one contiguous byte range of the output, so an input that nothing reads after the Concat is given
// that range of the output's buffer instead of a buffer of its own. Its producer then writes straight into the
// output and the Concat kernel skips the copy (it compares the pointers). Only for the CPU concat kernel
// ("concat.strided"): a reference kernel's outputs are zeroed before it runs, which would wipe the inputs. An
// input's request (its in-place chain included) moves whole, so its lifetime must end at the Concat; the
// output's request then starts at the first producer. Returns, per request, the request it lies in and the byte
// offset there ({-1, 0}: a buffer of its own); nested requests keep 0 bytes for the greedy planner.
std::vector<std::pair<int, uint64_t>> nest_concat_inputs(const Graph& graph, const Plan& p,
                                                         std::vector<BufferRequest>& requests,
                                                         const std::vector<int>& request_of) {
  std::vector<std::pair<int, uint64_t>> parent(requests.size(), {-1, 0});
  std::vector<bool> is_parent(requests.size(), false);
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    const Node& node = graph.nodes[ni];
    if (p.folded[ni] || node.op_type != "Concat" || p.kernels[ni] == nullptr ||
        p.kernels[ni]->name() != "concat.strided" || node.outputs.size() != 1 || node.outputs[0] == kNoValue) {
      continue;
    }
    const int out = node.outputs[0];
    const int rc = request_of[static_cast<size_t>(out)];
    if (rc < 0 || parent[static_cast<size_t>(rc)].first >= 0) continue;
    const std::optional<Shape> out_shape = p.types[static_cast<size_t>(out)].concrete_shape();
    if (!out_shape) continue;
    const Shape& y = *out_shape;
    int64_t axis = node.attr_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(y.size());
    if (axis < 0 || axis >= static_cast<int64_t>(y.size())) continue;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= y[static_cast<size_t>(d)];
    if (outer != 1) continue;
    const DType dtype = p.types[static_cast<size_t>(out)].dtype;
    uint64_t offset = 0;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      if (v == kNoValue) continue;
      const auto shape = p.types[static_cast<size_t>(v)].concrete_shape();
      if (!shape) break;  // cannot place what follows
      const uint64_t bytes = static_cast<uint64_t>(shape_numel(*shape)) * dtype_size(dtype);
      const int r = request_of[static_cast<size_t>(v)];
      const bool once = std::count(node.inputs.begin(), node.inputs.end(), v) == 1;
      if (r >= 0 && r != rc && once && p.types[static_cast<size_t>(v)].dtype == dtype &&
          parent[static_cast<size_t>(r)].first < 0 && !is_parent[static_cast<size_t>(r)] &&
          requests[static_cast<size_t>(r)].bytes == bytes && p.last_use[static_cast<size_t>(v)] == static_cast<int>(ni) &&
          requests[static_cast<size_t>(r)].last_use == static_cast<int>(ni) && offset % kArenaAlignment == 0) {
        BufferRequest& in = requests[static_cast<size_t>(r)];
        BufferRequest& whole = requests[static_cast<size_t>(rc)];
        whole.first_use = std::min(whole.first_use, in.first_use);
        in.bytes = 0;
        parent[static_cast<size_t>(r)] = {rc, offset};
        is_parent[static_cast<size_t>(rc)] = true;
      }
      offset += bytes;
    }
  }
  return parent;
}

void plan_arena(const Graph& graph, Plan& p, const PlanOptions& options) {
  size_t nv = graph.values.size();
  p.last_use = graph.last_uses();
  std::vector<bool> is_output(nv, false);
  for (int v : graph.outputs) is_output[static_cast<size_t>(v)] = true;
  std::vector<BufferRequest> requests;
  std::vector<int> request_of(nv, -1);  // per value: its arena buffer (several values share one when in place)
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    if (p.folded[ni]) continue;
    const Node& node = graph.nodes[ni];
    // A kernel that may overwrite one of its inputs gets that input's buffer for output 0 when nothing reads
    // the input afterwards: element-wise chains then run in one buffer, and reshapes become free.
    int in_place = kNoValue;
    if (p.kernels[ni] != nullptr) {
      int k = p.kernels[ni]->in_place_input();
      if (k >= 0 && static_cast<size_t>(k) < node.inputs.size()) in_place = node.inputs[static_cast<size_t>(k)];
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      int v = node.outputs[k];
      if (v == kNoValue || is_output[static_cast<size_t>(v)]) continue;
      const ValueType& t = p.types[static_cast<size_t>(v)];
      auto shape = t.concrete_shape();
      if (!shape || !dtype_is_supported(t.dtype)) continue;  // data-dependent: allocated at run time
      uint64_t bytes = static_cast<uint64_t>(shape_numel(*shape)) * dtype_size(t.dtype);
      if (bytes == 0) continue;
      int last = std::max(p.last_use[static_cast<size_t>(v)], static_cast<int>(ni));
      p.total_activation_bytes += bytes;
      if (k == 0 && in_place != kNoValue) {
        int r = request_of[static_cast<size_t>(in_place)];
        if (r >= 0 && p.last_use[static_cast<size_t>(in_place)] == static_cast<int>(ni) &&
            requests[static_cast<size_t>(r)].bytes == bytes) {
          requests[static_cast<size_t>(r)].last_use = std::max(requests[static_cast<size_t>(r)].last_use, last);
          request_of[static_cast<size_t>(v)] = r;
          continue;
        }
      }
      request_of[static_cast<size_t>(v)] = static_cast<int>(requests.size());
      requests.push_back({bytes, static_cast<int>(ni), last});
    }
  }
  const std::vector<std::pair<int, uint64_t>> nested = nest_concat_inputs(graph, p, requests, request_of);
  const size_t value_requests = requests.size();
  std::vector<size_t> scratch_node;
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    uint64_t bytes = p.kernels[ni] ? p.kernels[ni]->scratch_bytes() : 0;
    if (bytes == 0) continue;
    requests.push_back({bytes, static_cast<int>(ni), static_cast<int>(ni)});
    scratch_node.push_back(ni);
  }
  MemoryPlan mp = plan_memory_greedy(requests);
  for (size_t r = 0; r < nested.size(); ++r) {
    if (nested[r].first >= 0) mp.offsets[r] = mp.offsets[static_cast<size_t>(nested[r].first)] + nested[r].second;
  }
  p.arena_offset.assign(nv, -1);
  for (size_t v = 0; v < nv; ++v) {
    if (request_of[v] >= 0) p.arena_offset[v] = static_cast<int64_t>(mp.offsets[static_cast<size_t>(request_of[v])]);
  }
  for (size_t s = 0; s < scratch_node.size(); ++s) {
    p.scratch_offset[scratch_node[s]] = static_cast<int64_t>(mp.offsets[value_requests + s]);
  }
  p.arena_bytes = mp.arena_bytes;
  EF_CHECK(options.max_arena_bytes == 0 || p.arena_bytes <= options.max_arena_bytes, kOutOfMemory,
           "the model needs {} bytes of activation memory for these input shapes, above the limit of {} bytes",
           p.arena_bytes, options.max_arena_bytes);
  // Graph outputs live outside the arena but are allocated by every run all the same.
  uint64_t output_bytes = 0;
  for (int v : graph.outputs) {
    const ValueType& t = p.types[static_cast<size_t>(v)];
    auto shape = t.concrete_shape();
    if (shape && dtype_is_supported(t.dtype) && !p.known[static_cast<size_t>(v)].defined()) {
      output_bytes += static_cast<uint64_t>(shape_numel(*shape)) * dtype_size(t.dtype);
    }
  }
  const uint64_t activations = p.arena_bytes + output_bytes;
  EF_CHECK(options.max_memory_bytes == 0 || (options.weight_bytes <= options.max_memory_bytes &&
                                             activations <= options.max_memory_bytes - options.weight_bytes),
           kOutOfMemory,
           "the model needs {} bytes of weights + {} bytes of activations and outputs for these input shapes, above "
           "the memory limit of {} bytes",
           options.weight_bytes, activations, options.max_memory_bytes);
}

void plan_run_bookkeeping(const Graph& graph, Plan& p) {
  std::vector<bool> keep(graph.values.size(), false);
  for (int v : graph.outputs) keep[static_cast<size_t>(v)] = true;
  p.release_after.assign(graph.nodes.size(), {});
  p.shapes.assign(graph.values.size(), Shape());
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (p.last_use[v] >= 0 && !keep[v] && graph.values[v].producer >= 0) {
      p.release_after[static_cast<size_t>(p.last_use[v])].push_back(static_cast<int>(v));
    }
    if (auto shape = p.types[v].concrete_shape()) p.shapes[v] = std::move(*shape);
  }
}

}  // namespace

Plan build_plan(const Graph& graph, const std::vector<ValueType>& input_types, const PlanOptions& options) {
  Plan p;
  size_t nv = graph.values.size();
  p.ops.resize(graph.nodes.size());
  p.types.resize(nv);
  p.known.resize(nv);
  p.folded.assign(graph.nodes.size(), false);
  for (size_t v = 0; v < nv; ++v) {
    const Value& val = graph.values[v];
    if (val.initializer.defined()) {
      p.known[v] = val.initializer;
      p.types[v] = val.type;
    }
  }
  EF_CHECK(input_types.size() == graph.inputs.size(), kInternal, "plan: {} input types for {} inputs",
           input_types.size(), graph.inputs.size());
  for (size_t i = 0; i < graph.inputs.size(); ++i) p.types[static_cast<size_t>(graph.inputs[i])] = input_types[i];
  infer_and_fold(graph, p, options);
  choose_kernels(graph, p, options);
  plan_arena(graph, p, options);
  plan_run_bookkeeping(graph, p);
  return p;
}

}  // namespace ef
