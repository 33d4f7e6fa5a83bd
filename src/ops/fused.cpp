// The ai.edgeforge op family: fused nodes created by the level-2 optimizer. Each delegates its main computation to
// the standard op's reference kernel (Conv, Gemm, LayerNormalization) and then applies the residual add and the
// activation epilogue in float32, so a fused node computes bit for bit what its unfused standard nodes compute.
#include "ops/fused.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/conv_pool_family.h"
#include "ops/registry.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

struct ActName {
  cpu::ActKind kind;
  const char* name;
  size_t params;  // number of activation_params entries it takes
};

constexpr ActName kActivations[] = {
    {cpu::ActKind::kNone, "", 0},          {cpu::ActKind::kRelu, "Relu", 0},
    {cpu::ActKind::kClip, "Clip", 2},      {cpu::ActKind::kLeakyRelu, "LeakyRelu", 1},
    {cpu::ActKind::kSigmoid, "Sigmoid", 0}, {cpu::ActKind::kHardSigmoid, "HardSigmoid", 2},
    {cpu::ActKind::kHardSwish, "HardSwish", 0}, {cpu::ActKind::kSilu, "Silu", 0},
    {cpu::ActKind::kTanh, "Tanh", 0},      {cpu::ActKind::kGelu, "Gelu", 0},
};

const ActName* find_activation(cpu::ActKind kind) {
  for (const ActName& a : kActivations) {
    if (a.kind == kind) return &a;
  }
  return nullptr;
}

// The standard op a fused node delegates to, with a node copy that standard op accepts (its op type and a version
// inside its implemented range), so version-dependent checks (Gemm's C before opset 11) follow the standard rules.
const OpDef& standard_def(const std::string& op_type) {
  const OpDef* def = OpRegistry::global().find("", op_type);
  EF_CHECK(def != nullptr, kInternal, "fused ops need the standard {} op", op_type);
  return *def;
}

Node as_standard(const Node& fused, const std::string& op_type, int version) {
  Node n = fused;
  n.op_type = op_type;
  n.domain.clear();
  n.version = version;
  n.attrs.erase("activation");
  n.attrs.erase("activation_params");
  return n;
}

void check_float32(const Node& node, DType t) {
  EF_CHECK(t == DType::kUndefined || t == DType::kFloat32, kUnsupported, "{}: fused ops compute float32, got {}",
           node.label(), dtype_name(t));
}

// Runs the standard op's inference on the first `n_inputs` inputs of a fused node; returns the output types.
std::vector<ValueType> infer_as(InferContext& ctx, const std::string& op_type, int version, size_t n_inputs) {
  const Node std_node = as_standard(ctx.node(), op_type, version);
  std::vector<const ValueType*> types;
  std::vector<const Tensor*> values;
  for (size_t i = 0; i < n_inputs && i < ctx.num_inputs(); ++i) {
    types.push_back(ctx.has_input(i) ? &ctx.input_type(i) : nullptr);
    values.push_back(ctx.has_input(i) ? ctx.input_value(i) : nullptr);
  }
  std::vector<ValueType> out_types(ctx.num_outputs());
  std::vector<Tensor> out_values(ctx.num_outputs());
  InferContext inner(std_node, types, values, &out_types, &out_values);
  standard_def(op_type).infer(inner);
  for (size_t i = 0; i < out_types.size(); ++i) {
    if (ctx.has_output(i)) ctx.set_output(i, out_types[i].dtype, out_types[i].dims);
  }
  return out_types;
}

void run_as(KernelContext& ctx, const std::string& op_type, int version, size_t n_inputs) {
  const Node std_node = as_standard(ctx.node(), op_type, version);
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < n_inputs && i < ctx.num_inputs(); ++i) inputs.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < ctx.num_outputs(); ++i) outputs.push_back(ctx.has_output(i) ? ctx.output(i) : Tensor());
  KernelContext inner(std_node, inputs, &outputs, {}, ctx.num_threads());
  standard_def(op_type).kernel(inner);
}

