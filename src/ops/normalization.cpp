// Normalization ops: BatchNormalization (every version, inference and training mode), InstanceNormalization,
// LayerNormalization, LRN and MeanVarianceNormalization. This file resolves attributes, shapes and parameter
// tensors; the arithmetic lives in kernels/reference/normalization.cpp.
#include <optional>

#include "core/dispatch.h"
#include "kernels/reference/normalization.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

// Dispatches over the element types normalization ops accept.
template <typename F>
void visit_float_dtype(DType t, const Node& node, F&& f) {
  switch (t) {
    case DType::kFloat32: return f(TypeTag<float>{});
    case DType::kFloat64: return f(TypeTag<double>{});
    case DType::kFloat16: return f(TypeTag<Float16>{});
    case DType::kBFloat16: return f(TypeTag<BFloat16>{});
    default: fail(ErrorCode::kInvalidModel, node.label() + ": expects a floating-point tensor, got " + dtype_name(t));
  }
}

void check_float_input(const InferContext& ctx, size_t i) {
  DType t = ctx.input_dtype(i);
  EF_CHECK(dtype_is_float(t), kInvalidModel, "{}: input {} must be floating point, got {}", ctx.node().label(), i,
           dtype_name(t));
}

// A small parameter tensor (scale, bias, statistics) of any float type, widened to double.
std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = t.value_as_double(i);
  return out;
}

std::vector<double> channel_param(const KernelContext& ctx, size_t i, int64_t channels, const char* what) {
  const Tensor& t = ctx.input(i);
  EF_CHECK(t.numel() == channels, kInvalidModel, "{}: {} has shape {}, expected {} elements", ctx.node().label(),
           what, shape_str(t.shape()), channels);
  return as_doubles(t);
}

void write_doubles(const Node& node, Tensor& out, const std::vector<double>& v) {
  visit_float_dtype(out.dtype(), node, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(static_cast<compute_t<T>>(v[i]));
  });
}

// ---- BatchNormalization ----

// Training mode normalizes with batch statistics. Opset 14+ selects it with `training_mode`; earlier versions by
// requesting the optional statistics outputs (exporters emit them exactly when training), which opset 1/6's
// is_test = 1 rules out.
bool batch_norm_training(const Node& node, bool extra_outputs) {
  if (node.version >= 14) {
    bool training = node.attr_int("training_mode", 0) != 0;
    EF_CHECK(training || !extra_outputs, kInvalidModel,
             "{}: running_mean/running_var outputs are only valid with training_mode=1", node.label());
    return training;
  }
  if (node.version <= 6 && node.attr_int("is_test", 0) != 0) {
    EF_CHECK(!extra_outputs, kInvalidModel, "{}: is_test=1 but training outputs (mean, var, saved_*) are requested",
             node.label());
    return false;
  }
  return extra_outputs;
}

size_t batch_norm_extra_outputs(int version) { return version >= 14 ? 2 : 4; }

// X as [N, C, D1*...*Dn]. Non-spatial BN (spatial = 0, opset < 9) keeps statistics per feature (C x D1 x ... Dn)
// rather than per channel, which is the same computation with every feature treated as a channel of size 1.
ChannelView batch_norm_view(const Node& node, const Shape& x, int64_t param_count) {
  EF_CHECK(!x.empty(), kInvalidModel, "{}: X must have rank >= 1", node.label());
  if (x.size() == 1) return {x[0], 1, 1};  // a plain [N] input has one channel
  int64_t inner = 1;
  for (size_t d = 2; d < x.size(); ++d) inner *= x[d];
  bool spatial = node.version >= 9 || node.attr_int("spatial", 1) != 0;
  if (spatial || inner == 1) return {x[0], x[1], inner};
  EF_CHECK(param_count == x[1] * inner, kInvalidModel,
           "{}: with spatial=0, scale/B/mean/var need C x D1 x ... x Dn = {} elements, got {}", node.label(),
           x[1] * inner, param_count);
  return {x[0], x[1] * inner, 1};
}

void infer_batch_norm(InferContext& ctx) {
  const Node& node = ctx.node();
  for (size_t i = 0; i < 5; ++i) {
    EF_CHECK(ctx.has_input(i), kInvalidModel, "{}: input {} is required", node.label(), i);
    check_float_input(ctx, i);
  }
  size_t extra = batch_norm_extra_outputs(node.version);
  bool any_extra = false;
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    EF_CHECK(i <= extra, kInvalidModel, "{}: has {} outputs, at most {} allowed", node.label(), ctx.num_outputs(),
             extra + 1);
    any_extra = any_extra || ctx.has_output(i);
  }
  batch_norm_training(node, any_extra);
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_type(0).dims);
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    if (ctx.has_output(i)) ctx.set_output(i, ctx.input_dtype(3), ctx.input_type(3).dims);
  }
}

