// Pooling ops: MaxPool (1, 8 Indices/storage_order, 10 ceil_mode/dilations, 11, 12 int8/uint8), AveragePool
// (1, 7 count_include_pad, 10 ceil_mode, 11), LpPool (1 float p, 2 int p, 11), GlobalAveragePool,
// GlobalMaxPool, GlobalLpPool (1, 2) and MaxUnpool (9, 11). Validation and inference here, arithmetic in
// kernels/reference/pool.cpp.
#include <optional>

#include "kernels/reference/pool.h"
#include "ops/conv_pool_family.h"

namespace ef {
namespace {

void check_pool_dtype(const Node& node, DType t) {
  bool int8_ok = node.op_type == "MaxPool";  // int8/uint8 are in MaxPool-12's type list
  EF_CHECK(t == DType::kUndefined || dtype_is_float(t) || (int8_ok && (t == DType::kInt8 || t == DType::kUInt8)),
           kInvalidModel, "{}: unsupported element type {}", node.label(), dtype_name(t));
}

std::vector<int64_t> pool_kernel_shape(const Node& node) {
  std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
  EF_CHECK(!kernel.empty(), kInvalidModel, "{}: kernel_shape is required", node.label());
  return kernel;
}

// The Lp norm's p: a float attribute in opset 1, an int from opset 2 on.
double lp_norm_p(const Node& node) {
  double p = 2.0;
  auto it = node.attrs.find("p");
  if (it != node.attrs.end()) {
    p = it->second.kind == Attribute::Kind::kInt ? static_cast<double>(it->second.i) : node.attr_float("p", 2.0f);
  }
  EF_CHECK(p > 0, kInvalidModel, "{}: p must be positive, got {}", node.label(), p);
  return p;
}

// Output dims of rank `rank` with N and C taken from the input and every spatial dim still unknown.
Dims leading_dims(const ValueType& x, size_t rank) {
  Dims out(rank);
  if (x.has_rank()) {
    out[0] = (*x.dims)[0];
    out[1] = (*x.dims)[1];
  }
  return out;
}

void infer_window_pool(InferContext& ctx) {
  const Node& node = ctx.node();
  const DType dtype = ctx.input_dtype(0);
  check_pool_dtype(node, dtype);
  std::vector<int64_t> kernel = pool_kernel_shape(node);
  const size_t nd = kernel.size();
  WindowAttrs window = read_window_attrs(node, kernel);
  if (node.op_type == "LpPool") lp_norm_p(node);
  if (node.op_type == "MaxPool") {
    int64_t order = node.attr_int("storage_order", 0);
    EF_CHECK(order == 0 || order == 1, kInvalidModel, "{}: storage_order must be 0 or 1, got {}", node.label(), order);
  }
  const ValueType& x = ctx.input_type(0);
  EF_CHECK(!x.has_rank() || x.rank() == nd + 2, kInvalidModel, "{}: X has rank {} but kernel_shape has {} axes",
           node.label(), x.rank(), nd);
  Dims out = leading_dims(x, nd + 2);
  for (size_t i = 0; i < nd; ++i) {
    if (x.has_rank() && (*x.dims)[i + 2].known()) {
      out[i + 2] = window_axis_output(node, i, (*x.dims)[i + 2].value, window);
    }
  }
  ctx.set_output(0, dtype, out);
  if (ctx.num_outputs() > 1 && ctx.has_output(1)) {
    EF_CHECK(node.op_type == "MaxPool" && node.version >= 8, kInvalidModel, "{}: only MaxPool-8+ has an Indices output",
             node.label());
    ctx.set_output(1, DType::kInt64, out);
  }
}

// Kernel parameters from concrete shapes validated by inference just before.
PoolParams pool_params(const Node& node, const Shape& x, const Shape& y) {
  WindowAttrs window = read_window_attrs(node, pool_kernel_shape(node));
  PoolParams p;
  p.batch = x[0];
  p.channels = x[1];
  for (size_t i = 0; i < window.axes.size(); ++i) {
    int64_t out = window_axis_output(node, i, x[i + 2], window);
    EF_CHECK(out == y[i + 2], kInternal, "{}: output allocated with {} on spatial axis {}, kernel computes {}",
             node.label(), y[i + 2], i, out);
    p.in_spatial.push_back(x[i + 2]);
    p.out_spatial.push_back(out);
  }
  p.axes = window.axes;
  return p;
}

void max_pool_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  PoolParams p = pool_params(node, x.shape(), y.shape());
  int64_t* indices = ctx.num_outputs() > 1 && ctx.has_output(1) ? ctx.output(1).data<int64_t>() : nullptr;
  bool column_major = node.attr_int("storage_order", 0) == 1;
  if (x.dtype() == DType::kInt8) {
    max_pool_reference(p, x.data<int8_t>(), y.data<int8_t>(), indices, column_major);
  } else if (x.dtype() == DType::kUInt8) {
    max_pool_reference(p, x.data<uint8_t>(), y.data<uint8_t>(), indices, column_major);
  } else {
    run_float_kernel(node, {&x}, y, [&](const auto& in, auto* out) {
      max_pool_reference(p, in[0], out, indices, column_major);
    });
  }
}

void average_pool_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  PoolParams p = pool_params(node, x.shape(), y.shape());
  bool include_pad = node.version >= 7 && node.attr_int("count_include_pad", 0) != 0;
  run_float_kernel(node, {&x}, y,
                   [&](const auto& in, auto* out) { average_pool_reference(p, include_pad, in[0], out); });
}

