// Point-wise activations (Relu, LeakyRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid, HardSwish, Tanh, Softplus,
// Softsign, ThresholdedRelu, Shrink) and Clip. The rest of the family lives in activation_*.cpp.
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/dispatch.h"
#include "ops/activation_family.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

// Each activation is a functor built from the node's attributes and applied to one element in compute type C
// (float for f16/bf16/f32, double for f64). Legacy opset-1 `consumed_inputs` attributes are ignored.
struct Relu {
  explicit Relu(const Node&) {}
  template <typename C>
  C operator()(C x) const {
    return x < C(0) ? C(0) : x;  // written so NaN passes through as in NumPy's maximum
  }
};

struct LeakyRelu {
  float alpha;
  explicit LeakyRelu(const Node& n) : alpha(n.attr_float("alpha", 0.01f)) {}
  template <typename C>
  C operator()(C x) const {
    return x < C(0) ? static_cast<C>(alpha) * x : x;
  }
};

struct Elu {
  float alpha;
  explicit Elu(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {}
  template <typename C>
  C operator()(C x) const {
    return x < C(0) ? static_cast<C>(alpha) * std::expm1(x) : x;
  }
};

struct Selu {
  float alpha, gamma;
  // Opset 1 had rounder defaults than opset 6.
  explicit Selu(const Node& n)
      : alpha(n.attr_float("alpha", n.version < 6 ? 1.6732f : 1.67326319217681884765625f)),
        gamma(n.attr_float("gamma", n.version < 6 ? 1.0507f : 1.05070102214813232421875f)) {}
  template <typename C>
  C operator()(C x) const {
    C g = static_cast<C>(gamma);
    return x > C(0) ? g * x : g * static_cast<C>(alpha) * std::expm1(x);
  }
};

struct Celu {
  float alpha;
  explicit Celu(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {
    EF_CHECK(alpha != 0.0f, kInvalidModel, "{}: alpha must not be 0", n.label());
  }
  template <typename C>
  C operator()(C x) const {
    C a = static_cast<C>(alpha);
    return x > C(0) ? x : a * std::expm1(x / a);
  }
};

struct Sigmoid {
  explicit Sigmoid(const Node&) {}
  template <typename C>
  C operator()(C x) const {
    // Both branches only exponentiate non-positive numbers, so neither overflows.
    if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
    C e = std::exp(x);
    return e / (C(1) + e);
  }
};

struct HardSigmoid {
  float alpha, beta;
  explicit HardSigmoid(const Node& n) : alpha(n.attr_float("alpha", 0.2f)), beta(n.attr_float("beta", 0.5f)) {}
  template <typename C>
  C operator()(C x) const {
    C y = static_cast<C>(alpha) * x + static_cast<C>(beta);
    return y < C(0) ? C(0) : (y > C(1) ? C(1) : y);
  }
};

struct HardSwish {
  explicit HardSwish(const Node&) {}
  template <typename C>
  C operator()(C x) const {
    C y = x / C(6) + C(0.5);
    return x * (y < C(0) ? C(0) : (y > C(1) ? C(1) : y));
  }
};

struct Tanh {
  explicit Tanh(const Node&) {}
  template <typename C>
  C operator()(C x) const {
    return std::tanh(x);
  }
};

struct Softplus {
  explicit Softplus(const Node&) {}
  template <typename C>
  C operator()(C x) const {
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): exact for large |x| where e^x would overflow.
    return (x > C(0) ? x : C(0)) + std::log1p(std::exp(-std::fabs(x)));
  }
};

struct Softsign {
  explicit Softsign(const Node&) {}
  template <typename C>
  C operator()(C x) const {
    return x / (C(1) + std::fabs(x));
  }
};

struct ThresholdedRelu {
  float alpha;
  explicit ThresholdedRelu(const Node& n) : alpha(n.attr_float("alpha", 1.0f)) {}
  template <typename C>
  C operator()(C x) const {
    return x > static_cast<C>(alpha) ? x : C(0);
  }
};

struct Shrink {
  float lambd, bias;
  explicit Shrink(const Node& n) : lambd(n.attr_float("lambd", 0.5f)), bias(n.attr_float("bias", 0.0f)) {}
  template <typename C>
  C operator()(C x) const {
    C l = static_cast<C>(lambd);
    C b = static_cast<C>(bias);
    if (x < -l) return x + b;
    if (x > l) return x - b;
    return C(0);
  }
};

// Applies Op element-wise over input 0 of a floating-point type.
template <typename Op>
void float_activation_kernel(KernelContext& ctx) {
  Op op(ctx.node());
  const Tensor& x = ctx.input(0);
  Tensor& out = ctx.output(0);
  visit_float_dtype(x.dtype(), ctx.node(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) po[i] = static_cast<T>(op(static_cast<C>(px[i])));
  });
}

// Relu (opset 14) also takes signed integers.
void relu_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (dtype_is_float(x.dtype())) {
    float_activation_kernel<Relu>(ctx);
    return;
  }
  Relu op(ctx.node());
  Tensor& out = ctx.output(0);
  visit_arith_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) po[i] = op(px[i]);
  });
}

