// Shape family, part 2: ops that rearrange or replicate elements -- Transpose, Concat, Split, Expand, Tile,
// DepthToSpace and SpaceToDepth. All kernels move whole elements by byte size, so every dtype is supported.
#include <algorithm>
#include <limits>

#include "ops/shape_ops_family.h"

namespace ef {
namespace shape_ops {
namespace {

// ---- Transpose ----

std::vector<int64_t> transpose_perm(const Node& node, size_t rank) {
  std::vector<int64_t> perm = node.attr_ints("perm");
  if (perm.empty() && !node.has_attr("perm")) {
    perm.resize(rank);
    for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(rank - 1 - i);
    return perm;
  }
  EF_CHECK(perm.size() == rank, kInvalidModel, "{}: perm has {} entries for rank {}", node.label(), perm.size(), rank);
  std::vector<bool> seen(rank, false);
  for (int64_t& p : perm) {
    p = normalize_axis(p, static_cast<int64_t>(rank), node);
    EF_CHECK(!seen[static_cast<size_t>(p)], kInvalidModel, "{}: perm repeats axis {}", node.label(), p);
    seen[static_cast<size_t>(p)] = true;
  }
  return perm;
}

void infer_transpose(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {
    size_t n = ctx.node().attr_ints("perm").size();
    ctx.set_output(0, dtype, n > 0 ? std::optional<Dims>(Dims(n)) : std::nullopt);
    return;
  }
  std::vector<int64_t> perm = transpose_perm(ctx.node(), in->size());
  Dims out;
  for (int64_t p : perm) out.push_back((*in)[static_cast<size_t>(p)]);
  ctx.set_output(0, dtype, out);
}

void transpose_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  if (out.numel() == 0) return;
  std::vector<int64_t> perm = transpose_perm(ctx.node(), in.rank());
  std::vector<int64_t> in_strides = row_major_strides(in.shape());
  std::vector<int64_t> strides(perm.size());  // input stride of each output axis
  for (size_t i = 0; i < perm.size(); ++i) strides[i] = in_strides[static_cast<size_t>(perm[i])];
  size_t es = dtype_size(in.dtype());
  std::vector<int64_t> idx(out.rank(), 0);
  int64_t flat = 0;
  do {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d) src += idx[d] * strides[d];
    copy_elems(out.raw(), flat++, in.raw(), src, 1, es);
  } while (next_index(idx, out.shape()));
}

// ---- Concat ----

int64_t concat_axis(const Node& node, int64_t rank) {
  // Opset 1 defaulted the axis to 1; from opset 4 it is required.
  EF_CHECK(node.version < 4 || node.has_attr("axis"), kInvalidModel, "{}: missing attribute 'axis'", node.label());
  return normalize_axis(node.attr_int("axis", 1), rank, node);
}

void infer_concat(InferContext& ctx) {
  EF_CHECK(ctx.num_inputs() > 0, kInvalidModel, "{}: needs at least one input", ctx.node().label());
  DType dtype = ctx.input_dtype(0);
  std::optional<Dims> out;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.input_type(i).dims) {
      out = ctx.input_type(i).dims;
      break;
    }
  }
  if (!out) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  int64_t rank = static_cast<int64_t>(out->size());
  auto axis = static_cast<size_t>(concat_axis(ctx.node(), rank));
  Dim total(0);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const ValueType& t = ctx.input_type(i);
    EF_CHECK(t.dtype == dtype || t.dtype == DType::kUndefined, kInvalidModel, "{}: input {} is {}, input 0 is {}",
             ctx.node().label(), i, dtype_name(t.dtype), dtype_name(dtype));
    if (!t.dims) {
      total = Dim();
      continue;
    }
    EF_CHECK(t.dims->size() == out->size(), kInvalidModel, "{}: input {} has rank {}, expected {}",
             ctx.node().label(), i, t.dims->size(), out->size());
    for (size_t d = 0; d < out->size(); ++d) {
      const Dim& di = (*t.dims)[d];
      if (d == axis) {
        total = total.known() && di.known() ? Dim(total.value + di.value) : Dim();
      } else if (di.known() && (*out)[d].known()) {
        EF_CHECK(di.value == (*out)[d].value, kInvalidModel, "{}: input {} has {} on axis {}, expected {}",
                 ctx.node().label(), i, di.value, d, (*out)[d].value);
      } else if (di.known()) {
        (*out)[d] = di;
      }
    }
  }
  (*out)[axis] = total;
  ctx.set_output(0, dtype, out);
}

