#include "onnx/tensor_proto.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "core/file_util.h"

namespace ef {

namespace fs = std::filesystem;

std::string resolve_external_path(const std::string& base_dir, const std::string& location, const std::string& what) {
  EF_CHECK(!base_dir.empty(), kInvalidModel, "{}: external data '{}' but the model was not loaded from a file", what,
           location);
  fs::path rel(location);
  EF_CHECK(!location.empty() && !rel.is_absolute(), kInvalidModel,
           "{}: external data path '{}' must be relative to the model's folder", what, location);
  for (const auto& part : rel) {
    EF_CHECK(part != "..", kInvalidModel, "{}: external data path '{}' leaves the model's folder", what, location);
  }
  std::error_code ec;
  fs::path base = fs::canonical(base_dir, ec);
  EF_CHECK(!ec, kIo, "{}: model folder '{}' cannot be resolved: {}", what, base_dir, ec.message());
  fs::path full = fs::weakly_canonical(base / rel, ec);
  EF_CHECK(!ec && fs::exists(full), kIo, "{}: external data file '{}' not found next to the model", what, location);
  auto [base_end, full_it] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  EF_CHECK(base_end == base.end(), kInvalidModel, "{}: external data path '{}' resolves outside the model's folder",
           what, location);
  EF_CHECK(fs::is_regular_file(full), kInvalidModel, "{}: external data '{}' is not a regular file", what, location);
  return full.string();
}

namespace {

// Raw bytes become C++ bools only as 0 or 1: any other byte value is undefined behaviour when read as bool.
void normalize_bools(Tensor& t) {
  if (t.dtype() != DType::kBool) return;
  auto* p = static_cast<uint8_t*>(t.raw());
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
}

uint64_t expected_bytes(DType dtype, const Shape& shape, const TensorLoadOptions& options, const std::string& what) {
  int64_t n;
  try {
    n = shape_numel(shape);
  } catch (const Error& e) {
    fail(ErrorCode::kInvalidModel, what + ": " + e.what());
  }
  EF_CHECK(options.max_tensor_elements <= 0 || n <= options.max_tensor_elements, kOutOfMemory,
           "{}: shape {} has {} elements, above the limit of {} elements per tensor", what, shape_str(shape), n,
           options.max_tensor_elements);
  uint64_t bytes = static_cast<uint64_t>(n) * dtype_size(dtype);
  EF_CHECK(n == 0 || bytes / static_cast<uint64_t>(n) == dtype_size(dtype), kInvalidModel, "{}: size overflows",
           what);
  EF_CHECK(bytes <= options.max_tensor_bytes, kOutOfMemory, "{}: {} bytes exceed the tensor size limit of {} bytes",
           what, bytes, options.max_tensor_bytes);
  return bytes;
}

// Charges `bytes` to the model-wide budget, if any, before the tensor is allocated.
void charge_budget(uint64_t bytes, const TensorLoadOptions& options, const std::string& what) {
  if (options.budget == nullptr) return;
  TensorLoadOptions::Budget& b = *options.budget;
  EF_CHECK(bytes <= b.limit && b.used <= b.limit - bytes, kOutOfMemory,
           "{}: {} more bytes of weights would exceed the limit of {} bytes for all initializers ({} already loaded)",
           what, bytes, b.limit, b.used);
  b.used += bytes;
}

Tensor load_external(const onnx::TensorProto& proto, DType dtype, const Shape& shape, uint64_t bytes,
                     const TensorLoadOptions& opts, const std::string& what) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& kv : proto.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      if (kv.key() == "offset") offset = std::stoll(kv.value());
      if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      fail(ErrorCode::kInvalidModel, fmt::format("{}: external data field '{}' is not a number", what, kv.key()));
    }
  }
  EF_CHECK(offset >= 0, kInvalidModel, "{}: negative external data offset {}", what, offset);
  EF_CHECK(length < 0 || static_cast<uint64_t>(length) == bytes, kInvalidModel,
           "{}: external data length {} does not match the {} bytes its shape needs", what, length, bytes);
  std::string path = resolve_external_path(opts.base_dir, location, what);
  uint64_t file_size = fs::file_size(path);
  EF_CHECK(static_cast<uint64_t>(offset) <= file_size && bytes <= file_size - static_cast<uint64_t>(offset),
           kInvalidModel, "{}: external data '{}' has {} bytes, needs {} at offset {}", what, location, file_size,
           bytes, offset);
  Tensor t = Tensor::zeros(dtype, shape);
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(bytes));
  EF_CHECK(in.good() || bytes == 0, kIo, "{}: reading external data '{}' failed", what, location);
  normalize_bools(t);
  return t;
}

