// Binary and variadic element-wise ops with NumPy broadcasting: arithmetic, comparison, logical, bit shift,
// Where and PRelu. Opset < 7 forms use the legacy `broadcast`/`axis` attributes, mapped onto NumPy rules here.
#include <cmath>
#include <cstring>
#include <functional>
#include <type_traits>

#include "core/dispatch.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

// Opset 1-6 Add/Sub/Mul/Div/... : with broadcast=1, B's dims align with A's starting at `axis` (default: suffix).
Shape legacy_b_shape(const Node& node, const Shape& a, const Shape& b) {
  if (node.version >= 7 || node.attr_int("broadcast", 0) == 0) return b;
  int64_t rank_a = static_cast<int64_t>(a.size());
  int64_t rank_b = static_cast<int64_t>(b.size());
  int64_t axis = node.has_attr("axis") ? node.attr_int("axis", 0) : rank_a - rank_b;
  if (axis < 0) axis += rank_a;
  EF_CHECK(axis >= 0 && axis + rank_b <= rank_a, kInvalidModel, "{}: legacy broadcast of {} onto {} at axis {}",
           node.label(), shape_str(b), shape_str(a), axis);
  Shape out(static_cast<size_t>(rank_a), 1);
  for (int64_t i = 0; i < rank_b; ++i) out[static_cast<size_t>(axis + i)] = b[static_cast<size_t>(i)];
  return out;
}

void infer_binary(InferContext& ctx, DType out) {
  // Kernels read both inputs as one element type: a mismatch would reinterpret (and overrun) the other buffer.
  // Pow alone takes its exponent in a type of its own.
  const DType a = ctx.input_dtype(0), b = ctx.input_dtype(1);
  EF_CHECK(ctx.node().op_type == "Pow" || a == DType::kUndefined || b == DType::kUndefined || a == b, kInvalidModel,
           "{}: inputs have different element types {} and {}", ctx.node().label(), dtype_name(a), dtype_name(b));
  if (ctx.version() < 7 && ctx.node().attr_int("broadcast", 0) != 0) {
    ctx.set_output(0, out, ctx.input_type(0).dims);  // legacy broadcast never grows A
    return;
  }
  if (ctx.version() < 7) {  // no broadcasting at all: shapes must match
    ctx.set_output(0, out, ctx.input_type(0).dims);
    return;
  }
  infer_broadcast(ctx, out);
}

void infer_arith(InferContext& ctx) { infer_binary(ctx, ctx.input_dtype(0)); }
void infer_compare(InferContext& ctx) { infer_binary(ctx, DType::kBool); }
void infer_logical(InferContext& ctx) {
  const DType a = ctx.input_dtype(0);
  EF_CHECK(a == DType::kUndefined || a == DType::kBool, kInvalidModel, "{}: inputs must be bool, got {}",
           ctx.node().label(), dtype_name(a));
  infer_binary(ctx, DType::kBool);
}

// Applies `f(a, b)` over the broadcast of inputs 0 and 1 into output 0.
template <typename TIn, typename TOut, typename F>
void binary_loop(KernelContext& ctx, F f) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.output(0);
  Shape b_shape = legacy_b_shape(ctx.node(), a.shape(), b.shape());
  const TIn* pa = a.data<TIn>();
  const TIn* pb = b.data<TIn>();
  TOut* po = out.data<TOut>();
  if (a.shape() == b_shape) {
    for (int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[i], pb[i]);
    return;
  }
  if (b.numel() == 1 && a.shape() == out.shape()) {
    for (int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[i], pb[0]);
    return;
  }
  BroadcastIndexer idx(out.shape(), {a.shape(), b_shape});
  int64_t off[2];
  for (int64_t i = 0; i < out.numel(); ++i) {
    idx.offsets(i, off);
    po[i] = f(pa[off[0]], pb[off[1]]);
  }
}

