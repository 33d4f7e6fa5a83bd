// Linear quantization: QuantizeLinear / DequantizeLinear (per tensor, and per axis since opset 13),
// DynamicQuantizeLinear, and the quantized matmuls MatMulInteger and QLinearMatMul (on the reference integer GEMM).
// Rounding is always half to even; results saturate to the 8-bit output type.
#include <algorithm>
#include <cmath>

#include "core/dispatch.h"
#include "kernels/reference/gemm.h"
#include "ops/linalg_family.h"
#include "ops/quant_family.h"

namespace ef {

QuantRange quant_range(DType t, const Node& node) {
  if (t == DType::kUInt8) return {0, 255};
  if (t == DType::kInt8) return {-128, 127};
  fail(ErrorCode::kInvalidModel,
       fmt::format("{}: quantized type must be int8 or uint8, got {}", node.label(), dtype_name(t)));
}

int32_t quantize_value(double scaled, int32_t zero_point, QuantRange range) {
  if (std::isnan(scaled)) return std::clamp(zero_point, range.lo, range.hi);
  double v = std::nearbyint(scaled) + zero_point;  // default rounding mode: to nearest, ties to even
  return static_cast<int32_t>(std::clamp(v, static_cast<double>(range.lo), static_cast<double>(range.hi)));
}

void store_quantized(Tensor& y, int64_t i, int32_t v) {
  if (y.dtype() == DType::kInt8) {
    y.data<int8_t>()[i] = static_cast<int8_t>(v);
  } else {
    y.data<uint8_t>()[i] = static_cast<uint8_t>(v);
  }
}

std::vector<int32_t> int32_values(const Tensor& t, const Node& node) {
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype()) {
      case DType::kInt8: out[static_cast<size_t>(i)] = t.data<int8_t>()[i]; break;
      case DType::kUInt8: out[static_cast<size_t>(i)] = t.data<uint8_t>()[i]; break;
      case DType::kInt32: out[static_cast<size_t>(i)] = t.data<int32_t>()[i]; break;
      default:
        fail(ErrorCode::kInvalidModel, fmt::format("{}: expected an int8, uint8 or int32 tensor, got {}", node.label(),
                                                   dtype_name(t.dtype())));
    }
  }
  return out;
}

namespace {

// How a scale / zero-point pair maps onto the elements of x: one value, or one per index along `axis`.
struct AxisParams {
  bool per_axis = false;
  int64_t axis_dim = 1;  // x.shape[axis]
  int64_t inner = 1;     // elements after axis
  int64_t index(int64_t flat) const { return per_axis ? (flat / inner) % axis_dim : 0; }
};

AxisParams axis_params(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* zero_point) {
  const Node& node = ctx.node();
  EF_CHECK(scale.dtype() == DType::kFloat32, kInvalidModel, "{}: scale must be float32, got {}", node.label(),
           dtype_name(scale.dtype()));
  if (zero_point) {
    EF_CHECK(zero_point->numel() == scale.numel(), kInvalidModel, "{}: zero point {} and scale {} differ in shape",
             node.label(), shape_str(zero_point->shape()), shape_str(scale.shape()));
  }
  AxisParams p;
  if (scale.numel() == 1 && scale.rank() <= 1) return p;
  EF_CHECK(ctx.version() >= 13 && scale.rank() == 1, kInvalidModel,
           "{}: scale must be a scalar{}, got shape {}", node.label(), ctx.version() >= 13 ? " or 1-D" : "",
           shape_str(scale.shape()));
  int64_t axis = normalize_axis(node.attr_int("axis", 1), static_cast<int64_t>(x.rank()), node);
  p.per_axis = true;
  p.axis_dim = x.dim(static_cast<size_t>(axis));
  for (size_t d = static_cast<size_t>(axis) + 1; d < x.rank(); ++d) p.inner *= x.dim(d);
  EF_CHECK(scale.numel() == p.axis_dim, kInvalidModel, "{}: {} scales for axis {} of size {}", node.label(),
           scale.numel(), axis, p.axis_dim);
  return p;
}

void infer_quantize(InferContext& ctx) {
  DType out = ctx.has_input(2) ? ctx.input_dtype(2) : DType::kUInt8;
  quant_range(out, ctx.node());
  ctx.set_output(0, out, ctx.input_type(0).dims);
}

void quantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Tensor& y = ctx.output(0);
  AxisParams p = axis_params(ctx, x, scale, zp);
  QuantRange range = quant_range(y.dtype(), ctx.node());
  // No zero point: 0 for every channel (per-axis scales without zero points are how int32 biases are stored).
  std::vector<int32_t> zps = zp ? int32_values(*zp, ctx.node()) : std::vector<int32_t>(scale.numel(), 0);
  const float* ps = scale.data<float>();
  auto run = [&](auto divide) {
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t c = p.index(i);
      store_quantized(y, i, quantize_value(divide(i, ps[c]), zps[static_cast<size_t>(c)], range));
    }
  };
  if (x.dtype() == DType::kInt32) {  // int32 / float32 promotes to double, as in NumPy
    run([&](int64_t i, float s) { return static_cast<double>(x.data<int32_t>()[i]) / s; });
  } else {
    EF_CHECK(x.dtype() == DType::kFloat32 || x.dtype() == DType::kFloat16 || x.dtype() == DType::kBFloat16,
             kInvalidModel, "{}: cannot quantize {}", ctx.node().label(), dtype_name(x.dtype()));
    visit_arith_or_half(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      run([&](int64_t i, float s) { return static_cast<double>(static_cast<float>(px[i]) / s); });
    });
  }
}

