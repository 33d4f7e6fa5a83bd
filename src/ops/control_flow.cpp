// Control flow: If, Loop and Scan (every version; Scan-8's batched form included). Bodies run through the
// executor's subgraph runner. Outputs are data-dependent, so inference only reports what the subgraphs declare
// and the kernels hand over tensors they built themselves. Every tensor handed over is a private copy: a body may
// return an outer-scope value whose storage (an arena slot) is reused once the planner thinks it is dead.
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ops/shape_util.h"

namespace ef {
namespace {

const Graph& graph_attr(const Node& node, const char* key) {
  const Graph* g = node.attr_graph(key);
  EF_CHECK(g != nullptr, kInvalidModel, "{}: graph attribute '{}' is missing", node.label(), key);
  return *g;
}

const ValueType& graph_output_type(const Graph& g, size_t i) { return g.values[g.outputs[i]].type; }

// Dims both sides agree on; a disagreeing dim becomes unknown, a rank mismatch leaves the rank unknown.
std::optional<Dims> common_dims(const std::optional<Dims>& a, const std::optional<Dims>& b) {
  if (!a || !b || a->size() != b->size()) return std::nullopt;
  Dims out;
  for (size_t i = 0; i < a->size(); ++i) out.push_back((*a)[i] == (*b)[i] ? (*a)[i] : Dim());
  return out;
}

int64_t product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

// The sub-tensor at `index` along `axis`, with that axis removed.
Tensor take_along(const Tensor& t, size_t axis, int64_t index) {
  const Shape& s = t.shape();
  Shape out_shape = s;
  out_shape.erase(out_shape.begin() + static_cast<std::ptrdiff_t>(axis));
  Tensor out = Tensor::zeros(t.dtype(), out_shape);
  const int64_t outer = product(s, 0, axis);
  const size_t inner = static_cast<size_t>(product(s, axis + 1, s.size())) * dtype_size(t.dtype());
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t o = 0; o < outer; ++o) {
    if (inner) std::memcpy(dst + o * inner, src + (o * s[axis] + index) * inner, inner);
  }
  return out;
}

// Writes `part` (dst's shape without `axis`) into dst at `index` along `axis`.
void put_along(Tensor& dst, size_t axis, int64_t index, const Tensor& part) {
  const Shape& s = dst.shape();
  const int64_t outer = product(s, 0, axis);
  const size_t inner = static_cast<size_t>(product(s, axis + 1, s.size())) * dtype_size(dst.dtype());
  const auto* src = static_cast<const uint8_t*>(part.raw());
  auto* out = static_cast<uint8_t*>(dst.raw());
  for (int64_t o = 0; o < outer; ++o) {
    if (inner) std::memcpy(out + (o * s[axis] + index) * inner, src + o * inner, inner);
  }
}

Shape insert_dim(Shape s, size_t axis, int64_t d) {
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(axis), d);
  return s;
}

// Checks that every iteration's element agrees with the first in type and shape.
void check_same_element(const Node& node, const Tensor& first, const Tensor& next, size_t out_index) {
  EF_CHECK(first.dtype() == next.dtype() && first.shape() == next.shape(), kInvalidModel,
           "{}: scan output {} changed from {}{} to {}{} between iterations", node.label(), out_index,
           dtype_name(first.dtype()), shape_str(first.shape()), dtype_name(next.dtype()), shape_str(next.shape()));
}

// A scan output of zero iterations: the body's declared element type with the scan axis (and unknown dims) 0.
Tensor empty_scan_output(const Node& node, const ValueType& elem, size_t axis) {
  EF_CHECK(elem.dtype != DType::kUndefined, kUnsupported,
           "{}: zero iterations and the body does not declare the scan output's type", node.label());
  Shape s;
  if (elem.dims) {
    for (const Dim& d : *elem.dims) s.push_back(d.known() ? d.value : 0);
  }
  s = insert_dim(s, std::min(axis, s.size()), 0);
  return Tensor::zeros(elem.dtype, s);
}