// Copies a typed repeated field into the tensor, converting each element to the stored type.
template <typename Field, typename Store>
void copy_field(const Field& field, Tensor& t, Store store, const std::string& what, const char* field_name) {
  EF_CHECK(field.size() == t.numel(), kInvalidModel, "{}: {} has {} values but the shape {} needs {}", what,
           field_name, field.size(), shape_str(t.shape()), t.numel());
  for (int i = 0; i < field.size(); ++i) store(t, i, field.Get(i));
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto, const TensorLoadOptions& options, const std::string& what) {
  auto dtype = static_cast<DType>(proto.data_type());
  EF_CHECK(proto.data_type() != onnx::TensorProto::UNDEFINED, kInvalidModel, "{}: tensor has no data type", what);
  EF_CHECK(proto.data_type() >= 1 && proto.data_type() <= 16, kInvalidModel, "{}: unknown tensor data type {}", what,
           proto.data_type());
  EF_CHECK(dtype_is_supported(dtype), kUnsupported, "{}: tensors of type {} are not supported", what,
           dtype_name(dtype));
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (int64_t d : shape) EF_CHECK(d >= 0, kInvalidModel, "{}: negative dimension in {}", what, shape_str(shape));
  uint64_t bytes = expected_bytes(dtype, shape, options, what);
  charge_budget(bytes, options, what);
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    return load_external(proto, dtype, shape, bytes, options, what);
  }
  if (proto.has_raw_data()) {
    EF_CHECK(proto.raw_data().size() == bytes, kInvalidModel, "{}: raw_data has {} bytes but shape {} ({}) needs {}",
             what, proto.raw_data().size(), shape_str(shape), dtype_name(dtype), bytes);
    Tensor t = Tensor::from_bytes(dtype, shape, proto.raw_data().data(), bytes);
    normalize_bools(t);
    return t;
  }
  Tensor t = Tensor::zeros(dtype, shape);
  switch (dtype) {
    case DType::kFloat32:
      copy_field(proto.float_data(), t, [](Tensor& x, int i, float v) { x.data<float>()[i] = v; }, what, "float_data");
      break;
    case DType::kFloat64:
      copy_field(proto.double_data(), t, [](Tensor& x, int i, double v) { x.data<double>()[i] = v; }, what,
                 "double_data");
      break;
    case DType::kInt64:
      copy_field(proto.int64_data(), t, [](Tensor& x, int i, int64_t v) { x.data<int64_t>()[i] = v; }, what,
                 "int64_data");
      break;
    case DType::kUInt32:
    case DType::kUInt64:
      copy_field(proto.uint64_data(), t, [dtype](Tensor& x, int i, uint64_t v) {
        if (dtype == DType::kUInt32) x.data<uint32_t>()[i] = static_cast<uint32_t>(v);
        else x.data<uint64_t>()[i] = v;
      }, what, "uint64_data");
      break;
    default:  // int32_data carries every type of 32 bits or less (16-bit floats as their bit pattern)
      copy_field(proto.int32_data(), t, [dtype](Tensor& x, int i, int32_t v) {
        switch (dtype) {
          case DType::kInt32: x.data<int32_t>()[i] = v; break;
          case DType::kInt16: x.data<int16_t>()[i] = static_cast<int16_t>(v); break;
          case DType::kUInt16: case DType::kFloat16: case DType::kBFloat16:
            x.data<uint16_t>()[i] = static_cast<uint16_t>(v); break;
          case DType::kInt8: x.data<int8_t>()[i] = static_cast<int8_t>(v); break;
          case DType::kUInt8: x.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
          case DType::kBool: x.data<bool>()[i] = v != 0; break;
          default: break;
        }
      }, what, "int32_data");
      break;
  }
  return t;
}

void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto) {
  proto->Clear();
  proto->set_name(name);
  proto->set_data_type(static_cast<int32_t>(tensor.dtype()));
  for (int64_t d : tensor.shape()) proto->add_dims(d);
  proto->set_raw_data(tensor.raw(), tensor.nbytes());
}

Tensor read_tensor_pb(const std::string& path) {
  std::string bytes = read_file_bytes(path, uint64_t{8} << 30);
  onnx::TensorProto proto;
  EF_CHECK(proto.ParseFromString(bytes), kInvalidArgument, "'{}' is not a serialized ONNX TensorProto", path);
  TensorLoadOptions options;
  options.base_dir = fs::path(path).parent_path().string();
  return tensor_from_proto(proto, options, fmt::format("tensor file '{}'", path));
}

void write_tensor_pb(const Tensor& tensor, const std::string& name, const std::string& path) {
  onnx::TensorProto proto;
  tensor_to_proto(tensor, name, &proto);
  std::ofstream out(path, std::ios::binary);
  EF_CHECK(out && proto.SerializeToOstream(&out), kIo, "cannot write '{}'", path);
}

}  // namespace ef
