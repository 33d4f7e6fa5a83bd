// Dynamic quantization rewrite (see dynamic.h).
#include "quant/dynamic.h"

#include <map>
#include <set>

#include <onnx/defs/schema.h>

#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "quant/qparams.h"

namespace ef {
namespace {

// Since-version of a standard op created under the model's opset.
int since_version(const std::string& op, int64_t opset) {
  const onnx::OpSchema* s = onnx::OpSchemaRegistry::Schema(op, static_cast<int>(opset), onnx::ONNX_DOMAIN);
  EF_CHECK(s != nullptr, kUnsupported, "dynamic quantization needs {}, which opset {} lacks", op, opset);
  return s->since_version();
}

Tensor transposed_2d(const Tensor& w) {
  const int64_t rows = w.dim(0), cols = w.dim(1);
  Tensor t = Tensor::zeros(DType::kFloat32, {cols, rows});
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) t.data<float>()[c * rows + r] = w.data<float>()[r * cols + c];
  }
  return t;
}

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}

class DynamicRewriter {
 public:
  DynamicRewriter(Model& model, const QuantConfig& config) : g_(*model.graph), config_(config) {
    opset_ = model.opset("");
    EF_CHECK(opset_ >= 11, kInvalidArgument, "dynamic quantization needs standard opset >= 11, the model has {}",
             opset_);
  }

  DynamicReport run() {
    for (const Node& n : g_.nodes) names_.insert(n.name);
    std::vector<Node> old_nodes = std::move(g_.nodes);
    g_.nodes.clear();
    for (Node& n : old_nodes) {
      const Tensor* w = eligible(n);
      if (w == nullptr) {
        g_.nodes.push_back(std::move(n));
        continue;
      }
      rewrite(n, *w);
    }
    refresh_producers(g_);
    return report_;
  }

 private:
  // The float weight of a MatMul / Gemm that can run as MatMulInteger, or nullptr.
  const Tensor* eligible(const Node& n) {
    if (!n.domain.empty() || (n.op_type != "MatMul" && n.op_type != "Gemm") || n.inputs.size() < 2) return nullptr;
    const Tensor* w = float_initializer(g_, n.inputs[1]);
    if (w == nullptr || w->rank() != 2 || !is_float32(g_, n.inputs[0])) return nullptr;
    if (n.op_type == "Gemm" && n.attr_int("transA", 0) != 0) return nullptr;
    if (config_.exclude_ops.count(n.op_type)) {
      report_.excluded.push_back(n.label());
      return nullptr;
    }
    for (const std::string& name : config_.exclude_nodes) {
      if (derived_node_name(n.name, name)) {
        report_.excluded.push_back(n.label());
        return nullptr;
      }
    }
    return w;
  }

  int emit(const std::string& base, const std::string& op, std::vector<int> inputs, DType out_type) {
    const int out = add_intermediate(g_, base + "_" + op + "_Output", out_type);
    g_.nodes.push_back(make_node(fresh_node_name(base + "_" + op), op, since_version(op, opset_), std::move(inputs),
                                 {out}));
    return out;
  }

  std::string fresh_node_name(const std::string& base) {
    std::string name = base;
    for (int i = 1; !names_.insert(name).second; ++i) name = base + "_" + std::to_string(i);
    return name;
  }

  // x -> DynamicQuantizeLinear, shared by every node reading x.
  struct DynamicInput {
    int q, scale, zero_point;
  };
  DynamicInput quantized_input(int x) {
    if (auto it = inputs_.find(x); it != inputs_.end()) return it->second;
    const std::string base = g_.values[static_cast<size_t>(x)].name;
    DynamicInput d;
    d.q = add_intermediate(g_, base + "_quantized", DType::kUInt8);
    d.scale = add_intermediate(g_, base + "_scale", DType::kFloat32);
    d.zero_point = add_intermediate(g_, base + "_zero_point", DType::kUInt8);
    g_.nodes.push_back(make_node(fresh_node_name(base + "_DynamicQuantizeLinear"), "DynamicQuantizeLinear",
                                 since_version("DynamicQuantizeLinear", opset_), {x}, {d.q, d.scale, d.zero_point}));
    inputs_[x] = d;
    return d;
  }