bool truth(const Node& node, const Tensor& t, const char* what) {
  EF_CHECK(t.numel() == 1, kInvalidArgument, "{}: {} must hold one element, got shape {}", node.label(), what,
           shape_str(t.shape()));
  return t.value_as_double(0) != 0;
}

// ---------------------------------------------------------------------------------------------------------------- If

void infer_if(InferContext& ctx) {
  const Node& node = ctx.node();
  const Graph& then_g = graph_attr(node, "then_branch");
  const Graph& else_g = graph_attr(node, "else_branch");
  EF_CHECK(then_g.outputs.size() == else_g.outputs.size() && then_g.outputs.size() >= ctx.num_outputs(), kInvalidModel,
           "{}: branches yield {} and {} outputs for {} node outputs", node.label(), then_g.outputs.size(),
           else_g.outputs.size(), ctx.num_outputs());
  // A known condition (a constant, or any run) picks one branch's declared types; otherwise both must agree.
  const Tensor* cond = ctx.input_value(0);
  const bool known = cond != nullptr && cond->numel() == 1;
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    if (!ctx.has_output(i)) continue;
    const ValueType& a = graph_output_type(then_g, i);
    const ValueType& b = graph_output_type(else_g, i);
    if (known) {
      const ValueType& taken = cond->value_as_double(0) != 0 ? a : b;
      ctx.set_output(i, taken.dtype, taken.dims);
    } else {
      ctx.set_output(i, a.dtype != DType::kUndefined ? a.dtype : b.dtype, common_dims(a.dims, b.dims));
    }
  }
}

void if_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const bool cond = truth(node, ctx.input(0), "cond");
  const Graph& branch = graph_attr(node, cond ? "then_branch" : "else_branch");
  std::vector<Tensor> outs = ctx.run_subgraph(branch, {});
  EF_CHECK(outs.size() >= ctx.num_outputs(), kInvalidModel, "{}: branch yielded {} outputs, node has {}", node.label(),
           outs.size(), ctx.num_outputs());
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    if (ctx.has_output(i)) ctx.set_output(i, outs[i].clone());
  }
}

// -------------------------------------------------------------------------------------------------------------- Loop

// Inputs (M, cond, v_initial...) with trailing optional ones possibly omitted.
size_t loop_carried_count(size_t num_inputs) { return num_inputs > 2 ? num_inputs - 2 : 0; }

void infer_loop(InferContext& ctx) {
  const Node& node = ctx.node();
  const Graph& body = graph_attr(node, "body");
  const size_t n = loop_carried_count(ctx.num_inputs());
  EF_CHECK(ctx.num_outputs() >= n && body.inputs.size() == 2 + n && body.outputs.size() == 1 + ctx.num_outputs(),
           kInvalidModel, "{}: {} loop-carried values and {} outputs do not fit a body of {} inputs and {} outputs",
           node.label(), n, ctx.num_outputs(), body.inputs.size(), body.outputs.size());
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    if (!ctx.has_output(i)) continue;
    const ValueType& out = graph_output_type(body, 1 + i);
    if (i < n) {
      const ValueType& init = ctx.input_type(2 + i);
      ctx.set_output(i, init.dtype, common_dims(init.dims, out.dims));
    } else {
      std::optional<Dims> dims;
      if (out.dims) {
        dims = *out.dims;
        dims->insert(dims->begin(), Dim());  // the iteration count
      }
      ctx.set_output(i, out.dtype, dims);
    }
  }
}

