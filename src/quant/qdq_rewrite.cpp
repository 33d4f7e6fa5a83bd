// Inserting QuantizeLinear / DequantizeLinear into a planned float graph (see qdq_plan.h for the rules).
#include "quant/qdq_rewrite.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/pass.h"
#include "quant/qparams.h"

namespace ef {
namespace {

Tensor vector_tensor(const std::vector<float>& v, bool scalar) {
  return scalar ? Tensor::scalar<float>(DType::kFloat32, v[0])
                : Tensor::from_vector(DType::kFloat32, {static_cast<int64_t>(v.size())}, v);
}

Tensor zero_point_tensor(const QuantParams& p, bool scalar) {
  const int64_t n = static_cast<int64_t>(p.zero_point.size());
  Tensor t = Tensor::zeros(p.dtype, scalar ? Shape{} : Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    const int32_t z = p.zero_point[static_cast<size_t>(i)];
    if (p.dtype == DType::kInt8) {
      t.data<int8_t>()[i] = static_cast<int8_t>(z);
    } else if (p.dtype == DType::kUInt8) {
      t.data<uint8_t>()[i] = static_cast<uint8_t>(z);
    } else {
      t.data<int32_t>()[i] = z;
    }
  }
  return t;
}

// The smallest float >= x whose mantissa has at most `bits` significant bits.
float round_up_mantissa(float x, int bits) {
  int exp = 0;
  const double m = std::frexp(static_cast<double>(x), &exp);  // x = m * 2^exp, m in [0.5, 1)
  return static_cast<float>(std::ldexp(std::ceil(std::ldexp(m, bits)), exp - bits));
}

// Base of the names of the values and nodes a Q/DQ pair adds: the tensor's name, or for a long one its last path
// segment (uniqueness comes from fresh_name). Each pair repeats its base a dozen times in the file; with exporters'
// 80-character scope paths that outweighed a small model's int8 weights.
std::string compact_base(const std::string& name) {
  constexpr size_t kMax = 32;
  if (name.size() <= kMax) return name;
  const size_t slash = name.find_last_of('/');
  std::string tail = slash == std::string::npos ? name : name.substr(slash + 1);
  if (tail.empty()) tail = name;
  return tail.size() <= kMax ? tail : tail.substr(tail.size() - kMax);
}

class Rewriter {
 public:
  Rewriter(Model& model, const QdqPlan& plan, const RangeMap& ranges, const QuantConfig& config)
      : g_(*model.graph), plan_(plan), config_(config) {
    const int64_t opset = model.opset("");
    EF_CHECK(opset >= 10, kInvalidArgument, "QDQ quantization needs standard opset >= 10, the model has {}", opset);
    qdq_version_ = opset >= 13 ? 13 : 10;
    EF_CHECK(!config.per_channel || qdq_version_ >= 13, kInvalidArgument,
             "per-channel quantization needs standard opset >= 13, the model has {}", opset);
    const std::map<int, QuantParams> by_source = source_params(ranges);
    for (int v : plan.activations) params_[v] = by_source.at(plan.source_of(v));
  }

  // Params per range source. An Add input's scale becomes the smallest integer multiple n of the Add output's scale
  // that covers the input's range (see QdqPlan::add_inputs). Adds are visited last to first so that a residual
  // chain's tensor, output of one Add and input of the next, gets its final scale before its own inputs are fitted.
  std::map<int, QuantParams> source_params(const RangeMap& ranges) const {
    std::map<int, QuantParams> out;
    auto range_of = [&](int s) {
      const std::string& name = g_.values[static_cast<size_t>(s)].name;
      auto it = ranges.find(name);
      EF_CHECK(it != ranges.end(), kInvalidArgument, "no calibration range for tensor '{}'", name);
      return it->second;
    };
    for (int v : plan_.activations) {
      const int s = plan_.source_of(v);
      if (!out.count(s)) out[s] = activation_params(range_of(s), config_.activation_type, config_.symmetric_activations);
    }
    std::set<int> fixed;
    for (auto it = plan_.add_inputs.rbegin(); it != plan_.add_inputs.rend(); ++it) {
      const int a = plan_.source_of(it->first), c = plan_.source_of(it->second);
      if (a == c || fixed.count(a)) continue;
      if (fixed.insert(c).second) {
        // A 16-bit mantissa keeps n * scale exact in float, so the ratio is exactly n.
        out[c] = params_with_scale(range_of(c), config_.activation_type, config_.symmetric_activations,
                                   round_up_mantissa(out[c].scale[0], 16));
      }
      const float sc = out[c].scale[0];
      const float n = std::max(1.0f, std::ceil(out[a].scale[0] / sc * (1 - 1e-6f)));
      out[a] = params_with_scale(range_of(a), config_.activation_type, config_.symmetric_activations, n * sc);
      fixed.insert(a);
    }
    return out;
  }

