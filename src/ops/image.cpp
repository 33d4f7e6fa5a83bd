// Image family: GridSample lives here; Resize/Upsample, detection and signal ops live in the files named in
// image_family.h. GridSample follows torch.nn.functional.grid_sample, which the ONNX operator was defined after.
#include <algorithm>
#include <cmath>
#include <string>

#include "core/dispatch.h"
#include "ops/image_family.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

enum class GridMode { kBilinear, kNearest, kBicubic };
enum class GridPadding { kZeros, kBorder, kReflection };

struct GridParams {
  GridMode mode = GridMode::kBilinear;
  GridPadding padding = GridPadding::kZeros;
  bool align_corners = false;
};

GridParams parse_grid_params(const Node& node) {
  GridParams p;
  std::string mode = node.attr_string("mode", "bilinear");
  if (mode == "bilinear") {
    p.mode = GridMode::kBilinear;
  } else if (mode == "nearest") {
    p.mode = GridMode::kNearest;
  } else if (mode == "bicubic") {
    p.mode = GridMode::kBicubic;
  } else {
    fail(ErrorCode::kInvalidModel, fmt::format("{}: unknown mode '{}'", node.label(), mode));
  }
  std::string padding = node.attr_string("padding_mode", "zeros");
  if (padding == "zeros") {
    p.padding = GridPadding::kZeros;
  } else if (padding == "border") {
    p.padding = GridPadding::kBorder;
  } else if (padding == "reflection") {
    p.padding = GridPadding::kReflection;
  } else {
    fail(ErrorCode::kInvalidModel, fmt::format("{}: unknown padding_mode '{}'", node.label(), padding));
  }
  p.align_corners = node.attr_int("align_corners", 0) != 0;
  return p;
}

