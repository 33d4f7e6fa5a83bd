// ai.edgeforge QLinearAdd: the 8-bit residual add the QDQ fusion pass makes of
// DequantizeLinear(A), DequantizeLinear(B) -> Add -> QuantizeLinear, so a residual block's tensors stay 8-bit.
// Inputs follow ONNX Runtime's com.microsoft QLinearAdd: A, A_scale, A_zero_point, B, B_scale, B_zero_point,
// C_scale, C_zero_point (scalars; zero points optional, uint8 0 when absent; A, B, C each int8 or uint8 per
// its zero point). The reference kernel computes exactly what the replaced graph computes on the reference
// kernels: (A - A_zp) * A_scale + (B - B_zp) * B_scale in float32, divided by C_scale, rounded half to even,
// plus C_zp, saturated. Multidirectional broadcasting as Add. The export's unfuse step writes it back as that graph.
// Also ai.edgeforge QLinearConvAdd, a QLinearConv with such an add of a residual fused in (below).
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "ops/fused.h"
#include "ops/quant_family.h"
#include "ops/registry.h"

namespace ef {
namespace {

enum : size_t { kA, kAScale, kAZp, kB, kBScale, kBZp, kCScale, kCZp };

// The 8-bit type of operand `x` (A, B or C by its zero point's index), checking the scale is a float32 scalar.
DType operand_type(const InferContext& ctx, size_t scale, size_t zp) {
  EF_CHECK(ctx.has_input(scale) && ctx.input_dtype(scale) == DType::kFloat32, kInvalidModel,
           "{}: input {} (a scale) must be float32", ctx.node().label(), scale);
  return ctx.has_input(zp) ? ctx.input_dtype(zp) : DType::kUInt8;
}

void infer_qlinear_add(InferContext& ctx) {
  EF_CHECK(ctx.num_inputs() >= 7 && ctx.has_input(kA) && ctx.has_input(kB), kInvalidModel,
           "{}: QLinearAdd needs A, A_scale, B, B_scale and C_scale", ctx.node().label());
  for (auto [x, s, z] : {std::tuple{kA, kAScale, kAZp}, std::tuple{kB, kBScale, kBZp}}) {
    const DType t = operand_type(ctx, s, z);
    quant_range(t, ctx.node());
    EF_CHECK(ctx.input_dtype(x) == t, kInvalidModel, "{}: input {} is {} but its zero point says {}",
             ctx.node().label(), x, dtype_name(ctx.input_dtype(x)), dtype_name(t));
  }
  const DType out = operand_type(ctx, kCScale, kCZp);
  quant_range(out, ctx.node());
  const ValueType& a = ctx.input_type(kA);
  const ValueType& b = ctx.input_type(kB);
  if (!a.dims || !b.dims) {
    ctx.set_output(0, out, std::nullopt);
    return;
  }
  ctx.set_output(0, out, broadcast_dims(*a.dims, *b.dims, ctx.node()));
}

struct QParam {
  float scale;
  int32_t zp;
};

QParam qparam(const KernelContext& ctx, size_t s, size_t z) {
  const Tensor& scale = ctx.input(s);
  EF_CHECK(scale.dtype() == DType::kFloat32 && scale.numel() == 1, kInvalidModel,
           "{}: input {} (a scale) must be one float32 value", ctx.node().label(), s);
  int32_t zp = 0;
  if (ctx.has_input(z)) {
    const Tensor& t = ctx.input(z);
    EF_CHECK(t.numel() == 1, kInvalidModel, "{}: input {} (a zero point) must be one value", ctx.node().label(), z);
    zp = int32_values(t, ctx.node())[0];
  }
  return {scale.data<float>()[0], zp};
}

float dequantized(const Tensor& x, const QParam& q, int64_t i) {
  const int32_t v = x.dtype() == DType::kInt8 ? x.data<int8_t>()[i] : x.data<uint8_t>()[i];
  return (static_cast<float>(v) - static_cast<float>(q.zp)) * q.scale;  // as DequantizeLinear's reference
}

// The elementwise part of QLinearAdd, y = Q(DQ(a) + DQ(b)) with broadcasting.
void add_quantized(const Tensor& a, const QParam& qa, const Tensor& b, const QParam& qb, const QParam& qc, Tensor& y,
                   const Node& node) {
  const QuantRange range = quant_range(y.dtype(), node);
  const BroadcastIndexer index(y.shape(), {a.shape(), b.shape()});
  int64_t at[2];
  for (int64_t i = 0; i < y.numel(); ++i) {
    index.offsets(i, at);
    // One rounding per step, as the separate DequantizeLinear, Add and QuantizeLinear nodes round.
    const float da = dequantized(a, qa, at[0]);
    const float db = dequantized(b, qb, at[1]);
    const float sum = da + db;
    store_quantized(y, i, quantize_value(static_cast<double>(sum / qc.scale), qc.zp, range));
  }
}

void qlinear_add_kernel(KernelContext& ctx) {
  add_quantized(ctx.input(kA), qparam(ctx, kAScale, kAZp), ctx.input(kB), qparam(ctx, kBScale, kBZp),
                qparam(ctx, kCScale, kCZp), ctx.output(0), ctx.node());
}

// ai.edgeforge QLinearConvAdd: QLinearConv whose 8-bit result feeds a QLinearAdd with a residual R of the same
// shape (qconv-add-fusion), so the fast kernel adds R while the convolution's outputs are still in cache.
// Inputs: QLinearConv's nine (x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B; y_*
// quantize the convolution's own result), then R, R_scale, R_zero_point, C_scale, C_zero_point; attributes:
// QLinearConv's. The result is exactly QLinearAdd(QLinearConv(...), R) (addition commutes in float).
enum : size_t { kConvYScale = 6, kConvY, kR = 9, kRScale, kRZp, kOutScale, kOutZp };

void infer_qlinear_conv_add(InferContext& ctx) {
  EF_CHECK(ctx.num_inputs() >= kOutScale + 1 && ctx.has_input(kConvY) && ctx.has_input(kR), kInvalidModel,
           "{}: QLinearConvAdd needs QLinearConv's inputs, R, R_scale and C_scale", ctx.node().label());
  std::vector<const ValueType*> types;
  std::vector<const Tensor*> values;
  for (size_t i = 0; i < kR; ++i) {
    types.push_back(ctx.has_input(i) ? &ctx.input_type(i) : nullptr);
    values.push_back(ctx.input_value(i));
  }
  std::vector<ValueType> conv_out(1);
  std::vector<Tensor> conv_value(1);
  InferContext conv(ctx.node(), types, values, &conv_out, &conv_value);
  infer_qlinear_conv(conv);
  const DType r = operand_type(ctx, kRScale, kRZp);
  quant_range(r, ctx.node());
  EF_CHECK(ctx.input_dtype(kR) == r, kInvalidModel, "{}: R is {} but its zero point says {}", ctx.node().label(),
           dtype_name(ctx.input_dtype(kR)), dtype_name(r));
  const DType out = operand_type(ctx, kOutScale, kOutZp);
  quant_range(out, ctx.node());
  const ValueType& rt = ctx.input_type(kR);
  const ValueType& ct = conv_out[0];
  EF_CHECK(dims_may_equal(rt, ct), kInvalidModel, "{}: R is {} but the convolution's result is {}",
           ctx.node().label(), rt.str(), ct.str());
  ctx.set_output(0, out, ct.dims ? ct.dims : rt.dims);
}

void qlinear_conv_add_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < kR; ++i) inputs.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
  const Tensor& r = ctx.input(kR);
  Tensor& y = ctx.output(0);
  EF_CHECK(r.shape() == y.shape(), kInvalidModel, "{}: R is {} but the convolution's result is {}", node.label(),
           shape_str(r.shape()), shape_str(y.shape()));
  std::vector<Tensor> conv_out{Tensor::zeros(ctx.input(kConvY).dtype(), y.shape())};
  KernelContext conv(node, inputs, &conv_out, nullptr, ctx.num_threads());
  qlinear_conv_kernel(conv);
  add_quantized(conv_out[0], qparam(ctx, kConvYScale, kConvY), r, qparam(ctx, kRScale, kRZp), qparam(ctx, kOutScale, kOutZp),
                y, node);
}

}  // namespace

void register_quant_add_ops(OpRegistry& r) {
  r.add({kEdgeForgeDomain, "QLinearAdd", 1, 1, infer_qlinear_add, qlinear_add_kernel});
  r.add({kEdgeForgeDomain, "QLinearConvAdd", 1, 1, infer_qlinear_conv_add, qlinear_conv_add_kernel});
}

}  // namespace ef