  QdqReport run() {
    fold_activations();
    for (const Node& n : g_.nodes) node_names_.insert(n.name);
    std::vector<Node> old_nodes = std::move(g_.nodes);
    g_.nodes.clear();
    for (int v : g_.inputs) emit_pair(v);
    for (size_t ni = 0; ni < old_nodes.size(); ++ni) {
      if (removed_[ni]) continue;
      Node n = std::move(old_nodes[ni]);
      const bool quantized = plan_.quantized[ni];
      const OpRole role = quantized ? op_role(g_, n) : OpRole{};
      if (quantized) report_.quantized.push_back(n.label());
      const bool with_bias = quantized && role.bias >= 0;
      if (with_bias) weight_and_bias(n, role);
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const int v = n.inputs[i];
        if (v == kNoValue) continue;
        if (with_bias && (static_cast<int>(i) == role.weight || static_cast<int>(i) == role.bias)) continue;
        const bool listed = std::find(role.inputs.begin(), role.inputs.end(), static_cast<int>(i)) != role.inputs.end();
        if (quantized && listed && g_.values[static_cast<size_t>(v)].initializer.defined()) {
          n.inputs[i] = constant_input(n, role, static_cast<int>(i));
        } else if (auto it = dq_of_.find(v); it != dq_of_.end()) {
          n.inputs[i] = it->second;
        }
      }
      std::vector<int> outs = n.outputs;
      g_.nodes.push_back(std::move(n));
      for (int v : outs) emit_pair(v);
    }
    retarget_outputs();
    refresh_producers(g_);
    return report_;
  }

 private:
  // Removes the Relu/Clip nodes whose clamping the quantized range of their input already does.
  void fold_activations() {
    removed_.assign(g_.nodes.size(), false);
    for (size_t ni = 0; ni < g_.nodes.size(); ++ni) {
      if (plan_.folded_into[ni] < 0) continue;
      const Node& n = g_.nodes[ni];
      float lo = 0, hi = std::numeric_limits<float>::infinity();
      if (n.op_type == "Clip") {
        if (n.version < 11) {
          lo = n.attr_float("min", -std::numeric_limits<float>::infinity());
          hi = n.attr_float("max", std::numeric_limits<float>::infinity());
        } else {
          lo = n.inputs.size() > 1 && n.inputs[1] != kNoValue ? *scalar_initializer(g_, n.inputs[1])
                                                              : -std::numeric_limits<float>::infinity();
          hi = n.inputs.size() > 2 && n.inputs[2] != kNoValue ? *scalar_initializer(g_, n.inputs[2])
                                                              : std::numeric_limits<float>::infinity();
        }
      }
      const int in = n.inputs[0], out = n.outputs[0];
      const TensorRange r = representable_range(params_.at(out));
      const float tol = params_.at(out).scale[0] * 1e-3f;
      if (r.min < lo - tol || r.max > hi + tol) continue;
      removed_[ni] = true;
      report_.folded.push_back(n.label());
      params_.erase(out);
      replace_uses(g_, out, in);
    }
  }

  // Node names must be unique too (ONNX Runtime refuses duplicates).
  std::string node_name(const std::string& base) {
    std::string name = base;
    for (int i = 1; !node_names_.insert(name).second; ++i) name = base + "_" + std::to_string(i);
    return name;
  }

  int add_value(const std::string& base, DType dtype, const ValueType& like) {
    return g_.add_value(fresh_name(g_, base), ValueType{dtype, like.dims});
  }

  // Q -> DQ after activation `v`; every later reader reads the DQ output.
  void emit_pair(int v) {
    auto it = params_.find(v);
    if (it == params_.end() || dq_of_.count(v)) return;
    const QuantParams& p = it->second;
    const std::string name = compact_base(g_.values[static_cast<size_t>(v)].name);
    const ValueType type = g_.values[static_cast<size_t>(v)].type;
    const int scale = add_initializer(g_, name + "_scale", vector_tensor(p.scale, true));
    const int zp = add_initializer(g_, name + "_zp", zero_point_tensor(p, true));
    const int q = add_value(name + "_q", p.dtype, type);
    const int dq = add_value(name + "_dq", DType::kFloat32, type);
    g_.nodes.push_back(make_node(node_name(name + "_Q"), "QuantizeLinear", qdq_version_, {v, scale, zp}, {q}));
    g_.nodes.push_back(make_node(node_name(name + "_DQ"), "DequantizeLinear", qdq_version_, {q, scale, zp}, {dq}));
    dq_of_[v] = dq;
    ++report_.activation_pairs;
  }