void loop_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Graph& body = graph_attr(node, "body");
  const size_t n = loop_carried_count(ctx.num_inputs());
  const size_t k = ctx.num_outputs() - n;
  int64_t max_trips = std::numeric_limits<int64_t>::max();
  if (ctx.has_input(0)) {
    EF_CHECK(ctx.input(0).numel() == 1, kInvalidArgument, "{}: M must hold one element", node.label());
    max_trips = ctx.input(0).value_as_int(0);
  }
  // The spec's table says the body's condition is ignored when the cond input is omitted, but ONNX Runtime and
  // the ONNX reference evaluator always stop on it (and a loop with neither M nor cond must end somehow).
  bool cond = ctx.has_input(1) ? truth(node, ctx.input(1), "cond") : true;
  std::vector<Tensor> carried;
  for (size_t i = 0; i < n; ++i) carried.push_back(ctx.input(2 + i).clone());
  std::vector<std::vector<Tensor>> scans(k);
  std::vector<Tensor> feeds(2 + n);
  for (int64_t it = 0; it < max_trips && cond; ++it) {
    feeds[0] = Tensor::scalar<int64_t>(DType::kInt64, it);
    feeds[1] = Tensor::scalar<bool>(DType::kBool, cond);
    std::copy(carried.begin(), carried.end(), feeds.begin() + 2);
    std::vector<Tensor> outs = ctx.run_subgraph(body, feeds);
    EF_CHECK(outs.size() == 1 + n + k, kInvalidModel, "{}: body yielded {} outputs, expected {}", node.label(),
             outs.size(), 1 + n + k);
    cond = truth(node, outs[0], "the body's condition output");
    for (size_t i = 0; i < n; ++i) carried[i] = outs[1 + i].clone();
    for (size_t j = 0; j < k; ++j) {
      if (!scans[j].empty()) check_same_element(node, scans[j].front(), outs[1 + n + j], n + j);
      scans[j].push_back(outs[1 + n + j].clone());
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (ctx.has_output(i)) ctx.set_output(i, carried[i]);
  }
  for (size_t j = 0; j < k; ++j) {
    if (!ctx.has_output(n + j)) continue;
    if (scans[j].empty()) {
      ctx.set_output(n + j, empty_scan_output(node, graph_output_type(body, 1 + n + j), 0));
      continue;
    }
    const Tensor& first = scans[j].front();
    Tensor& out = ctx.allocate_output(n + j, first.dtype(), insert_dim(first.shape(), 0, int64_t(scans[j].size())));
    for (size_t it = 0; it < scans[j].size(); ++it) put_along(out, 0, static_cast<int64_t>(it), scans[j][it]);
  }
}

// -------------------------------------------------------------------------------------------------------------- Scan

// Scan-8 puts an optional sequence_lens first and scans axis 1 of batched inputs; later versions neither.
size_t scan_first_state(const Node& node) { return node.version == 8 ? 1 : 0; }

struct ScanLayout {
  size_t n = 0;  // state variables
  size_t m = 0;  // scan inputs
  size_t k = 0;  // scan outputs
};

ScanLayout scan_layout(const Node& node, size_t num_inputs, size_t num_outputs, const Graph& body) {
  const int64_t m = node.attr_int("num_scan_inputs", -1);
  const size_t first = scan_first_state(node);
  EF_CHECK(m >= 1 && num_inputs >= first + static_cast<size_t>(m), kInvalidModel,
           "{}: num_scan_inputs {} does not fit {} inputs", node.label(), m, num_inputs);
  ScanLayout l;
  l.m = static_cast<size_t>(m);
  l.n = num_inputs - first - l.m;
  EF_CHECK(num_outputs >= l.n && body.inputs.size() == l.n + l.m && body.outputs.size() == num_outputs, kInvalidModel,
           "{}: {} states, {} scan inputs and {} outputs do not fit a body of {} inputs and {} outputs", node.label(),
           l.n, l.m, num_outputs, body.inputs.size(), body.outputs.size());
  l.k = num_outputs - l.n;
  return l;
}

// One attribute list entry per scan input/output, `fallback` for all when absent.
std::vector<int64_t> per_item(const Node& node, const char* key, size_t count, int64_t fallback) {
  std::vector<int64_t> v = node.attr_ints(key, std::vector<int64_t>(count, fallback));
  EF_CHECK(v.size() == count, kInvalidModel, "{}: attribute '{}' needs {} entries, got {}", node.label(), key, count,
           v.size());
  return v;
}