void infer_dequantize(InferContext& ctx) { ctx.set_output(0, DType::kFloat32, ctx.input_type(0).dims); }

void dequantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Tensor& y = ctx.output(0);
  AxisParams p = axis_params(ctx, x, scale, zp);
  if (zp) {
    EF_CHECK(zp->dtype() == x.dtype(), kInvalidModel, "{}: zero point type {} differs from input type {}",
             ctx.node().label(), dtype_name(zp->dtype()), dtype_name(x.dtype()));
  }
  std::vector<int32_t> xs = int32_values(x, ctx.node());
  std::vector<int32_t> zps = zp ? int32_values(*zp, ctx.node()) : std::vector<int32_t>(scale.numel(), 0);
  const float* ps = scale.data<float>();
  float* py = y.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto c = static_cast<size_t>(p.index(i));
    py[i] = (static_cast<float>(xs[static_cast<size_t>(i)]) - static_cast<float>(zps[c])) * ps[c];
  }
}

void infer_dynamic_quantize(InferContext& ctx) {
  ctx.set_output(0, DType::kUInt8, ctx.input_type(0).dims);
  ctx.set_output(1, DType::kFloat32, Dims{});
  ctx.set_output(2, DType::kUInt8, Dims{});
}

// The ONNX formula in float32: the range is widened to include 0, scale = range / 255, zero point = -min / scale.
// An all-zero (or empty) input has range 0; it gets scale 0 and zero point 0 and quantizes to 0.
void dynamic_quantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  EF_CHECK(x.dtype() == DType::kFloat32, kInvalidModel, "{}: input must be float32, got {}", ctx.node().label(),
           dtype_name(x.dtype()));
  const float* px = x.data<float>();
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    lo = std::min(lo, px[i]);
    hi = std::max(hi, px[i]);
  }
  float scale = (hi - lo) / 255.0f;
  QuantRange range{0, 255};
  int32_t zp = scale == 0 ? 0 : quantize_value(static_cast<double>(0.0f - lo / scale), 0, range);
  Tensor& y = ctx.output(0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int32_t q = scale == 0 ? 0 : quantize_value(static_cast<double>(px[i] / scale), zp, range);
    y.data<uint8_t>()[i] = static_cast<uint8_t>(q);
  }
  if (ctx.has_output(1)) ctx.output(1).data<float>()[0] = scale;
  if (ctx.has_output(2)) ctx.output(2).data<uint8_t>()[0] = static_cast<uint8_t>(zp);
}

// A per-tensor, per-row (of A) or per-column (of B) parameter of a batched quantized matmul: a scalar, a vector
// of M (N) values, or a tensor of shape [batch..., M, 1] ([batch..., 1, N]) whose batch dims broadcast.
struct MatMulParam {
  Shape batch;
  int64_t stride = 0;  // 0: one value for all rows (columns)
  int64_t count = 1;   // values per batch entry
};