  void rewrite(const Node& n, const Tensor& weight) {
    report_.nodes.push_back(n.label());
    const bool gemm = n.op_type == "Gemm";
    // MatMulInteger computes x[.., K] x W[K, N]: a Gemm's transposed B is stored transposed back.
    const Tensor w = gemm && n.attr_int("transB", 0) != 0 ? transposed_2d(weight) : weight;
    const std::string wname = g_.values[static_cast<size_t>(n.inputs[1])].name;
    const int axis = config_.per_channel ? 1 : -1;
    QuantizedTensor q = quantize_weight(w, config_.weight_type, axis, config_.reduce_range);
    const bool scalar = axis < 0;
    Tensor zp = Tensor::zeros(q.params.dtype, scalar ? Shape{} : Shape{w.dim(1)});
    for (size_t i = 0; i < q.params.zero_point.size(); ++i) {
      if (q.params.dtype == DType::kInt8) {
        zp.data<int8_t>()[i] = static_cast<int8_t>(q.params.zero_point[i]);
      } else {
        zp.data<uint8_t>()[i] = static_cast<uint8_t>(q.params.zero_point[i]);
      }
    }
    const int wq = add_initializer(g_, wname + "_quantized", q.values);
    const int wzp = add_initializer(g_, wname + "_zero_point", zp);
    const int wscale = add_initializer(
        g_, wname + "_scale",
        scalar ? Tensor::scalar<float>(DType::kFloat32, q.params.scale[0])
               : Tensor::from_vector(DType::kFloat32, {w.dim(1)}, q.params.scale));

    const std::string base = n.name.empty() ? g_.values[static_cast<size_t>(n.outputs[0])].name : n.name;
    const DynamicInput x = quantized_input(n.inputs[0]);
    const int acc = emit(base, "MatMulInteger", {x.q, wq, x.zero_point, wzp}, DType::kInt32);
    const int accf = emit(base, "Cast", {acc}, DType::kFloat32);
    g_.nodes.back().attrs["to"] = int_attr(static_cast<int64_t>(DType::kFloat32));
    float alpha = gemm ? n.attr_float("alpha", 1.0f) : 1.0f;
    int scale = emit(base + "_scales", "Mul", {x.scale, wscale}, DType::kFloat32);
    if (alpha != 1.0f) {
      const int a = add_initializer(g_, base + "_alpha", Tensor::scalar<float>(DType::kFloat32, alpha));
      scale = emit(base + "_alpha", "Mul", {scale, a}, DType::kFloat32);
    }
    const bool has_bias = gemm && n.inputs.size() > 2 && n.inputs[2] != kNoValue;
    const int y = n.outputs[0];
    if (!has_bias) {
      g_.nodes.push_back(make_node(fresh_node_name(base + "_Mul"), "Mul", since_version("Mul", opset_),
                                   {accf, scale}, {y}));
      return;
    }
    const int scaled = emit(base, "Mul", {accf, scale}, DType::kFloat32);
    int bias = n.inputs[2];
    const float beta = n.attr_float("beta", 1.0f);
    if (beta != 1.0f) {
      const int b = add_initializer(g_, base + "_beta", Tensor::scalar<float>(DType::kFloat32, beta));
      bias = emit(base + "_beta", "Mul", {bias, b}, DType::kFloat32);
    }
    g_.nodes.push_back(make_node(fresh_node_name(base + "_Add"), "Add", since_version("Add", opset_),
                                 {scaled, bias}, {y}));
  }

  Graph& g_;
  const QuantConfig& config_;
  int64_t opset_ = 11;
  std::map<int, DynamicInput> inputs_;
  std::set<std::string> names_;
  DynamicReport report_;
};

}  // namespace

DynamicReport quantize_dynamic(Model& model, const QuantConfig& config) {
  return DynamicRewriter(model, config).run();
}

}  // namespace ef