void infer_scan(InferContext& ctx) {
  const Node& node = ctx.node();
  const Graph& body = graph_attr(node, "body");
  const ScanLayout l = scan_layout(node, ctx.num_inputs(), ctx.num_outputs(), body);
  const size_t first = scan_first_state(node);
  const bool batched = node.version == 8;
  // The sequence length, as inputs declare it (Scan-8: axis 1 of the first scan input).
  Dim seq, batch;
  const ValueType& scan0 = ctx.input_type(first + l.n);
  std::vector<int64_t> in_axes = per_item(node, "scan_input_axes", l.m, 0);
  if (scan0.has_rank()) {
    const int64_t rank = static_cast<int64_t>(scan0.rank());
    // Scan-8 inputs are [batch, sequence, ...]; later versions scan one axis of a tensor of rank >= 1.
    EF_CHECK(rank >= (batched ? 2 : 1), kInvalidModel, "{}: first scan input has rank {}, needs at least {}",
             node.label(), rank, batched ? 2 : 1);
    seq = (*scan0.dims)[static_cast<size_t>(batched ? 1 : normalize_axis(in_axes[0], rank, node))];
    if (batched) batch = (*scan0.dims)[0];
  }
  std::vector<int64_t> out_axes = per_item(node, "scan_output_axes", l.k, 0);
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    if (!ctx.has_output(i)) continue;
    if (i < l.n) {
      ctx.set_output(i, ctx.input_dtype(first + i), ctx.input_type(first + i).dims);
      continue;
    }
    const ValueType& elem = graph_output_type(body, i);
    std::optional<Dims> dims;
    if (elem.dims) {
      dims = *elem.dims;
      const int64_t rank = static_cast<int64_t>(dims->size()) + 1;
      const int64_t axis = batched ? 0 : normalize_axis(out_axes[i - l.n], rank, node);
      dims->insert(dims->begin() + axis, seq);
      if (batched) dims->insert(dims->begin(), batch);
    }
    ctx.set_output(i, elem.dtype, dims);
  }
}

// Runs the body `length` times over `scans` (one element along in_axes per step), updating `states`; returns the
// scan outputs, undefined when length is 0. Shared by Scan-8 (once per batch row) and later versions.
std::vector<Tensor> scan_steps(KernelContext& ctx, const Graph& body, std::vector<Tensor>& states,
                               const std::vector<Tensor>& scans, const std::vector<int64_t>& in_axes,
                               const std::vector<int64_t>& in_reverse, const std::vector<int64_t>& out_axes,
                               const std::vector<int64_t>& out_reverse, int64_t length) {
  const Node& node = ctx.node();
  const size_t n = states.size(), m = scans.size(), k = out_axes.size();
  std::vector<Tensor> outputs(k);
  std::vector<size_t> out_axis(k);
  std::vector<Tensor> feeds(n + m);
  for (int64_t t = 0; t < length; ++t) {
    std::copy(states.begin(), states.end(), feeds.begin());
    for (size_t j = 0; j < m; ++j) {
      feeds[n + j] = take_along(scans[j], static_cast<size_t>(in_axes[j]), in_reverse[j] ? length - 1 - t : t);
    }
    std::vector<Tensor> outs = ctx.run_subgraph(body, feeds);
    EF_CHECK(outs.size() == n + k, kInvalidModel, "{}: body yielded {} outputs, expected {}", node.label(), outs.size(),
             n + k);
    for (size_t i = 0; i < n; ++i) {
      EF_CHECK(outs[i].dtype() == states[i].dtype() && outs[i].shape() == states[i].shape(), kInvalidModel,
               "{}: state {} changed from {} to {}", node.label(), i, shape_str(states[i].shape()),
               shape_str(outs[i].shape()));
      states[i] = outs[i].clone();
    }
    for (size_t j = 0; j < k; ++j) {
      const Tensor& elem = outs[n + j];
      if (t == 0) {
        const int64_t rank = static_cast<int64_t>(elem.rank()) + 1;
        out_axis[j] = static_cast<size_t>(normalize_axis(out_axes[j], rank, node));
        outputs[j] = Tensor::zeros(elem.dtype(), insert_dim(elem.shape(), out_axis[j], length));
      } else {
        EF_CHECK(
            elem.dtype() == outputs[j].dtype() && insert_dim(elem.shape(), out_axis[j], length) == outputs[j].shape(),
            kInvalidModel, "{}: scan output {} changed shape to {} between iterations", node.label(), n + j,
            shape_str(elem.shape()));
      }
      put_along(outputs[j], out_axis[j], out_reverse[j] ? length - 1 - t : t, elem);
    }
  }
  return outputs;
}