MatMulParam matmul_param(const Tensor& t, bool rows, const MatMulGeometry& g, const char* what, const Node& node) {
  MatMulParam p;
  if (t.numel() == 1) return p;
  int64_t n = rows ? g.M : g.N;
  const Shape& s = t.shape();
  size_t r = s.size();
  bool ok = r == 1 ? s[0] == n : r >= 2 && s[r - 2] == (rows ? n : 1) && s[r - 1] == (rows ? 1 : n);
  EF_CHECK(ok, kInvalidModel, "{}: {} of shape {} is neither a scalar nor per-{} for a [{},{}] x [{},{}] product",
           node.label(), what, shape_str(s), rows ? "row" : "column", g.M, g.K, g.K, g.N);
  if (r >= 2) p.batch.assign(s.begin(), s.end() - 2);
  EF_CHECK(broadcast_shapes(g.batch, p.batch, node) == g.batch, kInvalidModel,
           "{}: {} batch dims {} do not broadcast to {}", node.label(), what, shape_str(p.batch), shape_str(g.batch));
  p.stride = 1;
  p.count = n;
  return p;
}

Int8Operand int8_operand(const Tensor& t, int64_t ld, const Node& node) {
  EF_CHECK(t.dtype() == DType::kInt8 || t.dtype() == DType::kUInt8, kInvalidModel,
           "{}: quantized operand must be int8 or uint8, got {}", node.label(), dtype_name(t.dtype()));
  Int8Operand op;
  op.data = t.raw();
  op.is_signed = t.dtype() == DType::kInt8;
  op.ld = ld;
  return op;
}

// Runs the integer GEMM for every batch entry and hands each [M, N] int32 block to `emit(batch, off, acc)`, where
// off holds the batch offsets of: A zero point, B zero point, then each of `extra` (in units of their batch entry).
template <typename Emit>
void batched_igemm(const Tensor& a, const Tensor& b, const Tensor* a_zp, const Tensor* b_zp,
                   const std::vector<MatMulParam>& extra, const MatMulGeometry& g, const Node& node, Emit emit) {
  static const Tensor kNone = Tensor::scalar<int32_t>(DType::kInt32, 0);
  std::vector<int32_t> zpa = int32_values(a_zp ? *a_zp : kNone, node);
  std::vector<int32_t> zpb = int32_values(b_zp ? *b_zp : kNone, node);
  MatMulParam pa = matmul_param(a_zp ? *a_zp : kNone, true, g, "a_zero_point", node);
  MatMulParam pb = matmul_param(b_zp ? *b_zp : kNone, false, g, "b_zero_point", node);
  if (a_zp) EF_CHECK(a_zp->dtype() == a.dtype(), kInvalidModel, "{}: a_zero_point type differs from A", node.label());
  if (b_zp) EF_CHECK(b_zp->dtype() == b.dtype(), kInvalidModel, "{}: b_zero_point type differs from B", node.label());
  std::vector<Shape> shapes = {g.a_batch, g.b_batch, pa.batch, pb.batch};
  for (const MatMulParam& p : extra) shapes.push_back(p.batch);
  BroadcastIndexer batches(g.batch, shapes);
  std::vector<int64_t> off(shapes.size());
  std::vector<int32_t> acc(static_cast<size_t>(g.M * g.N));
  Int8Operand A = int8_operand(a, g.K, node);
  Int8Operand B = int8_operand(b, g.N, node);
  size_t es_a = dtype_size(a.dtype()), es_b = dtype_size(b.dtype());
  for (int64_t i = 0; i < batches.numel(); ++i) {
    batches.offsets(i, off.data());
    A.data = static_cast<const uint8_t*>(a.raw()) + off[0] * g.M * g.K * static_cast<int64_t>(es_a);
    B.data = static_cast<const uint8_t*>(b.raw()) + off[1] * g.K * g.N * static_cast<int64_t>(es_b);
    A.zero_points = zpa.data() + off[2] * pa.count;
    A.zero_point_stride = pa.stride;
    B.zero_points = zpb.data() + off[3] * pb.count;
    B.zero_point_stride = pb.stride;
    igemm_reference(g.M, g.N, g.K, A, B, acc.data(), g.N);
    emit(i, std::vector<int64_t>(off.begin() + 2, off.end()), acc);
  }
}

