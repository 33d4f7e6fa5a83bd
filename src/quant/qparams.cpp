// Scale/zero-point choice and constant-tensor quantization (see qparams.h for the conventions).
#include "quant/qparams.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ef {
namespace {

struct Limits {
  int32_t lo, hi;
};

Limits type_limits(DType t) {
  if (t == DType::kInt8) return {-128, 127};
  if (t == DType::kUInt8) return {0, 255};
  fail(ErrorCode::kInvalidArgument, fmt::format("quantized type must be int8 or uint8, not {}", dtype_name(t)));
}

// A scale of 0 (all-zero tensor) would divide by zero in QuantizeLinear: 1 represents zeros just as well.
float safe_scale(double s) {
  return s > 0 && std::isfinite(s) && static_cast<float>(s) > 0 ? static_cast<float>(s) : 1.0f;
}

int32_t round_clamp(double v, int32_t lo, int32_t hi) {
  if (std::isnan(v)) return 0;
  return static_cast<int32_t>(std::clamp(std::nearbyint(v), static_cast<double>(lo), static_cast<double>(hi)));
}

// Per-index-along-axis view of a tensor: outer x channels x inner.
struct AxisView {
  int64_t channels = 1, inner = 1;
  int64_t channel_of(int64_t i) const { return (i / inner) % channels; }
};

AxisView axis_view(const Tensor& t, int axis) {
  AxisView v;
  if (axis < 0) {
    v.inner = std::max<int64_t>(t.numel(), 1);
    return v;
  }
  EF_CHECK(static_cast<size_t>(axis) < t.rank(), kInternal, "quantization axis {} of a rank-{} tensor", axis,
           t.rank());
  v.channels = t.dim(static_cast<size_t>(axis));
  for (size_t d = static_cast<size_t>(axis) + 1; d < t.rank(); ++d) v.inner *= t.dim(d);
  return v;
}

void store(Tensor& q, int64_t i, int32_t v) {
  if (q.dtype() == DType::kInt8) {
    q.data<int8_t>()[i] = static_cast<int8_t>(v);
  } else if (q.dtype() == DType::kUInt8) {
    q.data<uint8_t>()[i] = static_cast<uint8_t>(v);
  } else {
    q.data<int32_t>()[i] = v;
  }
}

}  // namespace

QuantParams activation_params(TensorRange range, DType dtype, bool symmetric) {
  const Limits lim = type_limits(dtype);
  const double lo = std::min(0.0, static_cast<double>(range.min)), hi = std::max(0.0, static_cast<double>(range.max));
  QuantParams p;
  p.dtype = dtype;
  if (symmetric) {
    const double absmax = std::max(-lo, hi);
    p.scale = {safe_scale(absmax / 127.0)};
    p.zero_point = {dtype == DType::kInt8 ? 0 : 128};
    return p;
  }
  const float scale = safe_scale((hi - lo) / (lim.hi - lim.lo));
  p.scale = {scale};
  p.zero_point = {round_clamp(lim.lo - lo / scale, lim.lo, lim.hi)};
  return p;
}

QuantParams params_with_scale(TensorRange range, DType dtype, bool symmetric, float scale) {
  QuantParams p = activation_params(range, dtype, symmetric);
  p.scale = {scale};
  if (!symmetric) {
    const Limits lim = type_limits(dtype);
    p.zero_point = {round_clamp(lim.lo - std::min(0.0, static_cast<double>(range.min)) / scale, lim.lo, lim.hi)};
  }
  return p;
}