  // Integer initializer + DequantizeLinear for constant input `i` of quantized node `n`; returns the DQ output.
  // Quantized constants are shared between nodes reading the same initializer the same way.
  int constant_input(const Node& n, const OpRole& role, int i) {
    const int v = n.inputs[static_cast<size_t>(i)];
    const Value& value = g_.values[static_cast<size_t>(v)];
    const int axis = i == role.weight && config_.per_channel && role.weight_axis >= 0 && value.initializer.rank() > 1
                         ? role.weight_axis : -1;
    const auto key = std::make_pair(v, axis);
    if (auto it = weight_dq_.find(key); it != weight_dq_.end()) return it->second;
    ++report_.weights;
    const std::string name = value.name;  // emit_constant adds values: `value` may move
    const int dq = emit_constant(name, quantize_weight(value.initializer, config_.weight_type, axis, config_.reduce_range));
    weight_dq_[key] = dq;
    return dq;
  }

  // Weight and int32 bias together: the bias scale is input_scale * weight_scale, and a bias too large for int32
  // widens the weight's scales, so this pair is never shared. Sets both inputs of `n`.
  void weight_and_bias(Node& n, const OpRole& role) {
    const size_t wi = static_cast<size_t>(role.weight), bi = static_cast<size_t>(role.bias);
    const Value& w = g_.values[static_cast<size_t>(n.inputs[wi])];
    const Value& b = g_.values[static_cast<size_t>(n.inputs[bi])];
    const QuantParams& in = params_.at(n.inputs[0]);
    const int axis = config_.per_channel && role.weight_axis >= 0 && w.initializer.rank() > 1 ? role.weight_axis : -1;
    QuantizedTensor weight = quantize_weight(w.initializer, config_.weight_type, axis, config_.reduce_range);
    std::vector<float> scales = weight.params.scale;
    QuantizedTensor bias = quantize_bias(b.initializer, in.scale[0], scales);
    if (scales != weight.params.scale) {
      weight.params.scale = scales;
      weight.values = quantize_with(w.initializer, weight.params);
    }
    const std::string wname = w.name, bname = b.name;
    n.inputs[wi] = emit_constant(wname, weight);
    n.inputs[bi] = emit_constant(bname, bias);
    ++report_.weights;
    ++report_.biases;
  }

  int emit_constant(const std::string& full_name, const QuantizedTensor& q) {
    const std::string name = compact_base(full_name);
    const bool scalar = q.params.axis < 0;
    const int data = add_initializer(g_, name + "_quantized", q.values);
    const int scale = add_initializer(g_, name + "_scale", vector_tensor(q.params.scale, scalar));
    std::vector<int> inputs = {data, scale};
    if (q.params.dtype != DType::kInt32) {
      inputs.push_back(add_initializer(g_, name + "_zp", zero_point_tensor(q.params, scalar)));
    }
    const ValueType type = g_.values[static_cast<size_t>(data)].type;
    const int dq = add_value(name + "_dq", DType::kFloat32, type);
    Node node = make_node(node_name(name + "_DQ"), "DequantizeLinear", qdq_version_, inputs, {dq});
    if (!scalar) node.attrs["axis"] = Attribute::of_int(q.params.axis);
    g_.nodes.push_back(std::move(node));
    return dq;
  }

  // Graph outputs that got a Q/DQ pair: the DQ output takes the output's name, so the interface is unchanged.
  void retarget_outputs() {
    for (int& out : g_.outputs) {
      auto it = dq_of_.find(out);
      if (it == dq_of_.end()) continue;
      Value& orig = g_.values[static_cast<size_t>(out)];
      Value& dq = g_.values[static_cast<size_t>(it->second)];
      std::string name = orig.name;
      orig.name = fresh_name(g_, name + "_float");
      dq.name = name;
      dq.type = orig.type;
      out = it->second;
    }
  }

  Graph& g_;
  const QdqPlan& plan_;
  const QuantConfig& config_;
  int qdq_version_ = 13;
  std::map<int, QuantParams> params_;  // activation value -> its Q/DQ params
  std::map<int, int> dq_of_;           // activation value -> DQ output
  std::map<std::pair<int, int>, int> weight_dq_;  // (initializer, axis) -> DQ output
  std::vector<bool> removed_;
  std::set<std::string> node_names_;
  QdqReport report_;
};

}  // namespace

void drop_unused_values(Graph& graph) {
  PassContext ctx;
  make_unused_initializer_elimination()->run(graph, ctx);
  compact_values(graph);
}

QdqReport apply_qdq(Model& model, const QdqPlan& plan, const RangeMap& ranges, const QuantConfig& config) {
  return Rewriter(model, plan, ranges, config).run();
}

}  // namespace ef
