// Seeded mutator for ONNX models, the input generator of the mutation test (mutation_main.cpp). It mutates at
// two levels: the decoded ModelProto (fields deleted, dims and attributes set to 0/-1/huge, wrong dtypes, cycles,
// duplicate names, swapped op types, opset changes) and the serialized bytes (bit flips, truncation). The same
// (model, seed) always gives the same mutant, so a failure is replayed from its seed. Depends on onnx protobuf.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ef::robustness {

struct Mutant {
  std::string bytes;
  std::string description;  // what was changed, for the failure report ("dims: input 'x' dim 1 = -1; ...")
};

class ModelMutator {
 public:
  // `op_types`: op types a node may be switched to (typically every op seen in the seed models).
  explicit ModelMutator(std::vector<std::string> op_types) : op_types_(std::move(op_types)) {}
  // Applies 1 to 3 mutations chosen by `seed` to `model_bytes` (a serialized ModelProto).
  Mutant mutate(const std::string& model_bytes, uint64_t seed) const;

 private:
  std::vector<std::string> op_types_;
};

// Op types used by the nodes of a serialized model (subgraphs included); empty when it does not parse.
std::vector<std::string> op_types_of(const std::string& model_bytes);

}  // namespace ef::robustness