void lp_pool_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  PoolParams p = pool_params(node, x.shape(), y.shape());
  double norm_p = lp_norm_p(node);
  run_float_kernel(node, {&x}, y, [&](const auto& in, auto* out) { lp_pool_reference(p, norm_p, in[0], out); });
}

void infer_global_pool(InferContext& ctx) {
  const Node& node = ctx.node();
  const DType dtype = ctx.input_dtype(0);
  check_float_dtype(node, dtype);
  if (node.op_type == "GlobalLpPool") lp_norm_p(node);
  const ValueType& x = ctx.input_type(0);
  if (!x.has_rank()) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  EF_CHECK(x.rank() >= 2, kInvalidModel, "{}: X must have rank >= 2 (N, C, spatial...), got rank {}", node.label(),
           x.rank());
  Dims out(x.rank(), Dim(1));
  out[0] = (*x.dims)[0];
  out[1] = (*x.dims)[1];
  ctx.set_output(0, dtype, out);
}

template <GlobalPoolKind kKind>
void global_pool_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  double norm_p = kKind == GlobalPoolKind::kLp ? lp_norm_p(node) : 2.0;
  int64_t planes = x.dim(0) * x.dim(1);
  int64_t plane_size = planes == 0 ? 0 : x.numel() / planes;
  run_float_kernel(node, {&x}, y, [&](const auto& in, auto* out) {
    global_pool_reference(kKind, norm_p, planes, plane_size, in[0], out);
  });
}

// MaxUnpool's natural output dims: each spatial axis inverts MaxPool's size rule.
std::optional<Shape> unpooled_shape(const Node& node, const ValueType& x, const WindowAttrs& window) {
  std::optional<Shape> known = x.concrete_shape();
  if (!known) return std::nullopt;
  Shape out = *known;
  for (size_t i = 0; i < window.axes.size(); ++i) {
    const WindowAxis& a = window.axes[i];
    out[i + 2] = (out[i + 2] - 1) * a.stride - a.pad_begin - a.pad_end + a.kernel;
    EF_CHECK(out[i + 2] >= 1, kInvalidModel, "{}: unpooled size {} on spatial axis {} is not positive",
             node.label(), out[i + 2], i);
  }
  return out;
}

