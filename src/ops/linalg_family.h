// Pieces of the linalg family shared by its files and by the quantized matmuls in the quant family.
#pragma once
#include <optional>

#include "ops/shape_util.h"

namespace ef {

void register_einsum_op(OpRegistry& r);

// Geometry of a NumPy-style matmul: a 1-D A is a row vector [1, K], a 1-D B a column vector [K, 1] (the added
// dim is dropped from the output); the dims before the last two broadcast.
struct MatMulGeometry {
  int64_t M = 0, N = 0, K = 0;
  Shape a_batch, b_batch;  // each operand's leading dims (empty for rank <= 2)
  Shape batch;             // broadcast of a_batch and b_batch
  Shape out;               // full output shape
};

// Throws kInvalidModel naming the node when K differs or the batch dims do not broadcast.
MatMulGeometry matmul_geometry(const Shape& a, const Shape& b, const Node& node);
// The output dims from possibly partial input types; nullopt when a rank is unknown.
std::optional<Dims> matmul_dims(const ValueType& a, const ValueType& b, const Node& node);

}  // namespace ef