void batch_norm_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  bool any_extra = false;
  for (size_t i = 1; i < ctx.num_outputs(); ++i) any_extra = any_extra || ctx.has_output(i);
  bool training = batch_norm_training(node, any_extra);
  ChannelView view = batch_norm_view(node, x.shape(), ctx.input(1).numel());
  std::vector<double> scale = channel_param(ctx, 1, view.channels, "scale");
  std::vector<double> bias = channel_param(ctx, 2, view.channels, "B");
  std::vector<double> mean = channel_param(ctx, 3, view.channels, "mean");
  std::vector<double> var = channel_param(ctx, 4, view.channels, "var");
  double epsilon = node.attr_float("epsilon", 1e-5f);
  std::vector<double> batch_mean(mean.size()), batch_var(var.size());
  visit_float_dtype(x.dtype(), node, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!training) {
      batch_norm_reference(view, x.data<T>(), scale.data(), bias.data(), mean.data(), var.data(), epsilon,
                           ctx.output(0).data<T>());
      return;
    }
    channel_moments_reference(view, x.data<T>(), batch_mean.data(), batch_var.data());
    batch_norm_reference(view, x.data<T>(), scale.data(), bias.data(), batch_mean.data(), batch_var.data(),
                         epsilon, ctx.output(0).data<T>());
  });
  if (!training) return;
  double momentum = node.attr_float("momentum", 0.9f);
  std::vector<double> running_mean(mean.size()), running_var(var.size());
  for (size_t c = 0; c < mean.size(); ++c) {
    running_mean[c] = mean[c] * momentum + batch_mean[c] * (1 - momentum);
    running_var[c] = var[c] * momentum + batch_var[c] * (1 - momentum);
  }
  const std::vector<double>* results[] = {&running_mean, &running_var, &batch_mean, &batch_var};
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    if (ctx.has_output(i)) write_doubles(node, ctx.output(i), *results[i - 1]);
  }
}

// ---- InstanceNormalization ----

void infer_instance_norm(InferContext& ctx) {
  for (size_t i = 0; i < 3; ++i) check_float_input(ctx, i);
  const ValueType& x = ctx.input_type(0);
  EF_CHECK(!x.has_rank() || x.rank() >= 2, kInvalidModel, "{}: input must have rank >= 2, got {}",
           ctx.node().label(), x.str());
  infer_same_as_input(ctx);
}

void instance_norm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ChannelView view{x.dim(0), x.dim(1), shape_numel(Shape(x.shape().begin() + 2, x.shape().end()))};
  std::vector<double> scale = channel_param(ctx, 1, view.channels, "scale");
  std::vector<double> bias = channel_param(ctx, 2, view.channels, "B");
  double epsilon = ctx.node().attr_float("epsilon", 1e-5f);
  visit_float_dtype(x.dtype(), ctx.node(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    instance_norm_reference(view, x.data<T>(), scale.data(), bias.data(), epsilon, ctx.output(0).data<T>());
  });
}

// ---- LayerNormalization ----

// The first normalized axis; ONNX allows [-r, r] (axis r normalizes over no axes at all).
int64_t layer_norm_axis(const Node& node, int64_t rank) {
  int64_t axis = node.attr_int("axis", -1);
  int64_t resolved = axis < 0 ? axis + rank : axis;
  EF_CHECK(resolved >= 0 && resolved <= rank, kInvalidModel, "{}: axis {} out of range for rank {}", node.label(),
           axis, rank);
  return resolved;
}

DType layer_norm_stash_type(const Node& node) {
  int64_t stash = node.attr_int("stash_type", 1);
  auto type = static_cast<DType>(stash);
  EF_CHECK(type == DType::kFloat32 || type == DType::kFloat64 || type == DType::kFloat16 || type == DType::kBFloat16,
           kInvalidModel, "{}: stash_type {} is not a floating-point type", node.label(), stash);
  return type;
}

void infer_layer_norm(InferContext& ctx) {
  const Node& node = ctx.node();
  check_float_input(ctx, 0);
  check_float_input(ctx, 1);
  if (ctx.has_input(2)) check_float_input(ctx, 2);
  DType stash = layer_norm_stash_type(node);
  const ValueType& x = ctx.input_type(0);
  ctx.set_output(0, x.dtype, x.dims);
  std::optional<Dims> stat_dims;
  if (x.has_rank()) {
    int64_t axis = layer_norm_axis(node, static_cast<int64_t>(x.rank()));
    stat_dims = *x.dims;
    for (size_t d = static_cast<size_t>(axis); d < x.rank(); ++d) (*stat_dims)[d] = Dim(1);
  }
  for (size_t i = 1; i < 3; ++i) {
    if (ctx.has_output(i)) ctx.set_output(i, stash, stat_dims);
  }
}

