// Cast, CastLike and Dropout. Cast converts between every numeric type and bool (strings are out of scope);
// Dropout runs in inference mode, where it is a copy with an all-kept mask.
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>

#include "core/dispatch.h"
#include "ops/activation_family.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

template <typename T>
constexpr bool kIsHalf = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

// Float -> integer. C++ leaves out-of-range conversions undefined; we make them defined: values within int64 range
// truncate toward zero and then wrap to the target width (what NumPy gives on x86 for the common cases, e.g.
// -1.0 -> uint8 255), values beyond it saturate, NaN becomes 0.
template <typename To>
To float_to_integer(double d) {
  if (std::isnan(d)) return To(0);
  constexpr double kTwo63 = 9223372036854775808.0;
  if constexpr (std::is_same_v<To, uint64_t>) {
    if (d >= kTwo63) return d < 2 * kTwo63 ? static_cast<uint64_t>(d) : std::numeric_limits<uint64_t>::max();
  }
  if (d >= -kTwo63 && d < kTwo63) return static_cast<To>(static_cast<int64_t>(d));
  return d < 0 ? std::numeric_limits<To>::lowest() : std::numeric_limits<To>::max();
}

// Cast to bfloat16 rounds toward zero (drops the low mantissa bits), as the ONNX reference implementation and its
// backend test data do; every other conversion to a float type rounds to nearest even.
BFloat16 bfloat16_toward_zero(double d) {
  float f = static_cast<float>(d);
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);  // also maps overflow to max
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  BFloat16 out;
  // Dropping bits of a NaN could leave an infinity's pattern, so NaN becomes the quiet NaN of its sign.
  uint32_t high = bits >> 16;
  out.bits = static_cast<uint16_t>(std::isnan(d) ? (high & 0x8000u) | 0x7fc0u : high);
  return out;
}

template <typename To, typename From>
To cast_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (std::is_integral_v<From>) {
      return v != 0;
    } else {
      return to_double(v) != 0.0;  // NaN is "not zero", hence true, as in NumPy
    }
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return bfloat16_toward_zero(to_double(v));
  } else if constexpr (std::is_same_v<To, Float16>) {
    return float_from_double<To>(to_double(v));
  } else if constexpr (std::is_floating_point_v<To>) {
    if constexpr (kIsHalf<From>) {
      return static_cast<To>(static_cast<float>(v));
    } else {
      return static_cast<To>(v);
    }
  } else if constexpr (std::is_integral_v<From>) {
    return static_cast<To>(v);  // integer narrowing wraps (defined since C++20)
  } else {
    return float_to_integer<To>(to_double(v));
  }
}

void cast_elements(const Tensor& x, Tensor& out) {
  visit_dtype(x.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    visit_dtype(out.dtype(), [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const From* px = x.data<From>();
      To* po = out.data<To>();
      for (int64_t i = 0; i < x.numel(); ++i) po[i] = cast_value<To, From>(px[i]);
    });
  });
}

// Opset 1 spells `to` as a TensorProto DataType name ("FLOAT", "INT64"); later opsets use the enum value.
DType cast_target(const Node& node) {
  auto it = node.attrs.find("to");
  EF_CHECK(it != node.attrs.end(), kInvalidModel, "{}: missing attribute 'to'", node.label());
  if (it->second.kind == Attribute::Kind::kString) {
    const std::string& name = it->second.s;
    static const char* const kNames[] = {"UNDEFINED", "FLOAT", "UINT8",  "INT8",   "UINT16",    "INT16",
                                         "INT32",     "INT64", "STRING", "BOOL",   "FLOAT16",   "DOUBLE",
                                         "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    std::string upper;
    for (char ch : name) upper += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    for (int i = 1; i < static_cast<int>(std::size(kNames)); ++i) {
      if (upper == kNames[i]) return static_cast<DType>(i);
    }
    DType t = dtype_from_name(name);
    EF_CHECK(t != DType::kUndefined, kInvalidModel, "{}: unknown target type '{}'", node.label(), name);
    return t;
  }
  int64_t code = node.attr_int("to", 0);
  EF_CHECK(code > 0 && code <= static_cast<int64_t>(DType::kBFloat16), kInvalidModel,
           "{}: 'to' = {} is not a tensor element type", node.label(), code);
  return static_cast<DType>(code);
}

void check_castable(const Node& node, DType from, DType to) {
  for (DType t : {from, to}) {
    EF_CHECK(t == DType::kUndefined || dtype_is_supported(t), kUnsupported, "{}: casting {} to {} is not supported",
             node.label(), dtype_name(from), dtype_name(to));
  }
}

void infer_cast(InferContext& ctx) {
  DType to = cast_target(ctx.node());
  check_castable(ctx.node(), ctx.input_dtype(0), to);
  ctx.set_output(0, to, ctx.input_type(0).dims);
}

void cast_kernel(KernelContext& ctx) { cast_elements(ctx.input(0), ctx.output(0)); }

void infer_cast_like(InferContext& ctx) {
  DType to = ctx.input_dtype(1);
  check_castable(ctx.node(), ctx.input_dtype(0), to);
  ctx.set_output(0, to, ctx.input_type(0).dims);
}

void infer_dropout(InferContext& ctx) {
  infer_float_same_as_input(ctx);
  // The mask is bool from opset 10 on; before that it had the data's type.
  if (ctx.has_output(1)) {
    const ValueType& x = ctx.input_type(0);
    ctx.set_output(1, ctx.version() >= 10 ? DType::kBool : x.dtype, x.dims);
  }
}

void dropout_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  // Opset 12+ selects training through an input; in inference (the default) the op is the identity. Older
  // opsets' is_test attribute is ignored: every runtime treats those models as inference.
  if (ctx.version() >= 12 && ctx.has_input(2)) {
    const Tensor& training = ctx.input(2);
    EF_CHECK(training.numel() == 1 && training.dtype() == DType::kBool, kInvalidModel,
             "{}: training_mode must be a bool scalar", node.label());
    double ratio = 0.5;
    if (ctx.has_input(1)) {
      EF_CHECK(ctx.input(1).numel() == 1, kInvalidModel, "{}: ratio must be a scalar", node.label());
      ratio = ctx.input(1).value_as_double(0);
    }
    // Training with a zero ratio keeps everything, so it matches inference; anything else needs random numbers.
    EF_CHECK(!training.data<bool>()[0] || ratio == 0.0, kUnsupported,
             "{}: training_mode=true with ratio {} (random dropout) is not supported", node.label(), ratio);
  }
  const Tensor& x = ctx.input(0);
  if (x.nbytes()) std::memcpy(ctx.output(0).raw(), x.raw(), x.nbytes());
  if (ctx.has_output(1)) {
    Tensor& mask = ctx.output(1);
    visit_dtype(mask.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = mask.data<T>();
      for (int64_t i = 0; i < mask.numel(); ++i) p[i] = cast_value<T, bool>(true);
    });
  }
}

}  // namespace

void register_cast_dropout_ops(OpRegistry& r) {
  r.add({"", "Cast", 1, 13, infer_cast, cast_kernel});
  r.add({"", "CastLike", 15, 15, infer_cast_like, cast_kernel});
  r.add({"", "Dropout", 1, 13, infer_dropout, dropout_kernel});
}

}  // namespace ef