void concat_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  auto axis = static_cast<size_t>(concat_axis(ctx.node(), static_cast<int64_t>(out.rank())));
  int64_t outer = 1;
  for (size_t d = 0; d < axis; ++d) outer *= out.dim(d);
  int64_t out_row = out.numel() / std::max<int64_t>(outer, 1);  // elements of one outer slice of the output
  size_t es = dtype_size(out.dtype());
  int64_t col = 0;  // where the current input starts inside an output slice
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    const Tensor& in = ctx.input(k);
    int64_t row = in.numel() / std::max<int64_t>(outer, 1);
    for (int64_t o = 0; o < outer; ++o) copy_elems(out.raw(), o * out_row + col, in.raw(), o * row, row, es);
    col += row;
  }
}

// ---- Split ----

// Requested part sizes: `sizes` is nullopt for equal parts, or when `known` is false because the sizes come from an
// input whose value is not known yet.
struct SplitSizes {
  bool known = true;
  std::optional<std::vector<int64_t>> sizes;
};

SplitSizes split_sizes(const InferContext& ctx) {
  const Node& node = ctx.node();
  bool from_input = ctx.version() >= 13 || (ctx.version() < 2 && ctx.has_input(1));
  if (!from_input) {
    if (!node.has_attr("split")) return {};
    return {true, node.attr_ints("split")};
  }
  if (!ctx.has_input(1)) return {};
  const Tensor* t = ctx.input_value(1);
  if (t == nullptr) return {false, std::nullopt};
  return {true, int_values(*t)};
}

void infer_split(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  size_t n = ctx.num_outputs();
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {
    for (size_t i = 0; i < n; ++i) ctx.set_output(i, dtype, std::nullopt);
    return;
  }
  auto axis = static_cast<size_t>(normalize_axis(ctx.node().attr_int("axis", 0), static_cast<int64_t>(in->size()),
                                                 ctx.node()));
  SplitSizes req = split_sizes(ctx);
  const Dim& dim = (*in)[axis];
  std::vector<Dim> parts(n, Dim());
  if (req.sizes) {
    EF_CHECK(req.sizes->size() == n, kInvalidModel, "{}: split has {} entries for {} outputs", ctx.node().label(),
             req.sizes->size(), n);
    int64_t sum = 0;
    for (size_t i = 0; i < n; ++i) {
      EF_CHECK((*req.sizes)[i] >= 0, kInvalidModel, "{}: negative split size {}", ctx.node().label(),
               (*req.sizes)[i]);
      sum += (*req.sizes)[i];
      parts[i] = Dim((*req.sizes)[i]);
    }
    EF_CHECK(!dim.known() || sum == dim.value, kInvalidModel, "{}: split sizes sum to {} but axis {} has {}",
             ctx.node().label(), sum, axis, dim.value);
  } else if (req.known && dim.known()) {
    EF_CHECK(n > 0 && dim.value % static_cast<int64_t>(n) == 0, kInvalidModel,
             "{}: axis of size {} cannot be split into {} equal parts", ctx.node().label(), dim.value, n);
    for (Dim& p : parts) p = Dim(dim.value / static_cast<int64_t>(n));
  }
  for (size_t i = 0; i < n; ++i) {
    Dims out = *in;
    out[axis] = parts[i];
    ctx.set_output(i, dtype, out);
  }
}

void split_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  auto axis = static_cast<size_t>(normalize_axis(ctx.node().attr_int("axis", 0), static_cast<int64_t>(in.rank()),
                                                 ctx.node()));
  int64_t outer = 1;
  for (size_t d = 0; d < axis; ++d) outer *= in.dim(d);
  int64_t in_row = in.numel() / std::max<int64_t>(outer, 1);
  size_t es = dtype_size(in.dtype());
  int64_t col = 0;
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    if (!ctx.has_output(k)) continue;
    Tensor& out = ctx.output(k);
    int64_t row = out.numel() / std::max<int64_t>(outer, 1);
    for (int64_t o = 0; o < outer; ++o) copy_elems(out.raw(), o * row, in.raw(), o * in_row + col, row, es);
    col += row;
  }
}

// ---- Expand ----

