// Unary element-wise math: Abs, Neg, Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, Sign, trigonometric and
// hyperbolic functions, Erf, IsNaN, IsInf, Not, Identity. Activations live in activation.cpp.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/dispatch.h"
#include "ops/activation_family.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

// Applies Op::apply(compute_t<T>) to every element of input 0 into output 0 (same dtype).
template <typename Op>
void unary_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& out = ctx.output(0);
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) po[i] = static_cast<T>(Op::apply(static_cast<C>(px[i])));
  });
}

// ONNX defines these on floating-point tensors only (infer_float_same_as_input rejects the rest): on an integer
// type a NaN or infinite result (Acosh(0), Log(0)) would have no value to convert to.
#define EF_FLOAT_UNARY(NAME, EXPR) \
  struct NAME {                    \
    template <typename C>          \
    static C apply(C x) {          \
      return static_cast<C>(EXPR); \
    }                              \
  };

EF_FLOAT_UNARY(ExpOp, std::exp(x))
EF_FLOAT_UNARY(LogOp, std::log(x))
EF_FLOAT_UNARY(SqrtOp, std::sqrt(x))
EF_FLOAT_UNARY(SinOp, std::sin(x))
EF_FLOAT_UNARY(CosOp, std::cos(x))
EF_FLOAT_UNARY(TanOp, std::tan(x))
EF_FLOAT_UNARY(AsinOp, std::asin(x))
EF_FLOAT_UNARY(AcosOp, std::acos(x))
EF_FLOAT_UNARY(AtanOp, std::atan(x))
EF_FLOAT_UNARY(SinhOp, std::sinh(x))
EF_FLOAT_UNARY(CoshOp, std::cosh(x))
EF_FLOAT_UNARY(AsinhOp, std::asinh(x))
EF_FLOAT_UNARY(AcoshOp, std::acosh(x))
EF_FLOAT_UNARY(AtanhOp, std::atanh(x))
EF_FLOAT_UNARY(ErfOp, std::erf(x))
EF_FLOAT_UNARY(FloorOp, std::floor(x))
EF_FLOAT_UNARY(CeilOp, std::ceil(x))
EF_FLOAT_UNARY(RoundOp, std::nearbyint(x))  // default rounding mode: half to even, as ONNX specifies
#undef EF_FLOAT_UNARY

struct AbsOp {
  template <typename C>
  static C apply(C x) {
    if constexpr (std::is_unsigned_v<C>) {
      return x;
    } else {
      return x < 0 ? static_cast<C>(-x) : x;
    }
  }
};
struct NegOp {
  template <typename C>
  static C apply(C x) {
    if constexpr (std::is_unsigned_v<C>) {
      return static_cast<C>(0 - x);
    } else {
      return static_cast<C>(-x);
    }
  }
};
struct ReciprocalOp {
  template <typename C>
  static C apply(C x) {
    return static_cast<C>(C(1) / x);
  }
};
struct SignOp {
  template <typename C>
  static C apply(C x) {
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(x)) return x;
    }
    return static_cast<C>(x > C(0) ? 1 : (x < C(0) ? -1 : 0));
  }
};

void infer_bool_out(InferContext& ctx) { ctx.set_output(0, DType::kBool, ctx.input_type(0).dims); }

void isnan_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool* po = ctx.output(0).data<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) po[i] = std::isnan(x.value_as_double(i));
}

void isinf_kernel(KernelContext& ctx) {
  bool pos = ctx.node().attr_int("detect_positive", 1) != 0;
  bool neg = ctx.node().attr_int("detect_negative", 1) != 0;
  const Tensor& x = ctx.input(0);
  bool* po = ctx.output(0).data<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    double v = x.value_as_double(i);
    po[i] = std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
  }
}

// Not is defined on bool only; any other input (a mutated model) is rejected before a byte is read as bool.
void infer_not(InferContext& ctx) {
  EF_CHECK(ctx.input_dtype(0) == DType::kBool || ctx.input_dtype(0) == DType::kUndefined, kInvalidModel,
           "{}: Not takes a bool input, got {}",
           ctx.node().label(), dtype_name(ctx.input_dtype(0)));
  infer_same_as_input(ctx);
}

void not_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool* px = x.data<bool>();
  bool* po = ctx.output(0).data<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) po[i] = !px[i];
}

void identity_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.nbytes()) std::memcpy(ctx.output(0).raw(), x.raw(), x.nbytes());
}

}  // namespace

void register_elementwise_unary_ops(OpRegistry& r) {
  r.add({"", "Abs", 1, 13, infer_same_as_input, unary_kernel<AbsOp>});
  r.add({"", "Neg", 1, 13, infer_same_as_input, unary_kernel<NegOp>});
  r.add({"", "Exp", 1, 13, infer_float_same_as_input, unary_kernel<ExpOp>});
  r.add({"", "Log", 1, 13, infer_float_same_as_input, unary_kernel<LogOp>});
  r.add({"", "Sqrt", 1, 13, infer_float_same_as_input, unary_kernel<SqrtOp>});
  r.add({"", "Reciprocal", 1, 13, infer_float_same_as_input, unary_kernel<ReciprocalOp>});
  r.add({"", "Floor", 1, 13, infer_float_same_as_input, unary_kernel<FloorOp>});
  r.add({"", "Ceil", 1, 13, infer_float_same_as_input, unary_kernel<CeilOp>});
  r.add({"", "Round", 11, 11, infer_float_same_as_input, unary_kernel<RoundOp>});
  r.add({"", "Sign", 9, 13, infer_same_as_input, unary_kernel<SignOp>});
  r.add({"", "Sin", 7, 7, infer_float_same_as_input, unary_kernel<SinOp>});
  r.add({"", "Cos", 7, 7, infer_float_same_as_input, unary_kernel<CosOp>});
  r.add({"", "Tan", 7, 7, infer_float_same_as_input, unary_kernel<TanOp>});
  r.add({"", "Asin", 7, 7, infer_float_same_as_input, unary_kernel<AsinOp>});
  r.add({"", "Acos", 7, 7, infer_float_same_as_input, unary_kernel<AcosOp>});
  r.add({"", "Atan", 7, 7, infer_float_same_as_input, unary_kernel<AtanOp>});
  r.add({"", "Sinh", 9, 9, infer_float_same_as_input, unary_kernel<SinhOp>});
  r.add({"", "Cosh", 9, 9, infer_float_same_as_input, unary_kernel<CoshOp>});
  r.add({"", "Asinh", 9, 9, infer_float_same_as_input, unary_kernel<AsinhOp>});
  r.add({"", "Acosh", 9, 9, infer_float_same_as_input, unary_kernel<AcoshOp>});
  r.add({"", "Atanh", 9, 9, infer_float_same_as_input, unary_kernel<AtanhOp>});
  r.add({"", "Erf", 9, 13, infer_same_as_input, unary_kernel<ErfOp>});
  r.add({"", "IsNaN", 9, 13, infer_bool_out, isnan_kernel});
  r.add({"", "IsInf", 10, 10, infer_bool_out, isinf_kernel});
  r.add({"", "Not", 1, 1, infer_not, not_kernel});
  r.add({"", "Identity", 1, 16, infer_same_as_input, identity_kernel});
}

}  // namespace ef