// Arithmetic in compute_t<T> (float for the 16-bit floats), stored back as T.
template <typename Op>
void arith_kernel(KernelContext& ctx) {
  visit_dtype(ctx.input(0).dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      fail(ErrorCode::kUnsupported, ctx.node().label() + ": arithmetic on bool tensors");
    } else {
      using C = compute_t<T>;
      binary_loop<T, T>(ctx, [](T x, T y) { return static_cast<T>(Op::apply(static_cast<C>(x), static_cast<C>(y))); });
    }
  });
}

// Signed integer overflow is undefined behaviour in C++; ONNX integer tensors wrap around (two's complement, as
// NumPy does), so signed operands are combined in the unsigned type of their promoted sum (unsigned int for
// int8/int16: a promoted uint16 product could overflow int) and converted back, which C++20 defines as modular.
template <typename C, typename F>
C wrapping(C a, C b, F f) {
  if constexpr (std::is_integral_v<C> && std::is_signed_v<C>) {
    using U = std::make_unsigned_t<decltype(a + b)>;
    return static_cast<C>(f(static_cast<U>(a), static_cast<U>(b)));
  } else {
    return static_cast<C>(f(a, b));
  }
}
struct AddOp { template <typename C> static C apply(C a, C b) { return wrapping(a, b, std::plus<>{}); } };
struct SubOp { template <typename C> static C apply(C a, C b) { return wrapping(a, b, std::minus<>{}); } };
struct MulOp { template <typename C> static C apply(C a, C b) { return wrapping(a, b, std::multiplies<>{}); } };
struct DivOp {
  template <typename C>
  static C apply(C a, C b) {
    if constexpr (std::is_integral_v<C>) {
      if (b == 0) return 0;  // ONNX leaves integer division by zero undefined; never trap
      if constexpr (std::is_signed_v<C>) {
        if (b == -1) return static_cast<C>(-static_cast<std::make_unsigned_t<C>>(a));
      }
    }
    return a / b;
  }
};
// NaN propagates through Min/Max as in NumPy's minimum/maximum.
struct MinOp {
  template <typename C>
  static C apply(C a, C b) {
    if (std::isnan(static_cast<double>(a))) return a;
    if (std::isnan(static_cast<double>(b))) return b;
    return b < a ? b : a;
  }
};
struct MaxOp {
  template <typename C>
  static C apply(C a, C b) {
    if (std::isnan(static_cast<double>(a))) return a;
    if (std::isnan(static_cast<double>(b))) return b;
    return b > a ? b : a;
  }
};

void add_kernel(KernelContext& ctx) { arith_kernel<AddOp>(ctx); }
void sub_kernel(KernelContext& ctx) { arith_kernel<SubOp>(ctx); }
void mul_kernel(KernelContext& ctx) { arith_kernel<MulOp>(ctx); }
void div_kernel(KernelContext& ctx) { arith_kernel<DivOp>(ctx); }

void mod_kernel(KernelContext& ctx) {
  bool use_fmod = ctx.node().attr_int("fmod", 0) != 0;
  visit_arith_or_half(ctx.input(0).dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    binary_loop<T, T>(ctx, [use_fmod](T xt, T yt) {
      C x = static_cast<C>(xt), y = static_cast<C>(yt);
      if constexpr (std::is_floating_point_v<C>) {
        C r = std::fmod(x, y);
        if (!use_fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
        return static_cast<T>(r);
      } else {
        if (y == 0) return static_cast<T>(0);
        C r = static_cast<C>(x % y);
        if (!use_fmod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
        return static_cast<T>(r);
      }
    });
  });
}

void pow_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.output(0);
  Shape b_shape = legacy_b_shape(ctx.node(), a.shape(), b.shape());
  BroadcastIndexer idx(out.shape(), {a.shape(), b_shape});
  int64_t off[2];
  visit_arith_or_half(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      idx.offsets(i, off);
      double x = a.value_as_double(off[0]);
      double y = b.value_as_double(off[1]);
      double r = std::pow(x, y);
      if constexpr (std::is_integral_v<T>) {
        po[i] = static_cast<T>(static_cast<int64_t>(r));
      } else {
        po[i] = static_cast<T>(static_cast<compute_t<T>>(r));
      }
    }
  });
}

