// Shape family, part 1: ops that reinterpret a tensor's shape without moving data (Reshape, Flatten, Squeeze,
// Unsqueeze) and ops whose result is metadata or a constant (Shape, Size, Constant, ConstantOfShape, Range).
// Shape/Size/Constant/ConstantOfShape publish their value during inference so that shape-computation chains fold
// while planning.
#include <cmath>
#include <algorithm>
#include <set>
#include <type_traits>

#include "ops/shape_ops_family.h"

namespace ef {
namespace shape_ops {
namespace {

// Copies the whole input 0 into output 0: the kernel of every op that only changes the shape.
void copy_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  EF_CHECK(in.numel() == out.numel(), kInternal, "{}: {} elements cannot be viewed as {}", ctx.node().label(),
           in.numel(), shape_str(out.shape()));
  copy_elems(out.raw(), 0, in.raw(), 0, in.numel(), dtype_size(in.dtype()));
}

// ---- Reshape ----

// Output dims of Reshape for the requested `target` (with ONNX's 0 = copy and -1 = infer rules). The inferred
// dim is computed when the element count is determinable: symbolic input dims cancel against the same symbols
// on the output side (e.g. [batch,3,4] -> [0,-1] gives [batch,12]).
Dims reshape_dims(const Dims& in, const std::vector<int64_t>& target, bool allowzero, const Node& node) {
  Dims out;
  int infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t t = target[i];
    EF_CHECK(t >= -1, kInvalidModel, "{}: invalid target dimension {}", node.label(), t);
    if (t == -1) {
      EF_CHECK(infer_at < 0, kInvalidModel, "{}: more than one -1 in the target shape", node.label());
      infer_at = static_cast<int>(i);
      out.emplace_back();
    } else if (t == 0 && !allowzero) {
      EF_CHECK(i < in.size(), kInvalidModel, "{}: target dim {} is 0 but the input has rank {}", node.label(), i,
               in.size());
      out.push_back(in[i]);
    } else {
      has_zero = has_zero || t == 0;
      out.emplace_back(t);
    }
  }
  EF_CHECK(!(has_zero && infer_at >= 0), kInvalidModel, "{}: allowzero=1 forbids 0 together with -1",
           node.label());

  // Known products of both sides after cancelling matching symbols. Target dims come straight from model data:
  // their product may overflow int64.
  auto times = [&node](int64_t a, int64_t b) {
    int64_t r = 0;
    EF_CHECK(!__builtin_mul_overflow(a, b, &r), kInvalidModel, "{}: shape has more elements than int64 can count",
             node.label());
    return r;
  };
  std::multiset<std::string> in_symbols;
  int64_t in_known = 1;
  bool in_unresolved = false;
  for (const Dim& d : in) {
    if (d.known()) {
      in_known = times(in_known, d.value);
    } else if (!d.param.empty()) {
      in_symbols.insert(d.param);
    } else {
      in_unresolved = true;
    }
  }
  int64_t out_known = 1;
  bool out_unresolved = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (static_cast<int>(i) == infer_at) continue;
    const Dim& d = out[i];
    if (d.known()) {
      out_known = times(out_known, d.value);
    } else if (auto it = in_symbols.find(d.param); !d.param.empty() && it != in_symbols.end()) {
      in_symbols.erase(it);
    } else {
      out_unresolved = true;
    }
  }
  bool resolved = !in_unresolved && !out_unresolved && in_symbols.empty();
  if (infer_at >= 0) {
    if (resolved) {
      EF_CHECK(out_known != 0 && in_known % out_known == 0, kInvalidModel,
               "{}: cannot reshape {} elements into {} with one inferred dim", node.label(), in_known,
               dims_str(out));
      out[static_cast<size_t>(infer_at)] = Dim(in_known / out_known);
    }
  } else if (resolved) {
    EF_CHECK(in_known == out_known, kInvalidModel, "{}: cannot reshape {} into {}", node.label(), dims_str(in),
             dims_str(out));
  }
  return out;
}

