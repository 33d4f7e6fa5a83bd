#include "kernels/reference/conv_geometry.h"

#include <algorithm>

namespace ef {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Splits `total` padding between the two ends; SAME_UPPER puts the odd unit at the end.
void split_pads(int64_t total, bool odd_at_end, WindowAxis& axis) {
  int64_t half = floor_div(total, 2);
  axis.pad_begin = odd_at_end ? half : total - half;
  axis.pad_end = total - axis.pad_begin;
}

}  // namespace

std::optional<AutoPad> parse_auto_pad(const std::string& text) {
  if (text == "NOTSET" || text.empty()) return AutoPad::kNotSet;
  if (text == "SAME_UPPER") return AutoPad::kSameUpper;
  if (text == "SAME_LOWER") return AutoPad::kSameLower;
  if (text == "VALID") return AutoPad::kValid;
  return std::nullopt;
}

int64_t window_output_size(int64_t in, WindowAxis& axis, AutoPad auto_pad, bool ceil_mode) {
  int64_t eff = axis.effective_kernel();
  if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
    int64_t out = ceil_div(in, axis.stride);
    // A stride larger than the kernel can need "negative" padding; the window simply never reaches the end.
    int64_t total = std::max<int64_t>(0, (out - 1) * axis.stride + eff - in);
    split_pads(total, auto_pad == AutoPad::kSameUpper, axis);
    return out;
  }
  if (auto_pad == AutoPad::kValid) axis.pad_begin = axis.pad_end = 0;
  int64_t span = in + axis.pad_begin + axis.pad_end - eff;
  if (span < 0) return 0;
  if (!ceil_mode) return span / axis.stride + 1;
  int64_t out = ceil_div(span, axis.stride) + 1;
  if ((out - 1) * axis.stride >= in + axis.pad_begin) --out;
  return out;
}

int64_t transpose_output_size(int64_t in, WindowAxis& axis, int64_t output_padding, AutoPad auto_pad,
                              std::optional<int64_t> requested) {
  int64_t natural = axis.stride * (in - 1) + output_padding + axis.effective_kernel();
  if (auto_pad == AutoPad::kValid) axis.pad_begin = axis.pad_end = 0;
  bool same = auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower;
  if (!requested && same) requested = in * axis.stride;
  if (!requested) return natural - axis.pad_begin - axis.pad_end;
  split_pads(natural - *requested, auto_pad == AutoPad::kSameUpper, axis);
  return *requested;
}

int64_t dims_product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> dims_row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
  return strides;
}

void dims_unravel(int64_t flat, const std::vector<int64_t>& dims, std::vector<int64_t>& coord) {
  for (size_t i = dims.size(); i-- > 0;) {
    coord[i] = flat % dims[i];
    flat /= dims[i];
  }
}

std::vector<int64_t> window_tap_offsets(const std::vector<WindowAxis>& axes) {
  size_t nd = axes.size();
  int64_t taps = 1;
  for (const WindowAxis& a : axes) taps *= a.kernel;
  std::vector<int64_t> offsets(static_cast<size_t>(taps) * nd);
  std::vector<int64_t> k(nd, 0);
  for (int64_t t = 0; t < taps; ++t) {
    for (size_t i = 0; i < nd; ++i) offsets[static_cast<size_t>(t) * nd + i] = k[i] * axes[i].dilation;
    for (size_t i = nd; i-- > 0;) {  // odometer, last axis fastest
      if (++k[i] < axes[i].kernel) break;
      k[i] = 0;
    }
  }
  return offsets;
}

}  // namespace ef
