// Conv and ConvTranspose (opset 1 and 11; the versions differ only in documentation): attribute validation and
// shape inference here, arithmetic in kernels/reference/conv.cpp.
#include <optional>

#include "kernels/reference/conv.h"
#include "ops/conv_pool_family.h"

namespace ef {
namespace {

bool is_transpose(const Node& node) { return node.op_type == "ConvTranspose"; }

std::optional<int64_t> known_dim(const ValueType& t, size_t i) {
  if (!t.has_rank() || i >= t.rank() || !(*t.dims)[i].known()) return std::nullopt;
  return (*t.dims)[i].value;
}

// ConvTranspose's extra attributes, with output_shape reduced to its spatial entries (some exporters write the
// full N, C, spatial... shape).
struct TransposeAttrs {
  std::vector<int64_t> output_padding;
  std::vector<int64_t> output_shape;  // empty when absent
};

TransposeAttrs read_transpose_attrs(const Node& node, const WindowAttrs& window) {
  const size_t nd = window.axes.size();
  TransposeAttrs t;
  t.output_padding = node.attr_ints("output_padding", std::vector<int64_t>(nd, 0));
  EF_CHECK(t.output_padding.size() == nd, kInvalidModel, "{}: output_padding has {} entries for {} spatial axes",
           node.label(), t.output_padding.size(), nd);
  for (size_t i = 0; i < nd; ++i) {
    const WindowAxis& a = window.axes[i];
    int64_t op = t.output_padding[i];
    EF_CHECK(op >= 0 && (op < a.stride || op < a.dilation), kInvalidModel,
             "{}: output_padding {} on spatial axis {} must be smaller than the stride or the dilation", node.label(),
             op, i);
  }
  t.output_shape = node.attr_ints("output_shape");
  if (t.output_shape.size() == nd + 2) t.output_shape.erase(t.output_shape.begin(), t.output_shape.begin() + 2);
  EF_CHECK(t.output_shape.empty() || t.output_shape.size() == nd, kInvalidModel,
           "{}: output_shape has {} entries for {} spatial axes", node.label(), t.output_shape.size(), nd);
  for (int64_t d : t.output_shape) {
    EF_CHECK(d >= 1, kInvalidModel, "{}: output_shape entries must be positive", node.label());
  }
  return t;
}

// Output size of spatial axis `i`, resolving that axis's pads into `window`.
int64_t conv_axis_output(const Node& node, size_t i, int64_t in, WindowAttrs& window, const TransposeAttrs* t) {
  if (!t) return window_axis_output(node, i, in, window);
  std::optional<int64_t> requested;
  if (!t->output_shape.empty()) requested = t->output_shape[i];
  int64_t out = transpose_output_size(in, window.axes[i], t->output_padding[i], window.auto_pad, requested);
  EF_CHECK(out >= 1, kInvalidModel, "{}: ConvTranspose output size {} on spatial axis {} is not positive",
           node.label(), out, i);
  return out;
}

// The kernel size per spatial axis: the kernel_shape attribute, else W's spatial dims (nullopt while unknown).
std::optional<std::vector<int64_t>> conv_kernel_shape(const Node& node, const ValueType& w, size_t nd) {
  std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
  EF_CHECK(kernel.empty() || kernel.size() == nd, kInvalidModel, "{}: kernel_shape has {} entries for {} spatial axes",
           node.label(), kernel.size(), nd);
  for (size_t i = 0; i < nd; ++i) {
    std::optional<int64_t> wd = known_dim(w, i + 2);
    if (kernel.size() == nd) {
      EF_CHECK(!wd || *wd == kernel[i], kInvalidModel, "{}: kernel_shape[{}] = {} but W has {} there", node.label(),
               i, kernel[i], *wd);
    } else if (!wd) {
      return std::nullopt;
    }
  }
  if (kernel.empty()) {
    for (size_t i = 0; i < nd; ++i) kernel.push_back(*known_dim(w, i + 2));
  }
  return kernel;
}

void infer_conv(InferContext& ctx) {
  const Node& node = ctx.node();
  const bool transpose = is_transpose(node);
  const DType dtype = ctx.input_dtype(0);
  check_float_dtype(node, dtype);
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    DType t = ctx.input_dtype(i);
    EF_CHECK(t == DType::kUndefined || dtype == DType::kUndefined || t == dtype, kInvalidModel,
             "{}: input {} is {} but X is {}", node.label(), i, dtype_name(t), dtype_name(dtype));
  }
  const ValueType& x = ctx.input_type(0);
  const ValueType& w = ctx.input_type(1);
  size_t rank = x.has_rank() ? x.rank() : w.has_rank() ? w.rank() : 0;
  if (rank == 0 && node.has_attr("kernel_shape")) rank = node.attr_ints("kernel_shape").size() + 2;
  if (rank == 0) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  EF_CHECK(rank >= 3, kInvalidModel, "{}: X must have rank >= 3 (N, C, spatial...), got rank {}", node.label(), rank);
  EF_CHECK(!x.has_rank() || x.rank() == rank, kInvalidModel, "{}: X has rank {} but W has rank {}", node.label(),
           x.rank(), rank);
  EF_CHECK(!w.has_rank() || w.rank() == rank, kInvalidModel, "{}: W has rank {} but X has rank {}", node.label(),
           w.rank(), rank);
  const size_t nd = rank - 2;
  const int64_t group = node.attr_int("group", 1);
  EF_CHECK(group >= 1, kInvalidModel, "{}: group must be positive, got {}", node.label(), group);

