// Resize (opset 10, 11, 13) and Upsample (opset 1, 7, 9, 10) share one separable N-D resampler: every output
// coordinate along an axis maps to a short list of (input index, weight) taps, and an output element is the sum
// over the tensor product of its axes' taps. Nearest mode always has exactly one tap per axis, so it copies
// elements bytewise and works for every dtype.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ops/image_family.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

enum class Interp { kNearest, kLinear, kCubic };
enum class CoordMode { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn, kTfCropAndResize };
// kLegacy is Upsample / Resize-10 nearest: floor when upsampling, ceil when downsampling (as ONNX Runtime does).
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kLegacy };

struct ResampleParams {
  Interp interp = Interp::kNearest;
  CoordMode coord = CoordMode::kAsymmetric;
  NearestMode nearest = NearestMode::kLegacy;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0;
};

bool is_upsample(const Node& node) { return node.op_type == "Upsample"; }
// Resize-11 and later: roi/scales/sizes inputs and the coordinate attributes.
bool is_modern_resize(const Node& node) { return !is_upsample(node) && node.version >= 11; }

ResampleParams parse_params(const Node& node) {
  ResampleParams p;
  std::string mode = node.attr_string("mode", "nearest");
  if (mode == "nearest") {
    p.interp = Interp::kNearest;
  } else if (mode == "linear" || (is_upsample(node) && mode == "bilinear")) {
    p.interp = Interp::kLinear;
  } else if (mode == "cubic" && is_modern_resize(node)) {
    p.interp = Interp::kCubic;
  } else {
    fail(ErrorCode::kInvalidModel, fmt::format("{}: unknown mode '{}'", node.label(), mode));
  }
  if (!is_modern_resize(node)) return p;  // older forms: asymmetric coordinates, legacy nearest rounding

  std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") {
    p.coord = CoordMode::kHalfPixel;
  } else if (coord == "pytorch_half_pixel") {
    p.coord = CoordMode::kPytorchHalfPixel;
  } else if (coord == "align_corners") {
    p.coord = CoordMode::kAlignCorners;
  } else if (coord == "asymmetric") {
    p.coord = CoordMode::kAsymmetric;
  } else if (coord == "tf_half_pixel_for_nn") {
    p.coord = CoordMode::kTfHalfPixelForNn;
  } else if (coord == "tf_crop_and_resize") {
    p.coord = CoordMode::kTfCropAndResize;
  } else {
    fail(ErrorCode::kInvalidModel, fmt::format("{}: unknown coordinate_transformation_mode '{}'", node.label(), coord));
  }
  std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") {
    p.nearest = NearestMode::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    p.nearest = NearestMode::kRoundPreferCeil;
  } else if (nearest == "floor") {
    p.nearest = NearestMode::kFloor;
  } else if (nearest == "ceil") {
    p.nearest = NearestMode::kCeil;
  } else {
    fail(ErrorCode::kInvalidModel, fmt::format("{}: unknown nearest_mode '{}'", node.label(), nearest));
  }
  p.cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
  p.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  p.extrapolation = node.attr_float("extrapolation_value", 0.0f);
  return p;
}

// Where the output size comes from: per-axis scales or explicit sizes (exactly one is set), plus the crop region.
struct ResizeTarget {
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  std::vector<double> roi;  // [start_0..start_{r-1}, end_0..end_{r-1}]; empty means the whole input
};

std::vector<float> float_values(const Tensor& t) {
  std::vector<float> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<float>(t.value_as_double(i)));
  return v;
}