// Y = act(Y + Z) in place; Z (input `z_index`, when the op has one and it is given) has exactly Y's shape.
void epilogue(KernelContext& ctx, std::optional<size_t> z_index) {
  Tensor& y = ctx.output(0);
  const cpu::Activation act = fused_activation(ctx.node());
  float* py = y.data<float>();
  if (z_index && ctx.has_input(*z_index)) {
    const Tensor& z = ctx.input(*z_index);
    EF_CHECK(z.dtype() == DType::kFloat32 && z.shape() == y.shape(), kInvalidModel,
             "{}: residual input Z is {}{} but the result is float32{}", ctx.node().label(), dtype_name(z.dtype()),
             shape_str(z.shape()), shape_str(y.shape()));
    const float* pz = z.data<float>();
    for (int64_t i = 0; i < y.numel(); ++i) py[i] += pz[i];
  }
  if (act.kind != cpu::ActKind::kNone) {
    for (int64_t i = 0; i < y.numel(); ++i) py[i] = cpu::activation_reference(act, py[i]);
  }
}

// Z must have the result's dims wherever both are known (the kernel checks the exact shape).
void check_residual(InferContext& ctx, size_t z_index, const ValueType& y) {
  if (!ctx.has_input(z_index)) return;
  const ValueType& z = ctx.input_type(z_index);
  check_float32(ctx.node(), z.dtype);
  EF_CHECK(dims_may_equal(z, y), kInvalidModel, "{}: residual input Z is {} but the result is {}", ctx.node().label(),
           z.str(), y.str());
}

void infer_fused_conv(InferContext& ctx) {
  fused_activation(ctx.node());
  check_float32(ctx.node(), ctx.input_dtype(0));
  const std::vector<ValueType> y = infer_as(ctx, "Conv", 11, 3);
  check_residual(ctx, 3, y.at(0));
}

void fused_conv_kernel(KernelContext& ctx) {
  check_float32(ctx.node(), ctx.input(0).dtype());
  run_as(ctx, "Conv", 11, 3);
  epilogue(ctx, 3);
}

void infer_fused_gemm(InferContext& ctx) {
  fused_activation(ctx.node());
  check_float32(ctx.node(), ctx.input_dtype(0));
  infer_as(ctx, "Gemm", 13, 3);
}

void fused_gemm_kernel(KernelContext& ctx) {
  check_float32(ctx.node(), ctx.input(0).dtype());
  run_as(ctx, "Gemm", 13, 3);
  epilogue(ctx, std::nullopt);
}

void infer_gelu(InferContext& ctx) {
  check_float32(ctx.node(), ctx.input_dtype(0));
  ctx.set_output(0, DType::kFloat32, ctx.input_type(0).dims);
}

void gelu_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  check_float32(ctx.node(), x.dtype());
  Tensor& y = ctx.output(0);
  const cpu::Activation act{cpu::ActKind::kGelu, 0.0f, 0.0f};
  for (int64_t i = 0; i < x.numel(); ++i) y.data<float>()[i] = cpu::activation_reference(act, x.data<float>()[i]);
}

// LayerNormalization for models below opset 17, with the opset-17 op's inputs, attributes and semantics.
void infer_layer_norm(InferContext& ctx) { infer_as(ctx, "LayerNormalization", 17, 3); }
void layer_norm_kernel(KernelContext& ctx) { run_as(ctx, "LayerNormalization", 17, 3); }

// Conv's output type from the inference of the conv part on the node's first three inputs.
ValueType infer_conv_part(const Node& conv, const std::vector<const ValueType*>& types,
                          const std::vector<const Tensor*>& values) {
  const Node std_node = as_standard(conv, "Conv", 11);
  std::vector<ValueType> out_types(1);
  std::vector<Tensor> out_values(1);
  InferContext inner(std_node, types, values, &out_types, &out_values);
  standard_def("Conv").infer(inner);
  return out_types[0];
}

