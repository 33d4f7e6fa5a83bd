#include "core/file_util.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "edgeforge/error.h"

namespace ef {

std::string read_file_bytes(const std::string& path, uint64_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto status = fs::status(path, ec);
  EF_CHECK(!ec && fs::exists(status), kIo, "'{}' does not exist", path);
  EF_CHECK(fs::is_regular_file(status), kIo, "'{}' is not a regular file", path);
  uint64_t size = fs::file_size(path, ec);
  EF_CHECK(!ec, kIo, "cannot read the size of '{}': {}", path, ec.message());
  EF_CHECK(size <= max_bytes, kOutOfMemory, "'{}' is {} bytes, larger than the limit of {} bytes", path, size,
           max_bytes);
  std::ifstream in(path, std::ios::binary);
  EF_CHECK(in.good(), kIo, "cannot open '{}'", path);
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  EF_CHECK(static_cast<uint64_t>(in.gcount()) == size, kIo, "short read from '{}'", path);
  return bytes;
}

void write_file_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  EF_CHECK(out.good(), kIo, "cannot open '{}' for writing", path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EF_CHECK(out.good(), kIo, "writing '{}' failed", path);
}

}  // namespace ef
