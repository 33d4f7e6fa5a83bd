// Shape family, part 3: ops that select or synthesize regions -- Slice, Pad, Trilu and EyeLike.
#include <algorithm>
#include <cstring>

#include "ops/shape_ops_family.h"

namespace ef {
namespace shape_ops {
namespace {

// ---- Slice ----

// The starts/ends/axes/steps of a Slice node, one entry per sliced axis (axes normalized, steps defaulted).
struct SliceRequest {
  std::vector<int64_t> starts, ends, axes, steps;
};

// Attributes before opset 10, inputs 1..4 (`in`, all known) after.
SliceRequest slice_request(const Node& node, const std::vector<const Tensor*>& in, size_t rank) {
  SliceRequest r;
  bool has_axes = false;
  if (node.version < 10) {
    EF_CHECK(node.has_attr("starts") && node.has_attr("ends"), kInvalidModel, "{}: missing 'starts' or 'ends'",
             node.label());
    r.starts = node.attr_ints("starts");
    r.ends = node.attr_ints("ends");
    has_axes = node.has_attr("axes");
    r.axes = node.attr_ints("axes");
  } else {
    for (size_t i = 1; i < 3; ++i) EF_CHECK(in[i] != nullptr, kInvalidModel, "{}: missing input {}", node.label(), i);
    r.starts = int_values(*in[1]);
    r.ends = int_values(*in[2]);
    if (in[3] != nullptr) {
      has_axes = true;
      r.axes = int_values(*in[3]);
    }
    if (in[4] != nullptr) r.steps = int_values(*in[4]);
  }
  size_t n = r.starts.size();
  if (!has_axes) {
    r.axes.resize(n);
    for (size_t i = 0; i < n; ++i) r.axes[i] = static_cast<int64_t>(i);
  }
  if (r.steps.empty()) r.steps.assign(n, 1);
  EF_CHECK(r.ends.size() == n && r.axes.size() == n && r.steps.size() == n, kInvalidModel,
           "{}: starts, ends, axes and steps differ in length ({}, {}, {}, {})", node.label(), n, r.ends.size(),
           r.axes.size(), r.steps.size());
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < n; ++i) {
    int64_t a = normalize_axis(r.axes[i], static_cast<int64_t>(rank), node);
    EF_CHECK(!seen[static_cast<size_t>(a)], kInvalidModel, "{}: axis {} is sliced twice", node.label(), a);
    seen[static_cast<size_t>(a)] = true;
    r.axes[i] = a;
    EF_CHECK(r.steps[i] != 0, kInvalidModel, "{}: step of axis {} is zero", node.label(), a);
  }
  return r;
}

// Clamps start/end as ONNX specifies (start to [0, dim] going forward, [0, dim-1] going backward; end to [0, dim]
// or [-1, dim-1]) and returns {start, element count}.
std::pair<int64_t, int64_t> slice_range(int64_t start, int64_t end, int64_t step, int64_t dim) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    return {start, end > start ? 1 + (end - start - 1) / step : 0};
  }
  if (dim == 0) return {0, 0};
  start = std::clamp<int64_t>(start, 0, dim - 1);
  end = std::clamp<int64_t>(end, -1, dim - 1);
  // Divide as 128-bit: negating the step overflows for INT64_MIN.
  return {start, start > end ? static_cast<int64_t>(1 + (start - end - 1) / -static_cast<__int128>(step)) : 0};
}

SliceAxes slice_axes(const SliceRequest& r, const Shape& shape) {
  SliceAxes s{std::vector<int64_t>(shape.size(), 0), std::vector<int64_t>(shape.size(), 1), shape};
  for (size_t i = 0; i < r.axes.size(); ++i) {
    auto a = static_cast<size_t>(r.axes[i]);
    auto [start, count] = slice_range(r.starts[i], r.ends[i], r.steps[i], shape[a]);
    s.start[a] = start;
    s.step[a] = r.steps[i];
    s.count[a] = count;
  }
  return s;
}

std::vector<const Tensor*> slice_inputs(const InferContext& ctx) {
  std::vector<const Tensor*> v(5, nullptr);
  for (size_t i = 1; i < 5; ++i) v[i] = ctx.require_value_or_null(i);
  return v;
}

void infer_slice(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  bool values_known = true;
  if (ctx.version() >= 10) {
    for (size_t i = 1; i < 5; ++i) values_known = values_known && (!ctx.has_input(i) || ctx.input_value(i));
  }
  if (!values_known) {  // which axes change is unknown too
    ctx.set_output(0, dtype, Dims(in->size()));
    return;
  }
  SliceRequest r = slice_request(ctx.node(), slice_inputs(ctx), in->size());
  Dims out = *in;
  for (size_t i = 0; i < r.axes.size(); ++i) {
    Dim& d = out[static_cast<size_t>(r.axes[i])];
    if (d.known()) {
      d = Dim(slice_range(r.starts[i], r.ends[i], r.steps[i], d.value).second);
    } else {
      d = Dim();
    }
  }
  ctx.set_output(0, dtype, out);
}

