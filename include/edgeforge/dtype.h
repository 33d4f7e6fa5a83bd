// Element types. Values match onnx::TensorProto_DataType so import/export is a cast, not a table.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ef {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
};

// Size in bytes of one element; 0 for kUndefined/kString (not stored as flat bytes).
size_t dtype_size(DType t);
// Lower-case ONNX-style name: "float32", "int64", "bfloat16", ...
std::string dtype_name(DType t);
// Parses a name as printed by dtype_name (also accepts "float", "double", "half"); kUndefined if unknown.
DType dtype_from_name(const std::string& name);
bool dtype_is_float(DType t);    // f16, bf16, f32, f64
bool dtype_is_integer(DType t);  // signed or unsigned integers (not bool)
bool dtype_is_signed(DType t);
// True for the types our tensors can hold (everything but string and complex).
bool dtype_is_supported(DType t);

}  // namespace ef