void infer_reshape(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  bool allowzero = ctx.version() >= 14 && ctx.node().attr_int("allowzero", 0) != 0;
  std::optional<std::vector<int64_t>> target;
  if (ctx.version() < 5) {
    EF_CHECK(ctx.node().has_attr("shape"), kInvalidModel, "{}: missing attribute 'shape'", ctx.node().label());
    target = ctx.node().attr_ints("shape");
  } else if (const Tensor* t = ctx.require_value_or_null(1)) {
    target = int_values(*t);
  }
  if (!target) {
    std::optional<int64_t> rank = known_length(ctx, 1);
    ctx.set_output(0, dtype, rank ? std::optional<Dims>(Dims(static_cast<size_t>(*rank))) : std::nullopt);
    return;
  }
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {  // rank of the input unknown: only explicit positive sizes are known
    Dims out;
    for (int64_t t : *target) out.push_back(t > 0 || (t == 0 && allowzero) ? Dim(t) : Dim());
    ctx.set_output(0, dtype, out);
    return;
  }
  ctx.set_output(0, dtype, reshape_dims(*in, *target, allowzero, ctx.node()));
}

// ---- Flatten ----

void infer_flatten(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {
    ctx.set_output(0, dtype, Dims(2));
    return;
  }
  int64_t rank = static_cast<int64_t>(in->size());
  int64_t axis = ctx.node().attr_int("axis", 1);
  EF_CHECK(axis >= (ctx.version() >= 11 ? -rank : 0) && axis <= rank, kInvalidModel,
           "{}: axis {} is out of range for rank {}", ctx.node().label(), axis, rank);
  if (axis < 0) axis += rank;
  auto part = [&](size_t begin, size_t end) { return end - begin == 1 ? (*in)[begin] : dims_product(*in, begin, end); };
  ctx.set_output(0, dtype, Dims{part(0, static_cast<size_t>(axis)), part(static_cast<size_t>(axis), in->size())});
}

// ---- Squeeze / Unsqueeze ----

// The axes of Squeeze/Unsqueeze: an attribute up to opset 11, an optional input from 13. nullopt when they are
// given as an input whose value is unknown; an empty vector when absent.
std::optional<std::vector<int64_t>> squeeze_axes(const InferContext& ctx) {
  if (ctx.version() < 13) return ctx.node().attr_ints("axes");
  if (!ctx.has_input(1)) return std::vector<int64_t>{};
  if (const Tensor* t = ctx.input_value(1)) return int_values(*t);
  return std::nullopt;
}

// Normalizes axes against `rank`, rejecting duplicates.
std::vector<int64_t> unique_axes(const std::vector<int64_t>& axes, int64_t rank, const Node& node) {
  std::vector<int64_t> out;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    int64_t n = normalize_axis(a, rank, node);
    EF_CHECK(!seen[static_cast<size_t>(n)], kInvalidModel, "{}: axis {} is repeated", node.label(), a);
    seen[static_cast<size_t>(n)] = true;
    out.push_back(n);
  }
  return out;
}

void infer_squeeze(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  std::optional<Dims> in = input_dims(ctx, 0);
  std::optional<std::vector<int64_t>> axes = squeeze_axes(ctx);
  if (!in || !axes) {
    std::optional<int64_t> n = known_length(ctx, 1);
    if (in && n) {
      ctx.set_output(0, dtype, Dims(in->size() - static_cast<size_t>(std::min<int64_t>(*n, in->size()))));
    } else {
      ctx.set_output(0, dtype, std::nullopt);
    }
    return;
  }
  int64_t rank = static_cast<int64_t>(in->size());
  std::vector<bool> drop(in->size(), false);
  if (axes->empty()) {
    for (size_t i = 0; i < in->size(); ++i) {
      if (!(*in)[i].known()) {  // whether it is 1 decides the rank
        ctx.set_output(0, dtype, std::nullopt);
        return;
      }
      drop[i] = (*in)[i].value == 1;
    }
  } else {
    for (int64_t a : unique_axes(*axes, rank, ctx.node())) {
      const Dim& d = (*in)[static_cast<size_t>(a)];
      EF_CHECK(!d.known() || d.value == 1, kInvalidModel, "{}: cannot squeeze axis {} of size {}",
               ctx.node().label(), a, d.value);
      drop[static_cast<size_t>(a)] = true;
    }
  }
  Dims out;
  for (size_t i = 0; i < in->size(); ++i) {
    if (!drop[i]) out.push_back((*in)[i]);
  }
  ctx.set_output(0, dtype, out);
}

