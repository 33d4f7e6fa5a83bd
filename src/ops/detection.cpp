// Object-detection ops: NonMaxSuppression (opset 10, 11) and RoiAlign (opset 10, 16).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ops/image_family.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

// ---- NonMaxSuppression ----

void infer_nms(InferContext& ctx) {
  const Node& node = ctx.node();
  int64_t center = node.attr_int("center_point_box", 0);
  EF_CHECK(center == 0 || center == 1, kInvalidModel, "{}: center_point_box must be 0 or 1, got {}", node.label(),
           center);
  const ValueType& boxes = ctx.input_type(0);
  const ValueType& scores = ctx.input_type(1);
  EF_CHECK(!boxes.has_rank() || boxes.rank() == 3, kInvalidModel, "{}: boxes must be 3-D, got {}", node.label(),
           boxes.str());
  EF_CHECK(!scores.has_rank() || scores.rank() == 3, kInvalidModel, "{}: scores must be 3-D, got {}", node.label(),
           scores.str());
  // The number of selected boxes depends on the data: the kernel allocates the output.
  ctx.set_output(0, DType::kInt64, Dims{Dim(), Dim(3)});
}

struct Box {
  float ymin, xmin, ymax, xmax;
};

Box read_box(const Tensor& boxes, int64_t offset, bool center_point) {
  auto v = [&](int64_t k) { return static_cast<float>(boxes.value_as_double(offset + k)); };
  if (center_point) {  // [x_center, y_center, width, height]
    float xc = v(0), yc = v(1), w = v(2), h = v(3);
    return {yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2};
  }
  // [y1, x1, y2, x2] with any diagonal pair of corners.
  return {std::min(v(0), v(2)), std::min(v(1), v(3)), std::max(v(0), v(2)), std::max(v(1), v(3))};
}

bool overlaps_too_much(const Box& a, const Box& b, float iou_threshold) {
  float ymin = std::max(a.ymin, b.ymin), xmin = std::max(a.xmin, b.xmin);
  float ymax = std::min(a.ymax, b.ymax), xmax = std::min(a.xmax, b.xmax);
  if (ymax <= ymin || xmax <= xmin) return false;
  float area_a = (a.ymax - a.ymin) * (a.xmax - a.xmin);
  float area_b = (b.ymax - b.ymin) * (b.xmax - b.xmin);
  if (area_a <= 0 || area_b <= 0) return false;
  float inter = (ymax - ymin) * (xmax - xmin);
  return inter / (area_a + area_b - inter) > iou_threshold;
}

void nms_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  bool center_point = node.attr_int("center_point_box", 0) != 0;
  const Tensor& boxes = ctx.input(0);
  const Tensor& scores = ctx.input(1);
  EF_CHECK(boxes.rank() == 3 && boxes.dim(2) == 4, kInvalidArgument, "{}: boxes must be [batches, boxes, 4], got {}",
           node.label(), shape_str(boxes.shape()));
  EF_CHECK(scores.rank() == 3 && scores.dim(0) == boxes.dim(0) && scores.dim(2) == boxes.dim(1), kInvalidArgument,
           "{}: scores {} do not match boxes {} (expected [batches, classes, boxes])", node.label(),
           shape_str(scores.shape()), shape_str(boxes.shape()));
  auto scalar_input = [&](size_t i) -> const Tensor* {
    if (!ctx.has_input(i) || ctx.input(i).numel() == 0) return nullptr;
    EF_CHECK(ctx.input(i).numel() == 1, kInvalidArgument, "{}: input {} must be a scalar, got {}", node.label(), i,
             shape_str(ctx.input(i).shape()));
    return &ctx.input(i);
  };
  int64_t max_per_class = scalar_input(2) ? std::max<int64_t>(scalar_input(2)->value_as_int(0), 0) : 0;
  float iou_threshold = scalar_input(3) ? static_cast<float>(scalar_input(3)->value_as_double(0)) : 0.0f;
  EF_CHECK(iou_threshold >= 0 && iou_threshold <= 1, kInvalidArgument, "{}: iou_threshold {} is outside [0, 1]",
           node.label(), iou_threshold);
  const Tensor* score_threshold = scalar_input(4);
  float min_score = score_threshold ? static_cast<float>(score_threshold->value_as_double(0)) : 0.0f;

  int64_t batches = boxes.dim(0), num_boxes = boxes.dim(1), classes = scores.dim(1);
  std::vector<int64_t> selected;  // triples (batch, class, box)
  std::vector<int64_t> order;
  std::vector<Box> kept;
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t c = 0; c < classes && max_per_class > 0; ++c) {
      int64_t score_base = (b * classes + c) * num_boxes;
      auto score = [&](int64_t i) { return static_cast<float>(scores.value_as_double(score_base + i)); };
      order.clear();
      for (int64_t i = 0; i < num_boxes; ++i) {
        // A NaN score cannot be ranked (and would break the sort's ordering): such boxes are never selected.
        if (!std::isnan(score(i)) && (!score_threshold || score(i) > min_score)) order.push_back(i);
      }
      // Highest score first; equal scores keep the lower box index first.
      std::stable_sort(order.begin(), order.end(), [&](int64_t l, int64_t r) { return score(l) > score(r); });
      kept.clear();
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= max_per_class) break;
        Box box = read_box(boxes, (b * num_boxes + i) * 4, center_point);
        bool suppressed = std::any_of(kept.begin(), kept.end(),
                                      [&](const Box& k) { return overlaps_too_much(k, box, iou_threshold); });
        if (suppressed) continue;
        kept.push_back(box);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  }
  Tensor& out = ctx.allocate_output(0, DType::kInt64, {static_cast<int64_t>(selected.size() / 3), 3});
  std::copy(selected.begin(), selected.end(), out.data<int64_t>());
}