void slice_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  if (out.numel() == 0) return;
  std::vector<const Tensor*> params(5, nullptr);
  for (size_t i = 1; i < 5; ++i) params[i] = ctx.has_input(i) ? &ctx.input(i) : nullptr;
  SliceAxes s = slice_axes(slice_request(ctx.node(), params, in.rank()), in.shape());
  EF_CHECK(s.count == out.shape(), kInternal, "{}: slice extent {} differs from output {}", ctx.node().label(),
           shape_str(s.count), shape_str(out.shape()));
  std::vector<int64_t> strides = row_major_strides(in.shape());
  size_t es = dtype_size(in.dtype());
  std::vector<int64_t> idx(out.rank(), 0);
  int64_t flat = 0;
  do {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d) src += (s.start[d] + idx[d] * s.step[d]) * strides[d];
    copy_elems(out.raw(), flat++, in.raw(), src, 1, es);
  } while (next_index(idx, out.shape()));
}

// ---- Pad ----

enum class PadMode { kConstant, kReflect, kEdge };

PadMode pad_mode(const Node& node) {
  std::string m = node.attr_string("mode", "constant");
  if (m == "constant") return PadMode::kConstant;
  if (m == "reflect") return PadMode::kReflect;
  if (m == "edge") return PadMode::kEdge;
  fail(ErrorCode::kInvalidModel, fmt::format("{}: unknown pad mode '{}'", node.label(), m));
}

// Pads as [x1_begin, x2_begin, ..., x1_end, x2_end, ...]: attribute 'paddings' (opset 1) or 'pads' (opset 2),
// input 1 from opset 11. nullopt while the input's value is unknown.
std::optional<std::vector<int64_t>> pad_amounts(const Node& node, const Tensor* pads_input, size_t rank) {
  std::vector<int64_t> pads;
  if (node.version < 11) {
    const char* key = node.version < 2 ? "paddings" : "pads";
    EF_CHECK(node.has_attr(key), kInvalidModel, "{}: missing attribute '{}'", node.label(), key);
    pads = node.attr_ints(key);
  } else {
    if (pads_input == nullptr) return std::nullopt;
    pads = int_values(*pads_input);
  }
  EF_CHECK(pads.size() == 2 * rank, kInvalidModel, "{}: {} pads for rank {}", node.label(), pads.size(), rank);
  // No axis can be padded or cropped by 2^40 elements (Tensor::zeros' 1 TiB guard); the bound keeps the sums of
  // pads and dims below overflow.
  constexpr int64_t kMaxPad = int64_t{1} << 40;
  for (int64_t p : pads) {
    EF_CHECK(p >= -kMaxPad && p <= kMaxPad, kInvalidModel, "{}: pad {} is out of range (|pad| <= 2^40)",
             node.label(), p);
  }
  return pads;
}

void infer_pad(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  pad_mode(ctx.node());
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  std::optional<std::vector<int64_t>> pads =
      pad_amounts(ctx.node(), ctx.version() >= 11 ? ctx.require_value_or_null(1) : nullptr, in->size());
  Dims out(in->size());
  for (size_t i = 0; pads && i < in->size(); ++i) {
    const Dim& d = (*in)[i];
    int64_t total = (*pads)[i] + (*pads)[i + in->size()];
    if (total == 0) {
      out[i] = d;
    } else if (d.known()) {
      int64_t padded = 0;
      EF_CHECK(!__builtin_add_overflow(d.value, total, &padded), kInvalidModel,
               "{}: axis {} ({}) padded by {} overflows", ctx.node().label(), i, d.value, total);
      EF_CHECK(padded >= 0, kInvalidModel, "{}: pads {} and {} crop more than axis {} holds ({})",
               ctx.node().label(), (*pads)[i], (*pads)[i + in->size()], i, d.value);
      out[i] = Dim(padded);
    }
  }
  ctx.set_output(0, dtype, out);
}

// The fill value as one element of `dtype`'s bytes: the float attribute 'value' before opset 11, the optional
// scalar input 2 after; zero when absent.
std::vector<uint8_t> pad_fill(const KernelContext& ctx, DType dtype) {
  std::vector<uint8_t> bytes(dtype_size(dtype), 0);
  if (ctx.version() < 11) {
    float v = ctx.node().attr_float("value", 0.0f);
    visit_dtype(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T t = convert_value<T>(v);
      std::memcpy(bytes.data(), &t, sizeof(T));
    });
  } else if (ctx.has_input(2)) {
    const Tensor& v = ctx.input(2);
    EF_CHECK(v.numel() == 1 && v.dtype() == dtype, kInvalidModel, "{}: constant_value must be one {} element",
             ctx.node().label(), dtype_name(dtype));
    std::memcpy(bytes.data(), v.raw(), bytes.size());
  }
  return bytes;
}