  std::optional<int64_t> c = known_dim(x, 1), w0 = known_dim(w, 0), w1 = known_dim(w, 1);
  Dim out_channels;
  if (!transpose) {  // W: [M, C / group, k...]
    EF_CHECK(!c || *c % group == 0, kInvalidModel, "{}: {} input channels are not divisible by group {}",
             node.label(), *c, group);
    EF_CHECK(!c || !w1 || *c == *w1 * group, kInvalidModel, "{}: X has {} channels but W expects {} x group {}",
             node.label(), *c, *w1, group);
    EF_CHECK(!w0 || *w0 % group == 0, kInvalidModel, "{}: {} output channels are not divisible by group {}",
             node.label(), *w0, group);
    if (w0) out_channels = *w0;
  } else {  // W: [C, M / group, k...]
    EF_CHECK(!c || !w0 || *c == *w0, kInvalidModel, "{}: X has {} channels but W has {}", node.label(), *c, *w0);
    EF_CHECK(!w0 || *w0 % group == 0, kInvalidModel, "{}: {} input channels are not divisible by group {}",
             node.label(), *w0, group);
    if (w1) out_channels = *w1 * group;
  }
  if (ctx.has_input(2) && ctx.input_type(2).has_rank()) {
    const ValueType& b = ctx.input_type(2);
    EF_CHECK(b.rank() == 1, kInvalidModel, "{}: B must be 1-D, got rank {}", node.label(), b.rank());
    std::optional<int64_t> bm = known_dim(b, 0);
    EF_CHECK(!bm || !out_channels.known() || *bm == out_channels.value, kInvalidModel,
             "{}: B has {} entries for {} output channels", node.label(), *bm, out_channels.value);
  }

  Dims out(rank);
  out[0] = x.has_rank() ? (*x.dims)[0] : Dim();
  out[1] = out_channels;
  std::optional<std::vector<int64_t>> kernel = conv_kernel_shape(node, w, nd);
  if (kernel) {
    WindowAttrs window = read_window_attrs(node, *kernel);
    std::optional<TransposeAttrs> t;
    if (transpose) t = read_transpose_attrs(node, window);
    for (size_t i = 0; i < nd; ++i) {
      std::optional<int64_t> in = known_dim(x, i + 2);
      if (in) out[i + 2] = conv_axis_output(node, i, *in, window, t ? &*t : nullptr);
    }
  }
  ctx.set_output(0, dtype, out);
}

void conv_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Tensor& y = ctx.output(0);
  ConvParams p = conv_params(node, x.shape(), w.shape(), y.shape());
  const bool transpose = is_transpose(node);
  run_float_kernel(node, {&x, &w, b}, y, [&](const auto& in, auto* out) {
    if (transpose) {
      conv_transpose_reference(p, in[0], in[1], in[2], out);
    } else {
      conv_reference(p, in[0], in[1], in[2], out);
    }
  });
}

}  // namespace

ConvParams conv_params(const Node& node, const Shape& x, const Shape& w, const Shape& y) {
  const size_t nd = x.size() - 2;
  ValueType wt{DType::kUndefined, dims_of(w)};
  WindowAttrs window = read_window_attrs(node, *conv_kernel_shape(node, wt, nd));
  std::optional<TransposeAttrs> t;
  if (is_transpose(node)) t = read_transpose_attrs(node, window);
  ConvParams p;
  p.batch = x[0];
  p.in_channels = x[1];
  p.out_channels = y[1];
  p.group = node.attr_int("group", 1);
  for (size_t i = 0; i < nd; ++i) {
    int64_t out = conv_axis_output(node, i, x[i + 2], window, t ? &*t : nullptr);
    EF_CHECK(out == y[i + 2], kInternal, "{}: output allocated with {} on spatial axis {}, kernel computes {}",
             node.label(), y[i + 2], i, out);
    p.in_spatial.push_back(x[i + 2]);
    p.out_spatial.push_back(out);
  }
  p.axes = window.axes;
  return p;
}

void register_conv_ops(OpRegistry& r) {
  r.add({"", "Conv", 1, 11, infer_conv, conv_kernel});
  r.add({"", "ConvTranspose", 1, 11, infer_conv, conv_kernel});
}

}  // namespace ef
