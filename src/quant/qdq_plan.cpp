// Choosing the nodes and tensors of a static QDQ quantization (rules in qdq_plan.h).
#include "quant/qdq_plan.h"

#include <algorithm>
#include <regex>

#include "passes/fusion_util.h"
#include "passes/graph_edit.h"

namespace ef {
namespace {

bool is_initializer(const Graph& g, int v) { return v != kNoValue && g.values[static_cast<size_t>(v)].initializer.defined(); }

std::vector<int> first_inputs(const Node& n, size_t count) {
  std::vector<int> idx;
  for (size_t i = 0; i < std::min(count, n.inputs.size()); ++i) idx.push_back(static_cast<int>(i));
  return idx;
}

// Gemm's C as an int32 bias: a [N] initializer added with alpha = beta = 1.
bool gemm_bias_quantizable(const Graph& g, const Node& n) {
  if (n.inputs.size() < 3 || !is_initializer(g, n.inputs[2]) || !is_initializer(g, n.inputs[1])) return false;
  if (n.attr_float("alpha", 1.0f) != 1.0f || n.attr_float("beta", 1.0f) != 1.0f) return false;
  const Tensor& b = g.values[static_cast<size_t>(n.inputs[1])].initializer;
  const Tensor& c = g.values[static_cast<size_t>(n.inputs[2])].initializer;
  if (b.rank() != 2 || c.rank() != 1) return false;
  return c.dim(0) == b.dim(n.attr_int("transB", 0) != 0 ? 0 : 1);
}

}  // namespace

OpRole op_role(const Graph& g, const Node& n) {
  OpRole r;
  if (!n.domain.empty()) return r;
  const std::string& op = n.op_type;
  if (op == "Conv" || op == "ConvTranspose") {
    r.kind = OpRole::Kind::kCompute;
    r.inputs = first_inputs(n, 3);
    r.weight = 1;
    // ConvTranspose weights are [C_in, C_out / group, ...]: axis 1 is the output channel only for group 1.
    r.weight_axis = op == "Conv" ? 0 : (n.attr_int("group", 1) == 1 ? 1 : -1);
    if (n.inputs.size() > 2 && n.inputs[2] != kNoValue && is_initializer(g, n.inputs[1])) r.bias = 2;
    if (n.inputs.size() > 2 && r.bias < 0) r.inputs.pop_back();
  } else if (op == "Gemm") {
    r.kind = OpRole::Kind::kCompute;
    r.inputs = {0, 1};
    r.weight = is_initializer(g, n.inputs[1]) ? 1 : -1;
    r.weight_axis = n.attr_int("transB", 0) != 0 ? 0 : 1;
    if (gemm_bias_quantizable(g, n)) {
      r.inputs.push_back(2);
      r.bias = 2;
    }
  } else if (op == "MatMul") {
    r.kind = OpRole::Kind::kCompute;
    r.inputs = {0, 1};
    if (is_initializer(g, n.inputs[1])) {
      r.weight = 1;
      const Tensor& w = g.values[static_cast<size_t>(n.inputs[1])].initializer;
      r.weight_axis = w.rank() == 2 ? 1 : -1;
    }
  } else if (op == "Add" || op == "Mul") {
    r.kind = OpRole::Kind::kCompute;
    r.inputs = {0, 1};
  } else if (op == "AveragePool" || op == "GlobalAveragePool") {
    r.kind = OpRole::Kind::kCompute;
    r.inputs = {0};
  } else if (op == "Concat") {
    r.kind = OpRole::Kind::kCompute;
    r.inputs = first_inputs(n, n.inputs.size());
  } else if (op == "Resize" && n.attr_string("mode", "nearest") == "cubic") {
    r.kind = OpRole::Kind::kCompute;  // cubic interpolation overshoots the input's range: its own scale
    r.inputs = {0};
  } else if (op == "MaxPool" || op == "Reshape" || op == "Transpose" || op == "Flatten" || op == "Squeeze" ||
             op == "Unsqueeze" || op == "Resize") {
    r.kind = OpRole::Kind::kShared;
    r.inputs = {0};
  } else if (op == "Relu" || op == "Clip") {
    r.kind = OpRole::Kind::kActivation;
    r.inputs = {0};
  }
  return r;
}

int QdqPlan::source_of(int v) const {
  for (int hops = 0; hops < 1 << 20; ++hops) {
    auto it = range_source.find(v);
    if (it == range_source.end() || it->second == v) return v;
    v = it->second;
  }
  fail(ErrorCode::kInternal, "cycle in quantization range sources");
}

std::vector<std::string> QdqPlan::calibration_tensors(const Graph& g) const {
  std::set<int> seen;
  std::vector<std::string> names;
  // Every activation's own range too, not only the sources: a plan with more nodes excluded (accuracy-aware search,
  // a ranges file reused with --exclude-node) folds and shares less, and then needs them.
  for (int v : activations) {
    for (int s : {source_of(v), v}) {
      if (seen.insert(s).second) names.push_back(g.values[static_cast<size_t>(s)].name);
    }
  }
  return names;
}

void check_exclusions(const Graph& g, const QuantConfig& config) {
  std::set<std::string> names, ops;
  for (const Node& n : g.nodes) {
    names.insert(n.name);
    ops.insert(n.op_type);
  }
  for (const std::string& name : config.exclude_nodes) {
    EF_CHECK(names.count(name), kInvalidArgument, "--exclude-node '{}': no node of that name in the model", name);
  }
  for (const std::string& op : config.exclude_ops) {
    EF_CHECK(ops.count(op), kInvalidArgument, "--exclude-op '{}': no node of that op type in the model", op);
  }
}

bool derived_node_name(const std::string& name, const std::string& original) {
  if (name.compare(0, original.size(), original) != 0) return false;
  static const std::regex kSuffix("(_[A-Z][A-Za-z]*(_[0-9]+)?)*");
  return std::regex_match(name.begin() + static_cast<std::ptrdiff_t>(original.size()), name.end(), kSuffix);
}

QdqPlan plan_qdq(const Graph& g, const QuantConfig& config) {
  auto excluded = [&](const Node& n) {
    if (config.exclude_ops.count(n.op_type)) return true;
    for (const std::string& name : config.exclude_nodes) {
      if (derived_node_name(n.name, name)) return true;
    }
    return false;
  };
  QdqPlan plan;
  plan.quantized.assign(g.nodes.size(), false);
  plan.folded_into.assign(g.nodes.size(), -1);
  const std::vector<bool> captured = captured_mask(g);
  const std::vector<bool> is_output = graph_output_mask(g);
  const std::vector<int> readers = reader_counts(g);
  std::vector<bool> is_activation(g.values.size(), false);
  auto quantizable_value = [&](int v) {
    return v != kNoValue && is_float32(g, v) && !captured[static_cast<size_t>(v)];
  };
  auto mark = [&](int v) {
    if (!is_activation[static_cast<size_t>(v)]) {
      is_activation[static_cast<size_t>(v)] = true;
      plan.activations.push_back(v);
    }
  };

  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    const OpRole role = op_role(g, n);
    if (role.kind == OpRole::Kind::kNone || n.outputs.empty() || !quantizable_value(n.outputs[0])) continue;
    if (excluded(n)) {
      plan.excluded.push_back(n.label());
      continue;
    }
    const int in0 = n.inputs.empty() ? kNoValue : n.inputs[0];
    if (role.kind == OpRole::Kind::kShared &&
        (in0 == kNoValue || !is_activation[static_cast<size_t>(in0)])) {
      continue;
    }
    if (role.kind == OpRole::Kind::kActivation) {
      // Folded only right after a quantized compute node whose output it alone reads.
      const int p = producer_of(g, in0);
      if (p < 0 || !plan.quantized[static_cast<size_t>(p)] || op_role(g, g.nodes[static_cast<size_t>(p)]).kind !=
                                                                   OpRole::Kind::kCompute ||
          readers[static_cast<size_t>(in0)] != 1 || is_output[static_cast<size_t>(in0)] ||
          is_output[static_cast<size_t>(n.outputs[0])] || n.outputs.size() != 1) {
        continue;
      }
      if (n.op_type == "Clip") {
        bool constant_bounds = true;
        for (size_t i = 1; i < n.inputs.size(); ++i) {
          constant_bounds &= n.inputs[i] == kNoValue || scalar_initializer(g, n.inputs[i]).has_value();
        }
        if (!constant_bounds) continue;
      }
      plan.quantized[ni] = true;
      plan.folded_into[ni] = p;
      plan.range_source[in0] = n.outputs[0];
      mark(n.outputs[0]);
      continue;
    }
    bool ok = true;
    for (int i : role.inputs) {
      const int v = n.inputs[static_cast<size_t>(i)];
      if (v == kNoValue) continue;
      if (!is_float32(g, v) && !(is_initializer(g, v) &&
                                 g.values[static_cast<size_t>(v)].initializer.dtype() == DType::kFloat32)) {
        ok = false;
      }
      if (!is_initializer(g, v) && !quantizable_value(v)) ok = false;
    }
    if (!ok) continue;
    plan.quantized[ni] = true;
    for (int i : role.inputs) {
      const int v = n.inputs[static_cast<size_t>(i)];
      if (v != kNoValue && !is_initializer(g, v)) mark(v);
    }
    mark(n.outputs[0]);
    if (role.kind == OpRole::Kind::kShared) plan.range_source[n.outputs[0]] = in0;
    if (n.op_type == "Add" && config.exact_add_scales) {
      for (int i : role.inputs) {
        const int v = n.inputs[static_cast<size_t>(i)];
        if (v != kNoValue && !is_initializer(g, v)) plan.add_inputs.emplace_back(v, n.outputs[0]);
      }
    }
  }
  return plan;
}

}  // namespace ef