// Source index along one axis for output position `o`, or -1 where constant padding applies.
int64_t pad_source(int64_t o, int64_t begin, int64_t n, PadMode mode) {
  int64_t i = o - begin;
  if (i >= 0 && i < n) return i;
  if (mode == PadMode::kConstant) return -1;
  if (mode == PadMode::kEdge) return std::clamp<int64_t>(i, 0, n - 1);
  if (n == 1) return 0;
  int64_t period = 2 * (n - 1);  // reflection without repeating the edge: 0 1 .. n-1 n-2 .. 1 0 1 ...
  i = ((i % period) + period) % period;
  return i < n ? i : period - i;
}

void pad_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  PadMode mode = pad_mode(ctx.node());
  std::vector<int64_t> pads = *pad_amounts(ctx.node(), ctx.has_input(1) ? &ctx.input(1) : nullptr, in.rank());
  std::vector<uint8_t> fill = pad_fill(ctx, in.dtype());
  if (out.numel() == 0) return;
  // Per axis, the source index of every output position; -1 marks padding.
  std::vector<std::vector<int64_t>> source(in.rank());
  for (size_t d = 0; d < in.rank(); ++d) {
    EF_CHECK(in.dim(d) > 0 || mode == PadMode::kConstant, kInvalidArgument,
             "{}: cannot pad the empty axis {} in {} mode", ctx.node().label(), d, ctx.node().attr_string("mode", ""));
    for (int64_t o = 0; o < out.dim(d); ++o) source[d].push_back(pad_source(o, pads[d], in.dim(d), mode));
  }
  std::vector<int64_t> strides = row_major_strides(in.shape());
  size_t es = dtype_size(in.dtype());
  std::vector<int64_t> idx(out.rank(), 0);
  int64_t flat = 0;
  do {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size() && src >= 0; ++d) {
      int64_t s = source[d][static_cast<size_t>(idx[d])];
      src = s < 0 ? -1 : src + s * strides[d];
    }
    if (src < 0) {
      copy_elems(out.raw(), flat, fill.data(), 0, 1, es);
    } else {
      copy_elems(out.raw(), flat, in.raw(), src, 1, es);
    }
    ++flat;
  } while (next_index(idx, out.shape()));
}

// ---- Trilu / EyeLike ----

void infer_trilu(InferContext& ctx) {
  const ValueType& t = ctx.input_type(0);
  EF_CHECK(!t.dims || t.dims->size() >= 2, kInvalidModel, "{}: input must have rank >= 2, got {}",
           ctx.node().label(), t.rank());
  ctx.set_output(0, t.dtype, t.dims);
}

void trilu_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  bool upper = ctx.node().attr_int("upper", 1) != 0;
  int64_t k = 0;
  if (ctx.has_input(1)) {
    EF_CHECK(ctx.input(1).numel() == 1, kInvalidModel, "{}: k must be a scalar", ctx.node().label());
    k = ctx.input(1).value_as_int(0);
  }
  std::memset(out.raw(), 0, out.nbytes());
  if (out.numel() == 0) return;
  int64_t rows = in.dim(in.rank() - 2), cols = in.dim(in.rank() - 1);
  size_t es = dtype_size(in.dtype());
  for (int64_t base = 0; base < in.numel(); base += rows * cols) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) copy_elems(out.raw(), base + i * cols + j, in.raw(), base + i * cols + j, 1, es);
      }
    }
  }
}

DType eyelike_dtype(const Node& node, DType input) {
  if (!node.has_attr("dtype")) return input;
  auto t = static_cast<DType>(node.attr_int("dtype", 0));
  EF_CHECK(dtype_is_supported(t) && t != DType::kUndefined, kUnsupported, "{}: dtype {} is not supported",
           node.label(), node.attr_int("dtype", 0));
  return t;
}

void infer_eyelike(InferContext& ctx) {
  const ValueType& t = ctx.input_type(0);
  EF_CHECK(!t.dims || t.dims->size() == 2, kInvalidModel, "{}: input must be 2-D, got rank {}", ctx.node().label(),
           t.rank());
  ctx.set_output(0, eyelike_dtype(ctx.node(), t.dtype), t.dims ? t.dims : std::optional<Dims>(Dims(2)));
}

void eyelike_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  int64_t k = ctx.node().attr_int("k", 0);
  std::memset(out.raw(), 0, out.nbytes());
  int64_t rows = out.dim(0), cols = out.dim(1);
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T one = convert_value<T>(1.0f);
    for (int64_t i = std::max<int64_t>(0, -k); i < rows && i + k < cols; ++i) out.data<T>()[i * cols + i + k] = one;
  });
}

}  // namespace

SliceAxes resolve_slice(const Node& node, const std::vector<const Tensor*>& in, const Shape& shape) {
  return slice_axes(slice_request(node, in, shape.size()), shape);
}

void register_shape_slice_pad_ops(OpRegistry& r) {
  r.add({"", "Slice", 1, 13, infer_slice, slice_kernel});
  r.add({"", "Pad", 1, 13, infer_pad, pad_kernel});
  r.add({"", "Trilu", 14, 14, infer_trilu, trilu_kernel});
  r.add({"", "EyeLike", 9, 9, infer_eyelike, eyelike_kernel});
}

}  // namespace shape_ops
}  // namespace ef