void infer_grid_sample(InferContext& ctx) {
  const Node& node = ctx.node();
  parse_grid_params(node);
  const ValueType& x = ctx.input_type(0);
  const ValueType& grid = ctx.input_type(1);
  EF_CHECK(!x.has_rank() || x.rank() == 4, kInvalidModel, "{}: X must be 4-D (N, C, H, W), got {}", node.label(),
           x.str());
  EF_CHECK(!grid.has_rank() || grid.rank() == 4, kInvalidModel, "{}: grid must be 4-D (N, H_out, W_out, 2), got {}",
           node.label(), grid.str());
  Dims out(4);
  if (x.has_rank()) out[0] = (*x.dims)[0], out[1] = (*x.dims)[1];
  if (grid.has_rank()) {
    const Dims& g = *grid.dims;
    EF_CHECK(!g[3].known() || g[3].value == 2, kInvalidModel, "{}: grid's last dim must be 2, got {}", node.label(),
             g[3].value);
    if (!out[0].known() && out[0].param.empty()) out[0] = g[0];
    out[2] = g[1];
    out[3] = g[2];
  }
  if (x.has_rank() && grid.has_rank() && (*x.dims)[0].known() && (*grid.dims)[0].known()) {
    EF_CHECK((*x.dims)[0].value == (*grid.dims)[0].value, kInvalidModel, "{}: batch of X ({}) and grid ({}) differ",
             node.label(), (*x.dims)[0].value, (*grid.dims)[0].value);
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

// Maps a normalized grid coordinate in [-1, 1] to a pixel coordinate.
double unnormalize(double g, int64_t size, bool align_corners) {
  return align_corners ? (g + 1) / 2 * static_cast<double>(size - 1) : ((g + 1) * static_cast<double>(size) - 1) / 2;
}

// Reflects x into [low, high] (bouncing off both ends as often as needed).
double reflect(double x, double low, double high) {
  double span = high - low;
  if (span <= 0) return low;
  double d = std::fabs(x - low);
  double flips = std::floor(d / span);
  double extra = d - flips * span;
  return std::fmod(flips, 2.0) == 0 ? low + extra : high - extra;
}

// Applies border/reflection padding to a pixel coordinate; zeros padding leaves it as is.
double pad_coordinate(double x, int64_t size, const GridParams& p) {
  double hi = static_cast<double>(size - 1);
  if (p.padding == GridPadding::kBorder) return std::clamp(x, 0.0, hi);
  if (p.padding == GridPadding::kReflection) {
    x = p.align_corners ? reflect(x, 0, hi) : reflect(x, -0.5, static_cast<double>(size) - 0.5);
    return std::clamp(x, 0.0, hi);
  }
  // Zeros: every tap further out than two pixels reads 0 anyway; clamping keeps index casts in range.
  return std::clamp(x, -4.0, static_cast<double>(size) + 4.0);
}

double cubic_coeff(double t) {
  constexpr double a = -0.75;  // PyTorch's bicubic constant
  t = std::fabs(t);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

// One image plane (H x W) of channel data, read with zero padding outside.
template <typename T>
struct Plane {
  const T* data;
  int64_t h, w;
  double at(int64_t y, int64_t x) const {
    if (y < 0 || y >= h || x < 0 || x >= w) return 0;
    return to_double(data[y * w + x]);
  }
};

template <typename T>
double sample(const Plane<T>& img, double gx, double gy, const GridParams& p) {
  double x = unnormalize(gx, img.w, p.align_corners);
  double y = unnormalize(gy, img.h, p.align_corners);
  if (std::isnan(x) || std::isnan(y)) return 0;
  // Infinite coordinates behave as very distant ones (and keep floor/fraction arithmetic finite).
  x = std::clamp(x, -1e15, 1e15);
  y = std::clamp(y, -1e15, 1e15);
  if (p.mode == GridMode::kBicubic) {
    // Bicubic pads each of the 16 taps rather than the sample point.
    double x0 = std::floor(x), y0 = std::floor(y);
    double tx = x - x0, ty = y - y0;
    double sum = 0;
    for (int i = -1; i <= 2; ++i) {
      double yi = pad_coordinate(y0 + i, img.h, p);
      double row = 0;
      for (int j = -1; j <= 2; ++j) {
        double xj = pad_coordinate(x0 + j, img.w, p);
        row += cubic_coeff(tx - j) * img.at(static_cast<int64_t>(yi), static_cast<int64_t>(xj));
      }
      sum += cubic_coeff(ty - i) * row;
    }
    return sum;
  }
  x = pad_coordinate(x, img.w, p);
  y = pad_coordinate(y, img.h, p);
  if (p.mode == GridMode::kNearest) {
    // Round half to even, as PyTorch's nearbyint.
    return img.at(static_cast<int64_t>(std::nearbyint(y)), static_cast<int64_t>(std::nearbyint(x)));
  }
  double x0 = std::floor(x), y0 = std::floor(y);
  double tx = x - x0, ty = y - y0;
  auto xi = static_cast<int64_t>(x0);
  auto yi = static_cast<int64_t>(y0);
  return (1 - ty) * ((1 - tx) * img.at(yi, xi) + tx * img.at(yi, xi + 1)) +
         ty * ((1 - tx) * img.at(yi + 1, xi) + tx * img.at(yi + 1, xi + 1));
}

void grid_sample_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  GridParams p = parse_grid_params(node);
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  Tensor& y = ctx.output(0);
  int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  int64_t ho = grid.dim(1), wo = grid.dim(2);
  if (y.numel() == 0) return;
  EF_CHECK(h > 0 && w > 0, kInvalidArgument, "{}: cannot sample an empty image {}", node.label(),
           shape_str(x.shape()));
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        Plane<T> img{px + (b * c + ch) * h * w, h, w};
        for (int64_t i = 0; i < ho * wo; ++i) {
          double gx = grid.value_as_double((b * ho * wo + i) * 2);
          double gy = grid.value_as_double((b * ho * wo + i) * 2 + 1);
          py[(b * c + ch) * ho * wo + i] = store_interpolated<T>(sample(img, gx, gy, p));
        }
      }
    }
  });
}

}  // namespace

void register_image_ops(OpRegistry& r) {
  register_resize_ops(r);
  register_detection_ops(r);
  register_signal_ops(r);
  r.add({"", "GridSample", 16, 16, infer_grid_sample, grid_sample_kernel});
}

}  // namespace ef