void check_no_residual(const Node& node, bool has_z) {
  EF_CHECK(!has_z, kInvalidModel, "{}: FusedConvMaxPool takes no residual input Z", node.label());
}

void infer_fused_conv_max_pool(InferContext& ctx) {
  const ConvMaxPoolParts parts = split_conv_max_pool(ctx.node());
  check_no_residual(ctx.node(), ctx.has_input(3));
  fused_activation(parts.conv);
  check_float32(ctx.node(), ctx.input_dtype(0));
  std::vector<const ValueType*> types;
  std::vector<const Tensor*> values;
  for (size_t i = 0; i < 3 && i < ctx.num_inputs(); ++i) {
    types.push_back(ctx.has_input(i) ? &ctx.input_type(i) : nullptr);
    values.push_back(ctx.has_input(i) ? ctx.input_value(i) : nullptr);
  }
  const ValueType conv = infer_conv_part(parts.conv, types, values);
  std::vector<ValueType> out_types(1);
  std::vector<Tensor> out_values(1);
  InferContext pool(parts.pool, {&conv}, {nullptr}, &out_types, &out_values);
  standard_def("MaxPool").infer(pool);
  ctx.set_output(0, out_types[0].dtype, out_types[0].dims);
}

// The conv part into a tensor of its own (FusedConv's reference: Conv, then the activation), then MaxPool.
void fused_conv_max_pool_kernel(KernelContext& ctx) {
  const ConvMaxPoolParts parts = split_conv_max_pool(ctx.node());
  check_no_residual(ctx.node(), ctx.has_input(3));
  check_float32(ctx.node(), ctx.input(0).dtype());
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < 3 && i < ctx.num_inputs(); ++i) inputs.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
  EF_CHECK(inputs.size() >= 2 && inputs[1] != nullptr && ctx.input(0).shape().size() >= 3 &&
               ctx.input(1).shape().size() == ctx.input(0).shape().size(),
           kInvalidModel, "{}: needs X and W of the same rank >= 3", ctx.node().label());
  std::vector<Tensor> conv_out{
      Tensor::zeros(DType::kFloat32, conv_max_pool_conv_shape(ctx.node(), ctx.input(0).shape(), ctx.input(1).shape()))};
  KernelContext conv(parts.conv, inputs, &conv_out, {}, ctx.num_threads());
  fused_conv_kernel(conv);
  std::vector<Tensor> pooled{ctx.output(0)};
  KernelContext pool(parts.pool, {&conv_out[0]}, &pooled, {}, ctx.num_threads());
  standard_def("MaxPool").kernel(pool);
}

void infer_fused_conv_depthwise(InferContext& ctx) {
  const ConvDepthwiseParts parts = split_conv_depthwise(ctx.node());
  EF_CHECK(ctx.num_inputs() >= 4 && ctx.num_inputs() <= 5 && ctx.has_input(3), kInvalidModel,
           "{}: FusedConvDepthwise takes X, W1, B1 (optional), W2, B2 (optional)", ctx.node().label());
  fused_activation(parts.pointwise);
  fused_activation(parts.depthwise);
  check_float32(ctx.node(), ctx.input_dtype(0));
  std::vector<const ValueType*> types;
  std::vector<const Tensor*> values;
  for (size_t i = 0; i < 3; ++i) {
    types.push_back(ctx.has_input(i) ? &ctx.input_type(i) : nullptr);
    values.push_back(ctx.has_input(i) ? ctx.input_value(i) : nullptr);
  }
  const ValueType mid = infer_conv_part(parts.pointwise, types, values);
  const bool b2 = ctx.num_inputs() > 4 && ctx.has_input(4);
  const ValueType y = infer_conv_part(parts.depthwise, {&mid, &ctx.input_type(3), b2 ? &ctx.input_type(4) : nullptr},
                                      {nullptr, ctx.input_value(3), b2 ? ctx.input_value(4) : nullptr});
  ctx.set_output(0, y.dtype, y.dims);
}