template <typename Cmp>
void compare_kernel(KernelContext& ctx) {
  visit_dtype(ctx.input(0).dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    binary_loop<T, bool>(ctx, [](T x, T y) { return Cmp::apply(static_cast<C>(x), static_cast<C>(y)); });
  });
}
struct EqualOp { template <typename C> static bool apply(C a, C b) { return a == b; } };
struct LessOp { template <typename C> static bool apply(C a, C b) { return a < b; } };
struct GreaterOp { template <typename C> static bool apply(C a, C b) { return a > b; } };
struct LessEqOp { template <typename C> static bool apply(C a, C b) { return a <= b; } };
struct GreaterEqOp { template <typename C> static bool apply(C a, C b) { return a >= b; } };

template <typename F>
void logical_kernel(KernelContext& ctx, F f) {
  binary_loop<bool, bool>(ctx, f);
}

void bitshift_kernel(KernelContext& ctx) {
  bool left = ctx.node().attr_string("direction", "") == "LEFT";
  EF_CHECK(left || ctx.node().attr_string("direction", "") == "RIGHT", kInvalidModel,
           "{}: direction must be LEFT or RIGHT", ctx.node().label());
  visit_arith_dtype(ctx.input(0).dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
      binary_loop<T, T>(ctx, [left](T x, T s) {
        if (s >= sizeof(T) * 8) return static_cast<T>(0);
        return static_cast<T>(left ? x << s : x >> s);
      });
    } else {
      fail(ErrorCode::kInvalidModel, ctx.node().label() + ": BitShift needs an unsigned integer type");
    }
  });
}

// Min/Max/Sum/Mean over any number of inputs, folded pairwise with broadcasting.
template <typename Op>
void variadic_kernel(KernelContext& ctx, bool mean) {
  Tensor& out = ctx.output(0);
  visit_arith_or_half(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    std::vector<C> acc(static_cast<size_t>(out.numel()));
    std::vector<Shape> shapes;
    for (size_t k = 0; k < ctx.num_inputs(); ++k) {
      const Tensor& in = ctx.input(k);
      BroadcastIndexer idx(out.shape(), {in.shape()});
      const T* p = in.data<T>();
      int64_t off;
      for (int64_t i = 0; i < out.numel(); ++i) {
        idx.offsets(i, &off);
        C v = static_cast<C>(p[off]);
        acc[static_cast<size_t>(i)] = k == 0 ? v : Op::apply(acc[static_cast<size_t>(i)], v);
      }
    }
    T* po = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      C v = acc[static_cast<size_t>(i)];
      if (mean) v = static_cast<C>(v / static_cast<C>(ctx.num_inputs()));
      po[i] = static_cast<T>(v);
    }
  });
}

// Every input of Sum/Max/Min/Mean, and X/Y of Where, is read as one element type.
void check_same_dtypes(InferContext& ctx, size_t first) {
  const DType t = ctx.input_dtype(first);
  for (size_t i = first + 1; i < ctx.node().inputs.size(); ++i) {
    const DType u = ctx.input_dtype(i);
    EF_CHECK(t == DType::kUndefined || u == DType::kUndefined || t == u, kInvalidModel,
             "{}: inputs have different element types {} and {}", ctx.node().label(), dtype_name(t), dtype_name(u));
  }
}

void infer_variadic(InferContext& ctx) {
  check_same_dtypes(ctx, 0);
  if (ctx.version() < 8) {  // no broadcasting before opset 8: all shapes equal
    infer_same_as_input(ctx);
    return;
  }
  infer_broadcast(ctx, ctx.input_dtype(0));
}

void infer_where(InferContext& ctx) {
  const DType c = ctx.input_dtype(0);
  EF_CHECK(c == DType::kUndefined || c == DType::kBool, kInvalidModel, "{}: condition must be bool, got {}",
           ctx.node().label(), dtype_name(c));
  check_same_dtypes(ctx, 1);
  infer_broadcast(ctx, ctx.input_dtype(1));
}