// ---- RoiAlign ----

struct RoiAlignParams {
  bool max_mode = false;
  bool half_pixel = false;  // shift input coordinates by -0.5 (opset 16 default)
  int64_t out_h = 1, out_w = 1, sampling_ratio = 0;
  double spatial_scale = 1;
};

RoiAlignParams parse_roi_align(const Node& node) {
  RoiAlignParams p;
  std::string mode = node.attr_string("mode", "avg");
  EF_CHECK(mode == "avg" || mode == "max", kInvalidModel, "{}: mode must be 'avg' or 'max', got '{}'", node.label(),
           mode);
  p.max_mode = mode == "max";
  // Opset 10 has no attribute and behaves as 'output_half_pixel'.
  std::string coord = node.attr_string("coordinate_transformation_mode",
                                       node.version >= 16 ? "half_pixel" : "output_half_pixel");
  EF_CHECK(coord == "half_pixel" || coord == "output_half_pixel", kInvalidModel,
           "{}: coordinate_transformation_mode must be 'half_pixel' or 'output_half_pixel', got '{}'", node.label(),
           coord);
  p.half_pixel = coord == "half_pixel";
  p.out_h = node.attr_int("output_height", 1);
  p.out_w = node.attr_int("output_width", 1);
  p.sampling_ratio = node.attr_int("sampling_ratio", 0);
  p.spatial_scale = node.attr_float("spatial_scale", 1.0f);
  EF_CHECK(p.out_h > 0 && p.out_w > 0, kInvalidModel, "{}: output_height/output_width must be positive, got {}x{}",
           node.label(), p.out_h, p.out_w);
  EF_CHECK(p.sampling_ratio >= 0, kInvalidModel, "{}: sampling_ratio must be >= 0, got {}", node.label(),
           p.sampling_ratio);
  return p;
}

void infer_roi_align(InferContext& ctx) {
  const Node& node = ctx.node();
  RoiAlignParams p = parse_roi_align(node);
  const ValueType& x = ctx.input_type(0);
  const ValueType& rois = ctx.input_type(1);
  EF_CHECK(!x.has_rank() || x.rank() == 4, kInvalidModel, "{}: X must be 4-D, got {}", node.label(), x.str());
  EF_CHECK(!rois.has_rank() || rois.rank() == 2, kInvalidModel, "{}: rois must be 2-D, got {}", node.label(),
           rois.str());
  Dims out{Dim(), Dim(), Dim(p.out_h), Dim(p.out_w)};
  if (rois.has_rank()) out[0] = (*rois.dims)[0];
  if (x.has_rank()) out[1] = (*x.dims)[1];
  ctx.set_output(0, ctx.input_dtype(0), out);
}

// Bilinear sample weights of one point, following the Detectron/ONNX Runtime convention: points more than one
// pixel outside the map contribute nothing; points just outside are clamped to the edge.
struct Sample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

Sample bilinear_sample(double y, double x, int64_t h, int64_t w) {
  Sample s;
  if (y < -1.0 || y > static_cast<double>(h) || x < -1.0 || x > static_cast<double>(w)) return s;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  auto y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x);
  int64_t y_high = y_low + 1, x_high = x_low + 1;
  if (y_low >= h - 1) y_high = y_low = h - 1, y = static_cast<double>(y_low);
  if (x_low >= w - 1) x_high = x_low = w - 1, x = static_cast<double>(x_low);
  double ly = y - static_cast<double>(y_low), lx = x - static_cast<double>(x_low);
  double hy = 1 - ly, hx = 1 - lx;
  s.pos[0] = y_low * w + x_low, s.pos[1] = y_low * w + x_high;
  s.pos[2] = y_high * w + x_low, s.pos[3] = y_high * w + x_high;
  s.w[0] = hy * hx, s.w[1] = hy * lx, s.w[2] = ly * hx, s.w[3] = ly * lx;
  return s;
}