void infer_unsqueeze(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  std::optional<Dims> in = input_dims(ctx, 0);
  std::optional<std::vector<int64_t>> axes = squeeze_axes(ctx);
  EF_CHECK(!axes || !axes->empty() || ctx.version() >= 13, kInvalidModel, "{}: missing attribute 'axes'",
           ctx.node().label());
  EF_CHECK(ctx.version() < 13 || ctx.has_input(1), kInvalidModel, "{}: missing input 'axes'", ctx.node().label());
  if (!in || !axes) {
    std::optional<int64_t> n = known_length(ctx, 1);
    ctx.set_output(0, dtype, in && n ? std::optional<Dims>(Dims(in->size() + static_cast<size_t>(*n))) : std::nullopt);
    return;
  }
  int64_t out_rank = static_cast<int64_t>(in->size() + axes->size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : unique_axes(*axes, out_rank, ctx.node())) inserted[static_cast<size_t>(a)] = true;
  Dims out;
  size_t next = 0;
  for (size_t i = 0; i < inserted.size(); ++i) out.push_back(inserted[i] ? Dim(1) : (*in)[next++]);
  ctx.set_output(0, dtype, out);
}

// ---- Shape / Size ----

void infer_shape(InferContext& ctx) {
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {
    ctx.set_output(0, DType::kInt64, Dims{Dim()});
    return;
  }
  int64_t rank = static_cast<int64_t>(in->size());
  auto clamp_axis = [rank](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
  int64_t start = 0;
  int64_t end = rank;
  if (ctx.version() >= 15) {
    start = clamp_axis(ctx.node().attr_int("start", 0));
    if (ctx.node().has_attr("end")) end = clamp_axis(ctx.node().attr_int("end", rank));
  }
  std::vector<int64_t> values;
  for (int64_t i = start; i < end; ++i) {
    const Dim& d = (*in)[static_cast<size_t>(i)];
    if (!d.known()) {
      ctx.set_output(0, DType::kInt64, Dims{Dim(end - start)});
      return;
    }
    values.push_back(d.value);
  }
  ctx.set_output_value(0, Tensor::from_vector(DType::kInt64, {static_cast<int64_t>(values.size())}, values));
}

void infer_size(InferContext& ctx) {
  std::optional<Dims> in = input_dims(ctx, 0);
  Dim n = in ? dims_product(*in, 0, in->size()) : Dim();
  if (n.known()) {
    ctx.set_output_value(0, Tensor::scalar<int64_t>(DType::kInt64, n.value));
  } else {
    ctx.set_output(0, DType::kInt64, Dims{});
  }
}

// Shape and Size always resolve during inference; their kernel only runs if the executor asks regardless.
void shape_kernel(KernelContext& ctx) {
  const Shape& s = ctx.input(0).shape();
  Tensor& out = ctx.output(0);
  int64_t start = ctx.version() >= 15 ? ctx.node().attr_int("start", 0) : 0;
  int64_t rank = static_cast<int64_t>(s.size());
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  for (int64_t i = 0; i < out.numel(); ++i) out.data<int64_t>()[i] = s[static_cast<size_t>(start + i)];
}

void size_kernel(KernelContext& ctx) { ctx.output(0).data<int64_t>()[0] = ctx.input(0).numel(); }

// ---- Constant ----

Tensor constant_value(const Node& node) {
  EF_CHECK(!node.has_attr("sparse_value"), kUnsupported, "{}: sparse_value is not supported", node.label());
  EF_CHECK(!node.has_attr("value_string") && !node.has_attr("value_strings"), kUnsupported,
           "{}: string constants are not supported", node.label());
  EF_CHECK(node.attrs.size() == 1, kInvalidModel, "{}: exactly one value attribute is required, got {}",
           node.label(), node.attrs.size());
  if (node.has_attr("value")) {
    Tensor t = node.attr_tensor("value");
    EF_CHECK(t.dtype() != DType::kString, kUnsupported, "{}: string constants are not supported", node.label());
    EF_CHECK(dtype_is_supported(t.dtype()), kUnsupported, "{}: constant of type {} is not supported", node.label(),
             dtype_name(t.dtype()));
    return t;
  }
  if (node.has_attr("value_float")) return Tensor::scalar<float>(DType::kFloat32, node.attr_float("value_float", 0));
  if (node.has_attr("value_int")) return Tensor::scalar<int64_t>(DType::kInt64, node.attr_int("value_int", 0));
  if (node.has_attr("value_floats")) {
    std::vector<float> v = node.attr_floats("value_floats");
    return Tensor::from_vector(DType::kFloat32, {static_cast<int64_t>(v.size())}, v);
  }
  if (node.has_attr("value_ints")) {
    std::vector<int64_t> v = node.attr_ints("value_ints");
    return Tensor::from_vector(DType::kInt64, {static_cast<int64_t>(v.size())}, v);
  }
  fail(ErrorCode::kInvalidModel, node.label() + ": unknown value attribute '" + node.attrs.begin()->first + "'");
}

void infer_constant(InferContext& ctx) { ctx.set_output_value(0, constant_value(ctx.node())); }
void constant_kernel(KernelContext& ctx) { ctx.set_output(0, constant_value(ctx.node()).clone()); }

// ---- ConstantOfShape ----

Tensor fill_value(const Node& node) {
  Tensor v = node.attr_tensor("value");
  if (!v.defined()) return Tensor::scalar<float>(DType::kFloat32, 0.0f);
  EF_CHECK(v.numel() == 1, kInvalidModel, "{}: 'value' must hold one element, has {}", node.label(), v.numel());
  EF_CHECK(dtype_is_supported(v.dtype()), kUnsupported, "{}: value of type {} is not supported", node.label(),
           dtype_name(v.dtype()));
  return v;
}

void fill_with(Tensor& out, const Tensor& value) {
  size_t es = dtype_size(out.dtype());
  for (int64_t i = 0; i < out.numel(); ++i) copy_elems(out.raw(), i, value.raw(), 0, 1, es);
}

Shape constant_of_shape_dims(const Tensor& shape, const Node& node) {
  Shape out = int_values(shape);
  for (int64_t d : out) EF_CHECK(d >= 0, kInvalidModel, "{}: negative dimension {} requested", node.label(), d);
  return out;
}

// Outputs up to this many elements are published as values (they feed shape computations); larger ones only as a
// shape, so that inference never allocates what the planner's size limits have not checked yet.
constexpr int64_t kMaxPublishedElements = int64_t{1} << 16;

void infer_constant_of_shape(InferContext& ctx) {
  Tensor value = fill_value(ctx.node());
  if (const Tensor* shape = ctx.input_value(0)) {
    Shape dims = constant_of_shape_dims(*shape, ctx.node());
    if (shape_numel(dims) > kMaxPublishedElements) {
      ctx.set_output(0, value.dtype(), dims_of(dims));
      return;
    }
    Tensor out = Tensor::zeros(value.dtype(), dims);
    fill_with(out, value);
    ctx.set_output_value(0, out);
    return;
  }
  std::optional<int64_t> rank = known_length(ctx, 0);
  ctx.set_output(0, value.dtype(), rank ? std::optional<Dims>(Dims(static_cast<size_t>(*rank))) : std::nullopt);
}

void constant_of_shape_kernel(KernelContext& ctx) { fill_with(ctx.output(0), fill_value(ctx.node())); }

// ---- Range ----

int64_t range_length(const Tensor& start, const Tensor& limit, const Tensor& delta, const Node& node) {
  EF_CHECK(start.numel() == 1 && limit.numel() == 1 && delta.numel() == 1, kInvalidModel,
           "{}: start, limit and delta must be scalars", node.label());
  if (dtype_is_float(start.dtype())) {
    double s = start.value_as_double(0), l = limit.value_as_double(0), d = delta.value_as_double(0);
    EF_CHECK(d != 0, kInvalidArgument, "{}: delta is zero", node.label());
    double n = std::ceil((l - s) / d);
    EF_CHECK(std::isfinite(n) && n < 4e18, kInvalidArgument, "{}: range of {} elements", node.label(), n);
    return n > 0 ? static_cast<int64_t>(n) : 0;
  }
  __int128 s = start.value_as_int(0), l = limit.value_as_int(0), d = delta.value_as_int(0);
  EF_CHECK(d != 0, kInvalidArgument, "{}: delta is zero", node.label());
  __int128 span = l - s;
  if ((span > 0) != (d > 0) || span == 0) return 0;
  if (d < 0) {
    span = -span;
    d = -d;
  }
  return static_cast<int64_t>((span + d - 1) / d);
}

void infer_range(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  const Tensor* s = ctx.input_value(0);
  const Tensor* l = ctx.input_value(1);
  const Tensor* d = ctx.input_value(2);
  if (s && l && d) {
    ctx.set_output(0, dtype, Dims{Dim(range_length(*s, *l, *d, ctx.node()))});
  } else {
    ctx.set_output(0, dtype, Dims{Dim()});
  }
}

void range_kernel(KernelContext& ctx) {
  const Tensor& start = ctx.input(0);
  const Tensor& delta = ctx.input(2);
  Tensor& out = ctx.output(0);
  visit_arith_or_half(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      // Unsigned arithmetic: the last element is within range of T, but i * d alone may not be.
      auto s = static_cast<uint64_t>(start.value_as_int(0));
      auto d = static_cast<uint64_t>(delta.value_as_int(0));
      for (int64_t i = 0; i < out.numel(); ++i) po[i] = static_cast<T>(s + static_cast<uint64_t>(i) * d);
    } else {
      double s = start.value_as_double(0), d = delta.value_as_double(0);
      for (int64_t i = 0; i < out.numel(); ++i) po[i] = static_cast<T>(static_cast<compute_t<T>>(s + i * d));
    }
  });
}

}  // namespace
}  // namespace shape_ops

void register_shape_ops(OpRegistry& r) {
  using namespace shape_ops;
  r.add({"", "Reshape", 1, 14, infer_reshape, copy_kernel});
  r.add({"", "Flatten", 1, 13, infer_flatten, copy_kernel});
  r.add({"", "Squeeze", 1, 13, infer_squeeze, copy_kernel});
  r.add({"", "Unsqueeze", 1, 13, infer_unsqueeze, copy_kernel});
  r.add({"", "Shape", 1, 15, infer_shape, shape_kernel});
  r.add({"", "Size", 1, 13, infer_size, size_kernel});
  r.add({"", "Constant", 1, 13, infer_constant, constant_kernel});
  r.add({"", "ConstantOfShape", 9, 9, infer_constant_of_shape, constant_of_shape_kernel});
  r.add({"", "Range", 11, 11, infer_range, range_kernel});
  register_shape_layout_ops(r);
  register_shape_slice_pad_ops(r);
}

}  // namespace ef