// The pointwise part into a tensor of its own (FusedConv's reference: Conv, then the activation), then the
// depthwise part.
void fused_conv_depthwise_kernel(KernelContext& ctx) {
  const ConvDepthwiseParts parts = split_conv_depthwise(ctx.node());
  EF_CHECK(ctx.num_inputs() >= 4 && ctx.num_inputs() <= 5 && ctx.has_input(3), kInvalidModel,
           "{}: FusedConvDepthwise takes X, W1, B1 (optional), W2, B2 (optional)", ctx.node().label());
  check_float32(ctx.node(), ctx.input(0).dtype());
  const Tensor &x = ctx.input(0), &w1 = ctx.input(1);
  EF_CHECK(x.shape().size() >= 3 && w1.shape().size() == x.shape().size(), kInvalidModel,
           "{}: needs X and W1 of the same rank >= 3", ctx.node().label());
  std::vector<Tensor> mid{Tensor::zeros(DType::kFloat32, conv_output_shape(parts.pointwise, x.shape(), w1.shape()))};
  KernelContext pointwise(parts.pointwise, {&x, &w1, ctx.has_input(2) ? &ctx.input(2) : nullptr}, &mid, {},
                          ctx.num_threads());
  fused_conv_kernel(pointwise);
  const bool b2 = ctx.num_inputs() > 4 && ctx.has_input(4);
  std::vector<Tensor> out{ctx.output(0)};
  KernelContext depthwise(parts.depthwise, {&mid[0], &ctx.input(3), b2 ? &ctx.input(4) : nullptr}, &out, {},
                          ctx.num_threads());
  fused_conv_kernel(depthwise);
}

}  // namespace

std::optional<cpu::ActKind> activation_kind_from_name(const std::string& name) {
  for (const ActName& a : kActivations) {
    if (name == a.name) return a.kind;
  }
  return std::nullopt;
}

std::optional<cpu::Activation> activation_of_node(const Node& n,
                                                  const std::function<std::optional<float>(size_t)>& scalar_input) {
  using cpu::ActKind;
  if (n.domain == kEdgeForgeDomain && n.op_type == "Gelu") return cpu::Activation{ActKind::kGelu};
  if (!n.domain.empty()) return std::nullopt;
  if (n.op_type == "Relu") return cpu::Activation{ActKind::kRelu};
  if (n.op_type == "Sigmoid") return cpu::Activation{ActKind::kSigmoid};
  if (n.op_type == "Tanh") return cpu::Activation{ActKind::kTanh};
  if (n.op_type == "HardSwish") return cpu::Activation{ActKind::kHardSwish};
  if (n.op_type == "LeakyRelu") return cpu::Activation{ActKind::kLeakyRelu, n.attr_float("alpha", 0.01f)};
  if (n.op_type == "HardSigmoid") {
    return cpu::Activation{ActKind::kHardSigmoid, n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f)};
  }
  if (n.op_type == "Clip") {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (n.version < 11) return cpu::Activation{ActKind::kClip, n.attr_float("min", -kInf), n.attr_float("max", kInf)};
    cpu::Activation act{ActKind::kClip, -kInf, kInf};
    for (size_t k = 1; k < 3; ++k) {
      if (k >= n.inputs.size() || n.inputs[k] == kNoValue) continue;
      std::optional<float> bound = scalar_input(k);
      if (!bound) return std::nullopt;
      (k == 1 ? act.alpha : act.beta) = *bound;
    }
    return act;
  }
  return std::nullopt;
}

const char* activation_name(cpu::ActKind kind) {
  const ActName* a = find_activation(kind);
  return a != nullptr ? a->name : "?";
}

