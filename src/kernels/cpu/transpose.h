// Transpose (ONNX Transpose semantics: output dim i is input dim perm[i]) of elements of any size, planned once
// per (shape, perm) and run many times. Planning drops size-1 dims and merges dims that stay adjacent, so NCHW <->
// NHWC become a batched 2-D transpose and channel shuffle ([N, g, C/g, H, W] -> [N, C/g, g, H, W]) becomes
// batched row copies. Depends on the standard library and core/thread_pool.h (in the .cpp); Highway inside.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace ef {
class ThreadPool;
}

namespace ef::cpu {

inline constexpr int kMaxTransposeRank = 8;

enum class TransposeForm : uint8_t {
  kCopy,     // the permutation does not move data: one memcpy
  kRowCopy,  // the innermost dim stays innermost: contiguous rows copied to permuted places
  kTiled,    // batched 2-D transpose between the input's and the output's contiguous dims, in cache tiles
};

struct TransposePlan {
  TransposeForm form = TransposeForm::kCopy;
  size_t elem_size = 4;  // 1, 2, 4 or 8 (other sizes are planned as bytes with an extra innermost dim)
  int64_t numel = 0;     // elements of elem_size
  // Coalesced walk in output order: dims, and per dim the input and output strides (elements).
  int rank = 0;
  int64_t dims[kMaxTransposeRank] = {};
  int64_t in_strides[kMaxTransposeRank] = {};
  int64_t out_strides[kMaxTransposeRank] = {};
  int contiguous_pos = 0;  // kTiled: the output position of the input's stride-1 dim
  int64_t num_units = 0;   // parallel work units (rows for kRowCopy, tiles for kTiled)
};

// Throws std::invalid_argument when perm is not a permutation of [0, rank), rank > kMaxTransposeRank, or
// elem_size is 0.
TransposePlan plan_transpose(std::span<const int64_t> in_shape, std::span<const int64_t> perm, size_t elem_size);

// out = transpose(in); in and out must not overlap. Runs on `pool` when there are at least 64K elements.
void run_transpose(const TransposePlan& plan, const void* in, void* out, ThreadPool& pool);

// Copies `bytes` bytes (no overlap) with vector loads and stores. Prefer it to memcpy for buffers of 4 KiB and
// more: glibc 2.36's memcpy uses `rep movsb` for 4 KiB .. ~256 KiB, which runs at ~2 GB/s on the AMD EPYC hosts
// we measured (about 20x slower than this loop).
void copy_bytes(void* dst, const void* src, size_t bytes);

// plan_transpose + run_transpose.
void transpose(const void* in, void* out, std::span<const int64_t> in_shape, std::span<const int64_t> perm,
               size_t elem_size, ThreadPool& pool);

}  // namespace ef::cpu