void infer_expand(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  std::optional<Dims> in = input_dims(ctx, 0);
  if (const Tensor* shape = ctx.input_value(1)) {
    std::vector<int64_t> target = int_values(*shape);
    for (int64_t d : target) EF_CHECK(d >= 0, kInvalidModel, "{}: negative target dim {}", ctx.node().label(), d);
    ctx.set_output(0, dtype, in ? std::optional<Dims>(broadcast_dims(*in, dims_of(target), ctx.node())) : std::nullopt);
    return;
  }
  std::optional<int64_t> n = known_length(ctx, 1);
  if (!in || !n) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  // Without the target values only input dims other than 1 survive: the target must be 1 or equal there.
  size_t rank = std::max(in->size(), static_cast<size_t>(*n));
  Dims out(rank);
  for (size_t i = 0; i < in->size(); ++i) {
    const Dim& d = (*in)[i];
    if (d.known() && d.value != 1) out[rank - in->size() + i] = d;
  }
  ctx.set_output(0, dtype, out);
}

void expand_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  BroadcastIndexer idx(out.shape(), {in.shape()});
  size_t es = dtype_size(in.dtype());
  int64_t off = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    idx.offsets(i, &off);
    copy_elems(out.raw(), i, in.raw(), off, 1, es);
  }
}

// ---- Tile ----

// Repeat count per axis, or nullopt while the repeats are unknown. Opset 1 tiles one axis given as two scalar
// inputs; later versions take one repeat per axis.
std::optional<std::vector<int64_t>> tile_repeats(const Node& node, size_t rank, const Tensor* repeats,
                                                 const Tensor* axis) {
  std::vector<int64_t> out(rank, 1);
  if (node.version < 6) {
    if (repeats == nullptr || axis == nullptr) return std::nullopt;
    EF_CHECK(repeats->numel() == 1 && axis->numel() == 1, kInvalidModel, "{}: tiles and axis must be scalars",
             node.label());
    out[static_cast<size_t>(normalize_axis(axis->value_as_int(0), static_cast<int64_t>(rank), node))] =
        repeats->value_as_int(0);
  } else {
    if (repeats == nullptr) return std::nullopt;
    out = int_values(*repeats);
    EF_CHECK(out.size() == rank, kInvalidModel, "{}: repeats has {} entries for rank {}", node.label(), out.size(),
             rank);
  }
  for (int64_t r : out) EF_CHECK(r >= 0, kInvalidModel, "{}: negative repeat count {}", node.label(), r);
  return out;
}

void infer_tile(InferContext& ctx) {
  DType dtype = ctx.input_dtype(0);
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  std::optional<std::vector<int64_t>> reps =
      tile_repeats(ctx.node(), in->size(), ctx.input_value(1), ctx.version() < 6 ? ctx.input_value(2) : nullptr);
  Dims out(in->size());
  for (size_t i = 0; reps && i < in->size(); ++i) {
    const Dim& d = (*in)[i];
    const int64_t r = (*reps)[i];
    int64_t n = 0;
    // Repeats come from model data: a product past int64 is a bad model, not a shape.
    EF_CHECK(!d.known() || !__builtin_mul_overflow(d.value, r, &n), kInvalidModel,
             "{}: axis {} of size {} repeated {} times overflows int64", ctx.node().label(), i, d.value, r);
    out[i] = r == 1 ? d : (r == 0 ? Dim(0) : (d.known() ? Dim(n) : Dim()));
  }
  ctx.set_output(0, dtype, out);
}

void tile_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  if (out.numel() == 0) return;
  std::vector<int64_t> strides = row_major_strides(in.shape());
  size_t es = dtype_size(in.dtype());
  std::vector<int64_t> idx(out.rank(), 0);
  int64_t flat = 0;
  do {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d) src += (idx[d] % in.dim(d)) * strides[d];
    copy_elems(out.raw(), flat++, in.raw(), src, 1, es);
  } while (next_index(idx, out.shape()));
}

// ---- DepthToSpace / SpaceToDepth ----

int64_t block_size(const Node& node) {
  EF_CHECK(node.has_attr("blocksize"), kInvalidModel, "{}: missing attribute 'blocksize'", node.label());
  int64_t b = node.attr_int("blocksize", 0);
  EF_CHECK(b > 0, kInvalidModel, "{}: blocksize must be positive, got {}", node.label(), b);
  // blocksize^2 divides or multiplies the channel count: keep it far from int64 overflow.
  EF_CHECK(b <= (int64_t{1} << 20), kInvalidModel, "{}: blocksize {} is too large", node.label(), b);
  return b;
}

