// Compile-time dispatch over element types: visit_dtype(t, f) calls f(TypeTag<T>{}) with the C++ type that
// stores dtype t. Half types are stored as distinct wrapper structs so overloads can tell them apart.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

#include "core/half.h"
#include "edgeforge/dtype.h"
#include "edgeforge/error.h"

namespace ef {

// Storage wrappers: 16-bit floats are kept as raw bits; arithmetic converts through float.
struct Float16 {
  uint16_t bits;
  Float16() = default;
  explicit Float16(float f) : bits(float_to_half(f)) {}
  operator float() const { return half_to_float(bits); }
};
struct BFloat16 {
  uint16_t bits;
  BFloat16() = default;
  explicit BFloat16(float f) : bits(float_to_bf16(f)) {}
  operator float() const { return bf16_to_float(bits); }
};
static_assert(sizeof(Float16) == 2 && sizeof(BFloat16) == 2);

template <typename T>
struct TypeTag {
  using type = T;
};

template <typename T>
inline double to_double(T v) {
  if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    return static_cast<double>(static_cast<float>(v));
  } else {
    return static_cast<double>(v);
  }
}

// Converts between any two stored types (used by Cast and friends). Float->int truncates toward zero as C++ does.
template <typename To, typename From>
inline To convert_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, Float16> || std::is_same_v<To, BFloat16>) {
    return To(static_cast<float>(to_double(v)));
  } else if constexpr (std::is_same_v<From, Float16> || std::is_same_v<From, BFloat16>) {
    return static_cast<To>(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

// Numeric types without the 16-bit float wrappers and bool (callers convert those through float).
template <typename F>
decltype(auto) visit_arith_dtype(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32: return f(TypeTag<float>{});
    case DType::kFloat64: return f(TypeTag<double>{});
    case DType::kInt8: return f(TypeTag<int8_t>{});
    case DType::kUInt8: return f(TypeTag<uint8_t>{});
    case DType::kInt16: return f(TypeTag<int16_t>{});
    case DType::kUInt16: return f(TypeTag<uint16_t>{});
    case DType::kInt32: return f(TypeTag<int32_t>{});
    case DType::kUInt32: return f(TypeTag<uint32_t>{});
    case DType::kInt64: return f(TypeTag<int64_t>{});
    case DType::kUInt64: return f(TypeTag<uint64_t>{});
    default: fail(ErrorCode::kUnsupported, "element type " + dtype_name(t) + " is not supported here");
  }
}

// Numeric types plus the 16-bit floats (no bool): for arithmetic kernels that compute in compute_t<T>.
template <typename F>
decltype(auto) visit_arith_or_half(DType t, F&& f) {
  if (t == DType::kFloat16) return f(TypeTag<Float16>{});
  if (t == DType::kBFloat16) return f(TypeTag<BFloat16>{});
  return visit_arith_dtype(t, std::forward<F>(f));
}

// Every storable type: numeric, 16-bit floats and bool.
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  if (t == DType::kBool) return f(TypeTag<bool>{});
  return visit_arith_or_half(t, std::forward<F>(f));
}

// The type arithmetic on T is carried out in: float for the 16-bit float wrappers, T otherwise.
template <typename T>
using compute_t = std::conditional_t<std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>, float, T>;

}  // namespace ef
