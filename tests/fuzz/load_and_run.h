// The "untrusted model" path shared by the fuzz_model target and the mutation test (tests/robustness): bytes ->
// import -> session -> one run on small deterministic inputs, under the session's resource limits. Header-only so
// each harness compiles it with its own instrumentation. Depends on the library (session, import, limits).
#pragma once
#include <cstdint>
#include <string>

#include "edgeforge/session.h"
#include "onnx/model_io.h"
#include "runtime/limits.h"

namespace ef::robustness {

// Limits small enough that one model plans and runs in milliseconds and ASan's shadow stays small, yet every
// conformance model fits.
inline SessionOptions small_limits() {
  SessionOptions o;
  o.num_threads = 1;
  o.max_memory_bytes = uint64_t{256} << 20;
  o.max_tensor_elements = int64_t{4} << 20;
  o.max_nodes = 5000;
  o.max_initializer_bytes = uint64_t{64} << 20;
  return o;
}

// Deterministic input data: small non-negative values so that index-like inputs (Gather, Slice, TopK k) are mostly
// in range and runs go deep instead of stopping at the first bounds check.
inline Tensor small_input(DType dtype, const Shape& shape) {
  Tensor t = Tensor::zeros(dtype, shape);
  auto* bytes = static_cast<uint8_t*>(t.raw());
  const size_t elem = dtype_size(dtype);
  for (int64_t i = 0; i < t.numel(); ++i) {
    // Lowest byte of each element: integers 0..2, bools 0/1; floats get tiny denormal-free patterns via the
    // highest byte instead (0x3f.. = values near 0.5..1).
    uint8_t* e = bytes + static_cast<size_t>(i) * elem;
    if (dtype == DType::kFloat32 || dtype == DType::kFloat64 || dtype == DType::kFloat16 ||
        dtype == DType::kBFloat16) {
      e[elem - 1] = static_cast<uint8_t>(0x3c + i % 3);
    } else {
      e[0] = static_cast<uint8_t>(dtype == DType::kBool ? i % 2 : i % 3);
    }
  }
  return t;
}

// Throws ef::Error for any invalid, unsupported or over-limit model; returns normally when the model ran.
// `base_dir` "" refuses external data.
inline void load_and_run(const std::string& bytes, const SessionOptions& options, const std::string& base_dir = "") {
  Model model = load_model_from_bytes(bytes, base_dir, import_options_for(options));
  auto session = Session::from_model(std::move(model), options);
  NamedTensors inputs;
  for (const IoInfo& info : session->inputs()) {
    Shape shape;
    for (int64_t d : info.dims) shape.push_back(d >= 0 ? d : 1);  // dynamic dims: 1, as the CLI does
    EF_CHECK(options.max_tensor_elements <= 0 || shape_numel(shape) <= options.max_tensor_elements, kOutOfMemory,
             "input '{}' {} is above the element limit", info.name, info.shape_str());
    inputs.emplace_back(info.name, small_input(info.dtype, shape));
  }
  session->run(inputs);
}

}  // namespace ef::robustness