// Scale or B expanded to one value per element of a normalized row. They broadcast against X (NumPy rules);
// varying along the leading, non-normalized axes would make them per-row, which no exporter produces.
std::vector<double> layer_norm_param(const KernelContext& ctx, size_t i, int64_t axis) {
  const Node& node = ctx.node();
  const Shape& x = ctx.input(0).shape();
  const Tensor& p = ctx.input(i);
  EF_CHECK(broadcast_shapes(x, p.shape(), node) == x, kInvalidModel,
           "{}: input {} of shape {} does not broadcast to X {}", node.label(), i, shape_str(p.shape()), shape_str(x));
  size_t row_rank = x.size() - static_cast<size_t>(axis);
  size_t lead = p.rank() > row_rank ? p.rank() - row_rank : 0;
  for (size_t d = 0; d < lead; ++d) {
    EF_CHECK(p.dim(d) == 1, kUnsupported, "{}: input {} of shape {} varies along non-normalized axes", node.label(),
             i, shape_str(p.shape()));
  }
  Shape row(x.begin() + axis, x.end());
  Shape p_row(p.shape().begin() + static_cast<std::ptrdiff_t>(lead), p.shape().end());
  std::vector<double> values = as_doubles(p);
  BroadcastIndexer index(row, {p_row});
  std::vector<double> out(static_cast<size_t>(index.numel()));
  int64_t off = 0;
  for (int64_t k = 0; k < index.numel(); ++k) {
    index.offsets(k, &off);
    out[static_cast<size_t>(k)] = values[static_cast<size_t>(off)];
  }
  return out;
}

void layer_norm_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  int64_t axis = layer_norm_axis(node, static_cast<int64_t>(x.rank()));
  int64_t outer = shape_numel(Shape(x.shape().begin(), x.shape().begin() + axis));
  int64_t inner = shape_numel(Shape(x.shape().begin() + axis, x.shape().end()));
  std::vector<double> scale = layer_norm_param(ctx, 1, axis);
  std::vector<double> bias = ctx.has_input(2) ? layer_norm_param(ctx, 2, axis) : std::vector<double>();
  double epsilon = node.attr_float("epsilon", 1e-5f);
  std::vector<double> mean(static_cast<size_t>(outer)), inv_std_dev(static_cast<size_t>(outer));
  visit_float_dtype(x.dtype(), node, [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer_norm_reference(outer, inner, x.data<T>(), scale.data(), bias.empty() ? nullptr : bias.data(), epsilon,
                         ctx.output(0).data<T>(), mean.data(), inv_std_dev.data());
  });
  if (ctx.has_output(1)) write_doubles(node, ctx.output(1), mean);
  if (ctx.has_output(2)) write_doubles(node, ctx.output(2), inv_std_dev);
}

// ---- LRN ----

void infer_lrn(InferContext& ctx) {
  const Node& node = ctx.node();
  check_float_input(ctx, 0);
  EF_CHECK(node.has_attr("size") && node.attr_int("size", 0) >= 1, kInvalidModel,
           "{}: attribute size must be a positive integer", node.label());
  const ValueType& x = ctx.input_type(0);
  EF_CHECK(!x.has_rank() || x.rank() >= 2, kInvalidModel, "{}: input must have rank >= 2, got {}", node.label(),
           x.str());
  infer_same_as_input(ctx);
}

void lrn_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  ChannelView view{x.dim(0), x.dim(1), shape_numel(Shape(x.shape().begin() + 2, x.shape().end()))};
  int64_t size = node.attr_int("size", 0);
  double alpha = node.attr_float("alpha", 1e-4f);
  double beta = node.attr_float("beta", 0.75f);
  double bias = node.attr_float("bias", 1.0f);
  visit_float_dtype(x.dtype(), node, [&](auto tag) {
    using T = typename decltype(tag)::type;
    lrn_reference(view, size, alpha, beta, bias, x.data<T>(), ctx.output(0).data<T>());
  });
}

// ---- MeanVarianceNormalization ----

std::vector<bool> mvn_reduced_axes(const Node& node, size_t rank) {
  std::vector<bool> reduced(rank, false);
  for (int64_t axis : node.attr_ints("axes", {0, 2, 3})) {
    size_t a = static_cast<size_t>(normalize_axis(axis, static_cast<int64_t>(rank), node));
    EF_CHECK(!reduced[a], kInvalidModel, "{}: axis {} is listed twice", node.label(), axis);
    reduced[a] = true;
  }
  return reduced;
}

void infer_mvn(InferContext& ctx) {
  check_float_input(ctx, 0);
  const ValueType& x = ctx.input_type(0);
  if (x.has_rank()) mvn_reduced_axes(ctx.node(), x.rank());
  infer_same_as_input(ctx);
}

void mvn_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<bool> reduced = mvn_reduced_axes(ctx.node(), x.rank());
  visit_float_dtype(x.dtype(), ctx.node(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    mean_variance_norm_reference(x.shape(), reduced, x.data<T>(), ctx.output(0).data<T>());
  });
}

}  // namespace

void register_normalization_ops(OpRegistry& r) {
  r.add({"", "BatchNormalization", 1, 15, infer_batch_norm, batch_norm_kernel});
  r.add({"", "InstanceNormalization", 1, 6, infer_instance_norm, instance_norm_kernel});
  r.add({"", "LayerNormalization", 17, 17, infer_layer_norm, layer_norm_kernel});
  r.add({"", "LRN", 1, 13, infer_lrn, lrn_kernel});
  r.add({"", "MeanVarianceNormalization", 9, 13, infer_mvn, mvn_kernel});
}

}  // namespace ef