void scan_kernel_v9(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Graph& body = graph_attr(node, "body");
  const ScanLayout l = scan_layout(node, ctx.num_inputs(), ctx.num_outputs(), body);
  std::vector<int64_t> in_axes = per_item(node, "scan_input_axes", l.m, 0);
  std::vector<int64_t> in_reverse = per_item(node, "scan_input_directions", l.m, 0);
  std::vector<int64_t> out_axes = per_item(node, "scan_output_axes", l.k, 0);
  std::vector<int64_t> out_reverse = per_item(node, "scan_output_directions", l.k, 0);
  std::vector<Tensor> states, scans;
  for (size_t i = 0; i < l.n; ++i) states.push_back(ctx.input(i).clone());
  int64_t length = -1;
  for (size_t j = 0; j < l.m; ++j) {
    const Tensor& x = ctx.input(l.n + j);
    in_axes[j] = normalize_axis(in_axes[j], static_cast<int64_t>(x.rank()), node);
    const int64_t len = x.dim(static_cast<size_t>(in_axes[j]));
    EF_CHECK(length < 0 || len == length, kInvalidArgument, "{}: scan input {} has {} steps, scan input 0 has {}",
             node.label(), j, len, length);
    length = len;
    scans.push_back(x);
  }
  std::vector<Tensor> outputs =
      scan_steps(ctx, body, states, scans, in_axes, in_reverse, out_axes, out_reverse, length);
  for (size_t i = 0; i < l.n; ++i) {
    if (ctx.has_output(i)) ctx.set_output(i, states[i]);
  }
  for (size_t j = 0; j < l.k; ++j) {
    if (!ctx.has_output(l.n + j)) continue;
    if (!outputs[j].defined()) {
      const ValueType& elem = graph_output_type(body, l.n + j);
      const int64_t rank = elem.dims ? static_cast<int64_t>(elem.dims->size()) + 1 : 1;
      outputs[j] = empty_scan_output(node, elem, static_cast<size_t>(normalize_axis(out_axes[j], rank, node)));
    }
    ctx.set_output(l.n + j, outputs[j]);
  }
}

