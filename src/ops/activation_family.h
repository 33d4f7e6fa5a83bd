// Shared helpers of the activation family's files and the registration entry points of its parts; all parts are
// registered from register_activation_ops (activation.cpp), which all_ops.cpp calls.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/dispatch.h"
#include "ops/registry.h"
#include "ops/shape_util.h"

namespace ef {

// Calls f(TypeTag<T>{}) for the floating-point element types (f16, bf16, f32, f64); kInvalidModel for others,
// since every op using it is float-only in every ONNX version.
template <typename F>
void visit_float_dtype(DType t, const Node& node, F&& f) {
  switch (t) {
    case DType::kFloat32: f(TypeTag<float>{}); return;
    case DType::kFloat64: f(TypeTag<double>{}); return;
    case DType::kFloat16: f(TypeTag<Float16>{}); return;
    case DType::kBFloat16: f(TypeTag<BFloat16>{}); return;
    default: fail(ErrorCode::kInvalidModel, node.label() + ": expects a floating-point tensor, got " + dtype_name(t));
  }
}

// Output 0 = input 0's type, after checking the input is floating point (when its type is known).
inline void infer_float_same_as_input(InferContext& ctx) {
  DType t = ctx.input_dtype(0);
  EF_CHECK(t == DType::kUndefined || dtype_is_float(t), kInvalidModel, "{}: expects a floating-point tensor, got {}",
           ctx.node().label(), dtype_name(t));
  infer_same_as_input(ctx);
}

// Converts a double to a floating-point storage type with a single rounding: for f16/bf16 the double is first
// narrowed to float with round-to-odd, which makes the second rounding (float -> 16 bits) exact-as-if-direct.
template <typename T>
T float_from_double(double d) {
  if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    float f = static_cast<float>(d);
    if (static_cast<double>(f) != d && !std::isnan(d) && !std::isinf(f)) {
      if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);  // truncate
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      bits |= 1u;  // sticky bit: inexact
      std::memcpy(&f, &bits, 4);
    }
    return T(f);
  } else {
    return static_cast<T>(d);
  }
}

enum class SoftmaxMode { kSoftmax, kLogSoftmax, kHardmax };

// Softmax-family math on a tensor viewed as [outer, n, inner], normalizing along the middle dimension
// (activation_softmax.cpp). Computes in double; `in` and `out` hold outer * n * inner elements.
void softmax_along_axis(SoftmaxMode mode, const double* in, double* out, int64_t outer, int64_t n, int64_t inner);

// Softmax, LogSoftmax, Hardmax (activation_softmax.cpp).
void register_softmax_ops(OpRegistry& r);
// NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss (activation_loss.cpp).
void register_loss_ops(OpRegistry& r);
// Cast, CastLike, Dropout (activation_cast.cpp).
void register_cast_dropout_ops(OpRegistry& r);

}  // namespace ef