cpu::Activation fused_activation(const Node& node) {
  const std::string name = node.attr_string("activation", "");
  std::optional<cpu::ActKind> kind = activation_kind_from_name(name);
  EF_CHECK(kind.has_value(), kInvalidModel, "{}: unknown activation '{}'", node.label(), name);
  const std::vector<float> params = node.attr_floats("activation_params");
  const size_t want = find_activation(*kind)->params;
  // LeakyRelu and HardSigmoid fall back to their ONNX defaults; Clip has no sensible default range.
  cpu::Activation act{*kind, 0.0f, 0.0f};
  if (*kind == cpu::ActKind::kLeakyRelu && params.empty()) {
    act.alpha = 0.01f;
    return act;
  }
  if (*kind == cpu::ActKind::kHardSigmoid && params.empty()) {
    act.alpha = 0.2f;
    act.beta = 0.5f;
    return act;
  }
  EF_CHECK(params.size() == want, kInvalidModel, "{}: activation '{}' takes {} activation_params, got {}",
           node.label(), name, want, params.size());
  if (want >= 1) act.alpha = params[0];
  if (want >= 2) act.beta = params[1];
  return act;
}

void set_fused_activation(Node& node, const cpu::Activation& act) {
  Attribute name;
  name.kind = Attribute::Kind::kString;
  name.s = activation_name(act.kind);
  node.attrs["activation"] = name;
  const size_t n = find_activation(act.kind)->params;
  node.attrs.erase("activation_params");
  if (n == 0) return;
  Attribute params;
  params.kind = Attribute::Kind::kFloats;
  params.floats = {act.alpha};
  if (n == 2) params.floats.push_back(act.beta);
  node.attrs["activation_params"] = params;
}

// A two-part fused node's attributes back onto its parts: those named with `prefix` (prefix removed) to `second`,
// the others to `first`.
void split_prefixed_attrs(const Node& fused, const std::string& prefix, Node& first, Node& second) {
  for (const auto& [key, attr] : fused.attrs) {
    if (key.compare(0, prefix.size(), prefix) == 0) {
      second.attrs[key.substr(prefix.size())] = attr;
    } else {
      first.attrs[key] = attr;
    }
  }
}

ConvMaxPoolParts split_conv_max_pool(const Node& fused) {
  ConvMaxPoolParts parts{fused, Node{}};
  Node& conv = parts.conv;
  conv.op_type = "FusedConv";
  conv.attrs.clear();
  if (conv.inputs.size() > 3) conv.inputs.resize(3);
  Node& pool = parts.pool;
  pool.name = fused.name;
  pool.op_type = "MaxPool";
  pool.version = 12;
  pool.inputs = {fused.outputs.empty() ? kNoValue : fused.outputs[0]};
  pool.outputs = pool.inputs;
  split_prefixed_attrs(fused, kPoolAttrPrefix, conv, pool);
  return parts;
}

Shape conv_output_shape(const Node& conv, const Shape& x, const Shape& w) {
  WindowAttrs window = read_window_attrs(conv, std::vector<int64_t>(w.begin() + 2, w.end()));
  Shape y{x[0], w[0]};
  for (size_t i = 2; i < x.size(); ++i) y.push_back(window_axis_output(conv, i - 2, x[i], window));
  return y;
}

Shape conv_max_pool_conv_shape(const Node& fused, const Shape& x, const Shape& w) {
  return conv_output_shape(split_conv_max_pool(fused).conv, x, w);
}

bool conv_max_pool_fusable(const Node& conv, const Shape& x, const Shape& w) {
  // The limits of cpu::DirectSmallCConv (kMaxC, kMaxKernel, kMaxStride), which ops must not include; the CPU
  // provider checks them again and leaves a node outside them to the reference kernels, and
  // tests/kernels/cpu/conv_max_pool_test.cpp checks that both agree.
  constexpr int64_t kMaxC = 4, kMaxKernel = 7, kMaxStride = 4;
  if (x.size() != 4 || w.size() != 4) return false;
  const std::vector<int64_t> strides = conv.attr_ints("strides", {1, 1});
  const std::vector<int64_t> dilations = conv.attr_ints("dilations", {1, 1});
  if (strides.size() != 2 || dilations.size() != 2) return false;
  return conv.attr_int("group", 1) == 1 && x[1] >= 1 && x[1] <= kMaxC && w[1] == x[1] && w[2] >= 1 &&
         w[2] <= kMaxKernel && w[3] >= 1 && w[3] <= kMaxKernel && strides[0] >= 1 && strides[1] >= 1 &&
         strides[1] <= kMaxStride && dilations[0] == 1 && dilations[1] == 1;
}

