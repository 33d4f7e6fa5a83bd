// libFuzzer target: arbitrary bytes -> onnx::TensorProto -> ef::Tensor (src/onnx/tensor_proto.cpp), the path of
// `edgeforge run --input NAME=file.pb`. External data is refused (no base folder), sizes are capped small so the
// fuzzer cannot mistake a legitimate large allocation for a leak. Depends on the library and protobuf.
#include <cstddef>
#include <cstdint>
#include <string>

#include <onnx/onnx_pb.h>

#include "onnx/tensor_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onnx::TensorProto proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size))) return 0;
  ef::TensorLoadOptions options;
  options.max_tensor_bytes = uint64_t{64} << 20;
  options.max_tensor_elements = int64_t{16} << 20;
  try {
    ef::Tensor t = ef::tensor_from_proto(proto, options, "fuzz input");
    onnx::TensorProto again;
    ef::tensor_to_proto(t, "x", &again);
    ef::Tensor back = ef::tensor_from_proto(again, options, "round trip");
    if (back.nbytes() != t.nbytes()) __builtin_trap();
  } catch (const ef::Error&) {
  }
  return 0;
}
