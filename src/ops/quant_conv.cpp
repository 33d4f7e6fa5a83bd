// Quantized convolutions: ConvInteger (int32 output) and QLinearConv (requantized 8-bit output), both on the
// reference integer convolution (kernels/reference/conv_integer.h). The window geometry (pads, strides,
// dilations, auto_pad) follows Conv.
#include <algorithm>
#include <string>

#include "core/dispatch.h"
#include "kernels/reference/conv_integer.h"
#include "ops/quant_family.h"

namespace ef {
namespace {

// Inputs of the two ops: where x, w and their zero points sit.
struct ConvInputs {
  size_t x, w, x_zp, w_zp;
};
constexpr ConvInputs kConvIntegerInputs{0, 1, 2, 3};
constexpr ConvInputs kQLinearConvInputs{0, 3, 2, 5};

// Resolves the attributes against concrete x [N, C, in...] and w [M, C/group, k...] shapes; throws kInvalidModel
// naming the node on anything inconsistent.
ConvIntegerParams conv_params(const Node& node, const Shape& x, const Shape& w) {
  EF_CHECK(x.size() >= 3 && w.size() == x.size(), kInvalidModel, "{}: x {} and w {} must be N-D (N >= 3) of one rank",
           node.label(), shape_str(x), shape_str(w));
  size_t rank = x.size() - 2;
  ConvIntegerParams p;
  p.batch = x[0];
  p.in_channels = x[1];
  p.out_channels = w[0];
  p.group = node.attr_int("group", 1);
  EF_CHECK(p.group >= 1 && p.in_channels == w[1] * p.group && p.out_channels % p.group == 0, kInvalidModel,
           "{}: x {} and w {} do not fit group={}", node.label(), shape_str(x), shape_str(w), p.group);
  p.in_spatial.assign(x.begin() + 2, x.end());
  p.kernel.assign(w.begin() + 2, w.end());
  EF_CHECK(node.attr_ints("kernel_shape", p.kernel) == p.kernel, kInvalidModel,
           "{}: kernel_shape does not match w {}", node.label(), shape_str(w));
  p.strides = node.attr_ints("strides", std::vector<int64_t>(rank, 1));
  p.dilations = node.attr_ints("dilations", std::vector<int64_t>(rank, 1));
  std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * rank, 0));
  EF_CHECK(p.strides.size() == rank && p.dilations.size() == rank && pads.size() == 2 * rank, kInvalidModel,
           "{}: strides, dilations need {} values and pads {}", node.label(), rank, 2 * rank);
  std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  EF_CHECK(auto_pad == "NOTSET" || auto_pad == "VALID" || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER",
           kInvalidModel, "{}: unknown auto_pad '{}'", node.label(), auto_pad);
  p.pads_begin.resize(rank);
  p.out_spatial.resize(rank);
  for (size_t d = 0; d < rank; ++d) {
    EF_CHECK(p.strides[d] >= 1 && p.dilations[d] >= 1 && pads[d] >= 0 && pads[d + rank] >= 0, kInvalidModel,
             "{}: strides and dilations must be positive and pads non-negative", node.label());
    int64_t extent = (p.kernel[d] - 1) * p.dilations[d] + 1;
    int64_t in = p.in_spatial[d];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t out = (in + p.strides[d] - 1) / p.strides[d];
      int64_t total = std::max<int64_t>(0, (out - 1) * p.strides[d] + extent - in);
      p.pads_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      p.out_spatial[d] = out;
    } else {
      int64_t pad_begin = auto_pad == "VALID" ? 0 : pads[d];
      int64_t pad_end = auto_pad == "VALID" ? 0 : pads[d + rank];
      p.pads_begin[d] = pad_begin;
      int64_t span = in + pad_begin + pad_end - extent;
      EF_CHECK(span >= 0, kInvalidModel, "{}: kernel extent {} exceeds padded input size {} on spatial axis {}",
               node.label(), extent, in + pad_begin + pad_end, d);
      p.out_spatial[d] = span / p.strides[d] + 1;
    }
  }
  return p;
}

void infer_conv_common(InferContext& ctx, ConvInputs in, DType out_dtype) {
  std::optional<Shape> x = ctx.input_shape(in.x);
  std::optional<Shape> w = ctx.input_shape(in.w);
  if (x && w) {
    ConvIntegerParams p = conv_params(ctx.node(), *x, *w);
    Shape out = {p.batch, p.out_channels};
    out.insert(out.end(), p.out_spatial.begin(), p.out_spatial.end());
    ctx.set_output(0, out_dtype, out);
    return;
  }
  const ValueType& xt = ctx.input_type(in.x);
  if (!xt.has_rank()) {
    ctx.set_output(0, out_dtype, std::nullopt);
    return;
  }
  Dims out(xt.rank());
  if (!out.empty()) out[0] = (*xt.dims)[0];
  const ValueType& wt = ctx.input_type(in.w);
  if (out.size() > 1 && wt.has_rank() && wt.rank() > 0) out[1] = (*wt.dims)[0];
  ctx.set_output(0, out_dtype, out);
}

