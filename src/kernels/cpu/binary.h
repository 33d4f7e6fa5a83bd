// Broadcasting float32 binary element-wise ops (Add, Sub, Mul, Div, Max, Min) with an optional fused activation,
// vectorized and parallel. Shapes are planned once (plan_binary: NumPy broadcasting, validation, dimension
// coalescing) and run many times (run_binary, no re-validation), as the CPU provider prepares kernels at plan time.
// Depends on the standard library, kernels/cpu/activation.h and core/thread_pool.h (in the .cpp).
#pragma once
#include <cstdint>
#include <span>

#include "kernels/cpu/activation.h"

namespace ef {
class ThreadPool;
}

namespace ef::cpu {

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kMax, kMin };  // Max/Min propagate NaN (NumPy)

inline constexpr int kMaxBinaryRank = 8;

// The memory walk the coalesced shapes reduce to; informational (kernel names, tests): every form runs the same
// engine, a vectorized inner row (vector-vector, vector-scalar or scalar-vector) over an odometer of outer rows.
enum class BinaryForm : uint8_t {
  kSameShape,  // one contiguous run
  kScalar,     // one side is a single value
  kRow,        // [M, K] op [K] (either side)
  kPerRow,     // [M, K] op [M, 1]: e.g. [N,C,H,W] * [N,C,1,1] (squeeze-excitation)
  kChannel,    // [M, C, K] op [C, 1]: e.g. [N,C,H,W] + [1,C,1,1] or [C,1,1] (bias, scale-shift)
  kGeneral,    // anything else (up to kMaxBinaryRank coalesced dims)
};

struct BinaryPlan {
  BinaryOp op = BinaryOp::kAdd;
  Activation act;  // applied to the output after the op
  BinaryForm form = BinaryForm::kSameShape;
  int64_t numel = 0;  // output elements
  // Broadcast output shape (NumPy rules), as the op's shape inference derives it.
  int out_rank = 0;
  int64_t out_shape[kMaxBinaryRank] = {};
  // Coalesced walk: adjacent dims merged while both operands broadcast the same way; strides in elements, 0 on a
  // broadcast dim. rank >= 1 whenever numel > 0; the innermost dim is contiguous for the operands that have it.
  int rank = 0;
  int64_t dims[kMaxBinaryRank] = {};
  int64_t a_strides[kMaxBinaryRank] = {};
  int64_t b_strides[kMaxBinaryRank] = {};
  // Work units: each innermost row split into num_segments pieces of at most segment_len elements, so that a
  // single long row still spreads over threads.
  int64_t segment_len = 0;
  int64_t num_segments = 0;
};

// Plans `a op b` for the given shapes (rank <= kMaxBinaryRank each; rank 0 is a scalar). Throws
// std::invalid_argument when the shapes do not broadcast or the rank is too large.
BinaryPlan plan_binary(BinaryOp op, std::span<const int64_t> a_shape, std::span<const int64_t> b_shape,
                       const Activation& act = {});

// out[plan.numel] = act(a op b). `out` may be the same buffer as `a` or `b` (in place) but must not overlap
// them otherwise. Runs on `pool` when the output has at least 64K elements, inline otherwise.
void run_binary(const BinaryPlan& plan, const float* a, const float* b, float* out, ThreadPool& pool);

// plan_binary + run_binary, for callers that run a shape once.
void binary_op(BinaryOp op, const float* a, std::span<const int64_t> a_shape, const float* b,
               std::span<const int64_t> b_shape, float* out, ThreadPool& pool, const Activation& act = {});

}  // namespace ef::cpu
