// Strided N-d copies of elements of any byte size: the engine of the data-movement ops (Slice, Concat, ...).
// A copy is described once (dims and byte strides of both sides, coalesced where rows stay contiguous) and run
// many times; contiguous innermost runs move with vector copies. Depends on the standard library,
// core/thread_pool.h and kernels/cpu/transpose.h (copy_bytes).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ef {
class ThreadPool;
}

namespace ef::cpu {

inline constexpr size_t kMaxStridedCopyRank = 16;

struct StridedCopy {
  // Outer dims walked by an odometer, outermost first; strides in bytes (may be negative for Slice's steps < 0).
  std::vector<int64_t> dims, src_strides, dst_strides;
  // The innermost run: `run_len` elements of `elem_size` bytes, contiguous on both sides when src_step ==
  // elem_size (one block copy), else element by element with byte step src_step.
  int64_t run_len = 0;
  int64_t src_step = 0;
  size_t elem_size = 1;
  int64_t runs() const;
};

// dst[i0..in] = src[i0..in] for an index space `dims` with the given byte strides; the innermost dim's dst stride
// must be elem_size (dst is written row by row). Merges outer dims that stay contiguous on both sides. Throws
// std::invalid_argument when more than kMaxStridedCopyRank outer dims remain.
StridedCopy plan_strided_copy(std::vector<int64_t> dims, std::vector<int64_t> src_strides,
                              std::vector<int64_t> dst_strides, size_t elem_size);

void run_strided_copy(const StridedCopy& plan, const void* src, void* dst, ThreadPool& pool);

}  // namespace ef::cpu
