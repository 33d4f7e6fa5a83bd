// Why did a model fail to parse? Users mostly hit a handful of causes; naming them saves an afternoon.
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "onnx/model_io.h"

namespace ef {
namespace {

bool starts_with_ignoring_space(const std::string& s, const std::string& prefix) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  if (i + 3 <= s.size() && static_cast<unsigned char>(s[i]) == 0xEF) i += 3;  // UTF-8 BOM
  return s.compare(i, prefix.size(), prefix) == 0;
}

std::string lower_prefix(const std::string& s, size_t n) {
  std::string out = s.substr(0, std::min(n, s.size()));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Walks top-level protobuf fields. Returns the description of the first length-delimited field that runs past the
// end of the buffer, or "" when the wire structure is complete.
std::string find_truncation(const std::string& b) {
  size_t pos = 0;
  auto read_varint = [&](uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= b.size()) return false;
      auto byte = static_cast<uint8_t>(b[pos++]);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  };
  while (pos < b.size()) {
    uint64_t key;
    if (!read_varint(key)) return fmt::format("the file ends inside a field header at byte {}", pos);
    uint64_t field = key >> 3;
    switch (key & 7) {
      case 0: {
        uint64_t ignored;
        if (!read_varint(ignored)) return fmt::format("the file ends inside field {} at byte {}", field, pos);
        break;
      }
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      case 2: {
        uint64_t len;
        if (!read_varint(len)) return fmt::format("the file ends inside field {}'s length", field);
        if (len > b.size() - pos) {
          return fmt::format("field {} declares {} bytes but only {} remain: the file is {} bytes, the header "
                             "promises at least {}",
                             field, len, b.size() - pos, b.size(), pos + len);
        }
        pos += len;
        break;
      }
      default: return "";  // not a wire-format we can walk: not truncation
    }
    if (pos > b.size()) return fmt::format("the file ends inside a fixed-size field (file is {} bytes)", b.size());
  }
  return "";
}

}  // namespace

std::string diagnose_unparseable_model(const std::string& bytes) {
  if (bytes.empty()) return "the file is empty";
  if (starts_with_ignoring_space(bytes, "version https://git-lfs")) {
    return "this is a Git LFS pointer file, not the model: fetch the real file (git lfs pull)";
  }
  std::string head = lower_prefix(bytes, 512);
  if (head.find("<!doctype html") != std::string::npos || head.find("<html") != std::string::npos) {
    return "this is an HTML page (likely an error or login page saved instead of the model download)";
  }
  if (starts_with_ignoring_space(bytes, "ir_version") || starts_with_ignoring_space(bytes, "producer_name") ||
      starts_with_ignoring_space(bytes, "graph {") || starts_with_ignoring_space(bytes, "opset_import")) {
    return "this is a text-format protobuf; convert it to the binary ONNX format first";
  }
  if (starts_with_ignoring_space(bytes, "{")) return "this looks like JSON, not a binary ONNX model";
  std::string truncation = find_truncation(bytes);
  if (!truncation.empty()) return "the file is truncated (incomplete download?): " + truncation;
  return "the bytes are not a valid ONNX protobuf (corrupted or not an ONNX file)";
}

}  // namespace ef
