// Conversion between onnx::TensorProto and ef::Tensor, including external data. Depends on core and protobuf.
#pragma once
#include <string>

#include "edgeforge/tensor.h"

namespace onnx {
class TensorProto;
}

namespace ef {

struct TensorLoadOptions {
  // Folder external-data paths are resolved against and confined to; empty means external data is refused.
  std::string base_dir;
  // Upper bound on one tensor's bytes (checked from dims before allocating).
  uint64_t max_tensor_bytes = uint64_t{16} << 30;
  // Upper bound on one tensor's elements (0: none beyond max_tensor_bytes).
  int64_t max_tensor_elements = 0;
  // Shared by every tensor of one model when set: each load adds its bytes to `used` before allocating and fails
  // beyond `limit`, so many small initializers cannot add up to more than the caller allows.
  struct Budget {
    uint64_t limit = 0;
    uint64_t used = 0;
  };
  Budget* budget = nullptr;
};

// Throws kInvalidModel naming `what` (e.g. "initializer 'conv1.weight'") when dims, data type or payload size are
// inconsistent, kUnsupported for string/complex/sparse data, kIo for unreadable external data.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const TensorLoadOptions& options, const std::string& what);
// Always writes raw_data (little-endian, as ONNX specifies).
void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);

// Reads a serialized TensorProto file (the ONNX test-data `input_0.pb` format).
Tensor read_tensor_pb(const std::string& path);
void write_tensor_pb(const Tensor& tensor, const std::string& name, const std::string& path);

// Resolves `location` (from external_data) under `base_dir`: rejects absolute paths, '..' components and symlinks
// that lead outside the folder. Returns the canonical path. Throws kInvalidModel / kIo naming `what`.
std::string resolve_external_path(const std::string& base_dir, const std::string& location, const std::string& what);

}  // namespace ef
