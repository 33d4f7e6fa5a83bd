#include "io/npy.h"
#include "onnx/tensor_proto.h"

namespace ef {

Tensor read_tensor_file(const std::string& path) {
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0) return read_npy(path);
  return read_tensor_pb(path);
}

std::string file_safe_name(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (c == '/' || c == ':' || c == '\\') c = '_';
  }
  return out.empty() ? "output" : out;
}

}  // namespace ef
