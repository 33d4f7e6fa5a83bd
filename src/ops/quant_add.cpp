// ai.edgeforge QLinearAdd: the 8-bit residual add the QDQ fusion pass makes of
// DequantizeLinear(A), DequantizeLinear(B) -> Add -> QuantizeLinear, so a residual block's tensors stay 8-bit.
// Inputs follow ONNX Runtime's com.microsoft QLinearAdd: A, A_scale, A_zero_point, B, B_scale, B_zero_point,
// C_scale, C_zero_point (scalars; zero points optional, uint8 0 when absent; A, B, C each int8 or uint8 per
// its zero point). The reference kernel computes exactly what the replaced graph computes on the reference
// kernels: (A - A_zp) * A_scale + (B - B_zp) * B_scale in float32, divided by C_scale, rounded half to even,
// plus C_zp, saturated. Multidirectional broadcasting as Add. The export's unfuse step writes it back as that graph.
#include <cmath>
#include <tuple>

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

void qlinear_add_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(kA);
  const Tensor& b = ctx.input(kB);
  const QParam qa = qparam(ctx, kAScale, kAZp), qb = qparam(ctx, kBScale, kBZp), qc = qparam(ctx, kCScale, kCZp);
  Tensor& y = ctx.output(0);
  const QuantRange range = quant_range(y.dtype(), ctx.node());
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

}  // namespace

void register_quant_add_ops(OpRegistry& r) {
  r.add({kEdgeForgeDomain, "QLinearAdd", 1, 1, infer_qlinear_add, qlinear_add_kernel});
}

}  // namespace ef