// True for DepthToSpace's column-row-depth order; DCR (depth-column-row) is the default and the only opset-1 form.
bool is_crd(const Node& node) {
  std::string mode = node.version >= 11 ? node.attr_string("mode", "DCR") : "DCR";
  EF_CHECK(mode == "DCR" || mode == "CRD", kInvalidModel, "{}: mode must be DCR or CRD, got '{}'", node.label(),
           mode);
  return mode == "CRD";
}

// Dim d scaled by `mul` / `div` (exact division checked when known).
Dim scale_dim(const Dim& d, int64_t mul, int64_t div, const Node& node, const char* what) {
  if (!d.known()) return Dim();
  EF_CHECK(d.value % div == 0, kInvalidModel, "{}: {} of {} is not divisible by {}", node.label(), what, d.value, div);
  EF_CHECK(d.value / div <= std::numeric_limits<int64_t>::max() / mul, kInvalidModel, "{}: {} of {} times {} overflows",
           node.label(), what, d.value, mul);
  return Dim(d.value / div * mul);
}

void infer_space_depth(InferContext& ctx, bool to_space) {
  DType dtype = ctx.input_dtype(0);
  int64_t b = block_size(ctx.node());
  if (to_space) is_crd(ctx.node());  // validates the mode attribute
  std::optional<Dims> in = input_dims(ctx, 0);
  if (!in) {
    ctx.set_output(0, dtype, Dims(4));
    return;
  }
  EF_CHECK(in->size() == 4, kInvalidModel, "{}: input must be 4-D, got {}", ctx.node().label(), dims_str(*in));
  const Node& n = ctx.node();
  Dims out{(*in)[0], Dim(), Dim(), Dim()};
  if (to_space) {
    out[1] = scale_dim((*in)[1], 1, b * b, n, "channel count");
    out[2] = scale_dim((*in)[2], b, 1, n, "height");
    out[3] = scale_dim((*in)[3], b, 1, n, "width");
  } else {
    out[1] = scale_dim((*in)[1], b * b, 1, n, "channel count");
    out[2] = scale_dim((*in)[2], 1, b, n, "height");
    out[3] = scale_dim((*in)[3], 1, b, n, "width");
  }
  ctx.set_output(0, dtype, out);
}

// One element loop for both directions: `space` is the tensor with the large H/W, `depth` the one with many
// channels; the mapping is the same, only the copy direction differs.
void space_depth_kernel(KernelContext& ctx, bool to_space) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  const Tensor& space = to_space ? out : in;
  int64_t b = block_size(ctx.node());
  bool crd = to_space && is_crd(ctx.node());
  int64_t n = space.dim(0), c = space.dim(1), h = space.dim(2), w = space.dim(3);  // c: channels of `space`
  int64_t dh = h / b, dw = w / b;
  size_t es = dtype_size(in.dtype());
  for (int64_t ni = 0; ni < n; ++ni) {
    for (int64_t ci = 0; ci < c; ++ci) {
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          int64_t i = y % b, j = x % b;
          int64_t dc = crd ? (ci * b + i) * b + j : (i * b + j) * c + ci;
          int64_t space_off = ((ni * c + ci) * h + y) * w + x;
          int64_t depth_off = ((ni * c * b * b + dc) * dh + y / b) * dw + x / b;
          if (to_space) {
            copy_elems(out.raw(), space_off, in.raw(), depth_off, 1, es);
          } else {
            copy_elems(out.raw(), depth_off, in.raw(), space_off, 1, es);
          }
        }
      }
    }
  }
}

}  // namespace

void register_shape_layout_ops(OpRegistry& r) {
  r.add({"", "Transpose", 1, 13, infer_transpose, transpose_kernel});
  r.add({"", "Concat", 1, 13, infer_concat, concat_kernel});
  r.add({"", "Split", 1, 13, infer_split, split_kernel});
  r.add({"", "Expand", 8, 13, infer_expand, expand_kernel});
  r.add({"", "Tile", 1, 13, infer_tile, tile_kernel});
  r.add({"", "DepthToSpace", 1, 13, [](InferContext& c) { infer_space_depth(c, true); },
         [](KernelContext& c) { space_depth_kernel(c, true); }});
  r.add({"", "SpaceToDepth", 1, 13, [](InferContext& c) { infer_space_depth(c, false); },
         [](KernelContext& c) { space_depth_kernel(c, false); }});
}

}  // namespace shape_ops
}  // namespace ef