void where_kernel(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  Tensor& out = ctx.output(0);
  BroadcastIndexer idx(out.shape(), {c.shape(), x.shape(), y.shape()});
  size_t es = dtype_size(out.dtype());
  const bool* pc = c.data<bool>();
  const auto* px = static_cast<const uint8_t*>(x.raw());
  const auto* py = static_cast<const uint8_t*>(y.raw());
  auto* po = static_cast<uint8_t*>(out.raw());
  int64_t off[3];
  for (int64_t i = 0; i < out.numel(); ++i) {
    idx.offsets(i, off);
    const uint8_t* src = pc[off[0]] ? px + off[1] * es : py + off[2] * es;
    std::memcpy(po + i * es, src, es);
  }
}

// PRelu: slope broadcasts onto X (opset < 7: unidirectional, slope of shape [C] applied per channel).
Shape prelu_slope_shape(const Node& node, const Shape& x, const Shape& slope) {
  if (node.version >= 7 || slope.size() != 1 || x.size() < 2 || slope[0] != x[1] || slope[0] == 1) return slope;
  Shape s(x.size() - 1, 1);
  s[0] = slope[0];
  return s;
}

void prelu_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  Tensor& out = ctx.output(0);
  BroadcastIndexer idx(out.shape(), {x.shape(), prelu_slope_shape(ctx.node(), x.shape(), slope.shape())});
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    const T* ps = slope.data<T>();
    T* po = out.data<T>();
    int64_t off[2];
    for (int64_t i = 0; i < out.numel(); ++i) {
      idx.offsets(i, off);
      C v = static_cast<C>(px[off[0]]);
      po[i] = v < 0 ? static_cast<T>(v * static_cast<C>(ps[off[1]])) : px[off[0]];
    }
  });
}

}  // namespace

void register_elementwise_binary_ops(OpRegistry& r) {
  r.add({"", "Add", 1, 14, infer_arith, add_kernel});
  r.add({"", "Sub", 1, 14, infer_arith, sub_kernel});
  r.add({"", "Mul", 1, 14, infer_arith, mul_kernel});
  r.add({"", "Div", 1, 14, infer_arith, div_kernel});
  r.add({"", "Mod", 10, 13, infer_arith, mod_kernel});
  r.add({"", "Pow", 1, 15, infer_arith, pow_kernel});
  r.add({"", "Equal", 1, 13, infer_compare, compare_kernel<EqualOp>});
  r.add({"", "Less", 1, 13, infer_compare, compare_kernel<LessOp>});
  r.add({"", "Greater", 1, 13, infer_compare, compare_kernel<GreaterOp>});
  r.add({"", "LessOrEqual", 12, 16, infer_compare, compare_kernel<LessEqOp>});
  r.add({"", "GreaterOrEqual", 12, 16, infer_compare, compare_kernel<GreaterEqOp>});
  r.add({"", "And", 1, 7, infer_logical, [](KernelContext& c) { logical_kernel(c, [](bool a, bool b) { return a && b; }); }});
  r.add({"", "Or", 1, 7, infer_logical, [](KernelContext& c) { logical_kernel(c, [](bool a, bool b) { return a || b; }); }});
  r.add({"", "Xor", 1, 7, infer_logical, [](KernelContext& c) { logical_kernel(c, [](bool a, bool b) { return a != b; }); }});
  r.add({"", "BitShift", 11, 11, infer_arith, bitshift_kernel});
  r.add({"", "Min", 1, 13, infer_variadic, [](KernelContext& c) { variadic_kernel<MinOp>(c, false); }});
  r.add({"", "Max", 1, 13, infer_variadic, [](KernelContext& c) { variadic_kernel<MaxOp>(c, false); }});
  r.add({"", "Sum", 1, 13, infer_variadic, [](KernelContext& c) { variadic_kernel<AddOp>(c, false); }});
  r.add({"", "Mean", 1, 13, infer_variadic, [](KernelContext& c) { variadic_kernel<AddOp>(c, true); }});
  r.add({"", "Where", 9, 16, infer_where, where_kernel});
  r.add({"", "PRelu", 1, 16, infer_same_as_input, prelu_kernel});
}

}  // namespace ef