void roi_align_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  RoiAlignParams p = parse_roi_align(node);
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  const Tensor& batch_indices = ctx.input(2);
  Tensor& y = ctx.output(0);
  EF_CHECK(rois.rank() == 2 && rois.dim(1) == 4, kInvalidArgument, "{}: rois must be [num_rois, 4], got {}",
           node.label(), shape_str(rois.shape()));
  EF_CHECK(batch_indices.rank() == 1 && batch_indices.dim(0) == rois.dim(0), kInvalidArgument,
           "{}: batch_indices {} must have one entry per roi ({})", node.label(), shape_str(batch_indices.shape()),
           rois.dim(0));
  int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  EF_CHECK(rois.dim(0) == 0 || c == 0 || (h > 0 && w > 0), kInvalidArgument, "{}: cannot pool from an empty map {}",
           node.label(), shape_str(x.shape()));
  double offset = p.half_pixel ? 0.5 : 0.0;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_floating_point_v<compute_t<T>>) {
      fail(ErrorCode::kUnsupported, fmt::format("{}: element type {} (float types only)", node.label(),
                                                dtype_name(x.dtype())));
    } else {
      const T* px = x.data<T>();
      T* py = y.data<T>();
      for (int64_t r = 0; r < rois.dim(0); ++r) {
        int64_t b = batch_indices.value_as_int(r);
        EF_CHECK(b >= 0 && b < n, kInvalidArgument, "{}: batch index {} of roi {} is outside [0, {})", node.label(), b,
                 r, n);
        double x0 = rois.value_as_double(r * 4) * p.spatial_scale - offset;
        double y0 = rois.value_as_double(r * 4 + 1) * p.spatial_scale - offset;
        double x1 = rois.value_as_double(r * 4 + 2) * p.spatial_scale - offset;
        double y1 = rois.value_as_double(r * 4 + 3) * p.spatial_scale - offset;
        EF_CHECK(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1), kInvalidArgument,
                 "{}: roi {} is not finite", node.label(), r);
        double roi_w = x1 - x0, roi_h = y1 - y0;
        if (!p.half_pixel) {  // legacy mode: force malformed rois to 1x1
          roi_w = std::max(roi_w, 1.0);
          roi_h = std::max(roi_h, 1.0);
        }
        double bin_h = roi_h / static_cast<double>(p.out_h), bin_w = roi_w / static_cast<double>(p.out_w);
        int64_t grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(bin_h));
        int64_t grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(bin_w));
        grid_h = std::max<int64_t>(grid_h, 1);
        grid_w = std::max<int64_t>(grid_w, 1);
        double count = static_cast<double>(grid_h * grid_w);
        for (int64_t ch = 0; ch < c; ++ch) {
          const T* plane = px + (b * c + ch) * h * w;
          for (int64_t ph = 0; ph < p.out_h; ++ph) {
            for (int64_t pw = 0; pw < p.out_w; ++pw) {
              double acc = 0;
              bool first = true;
              for (int64_t iy = 0; iy < grid_h; ++iy) {
                double sy = y0 + ph * bin_h + (iy + 0.5) * bin_h / static_cast<double>(grid_h);
                for (int64_t ix = 0; ix < grid_w; ++ix) {
                  double sx = x0 + pw * bin_w + (ix + 0.5) * bin_w / static_cast<double>(grid_w);
                  Sample s = bilinear_sample(sy, sx, h, w);
                  double v[4];
                  for (int k = 0; k < 4; ++k) v[k] = s.w[k] * to_double(plane[s.pos[k]]);
                  if (!p.max_mode) {
                    acc += v[0] + v[1] + v[2] + v[3];
                  } else {
                    // ONNX's reference (and ONNX Runtime) pool the largest weighted corner, not the interpolated
                    // value; we follow them so results agree.
                    double m = std::max({v[0], v[1], v[2], v[3]});
                    acc = first ? m : std::max(acc, m);
                    first = false;
                  }
                }
              }
              py[((r * c + ch) * p.out_h + ph) * p.out_w + pw] = convert_value<T>(p.max_mode ? acc : acc / count);
            }
          }
        }
      }
    }
  });
}

}  // namespace

void register_detection_ops(OpRegistry& r) {
  r.add({"", "NonMaxSuppression", 10, 11, infer_nms, nms_kernel});
  r.add({"", "RoiAlign", 10, 16, infer_roi_align, roi_align_kernel});
}

}  // namespace ef
