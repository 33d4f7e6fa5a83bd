#include "io/npy.h"

#include <cstring>
#include <regex>

#include <fmt/format.h>

#include "core/file_util.h"

namespace ef {
namespace {

struct NpyType {
  const char* descr;
  DType dtype;
};
// '|' marks single-byte types where NumPy writes no byte order.
constexpr NpyType kNpyTypes[] = {
    {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<f2", DType::kFloat16}, {"<i8", DType::kInt64},
    {"<i4", DType::kInt32},   {"<i2", DType::kInt16},   {"|i1", DType::kInt8},    {"|u1", DType::kUInt8},
    {"<u2", DType::kUInt16},  {"<u4", DType::kUInt32},  {"<u8", DType::kUInt64},  {"|b1", DType::kBool},
};

DType dtype_from_descr(const std::string& descr, const std::string& what) {
  for (const auto& t : kNpyTypes) {
    if (descr == t.descr) return t.dtype;
    // NumPy also writes '<' or '=' for single-byte types in some versions.
    if (t.descr[0] == '|' && descr.size() == 3 && (descr[0] == '<' || descr[0] == '=') && descr.substr(1) == t.descr + 1) {
      return t.dtype;
    }
  }
  EF_CHECK(descr.empty() || descr[0] != '>', kInvalidArgument, "{}: big-endian data ('{}') is not supported", what,
           descr);
  fail(ErrorCode::kInvalidArgument, fmt::format("{}: unsupported .npy dtype '{}'", what, descr));
}

std::string descr_of(DType dtype) {
  for (const auto& t : kNpyTypes) {
    if (t.dtype == dtype) return t.descr;
  }
  if (dtype == DType::kBFloat16) return "<u2";  // NumPy has no bfloat16: written as its bit pattern
  fail(ErrorCode::kUnsupported, "cannot write " + dtype_name(dtype) + " as .npy");
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& what) {
  EF_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0, kInvalidArgument,
           "{}: not a .npy file (bad magic)", what);
  auto major = static_cast<uint8_t>(bytes[6]);
  size_t header_len;
  size_t header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    header_start = 10;
  } else {
    EF_CHECK((major == 2 || major == 3) && bytes.size() >= 12, kInvalidArgument, "{}: unsupported .npy version {}",
             what, major);
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  }
  EF_CHECK(header_start + header_len <= bytes.size(), kInvalidArgument, "{}: truncated .npy header", what);
  std::string header = bytes.substr(header_start, header_len);
  std::smatch m;
  EF_CHECK(std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')")), kInvalidArgument,
           "{}: .npy header has no descr", what);
  DType dtype = dtype_from_descr(m[1], what);
  EF_CHECK(!std::regex_search(header, std::regex(R"('fortran_order'\s*:\s*True)")), kInvalidArgument,
           "{}: Fortran-ordered arrays are not supported (save with np.ascontiguousarray)", what);
  EF_CHECK(std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))")), kInvalidArgument,
           "{}: .npy header has no shape", what);
  Shape shape;
  std::string dims = m[1];
  std::regex num(R"(\d+)");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
    EF_CHECK(it->str().size() <= 18, kInvalidArgument, "{}: dimension {} is too large", what, it->str());
    shape.push_back(std::stoll(it->str()));
  }
  int64_t n = shape_numel(shape);
  size_t data_start = header_start + header_len;
  uint64_t need = static_cast<uint64_t>(n) * dtype_size(dtype);
  EF_CHECK(bytes.size() - data_start == need, kInvalidArgument,
           "{}: shape {} ({}) needs {} data bytes, the file has {}", what, shape_str(shape), dtype_name(dtype), need,
           bytes.size() - data_start);
  Tensor t = Tensor::from_bytes(dtype, shape, bytes.data() + data_start, need);
  if (dtype == DType::kBool) {  // a bool byte other than 0/1 is undefined behaviour once read as bool
    auto* p = static_cast<uint8_t*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
  }
  return t;
}

Tensor read_npy(const std::string& path) {
  return parse_npy(read_file_bytes(path, uint64_t{16} << 30), "'" + path + "'");
}

std::string serialize_npy(const Tensor& tensor) {
  std::string shape;
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ",";
  if (tensor.rank() > 1) shape.pop_back();  // (3,) for rank 1, (2,3) otherwise
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr_of(tensor.dtype()), shape);
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  return out;
}

void write_npy(const Tensor& tensor, const std::string& path) { write_file_bytes(path, serialize_npy(tensor)); }

}  // namespace ef