void infer_matmul_integer(InferContext& ctx) {
  ctx.set_output(0, DType::kInt32, matmul_dims(ctx.input_type(0), ctx.input_type(1), ctx.node()));
}

void matmul_integer_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  MatMulGeometry g = matmul_geometry(a.shape(), b.shape(), ctx.node());
  int32_t* py = ctx.output(0).data<int32_t>();
  batched_igemm(a, b, ctx.has_input(2) ? &ctx.input(2) : nullptr, ctx.has_input(3) ? &ctx.input(3) : nullptr, {}, g,
                ctx.node(), [&](int64_t i, const std::vector<int64_t>&, const std::vector<int32_t>& acc) {
                  std::copy(acc.begin(), acc.end(), py + i * g.M * g.N);
                });
}

void infer_qlinear_matmul(InferContext& ctx) {
  quant_range(ctx.input_dtype(7), ctx.node());
  ctx.set_output(0, ctx.input_dtype(7), matmul_dims(ctx.input_type(0), ctx.input_type(3), ctx.node()));
}

// y = saturate(round(acc * (a_scale * b_scale / y_scale)) + y_zero_point): the multiplier is formed in float32,
// the product in double (int32 x float32 promotes to float64 in NumPy's reference).
void qlinear_matmul_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  const Tensor& a_scale = ctx.input(1);
  const Tensor& b_scale = ctx.input(4);
  const Tensor& y_scale = ctx.input(6);
  const Tensor& y_zp = ctx.input(7);
  for (const Tensor* s : {&a_scale, &b_scale, &y_scale}) {
    EF_CHECK(s->dtype() == DType::kFloat32, kInvalidModel, "{}: scales must be float32", node.label());
  }
  EF_CHECK(y_scale.numel() == 1 && y_zp.numel() == 1, kInvalidModel, "{}: y_scale and y_zero_point must be scalars",
           node.label());
  EF_CHECK(a_scale.numel() == ctx.input(2).numel() && b_scale.numel() == ctx.input(5).numel(), kInvalidModel,
           "{}: each scale must have its zero point's shape", node.label());
  MatMulGeometry g = matmul_geometry(a.shape(), b.shape(), node);
  MatMulParam sa = matmul_param(a_scale, true, g, "a_scale", node);
  MatMulParam sb = matmul_param(b_scale, false, g, "b_scale", node);
  Tensor& y = ctx.output(0);
  QuantRange range = quant_range(y.dtype(), node);
  int32_t zy = int32_values(y_zp, node)[0];
  float ys = y_scale.data<float>()[0];
  const float* pas = a_scale.data<float>();
  const float* pbs = b_scale.data<float>();
  batched_igemm(a, b, &ctx.input(2), &ctx.input(5), {sa, sb}, g, node,
                [&](int64_t i, const std::vector<int64_t>& off, const std::vector<int32_t>& acc) {
                  const float* as = pas + off[2] * sa.count;
                  const float* bs = pbs + off[3] * sb.count;
                  for (int64_t m = 0; m < g.M; ++m) {
                    for (int64_t n = 0; n < g.N; ++n) {
                      float mult = as[m * sa.stride] * bs[n * sb.stride] / ys;
                      double v = static_cast<double>(acc[static_cast<size_t>(m * g.N + n)]) * mult;
                      store_quantized(y, i * g.M * g.N + m * g.N + n, quantize_value(v, zy, range));
                    }
                  }
                });
}

}  // namespace

void register_quant_ops(OpRegistry& r) {
  r.add({"", "QuantizeLinear", 10, 13, infer_quantize, quantize_kernel});
  r.add({"", "DequantizeLinear", 10, 13, infer_dequantize, dequantize_kernel});
  r.add({"", "DynamicQuantizeLinear", 11, 11, infer_dynamic_quantize, dynamic_quantize_kernel});
  r.add({"", "MatMulInteger", 10, 10, infer_matmul_integer, matmul_integer_kernel});
  r.add({"", "QLinearMatMul", 10, 10, infer_qlinear_matmul, qlinear_matmul_kernel});
  register_quant_conv_ops(r);
}

}  // namespace ef
