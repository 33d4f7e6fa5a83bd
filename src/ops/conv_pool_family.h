// Shared pieces of the conv_pool family: window attribute parsing/validation and the float-type dispatch used by
// Conv/ConvTranspose (conv.cpp) and the pooling ops (pool.cpp). register_conv_pool_ops (conv_pool.cpp) calls both
// parts' registration functions.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dispatch.h"
#include "kernels/reference/conv.h"
#include "kernels/reference/conv_geometry.h"
#include "ops/registry.h"
#include "ops/shape_util.h"

namespace ef {

void register_conv_ops(OpRegistry& r);  // Conv, ConvTranspose (conv.cpp)
void register_pool_ops(OpRegistry& r);  // MaxPool, AveragePool, LpPool, Global*Pool, MaxUnpool (pool.cpp)

// Window attributes of Conv, ConvTranspose and the pooling ops, validated against the node.
struct WindowAttrs {
  std::vector<WindowAxis> axes;  // kernel, strides, dilations and the explicit pads, one entry per spatial axis
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;
};

// Reads strides, dilations, pads, auto_pad and ceil_mode for the given kernel (one entry per spatial axis),
// checking sizes and signs; throws kInvalidModel naming the node.
WindowAttrs read_window_attrs(const Node& node, const std::vector<int64_t>& kernel);

// Output size of spatial axis `axis` for an input of `in` elements (Conv and pools), resolving SAME/VALID pads into
// attrs.axes[axis]; throws kInvalidModel naming the node when no window fits.
int64_t window_axis_output(const Node& node, size_t axis, int64_t in, WindowAttrs& attrs);

// Geometry of a Conv / ConvTranspose (or FusedConv) node for concrete shapes already validated by inference; also
// what the fast CPU provider plans its kernels from, so both always agree on pads and output dims.
ConvParams conv_params(const Node& node, const Shape& x, const Shape& w, const Shape& y);

// Checks that `t` (an input's dtype, or kUndefined while unknown) is a floating-point type.
void check_float_dtype(const Node& node, DType t);

// Runs fn(in, y) with `in` a std::vector<const T*> over `inputs` (nullptr for absent ones) and `y` the output as
// T*, for T = float or double. 16-bit floats compute through float copies: a value widened to float is exact,
// and the result is rounded once on the way back.
template <typename Fn>
void run_float_kernel(const Node& node, const std::vector<const Tensor*>& inputs, Tensor& out, Fn&& fn) {
  auto run_as = [&](auto tag) {
    using T = typename decltype(tag)::type;
    std::vector<const T*> ptrs;
    for (const Tensor* t : inputs) ptrs.push_back(t ? t->data<T>() : nullptr);
    fn(ptrs, out.data<T>());
  };
  auto run_widened = [&](auto tag) {
    using H = typename decltype(tag)::type;
    std::vector<std::vector<float>> wide(inputs.size());
    std::vector<const float*> ptrs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i]) {
        const H* src = inputs[i]->data<H>();
        wide[i].assign(src, src + inputs[i]->numel());
      }
      ptrs.push_back(inputs[i] ? wide[i].data() : nullptr);
    }
    std::vector<float> result(static_cast<size_t>(out.numel()));
    fn(ptrs, result.data());
    H* dst = out.data<H>();
    for (size_t i = 0; i < result.size(); ++i) dst[i] = H(result[i]);
  };
  switch (out.dtype()) {
    case DType::kFloat32: run_as(TypeTag<float>{}); return;
    case DType::kFloat64: run_as(TypeTag<double>{}); return;
    case DType::kFloat16: run_widened(TypeTag<Float16>{}); return;
    case DType::kBFloat16: run_widened(TypeTag<BFloat16>{}); return;
    default:
      fail(ErrorCode::kInvalidModel, node.label() + ": expects a floating-point tensor, got " + dtype_name(out.dtype()));
  }
}

}  // namespace ef
