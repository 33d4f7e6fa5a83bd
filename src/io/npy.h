// NumPy .npy files (format versions 1-3, little-endian, C order) <-> ef::Tensor. Depends on core only.
#pragma once
#include <string>

#include "edgeforge/tensor.h"

namespace ef {

// Throws kInvalidArgument naming the file for a bad magic, header, dtype, Fortran order or size mismatch.
Tensor read_npy(const std::string& path);
Tensor parse_npy(const std::string& bytes, const std::string& what);
void write_npy(const Tensor& tensor, const std::string& path);
std::string serialize_npy(const Tensor& tensor);

// The file name (without extension) a tensor called `name` is stored under: '/', ':' and '\\' become '_'.
std::string file_safe_name(const std::string& name);

// Reads an input tensor file by extension: .npy or an ONNX TensorProto (.pb).
Tensor read_tensor_file(const std::string& path);

}  // namespace ef