// Scan-8: axis 0 of every state and scan input is a batch; each row runs on its own for sequence_lens[row] steps,
// and scan outputs are zero-padded to the longest sequence.
void scan_kernel_v8(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Graph& body = graph_attr(node, "body");
  const ScanLayout l = scan_layout(node, ctx.num_inputs(), ctx.num_outputs(), body);
  const std::vector<int64_t> in_reverse = per_item(node, "directions", l.m, 0);
  const std::vector<int64_t> zeros_m(l.m, 0), zeros_k(l.k, 0);
  int64_t batch = -1, max_len = -1;
  for (size_t i = 0; i < l.n + l.m; ++i) {
    const Tensor& x = ctx.input(1 + i);
    const size_t min_rank = i < l.n ? 1 : 2;
    EF_CHECK(x.rank() >= min_rank, kInvalidArgument, "{}: input {} needs a batch axis{}", node.label(), 1 + i,
             i < l.n ? "" : " and a sequence axis");
    EF_CHECK(batch < 0 || x.dim(0) == batch, kInvalidArgument, "{}: input {} has batch {}, expected {}", node.label(),
             1 + i, x.dim(0), batch);
    batch = x.dim(0);
    if (i >= l.n) {
      EF_CHECK(max_len < 0 || x.dim(1) == max_len, kInvalidArgument, "{}: scan inputs disagree on sequence length",
               node.label());
      max_len = x.dim(1);
    }
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
  if (ctx.has_input(0)) {
    const Tensor& sl = ctx.input(0);
    EF_CHECK(sl.numel() == batch, kInvalidArgument, "{}: sequence_lens has {} entries for batch {}", node.label(),
             sl.numel(), batch);
    for (int64_t b = 0; b < batch; ++b) {
      lens[b] = sl.value_as_int(b);
      EF_CHECK(lens[b] >= 0 && lens[b] <= max_len, kInvalidArgument, "{}: sequence_lens[{}] = {} is outside [0, {}]",
               node.label(), b, lens[b], max_len);
    }
  }
  std::vector<std::vector<Tensor>> final_states(l.n), row_outputs(l.k);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> states, scans;
    for (size_t i = 0; i < l.n; ++i) states.push_back(take_along(ctx.input(1 + i), 0, b));
    for (size_t j = 0; j < l.m; ++j) scans.push_back(take_along(ctx.input(1 + l.n + j), 0, b));
    std::vector<Tensor> outs = scan_steps(ctx, body, states, scans, zeros_m, in_reverse, zeros_k, zeros_k, lens[b]);
    for (size_t i = 0; i < l.n; ++i) final_states[i].push_back(states[i]);
    for (size_t j = 0; j < l.k; ++j) row_outputs[j].push_back(outs[j]);
  }
  for (size_t i = 0; i < l.n; ++i) {
    if (!ctx.has_output(i)) continue;
    Tensor& out = ctx.allocate_output(i, ctx.input(1 + i).dtype(), ctx.input(1 + i).shape());
    for (int64_t b = 0; b < batch; ++b) put_along(out, 0, b, final_states[i][b]);
  }
  for (size_t j = 0; j < l.k; ++j) {
    if (!ctx.has_output(l.n + j)) continue;
    // Any row that ran gives the element type; rows may differ only in their step count.
    const Tensor* model = nullptr;
    for (const Tensor& t : row_outputs[j]) {
      if (!t.defined()) continue;
      if (model == nullptr) model = &t;
      EF_CHECK(t.dtype() == model->dtype() &&
                   std::equal(t.shape().begin() + 1, t.shape().end(), model->shape().begin() + 1, model->shape().end()),
               kInvalidModel, "{}: scan output {} differs between batch rows", node.label(), l.n + j);
    }
    const Tensor empty = model ? Tensor() : empty_scan_output(node, graph_output_type(body, l.n + j), 0);
    const Tensor& like = model ? *model : empty;
    const Shape elem_shape(like.shape().begin() + 1, like.shape().end());
    const DType dtype = like.dtype();
    Tensor& out = ctx.allocate_output(l.n + j, dtype, insert_dim(insert_dim(elem_shape, 0, max_len), 0, batch));
    const size_t row_bytes = out.nbytes() / static_cast<size_t>(std::max<int64_t>(batch, 1));
    for (int64_t b = 0; b < batch; ++b) {
      const Tensor& part = row_outputs[j][b];
      if (part.defined() && part.nbytes()) {
        std::memcpy(static_cast<uint8_t*>(out.raw()) + b * row_bytes, part.raw(), part.nbytes());
      }
    }
  }
}

void scan_kernel(KernelContext& ctx) {
  if (ctx.version() == 8) {
    scan_kernel_v8(ctx);
  } else {
    scan_kernel_v9(ctx);
  }
}

}  // namespace

void register_control_flow_ops(OpRegistry& r) {
  r.add({"", "If", 1, 16, infer_if, if_kernel});
  r.add({"", "Loop", 1, 16, infer_loop, loop_kernel});
  r.add({"", "Scan", 8, 16, infer_scan, scan_kernel});
}

}  // namespace ef
