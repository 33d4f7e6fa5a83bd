// ONNX model import into our IR and export back to ONNX. The importer resolves each node's op version from the
// model's opset imports, validates graph structure (names, producers, cycles) and tells apart the common reasons a
// file fails to parse. Depends on core, ir and the onnx protobuf library; never on ops or runtime.
#pragma once
#include <string>

#include "ir/graph.h"

namespace ef {

struct ImportOptions {
  uint64_t max_model_bytes = uint64_t{2} << 30;   // protobuf's own limit
  uint64_t max_tensor_bytes = uint64_t{16} << 30;  // any one initializer
  int64_t max_nodes = 1'000'000;  // nodes of the graph and all its subgraphs
  int64_t max_tensor_elements = 0;  // any one initializer or tensor attribute (0: max_tensor_bytes only)
  uint64_t max_initializer_bytes = 0;  // all initializers and tensor attributes together (0: unlimited)
};

// Newest standard-domain opset we resolve ops against (what Debian's ONNX 1.12 defines).
constexpr int64_t kMaxSupportedOpset = 17;

Model load_model(const std::string& path, const ImportOptions& options = {});
// `base_dir` is where external data lives ("" refuses external data).
Model load_model_from_bytes(const std::string& bytes, const std::string& base_dir, const ImportOptions& options = {});

// Serializes the model as ONNX (initializers inline as raw_data) and runs onnx::checker on it.
std::string export_model_bytes(const Model& model);
void save_model(const Model& model, const std::string& path);

// Explains why `bytes` did not parse as an ONNX ModelProto: Git LFS pointer, HTML page, text-format protobuf,
// truncation (with the size the header promised), or plain corruption.
std::string diagnose_unparseable_model(const std::string& bytes);

}  // namespace ef
