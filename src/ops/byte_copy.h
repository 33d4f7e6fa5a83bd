// Element copies by byte size: data-movement kernels (Gather, Concat, Slice, ...) work on bytes so that every
// dtype, bool and the 16-bit floats included, shares one code path.
#pragma once
#include <cstdint>
#include <cstring>

namespace ef {

// Copies `count` elements of `elem_size` bytes from src[src_index] to dst[dst_index].
inline void copy_elems(void* dst, int64_t dst_index, const void* src, int64_t src_index, int64_t count,
                       size_t elem_size) {
  if (count <= 0) return;
  std::memcpy(static_cast<uint8_t*>(dst) + static_cast<size_t>(dst_index) * elem_size,
              static_cast<const uint8_t*>(src) + static_cast<size_t>(src_index) * elem_size,
              static_cast<size_t>(count) * elem_size);
}

}  // namespace ef
