// Shape arithmetic shared by op inference functions: broadcasting, axis normalization, dims helpers.
#pragma once
#include <optional>

#include "ir/graph.h"
#include "ops/registry.h"

namespace ef {

// Normalizes a possibly negative axis against `rank` (accepting [-rank, rank) ); throws kInvalidModel naming the
// node otherwise. For Unsqueeze-style axes pass rank+1.
int64_t normalize_axis(int64_t axis, int64_t rank, const Node& node);

// NumPy-style multidirectional broadcast of concrete shapes; throws kInvalidModel when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const Node& node);
// Same over dims with unknowns (an unknown against 1 or an equal symbol stays symbolic).
Dims broadcast_dims(const Dims& a, const Dims& b, const Node& node);

// False only when both types prove different shapes: known ranks that differ, or a dim known on both sides with
// two values (a residual input against the result it is added to; the kernel checks the exact shape).
bool dims_may_equal(const ValueType& a, const ValueType& b);

// Sets output 0 to the broadcast of all present inputs' shapes (rank unknown if any input's rank is unknown).
void infer_broadcast(InferContext& ctx, DType out_dtype);
// Sets output 0 = input 0's type (same dtype and dims).
void infer_same_as_input(InferContext& ctx);

// Strides for a row-major shape.
std::vector<int64_t> row_major_strides(const Shape& shape);

// Iterates a broadcast: for every output flat index, gives the flat index into each input. Inputs' shapes are
// right-aligned against `out`. Intended for reference kernels (clarity over speed).
class BroadcastIndexer {
 public:
  BroadcastIndexer(const Shape& out, const std::vector<Shape>& inputs);
  int64_t numel() const { return numel_; }
  // Offsets of output element `flat` in each input.
  void offsets(int64_t flat, int64_t* out_offsets) const;

 private:
  Shape out_;
  int64_t numel_;
  std::vector<std::vector<int64_t>> strides_;  // per input, per output dim (0 where broadcast)
};

}  // namespace ef