ConvDepthwiseParts split_conv_depthwise(const Node& fused) {
  ConvDepthwiseParts parts{fused, fused};
  const int y = fused.outputs.empty() ? kNoValue : fused.outputs[0];
  auto input = [&](size_t i) { return i < fused.inputs.size() ? fused.inputs[i] : kNoValue; };
  Node& pw = parts.pointwise;
  pw.op_type = "FusedConv";
  pw.attrs.clear();
  pw.inputs = {input(0), input(1), input(2)};
  pw.outputs = {y};
  Node& dw = parts.depthwise;
  dw.op_type = "FusedConv";
  dw.attrs.clear();
  dw.inputs = {y, input(3), input(4)};
  split_prefixed_attrs(fused, kDepthwiseAttrPrefix, pw, dw);
  return parts;
}

bool conv_depthwise_fusable(const Node& pw, const Shape& x, const Shape& w1, const Node& dw, const Shape& w2) {
  if (x.size() != 4 || w1.size() != 4 || w2.size() != 4) return false;
  // The pointwise part: 1x1, stride 1, no padding, group 1 (a GEMM straight on the input rows).
  const std::vector<int64_t> pw_strides = pw.attr_ints("strides", {1, 1}), pads = pw.attr_ints("pads", {0, 0, 0, 0});
  const bool pointwise = w1[2] == 1 && w1[3] == 1 && w1[1] == x[1] && pw.attr_int("group", 1) == 1 &&
                         pw_strides == std::vector<int64_t>{1, 1} &&
                         std::all_of(pads.begin(), pads.end(), [](int64_t v) { return v == 0; });
  // The depthwise part (cpu::depthwise_band_applicable, which ops must not include): group == channels, a
  // multiple of them out, column stride 1 or 2.
  const std::vector<int64_t> dw_strides = dw.attr_ints("strides", {1, 1});
  const std::vector<int64_t> dilations = dw.attr_ints("dilations", {1, 1});
  const int64_t channels = w1[0];
  const bool depthwise = dw.attr_int("group", 1) == channels && w2[1] == 1 && channels >= 1 &&
                         w2[0] % channels == 0 && dw_strides.size() == 2 && dw_strides[0] >= 1 &&
                         (dw_strides[1] == 1 || dw_strides[1] == 2) && dilations.size() == 2 && dilations[0] >= 1 &&
                         dilations[1] >= 1;
  return pointwise && depthwise;
}

void register_fused_ops(OpRegistry& r) {
  r.add({kEdgeForgeDomain, "FusedConv", 1, 1, infer_fused_conv, fused_conv_kernel});
  r.add({kEdgeForgeDomain, "FusedConvMaxPool", 1, 1, infer_fused_conv_max_pool, fused_conv_max_pool_kernel});
  r.add({kEdgeForgeDomain, "FusedConvDepthwise", 1, 1, infer_fused_conv_depthwise, fused_conv_depthwise_kernel});
  r.add({kEdgeForgeDomain, "FusedGemm", 1, 1, infer_fused_gemm, fused_gemm_kernel});
  r.add({kEdgeForgeDomain, "Gelu", 1, 1, infer_gelu, gelu_kernel});
  r.add({kEdgeForgeDomain, "LayerNormalization", 1, 1, infer_layer_norm, layer_norm_kernel});
}

}  // namespace ef