// Shrink also takes integers; its float attributes make the arithmetic happen in double.
void shrink_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (dtype_is_float(x.dtype())) {
    float_activation_kernel<Shrink>(ctx);
    return;
  }
  Shrink op(ctx.node());
  Tensor& out = ctx.output(0);
  visit_arith_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) po[i] = static_cast<T>(op(static_cast<double>(px[i])));
  });
}

void infer_numeric_same_as_input(InferContext& ctx) {
  DType t = ctx.input_dtype(0);
  EF_CHECK(t == DType::kUndefined || dtype_is_float(t) || dtype_is_integer(t), kInvalidModel,
           "{}: expects a numeric tensor, got {}", ctx.node().label(), dtype_name(t));
  infer_same_as_input(ctx);
}

// Reads Clip's optional min/max input (opset 11+): a one-element tensor of the data's type.
template <typename T>
T clip_bound_input(const KernelContext& ctx, size_t i) {
  const Tensor& b = ctx.input(i);
  EF_CHECK(b.dtype() == ctx.input(0).dtype(), kInvalidModel, "{}: {} has type {} but the input is {}",
           ctx.node().label(), i == 1 ? "min" : "max", dtype_name(b.dtype()), dtype_name(ctx.input(0).dtype()));
  EF_CHECK(b.numel() == 1, kInvalidModel, "{}: {} must be a scalar, got shape {}", ctx.node().label(),
           i == 1 ? "min" : "max", shape_str(b.shape()));
  return b.data<T>()[0];
}

void clip_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& out = ctx.output(0);
  const Node& node = ctx.node();
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    // "No bound" is +-infinity for floats so that infinite inputs pass through unchanged.
    using Limits = std::numeric_limits<C>;
    C lo = Limits::has_infinity ? -Limits::infinity() : Limits::lowest();
    C hi = Limits::has_infinity ? Limits::infinity() : Limits::max();
    if (ctx.version() < 11) {
      EF_CHECK(dtype_is_float(x.dtype()), kInvalidModel, "{}: Clip-{} expects a floating-point tensor, got {}",
               node.label(), ctx.version(), dtype_name(x.dtype()));
      // Opset 6 gives absent bounds the float range as defaults; opset 1 leaves them unbounded.
      constexpr float kFloatMax = std::numeric_limits<float>::max();
      if (node.has_attr("min") || ctx.version() >= 6) lo = static_cast<C>(node.attr_float("min", -kFloatMax));
      if (node.has_attr("max") || ctx.version() >= 6) hi = static_cast<C>(node.attr_float("max", kFloatMax));
    } else {
      if (ctx.has_input(1)) lo = static_cast<C>(clip_bound_input<T>(ctx, 1));
      if (ctx.has_input(2)) hi = static_cast<C>(clip_bound_input<T>(ctx, 2));
    }
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      // With min > max every element becomes max, as the spec asks; NaN fails both tests and passes through.
      C v = static_cast<C>(px[i]);
      if (v < lo) v = lo;
      if (v > hi) v = hi;
      po[i] = static_cast<T>(v);
    }
  });
}

}  // namespace

void register_activation_ops(OpRegistry& r) {
  r.add({"", "Relu", 1, 14, infer_numeric_same_as_input, relu_kernel});
  r.add({"", "LeakyRelu", 1, 16, infer_float_same_as_input, float_activation_kernel<LeakyRelu>});
  r.add({"", "Elu", 1, 6, infer_float_same_as_input, float_activation_kernel<Elu>});
  r.add({"", "Selu", 1, 6, infer_float_same_as_input, float_activation_kernel<Selu>});
  r.add({"", "Celu", 12, 12, infer_float_same_as_input, float_activation_kernel<Celu>});
  r.add({"", "Sigmoid", 1, 13, infer_float_same_as_input, float_activation_kernel<Sigmoid>});
  r.add({"", "HardSigmoid", 1, 6, infer_float_same_as_input, float_activation_kernel<HardSigmoid>});
  r.add({"", "HardSwish", 14, 14, infer_float_same_as_input, float_activation_kernel<HardSwish>});
  r.add({"", "Tanh", 1, 13, infer_float_same_as_input, float_activation_kernel<Tanh>});
  r.add({"", "Softplus", 1, 1, infer_float_same_as_input, float_activation_kernel<Softplus>});
  r.add({"", "Softsign", 1, 1, infer_float_same_as_input, float_activation_kernel<Softsign>});
  r.add({"", "ThresholdedRelu", 10, 10, infer_float_same_as_input, float_activation_kernel<ThresholdedRelu>});
  r.add({"", "Shrink", 9, 9, infer_numeric_same_as_input, shrink_kernel});
  r.add({"", "Clip", 1, 13, infer_numeric_same_as_input, clip_kernel});
  register_softmax_ops(r);
  register_loss_ops(r);
  register_cast_dropout_ops(r);
}

}  // namespace ef