// A present input whose value is not known yet (planning) is reported as nullopt.
std::optional<ResizeTarget> read_target(const Node& node, size_t rank, const std::vector<bool>& present,
                                        const std::vector<const Tensor*>& values) {
  auto input = [&](size_t i) -> const Tensor* { return i < values.size() ? values[i] : nullptr; };
  auto has = [&](size_t i) { return i < present.size() && present[i]; };
  ResizeTarget t;
  if (is_upsample(node) && node.version < 7) {
    EF_CHECK(rank == 4, kInvalidModel, "{}: Upsample-1 needs a 4-D input, got rank {}", node.label(), rank);
    EF_CHECK(node.has_attr("height_scale") && node.has_attr("width_scale"), kInvalidModel,
             "{}: height_scale and width_scale are required", node.label());
    t.scales = {1.0f, 1.0f, node.attr_float("height_scale", 1.0f), node.attr_float("width_scale", 1.0f)};
  } else if (is_upsample(node) && node.version < 9) {
    EF_CHECK(node.has_attr("scales"), kInvalidModel, "{}: attribute 'scales' is required", node.label());
    t.scales = node.attr_floats("scales");
  } else if (!is_modern_resize(node)) {  // Upsample-9/10, Resize-10: scales is input 1
    EF_CHECK(has(1), kInvalidModel, "{}: input 'scales' is required", node.label());
    if (!input(1)) return std::nullopt;
    t.scales = float_values(*input(1));
  } else {
    bool has_scales = has(2), has_sizes = has(3);
    if ((has_scales && !input(2)) || (has_sizes && !input(3)) || (has(1) && !input(1))) return std::nullopt;
    has_scales = has_scales && input(2)->numel() > 0;
    has_sizes = has_sizes && input(3)->numel() > 0;
    EF_CHECK(has_scales != has_sizes, kInvalidArgument, "{}: exactly one of 'scales' and 'sizes' must be given",
             node.label());
    if (has_scales) {
      t.scales = float_values(*input(2));
    } else {
      t.sizes = input(3)->to_int64_vector();
    }
    if (has(1) && input(1)->numel() > 0) {
      for (int64_t i = 0; i < input(1)->numel(); ++i) t.roi.push_back(input(1)->value_as_double(i));
    }
  }
  if (!t.sizes.empty()) {
    EF_CHECK(t.sizes.size() == rank, kInvalidArgument, "{}: 'sizes' has {} elements for an input of rank {}",
             node.label(), t.sizes.size(), rank);
    for (int64_t s : t.sizes) EF_CHECK(s >= 0, kInvalidArgument, "{}: negative output size {}", node.label(), s);
  } else {
    EF_CHECK(t.scales.size() == rank, kInvalidArgument, "{}: 'scales' has {} elements for an input of rank {}",
             node.label(), t.scales.size(), rank);
    for (float s : t.scales) {
      EF_CHECK(std::isfinite(s) && s > 0, kInvalidArgument, "{}: scale {} is not a positive number", node.label(), s);
    }
  }
  EF_CHECK(t.roi.empty() || t.roi.size() == 2 * rank, kInvalidArgument,
           "{}: 'roi' has {} elements, expected {} (starts and ends)", node.label(), t.roi.size(), 2 * rank);
  for (double v : t.roi) EF_CHECK(std::isfinite(v), kInvalidArgument, "{}: 'roi' holds {}", node.label(), v);
  return t;
}

double roi_start(const ResizeTarget& t, size_t axis) { return t.roi.empty() ? 0.0 : t.roi[axis]; }
double roi_end(const ResizeTarget& t, size_t axis) { return t.roi.empty() ? 1.0 : t.roi[axis + t.roi.size() / 2]; }

// Length of the crop along `axis` as a fraction of the input; only tf_crop_and_resize crops.
double crop_extent(const ResampleParams& p, const ResizeTarget& t, size_t axis) {
  return p.coord == CoordMode::kTfCropAndResize ? roi_end(t, axis) - roi_start(t, axis) : 1.0;
}

int64_t output_dim(const Node& node, const ResampleParams& p, const ResizeTarget& t, size_t axis, int64_t in) {
  if (!t.sizes.empty()) return t.sizes[axis];
  // Single-precision product, as ONNX shape inference and ONNX Runtime compute it.
  float len = static_cast<float>(in) * static_cast<float>(crop_extent(p, t, axis)) * t.scales[axis];
  EF_CHECK(len >= 0 && len < 4e18f, kInvalidArgument, "{}: output length {} along axis {} is out of range",
           node.label(), len, axis);
  return static_cast<int64_t>(std::floor(len));
}

void infer_resize(InferContext& ctx) {
  const Node& node = ctx.node();
  ResampleParams params = parse_params(node);
  DType dtype = ctx.input_dtype(0);
  const ValueType& x = ctx.input_type(0);
  if (!x.has_rank()) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  size_t rank = x.rank();
  EF_CHECK(rank > 0, kInvalidModel, "{}: input must have rank >= 1", node.label());
  std::vector<bool> present;
  std::vector<const Tensor*> values;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    present.push_back(ctx.has_input(i));
    values.push_back(ctx.has_input(i) ? ctx.input_value(i) : nullptr);
  }
  std::optional<ResizeTarget> target = read_target(node, rank, present, values);
  Dims out(rank);
  if (target) {
    for (size_t d = 0; d < rank; ++d) {
      const Dim& in = (*x.dims)[d];
      if (in.known()) {
        out[d] = output_dim(node, params, *target, d, in.value);
      } else if (!target->sizes.empty()) {
        out[d] = target->sizes[d];
      } else if (target->scales[d] == 1.0f && crop_extent(params, *target, d) == 1.0) {
        out[d] = in;  // keeps a symbolic batch dim
      }
    }
  }
  ctx.set_output(0, dtype, out);
}

