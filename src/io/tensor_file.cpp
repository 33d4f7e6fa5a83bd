#include "io/npy.h"
#include "onnx/tensor_proto.h"

namespace ef {

Tensor read_tensor_file(const std::string& path) {
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0) return read_npy(path);
  return read_tensor_pb(path);
}

}  // namespace ef