// Runs the integer convolution of either op into `acc` ([N, M, out...] int32).
void conv_accumulate(KernelContext& ctx, ConvInputs in, const ConvIntegerParams& p, int32_t* acc) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(in.x);
  const Tensor& w = ctx.input(in.w);
  for (const Tensor* t : {&x, &w}) {
    EF_CHECK(t->dtype() == DType::kInt8 || t->dtype() == DType::kUInt8, kInvalidModel,
             "{}: x and w must be int8 or uint8, got {}", node.label(), dtype_name(t->dtype()));
  }
  int32_t x_zp = 0;
  if (ctx.has_input(in.x_zp)) {
    const Tensor& t = ctx.input(in.x_zp);
    EF_CHECK(t.numel() == 1 && t.dtype() == x.dtype(), kInvalidModel,
             "{}: x_zero_point must be a scalar of x's type", node.label());
    x_zp = int32_values(t, node)[0];
  }
  std::vector<int32_t> w_zp(1, 0);
  if (ctx.has_input(in.w_zp)) {
    const Tensor& t = ctx.input(in.w_zp);
    EF_CHECK(t.dtype() == w.dtype() && t.rank() <= 1 && (t.numel() == 1 || t.numel() == p.out_channels),
             kInvalidModel, "{}: w_zero_point must be a scalar or hold one value per output channel ({}), got {}",
             node.label(), p.out_channels, shape_str(t.shape()));
    w_zp = int32_values(t, node);
  }
  conv_integer_reference(p, x.raw(), x.dtype() == DType::kInt8, x_zp, w.raw(), w.dtype() == DType::kInt8,
                         w_zp.data(), w_zp.size() == 1 ? 0 : 1, acc);
}

void infer_conv_integer(InferContext& ctx) { infer_conv_common(ctx, kConvIntegerInputs, DType::kInt32); }

void conv_integer_kernel(KernelContext& ctx) {
  ConvIntegerParams p = conv_params(ctx.node(), ctx.input(0).shape(), ctx.input(1).shape());
  conv_accumulate(ctx, kConvIntegerInputs, p, ctx.output(0).data<int32_t>());
}

}  // namespace

void infer_qlinear_conv(InferContext& ctx) {
  quant_range(ctx.input_dtype(7), ctx.node());
  infer_conv_common(ctx, kQLinearConvInputs, ctx.input_dtype(7));
}

// y = saturate(round((acc + B[m]) * (x_scale * w_scale[m] / y_scale)) + y_zero_point); the multiplier is formed in
// float32 and applied in double, as QLinearMatMul does.
void qlinear_conv_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  ConvIntegerParams p = conv_params(node, ctx.input(0).shape(), ctx.input(3).shape());
  const Tensor& x_scale = ctx.input(1);
  const Tensor& w_scale = ctx.input(4);
  const Tensor& y_scale = ctx.input(6);
  for (const Tensor* s : {&x_scale, &w_scale, &y_scale}) {
    EF_CHECK(s->dtype() == DType::kFloat32, kInvalidModel, "{}: scales must be float32", node.label());
  }
  EF_CHECK(x_scale.numel() == 1 && y_scale.numel() == 1 && ctx.input(7).numel() == 1, kInvalidModel,
           "{}: x_scale, y_scale and y_zero_point must be scalars", node.label());
  EF_CHECK(w_scale.rank() <= 1 && (w_scale.numel() == 1 || w_scale.numel() == p.out_channels), kInvalidModel,
           "{}: w_scale must be a scalar or hold one value per output channel ({}), got {}", node.label(),
           p.out_channels, shape_str(w_scale.shape()));
  std::vector<int32_t> bias(static_cast<size_t>(p.out_channels), 0);
  if (ctx.has_input(8)) {
    const Tensor& b = ctx.input(8);
    EF_CHECK(b.dtype() == DType::kInt32 && b.numel() == p.out_channels, kInvalidModel,
             "{}: B must be int32 with one value per output channel ({}), got {} {}", node.label(), p.out_channels,
             dtype_name(b.dtype()), shape_str(b.shape()));
    bias = int32_values(b, node);
  }
  Tensor& y = ctx.output(0);
  std::vector<int32_t> acc(static_cast<size_t>(y.numel()));
  conv_accumulate(ctx, kQLinearConvInputs, p, acc.data());
  QuantRange range = quant_range(y.dtype(), node);
  int32_t y_zp = int32_values(ctx.input(7), node)[0];
  float xs = x_scale.data<float>()[0];
  float ys = y_scale.data<float>()[0];
  int64_t per_channel = y.numel() / std::max<int64_t>(1, p.batch * p.out_channels);
  for (int64_t i = 0; i < y.numel(); ++i) {
    int64_t m = (i / per_channel) % p.out_channels;
    float mult = xs * w_scale.data<float>()[w_scale.numel() == 1 ? 0 : m] / ys;
    // int32 wraparound for the bias add, like the accumulation itself
    auto sum = static_cast<int32_t>(static_cast<uint32_t>(acc[static_cast<size_t>(i)]) +
                                    static_cast<uint32_t>(bias[static_cast<size_t>(m)]));
    store_quantized(y, i, quantize_value(static_cast<double>(sum) * mult, y_zp, range));
  }
}

void register_quant_conv_ops(OpRegistry& r) {
  r.add({"", "ConvInteger", 10, 10, infer_conv_integer, conv_integer_kernel});
  r.add({"", "QLinearConv", 10, 10, infer_qlinear_conv, qlinear_conv_kernel});
}

}  // namespace ef