struct Tap {
  int64_t index;
  double weight;
};

// The taps of every output coordinate along one axis.
struct AxisPlan {
  std::vector<size_t> begin;  // taps of output coordinate o are taps[begin[o] .. begin[o+1])
  std::vector<Tap> taps;
  std::vector<bool> outside;  // tf_crop_and_resize: sample lies outside the input -> extrapolation_value
};

double cubic_weight(double t, double a) {
  t = std::fabs(t);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

int64_t nearest_index(double x, NearestMode mode, bool downsampling) {
  double fl = std::floor(x);
  double frac = x - fl;
  switch (mode) {
    case NearestMode::kRoundPreferFloor: return static_cast<int64_t>(frac <= 0.5 ? fl : fl + 1);
    case NearestMode::kRoundPreferCeil: return static_cast<int64_t>(frac < 0.5 ? fl : fl + 1);
    case NearestMode::kFloor: return static_cast<int64_t>(fl);
    case NearestMode::kCeil: return static_cast<int64_t>(std::ceil(x));
    case NearestMode::kLegacy: return static_cast<int64_t>(downsampling ? std::ceil(x) : fl);
  }
  return 0;
}

// `scale` is the user scale (or out/in for sizes); `resized_len` is the real-valued output length the coordinate
// formulas divide by (in * scale, which need not be an integer: ONNX's reference results depend on that).
AxisPlan plan_axis(const ResampleParams& p, int64_t in_len, int64_t out_count, double scale, double resized_len,
                   double start, double end) {
  AxisPlan plan;
  plan.begin.push_back(0);
  std::vector<Tap> local;
  for (int64_t o = 0; o < out_count; ++o) {
    double xr = static_cast<double>(o);
    double x = 0;
    switch (p.coord) {
      case CoordMode::kHalfPixel: x = (xr + 0.5) / scale - 0.5; break;
      case CoordMode::kPytorchHalfPixel: x = resized_len > 1 ? (xr + 0.5) / scale - 0.5 : 0.0; break;
      case CoordMode::kAlignCorners: x = resized_len > 1 ? xr * (in_len - 1) / (resized_len - 1) : 0.0; break;
      case CoordMode::kAsymmetric: x = xr / scale; break;
      case CoordMode::kTfHalfPixelForNn: x = (xr + 0.5) / scale; break;
      case CoordMode::kTfCropAndResize:
        x = resized_len > 1 ? start * (in_len - 1) + xr * (end - start) * (in_len - 1) / (resized_len - 1)
                            : 0.5 * (start + end) * (in_len - 1);
        break;
    }
    bool outside = p.coord == CoordMode::kTfCropAndResize && (x < 0 || x > static_cast<double>(in_len - 1));
    local.clear();
    if (!outside) {
      if (p.interp == Interp::kNearest) {
        local.push_back({nearest_index(x, p.nearest, scale < 1), 1.0});
      } else {
        int64_t base = static_cast<int64_t>(std::floor(x));
        double r = x - static_cast<double>(base);
        if (p.interp == Interp::kLinear) {
          local = {{base, 1 - r}, {base + 1, r}};
        } else {
          for (int64_t k = -1; k <= 2; ++k) {
            local.push_back({base + k, cubic_weight(r - static_cast<double>(k), p.cubic_a)});
          }
        }
        if (p.exclude_outside) {
          double sum = 0;
          for (Tap& t : local) {
            if (t.index < 0 || t.index >= in_len) t.weight = 0;
            sum += t.weight;
          }
          for (Tap& t : local) t.weight = sum != 0 ? t.weight / sum : 0;
        }
      }
    }
    for (const Tap& t : local) {
      if (t.weight == 0 && p.interp != Interp::kNearest) continue;
      // Samples beyond the edge repeat the edge element (the reference pads in "edge" mode).
      plan.taps.push_back({std::clamp<int64_t>(t.index, 0, in_len - 1), t.weight});
    }
    plan.outside.push_back(outside);
    plan.begin.push_back(plan.taps.size());
  }
  return plan;
}

class Resampler {
 public:
  Resampler(const Shape& in_shape, const Shape& out_shape, std::vector<AxisPlan> plans)
      : in_strides_(row_major_strides(in_shape)), out_shape_(out_shape), plans_(std::move(plans)),
        index_(out_shape.size(), 0) {}

  // Nearest: one tap per axis; copies element bytes (any dtype). `fill` holds the extrapolation value's bytes.
  void run_nearest(const uint8_t* x, uint8_t* y, size_t elem, const uint8_t* fill) {
    for_each_output([&](int64_t o) {
      int64_t off = 0;
      bool outside = false;
      for (size_t d = 0; d < index_.size(); ++d) {
        const AxisPlan& p = plans_[d];
        outside = outside || p.outside[index_[d]];
        if (!outside) off += p.taps[p.begin[index_[d]]].index * in_strides_[d];
      }
      std::memcpy(y + o * elem, outside ? fill : x + off * elem, elem);
    });
  }

  template <typename T>
  void run_weighted(const T* x, T* y, double extrapolation) {
    for_each_output([&](int64_t o) {
      bool outside = false;
      for (size_t d = 0; d < index_.size(); ++d) outside = outside || plans_[d].outside[index_[d]];
      y[o] = store_interpolated<T>(outside ? extrapolation : accumulate(x, 0, 0, 1.0));
    });
  }

 private:
  template <typename F>
  void for_each_output(F&& f) {
    int64_t n = shape_numel(out_shape_);
    std::fill(index_.begin(), index_.end(), 0);
    for (int64_t o = 0; o < n; ++o) {
      f(o);
      for (size_t d = index_.size(); d-- > 0;) {
        if (++index_[d] < out_shape_[d]) break;
        index_[d] = 0;
      }
    }
  }

  template <typename T>
  double accumulate(const T* x, size_t d, int64_t off, double w) const {
    if (d == index_.size()) return w * to_double(x[off]);
    const AxisPlan& p = plans_[d];
    double sum = 0;
    for (size_t k = p.begin[index_[d]]; k < p.begin[index_[d] + 1]; ++k) {
      sum += accumulate(x, d + 1, off + p.taps[k].index * in_strides_[d], w * p.taps[k].weight);
    }
    return sum;
  }

  std::vector<int64_t> in_strides_;
  Shape out_shape_;
  std::vector<AxisPlan> plans_;
  std::vector<int64_t> index_;
};

void resize_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  ResampleParams params = parse_params(node);
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  size_t rank = x.rank();
  std::vector<bool> present;
  std::vector<const Tensor*> values;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    present.push_back(ctx.has_input(i));
    values.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
  }
  std::optional<ResizeTarget> target = read_target(node, rank, present, values);
  EF_CHECK(target.has_value(), kInternal, "{}: resize inputs unknown at run time", node.label());
  EF_CHECK(y.rank() == rank, kInternal, "{}: output rank mismatch", node.label());
  if (y.numel() == 0) return;
  EF_CHECK(x.numel() > 0, kInvalidArgument, "{}: cannot resize an empty input to a non-empty output", node.label());
  std::vector<AxisPlan> plans;
  for (size_t d = 0; d < rank; ++d) {
    int64_t in = x.dim(d);
    double scale, resized_len;
    if (!target->sizes.empty()) {
      resized_len = static_cast<double>(target->sizes[d]);
      scale = resized_len / static_cast<double>(in);
    } else {
      scale = target->scales[d];
      resized_len = static_cast<double>(in) * crop_extent(params, *target, d) * scale;
    }
    plans.push_back(plan_axis(params, in, y.dim(d), scale, resized_len, roi_start(*target, d), roi_end(*target, d)));
  }
  Resampler resampler(x.shape(), y.shape(), std::move(plans));
  if (params.interp == Interp::kNearest) {
    std::vector<uint8_t> fill(dtype_size(x.dtype()));
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T v = convert_value<T>(params.extrapolation);
      std::memcpy(fill.data(), &v, sizeof(T));
    });
    resampler.run_nearest(static_cast<const uint8_t*>(x.raw()), static_cast<uint8_t*>(y.raw()), fill.size(),
                          fill.data());
    return;
  }
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    resampler.run_weighted(x.data<T>(), y.data<T>(), params.extrapolation);
  });
}

}  // namespace

void register_resize_ops(OpRegistry& r) {
  r.add({"", "Resize", 10, 13, infer_resize, resize_kernel});
  // Upsample-10 is the deprecated schema; it keeps the opset-9 meaning.
  r.add({"", "Upsample", 1, 10, infer_resize, resize_kernel});
}

}  // namespace ef