void infer_max_unpool(InferContext& ctx) {
  const Node& node = ctx.node();
  const DType dtype = ctx.input_dtype(0);
  check_float_dtype(node, dtype);
  for (size_t i = 1; i < 3; ++i) {
    EF_CHECK(!ctx.has_input(i) || ctx.input_dtype(i) == DType::kUndefined || ctx.input_dtype(i) == DType::kInt64,
             kInvalidModel, "{}: input {} must be int64", node.label(), i);
  }
  std::vector<int64_t> kernel = pool_kernel_shape(node);
  const size_t nd = kernel.size();
  WindowAttrs window = read_window_attrs(node, kernel);
  const ValueType& x = ctx.input_type(0);
  const ValueType& idx = ctx.input_type(1);
  EF_CHECK(!x.has_rank() || x.rank() == nd + 2, kInvalidModel, "{}: X has rank {} but kernel_shape has {} axes",
           node.label(), x.rank(), nd);
  if (x.has_rank() && idx.has_rank()) {
    EF_CHECK(x.concrete_shape() == std::nullopt || idx.concrete_shape() == std::nullopt ||
                 x.concrete_shape() == idx.concrete_shape(),
             kInvalidModel, "{}: I has shape {} but X has {}", node.label(), idx.str(), x.str());
  }
  std::optional<Shape> natural = unpooled_shape(node, x, window);
  if (!ctx.has_input(2)) {
    Dims out = leading_dims(x, nd + 2);
    if (natural) out = dims_of(*natural);
    ctx.set_output(0, dtype, out);
    return;
  }
  const Tensor* requested = ctx.input_value(2);
  if (!requested) {  // the size is data: only the rank is known
    ctx.set_output(0, dtype, leading_dims(x, nd + 2));
    return;
  }
  Shape shape = requested->to_int64_vector();
  EF_CHECK(shape.size() == nd + 2, kInvalidModel, "{}: output_shape has {} entries for a rank-{} output",
           node.label(), shape.size(), nd + 2);
  if (natural) {
    for (size_t i = 0; i < shape.size(); ++i) {
      bool ok = i < 2 ? shape[i] == (*natural)[i] : shape[i] >= (*natural)[i];
      EF_CHECK(ok, kInvalidArgument, "{}: output_shape {} cannot hold the unpooled shape {}", node.label(),
               shape_str(shape), shape_str(*natural));
    }
  }
  ctx.set_output(0, dtype, shape);
}

void max_unpool_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& idx = ctx.input(1);
  Tensor& y = ctx.output(0);
  WindowAttrs window = read_window_attrs(node, pool_kernel_shape(node));
  ValueType xt{x.dtype(), dims_of(x.shape())};
  Shape natural = *unpooled_shape(node, xt, window);
  EF_CHECK(idx.shape() == x.shape() && idx.dtype() == DType::kInt64, kInvalidModel,
           "{}: I must be int64 with X's shape {}", node.label(), shape_str(x.shape()));
  max_unpool_reference(natural, y.shape(), x.numel(), x.raw(), idx.data<int64_t>(), dtype_size(x.dtype()), y.raw());
}

}  // namespace

void register_pool_ops(OpRegistry& r) {
  r.add({"", "MaxPool", 1, 12, infer_window_pool, max_pool_kernel});
  r.add({"", "AveragePool", 1, 11, infer_window_pool, average_pool_kernel});
  r.add({"", "LpPool", 1, 11, infer_window_pool, lp_pool_kernel});
  r.add({"", "GlobalAveragePool", 1, 1, infer_global_pool, global_pool_kernel<GlobalPoolKind::kAverage>});
  r.add({"", "GlobalMaxPool", 1, 1, infer_global_pool, global_pool_kernel<GlobalPoolKind::kMax>});
  r.add({"", "GlobalLpPool", 1, 2, infer_global_pool, global_pool_kernel<GlobalPoolKind::kLp>});
  r.add({"", "MaxUnpool", 9, 11, infer_max_unpool, max_unpool_kernel});
}

}  // namespace ef
