// Registration of the conv_pool family and the window attribute handling its two parts share.
#include <string>

#include "ops/conv_pool_family.h"

namespace ef {

WindowAttrs read_window_attrs(const Node& node, const std::vector<int64_t>& kernel) {
  const size_t nd = kernel.size();
  std::vector<int64_t> strides = node.attr_ints("strides", std::vector<int64_t>(nd, 1));
  std::vector<int64_t> dilations = node.attr_ints("dilations", std::vector<int64_t>(nd, 1));
  std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
  EF_CHECK(strides.size() == nd, kInvalidModel, "{}: strides has {} entries for {} spatial axes", node.label(),
           strides.size(), nd);
  EF_CHECK(dilations.size() == nd, kInvalidModel, "{}: dilations has {} entries for {} spatial axes", node.label(),
           dilations.size(), nd);
  EF_CHECK(pads.size() == 2 * nd, kInvalidModel, "{}: pads has {} entries for {} spatial axes (need begins and ends)",
           node.label(), pads.size(), nd);
  WindowAttrs attrs;
  std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  std::optional<AutoPad> parsed = parse_auto_pad(auto_pad);
  EF_CHECK(parsed.has_value(), kInvalidModel, "{}: unknown auto_pad '{}'", node.label(), auto_pad);
  attrs.auto_pad = *parsed;
  int64_t ceil_mode = node.attr_int("ceil_mode", 0);
  EF_CHECK(ceil_mode == 0 || ceil_mode == 1, kInvalidModel, "{}: ceil_mode must be 0 or 1, got {}", node.label(),
           ceil_mode);
  attrs.ceil_mode = ceil_mode == 1;
  constexpr int64_t kMaxWindowValue = int64_t{1} << 24;
  constexpr int64_t kMaxWindowTaps = int64_t{1} << 24;
  int64_t taps = 1;
  for (size_t i = 0; i < nd; ++i) {
    WindowAxis a;
    a.kernel = kernel[i];
    a.stride = strides[i];
    a.dilation = dilations[i];
    a.pad_begin = pads[i];
    a.pad_end = pads[nd + i];
    EF_CHECK(a.kernel >= 1, kInvalidModel, "{}: kernel size {} on spatial axis {} must be positive", node.label(),
             a.kernel, i);
    EF_CHECK(a.stride >= 1, kInvalidModel, "{}: stride {} on spatial axis {} must be positive", node.label(), a.stride,
             i);
    EF_CHECK(a.dilation >= 1, kInvalidModel, "{}: dilation {} on spatial axis {} must be positive", node.label(),
             a.dilation, i);
    EF_CHECK(a.pad_begin >= 0 && a.pad_end >= 0, kInvalidModel, "{}: pads on spatial axis {} must not be negative",
             node.label(), i);
    // Bounds that keep the window arithmetic (extents, SAME pads, tap tables) far from int64 overflow and the
    // reference kernels' per-window tap table small; real models stay orders of magnitude below them.
    for (int64_t v : {a.kernel, a.stride, a.dilation, a.pad_begin, a.pad_end}) {
      EF_CHECK(v <= kMaxWindowValue, kUnsupported, "{}: window value {} on spatial axis {} is above {}", node.label(),
               v, i, kMaxWindowValue);
    }
    taps *= a.kernel;
    EF_CHECK(taps <= kMaxWindowTaps, kUnsupported, "{}: kernel_shape has more than {} taps per window", node.label(),
             kMaxWindowTaps);
    attrs.axes.push_back(a);
  }
  return attrs;
}

int64_t window_axis_output(const Node& node, size_t axis, int64_t in, WindowAttrs& attrs) {
  int64_t out = window_output_size(in, attrs.axes[axis], attrs.auto_pad, attrs.ceil_mode);
  const WindowAxis& a = attrs.axes[axis];
  EF_CHECK(out >= 1, kInvalidModel,
           "{}: spatial axis {} of size {} (pads {}+{}) is smaller than the dilated kernel extent {}", node.label(),
           axis, in, a.pad_begin, a.pad_end, a.effective_kernel());
  return out;
}

void check_float_dtype(const Node& node, DType t) {
  EF_CHECK(t == DType::kUndefined || dtype_is_float(t), kInvalidModel, "{}: expects a floating-point tensor, got {}",
           node.label(), dtype_name(t));
}

void register_conv_pool_ops(OpRegistry& r) {
  register_conv_ops(r);
  register_pool_ops(r);
}

}  // namespace ef