Tensor quantize_with(const Tensor& w, const QuantParams& params) {
  EF_CHECK(w.dtype() == DType::kFloat32, kInternal, "quantizing a {} tensor", dtype_name(w.dtype()));
  const AxisView view = axis_view(w, params.axis);
  const Limits lim = params.dtype == DType::kInt32
                         ? Limits{std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()}
                         : type_limits(params.dtype);
  // Symmetric int8 weights stay in [-127, 127] so that -w quantizes exactly to -q.
  int32_t lo = params.dtype == DType::kInt8 ? -127 : lim.lo, hi = lim.hi;
  if (params.reduced) {
    lo = params.dtype == DType::kInt8 ? -64 : 0;
    hi = params.dtype == DType::kInt8 ? 64 : 127;
  }
  Tensor q = Tensor::zeros(params.dtype, w.shape());
  const float* src = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    const size_t c = static_cast<size_t>(view.channel_of(i));
    const double v = static_cast<double>(src[i]) / params.scale[c] + params.zero_point[c];
    store(q, i, round_clamp(v, lo, hi));
  }
  return q;
}

QuantizedTensor quantize_weight(const Tensor& w, DType dtype, int axis, bool reduce_range) {
  const AxisView view = axis_view(w, axis);
  std::vector<double> lo(static_cast<size_t>(view.channels), 0.0), hi(static_cast<size_t>(view.channels), 0.0);
  const float* src = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    if (!std::isfinite(src[i])) continue;
    const size_t c = static_cast<size_t>(view.channel_of(i));
    lo[c] = std::min(lo[c], static_cast<double>(src[i]));
    hi[c] = std::max(hi[c], static_cast<double>(src[i]));
  }
  QuantizedTensor out;
  out.params.dtype = dtype;
  out.params.axis = axis;
  out.params.reduced = reduce_range;
  for (size_t c = 0; c < lo.size(); ++c) {
    if (dtype == DType::kInt8) {
      out.params.scale.push_back(safe_scale(std::max(-lo[c], hi[c]) / (reduce_range ? 64.0 : 127.0)));
      out.params.zero_point.push_back(0);
    } else {
      const double l = std::min(0.0, lo[c]), h = std::max(0.0, hi[c]);
      const double levels = reduce_range ? 127.0 : 255.0;
      const float scale = safe_scale((h - l) / levels);
      out.params.scale.push_back(scale);
      out.params.zero_point.push_back(round_clamp(-l / scale, 0, static_cast<int32_t>(levels)));
    }
  }
  out.values = quantize_with(w, out.params);
  return out;
}

QuantizedTensor quantize_bias(const Tensor& bias, float input_scale, std::vector<float>& weight_scales) {
  EF_CHECK(bias.dtype() == DType::kFloat32 && bias.rank() == 1, kInternal, "bias must be a float32 vector");
  const int64_t n = bias.numel();
  const bool per_channel = weight_scales.size() > 1;
  EF_CHECK(!per_channel || static_cast<int64_t>(weight_scales.size()) == n, kInternal,
           "{} weight scales for a bias of {}", weight_scales.size(), n);
  const double limit = static_cast<double>(std::numeric_limits<int32_t>::max());
  const float* b = bias.data<float>();
  // A bias too large for int32 at scale input_scale * weight_scale widens the weight scale just enough.
  for (int64_t i = 0; i < n; ++i) {
    float& ws = weight_scales[per_channel ? static_cast<size_t>(i) : 0];
    const double needed = std::abs(static_cast<double>(b[i])) / (limit * static_cast<double>(input_scale));
    if (std::isfinite(needed) && needed > ws) ws = static_cast<float>(needed * 1.0001);
  }
  QuantizedTensor out;
  out.params.dtype = DType::kInt32;
  out.params.axis = per_channel ? 0 : -1;
  for (float ws : weight_scales) {
    out.params.scale.push_back(safe_scale(static_cast<double>(input_scale) * ws));
    out.params.zero_point.push_back(0);
  }
  out.values = quantize_with(bias, out.params);
  return out;
}

TensorRange representable_range(const QuantParams& p) {
  const Limits lim = type_limits(p.dtype);
  return {static_cast<float>(lim.lo - p.zero_point[0]) * p.scale[0],
          static_cast<float>(lim.hi - p.zero_point[0]) * p.scale[0]};
}

}  // namespace ef
