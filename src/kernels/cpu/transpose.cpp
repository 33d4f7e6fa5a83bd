// Transpose kernels: planning (drop size-1 dims, merge dims that stay adjacent, pick the form) and the runs. The
// tiled form moves 64x64-element tiles (each read and written while in L1), inside which 4-byte elements go
// through 4x4 in-register transposes on 128-bit vectors (available on every SIMD target); other sizes copy
// scalar within the same tiles. Row copies and plain copies use a vector copy loop (see copy_bytes).
// Depends on the standard library, Highway and core/thread_pool.h.
#include "kernels/cpu/transpose.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/thread_pool.h"

#ifndef EF_KERNELS_CPU_TRANSPOSE_CONSTANTS_
#define EF_KERNELS_CPU_TRANSPOSE_CONSTANTS_
namespace ef::cpu::transpose_detail {
// Tile edge in elements: a 64x64 tile of 4-byte elements is 16 KiB read plus 16 KiB written, within L1.
constexpr int64_t kTile = 64;

// The tiled form's geometry, derived from the plan the same way by the planner and the run.
struct TileGeometry {
  int64_t rows;     // J: the input-contiguous dim (output position plan.contiguous_pos)
  int64_t cols;     // I: the output-contiguous dim (last output position)
  int64_t row_blocks, col_blocks;
  int outer_rank;   // the remaining dims, in output order
  int64_t outer_dims[8], outer_in[8], outer_out[8];
};
}  // namespace ef::cpu::transpose_detail
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/transpose.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using transpose_detail::kTile;
using transpose_detail::TileGeometry;

// out[j * out_stride + i] = in[i * in_stride + j] for i < ni, j < nj.
template <typename T>
HWY_INLINE void tile_scalar(const T* HWY_RESTRICT in, int64_t in_stride, T* HWY_RESTRICT out, int64_t out_stride,
                            int64_t ni, int64_t nj) {
  for (int64_t i = 0; i < ni; ++i) {
    for (int64_t j = 0; j < nj; ++j) out[j * out_stride + i] = in[i * in_stride + j];
  }
}

HWY_INLINE void tile_u32(const uint32_t* HWY_RESTRICT in, int64_t in_stride, uint32_t* HWY_RESTRICT out,
                         int64_t out_stride, int64_t ni, int64_t nj) {
#if HWY_TARGET == HWY_SCALAR
  tile_scalar(in, in_stride, out, out_stride, ni, nj);
#else
  const hn::FixedTag<uint32_t, 4> d;
  const hn::FixedTag<uint64_t, 2> d64;
  int64_t i = 0;
  for (; i + 4 <= ni; i += 4) {
    const uint32_t* r = in + i * in_stride;
    int64_t j = 0;
    for (; j + 4 <= nj; j += 4) {
      const auto r0 = hn::LoadU(d, r + j), r1 = hn::LoadU(d, r + in_stride + j);
      const auto r2 = hn::LoadU(d, r + 2 * in_stride + j), r3 = hn::LoadU(d, r + 3 * in_stride + j);
      // 32-bit interleave pairs rows, then 64-bit interleave pairs the pairs: column k of the 4x4 block.
      const auto t0 = hn::BitCast(d64, hn::InterleaveLower(d, r0, r1));  // a0 b0 a1 b1
      const auto t1 = hn::BitCast(d64, hn::InterleaveLower(d, r2, r3));  // c0 d0 c1 d1
      const auto t2 = hn::BitCast(d64, hn::InterleaveUpper(d, r0, r1));  // a2 b2 a3 b3
      const auto t3 = hn::BitCast(d64, hn::InterleaveUpper(d, r2, r3));  // c2 d2 c3 d3
      uint32_t* o = out + j * out_stride + i;
      hn::StoreU(hn::BitCast(d, hn::InterleaveLower(d64, t0, t1)), d, o);
      hn::StoreU(hn::BitCast(d, hn::InterleaveUpper(d64, t0, t1)), d, o + out_stride);
      hn::StoreU(hn::BitCast(d, hn::InterleaveLower(d64, t2, t3)), d, o + 2 * out_stride);
      hn::StoreU(hn::BitCast(d, hn::InterleaveUpper(d64, t2, t3)), d, o + 3 * out_stride);
    }
    if (j < nj) tile_scalar(r + j, in_stride, out + j * out_stride + i, out_stride, 4, nj - j);
  }
  if (i < ni) tile_scalar(in + i * in_stride, in_stride, out + i, out_stride, ni - i, nj);
#endif
}

#if HWY_TARGET != HWY_SCALAR
// Channels-last <-> channels-first with 2..4 channels (RGB(A) images at a model's input or output): one side of the
// 2-D transpose is that short, so 4x4 blocks would be mostly empty and the tile loop ran scalar (0.7 G elements/s
// on blazeface's 256x256x3 input). Here whole vectors of pixels are (de)interleaved straight to or from the planes.

// out[j * out_stride + i] = in[i * kJ + j] for i < ni, j < kJ.
template <size_t kJ>
HWY_INLINE void deinterleave_u32(const uint32_t* HWY_RESTRICT in, uint32_t* HWY_RESTRICT out, int64_t out_stride,
                                 int64_t ni) {
  const hn::ScalableTag<uint32_t> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= ni; i += lanes) {
    const uint32_t* p = in + i * static_cast<int64_t>(kJ);
    hn::Vec<decltype(d)> v0, v1, v2, v3;
    if constexpr (kJ == 2) hn::LoadInterleaved2(d, p, v0, v1);
    if constexpr (kJ == 3) hn::LoadInterleaved3(d, p, v0, v1, v2);
    if constexpr (kJ == 4) hn::LoadInterleaved4(d, p, v0, v1, v2, v3);
    hn::StoreU(v0, d, out + i);
    hn::StoreU(v1, d, out + out_stride + i);
    if constexpr (kJ >= 3) hn::StoreU(v2, d, out + 2 * out_stride + i);
    if constexpr (kJ == 4) hn::StoreU(v3, d, out + 3 * out_stride + i);
  }
  for (; i < ni; ++i) {
    for (size_t j = 0; j < kJ; ++j) out[static_cast<int64_t>(j) * out_stride + i] = in[i * static_cast<int64_t>(kJ) + j];
  }
}

// out[j * kI + i] = in[i * in_stride + j] for j < nj, i < kI.
template <size_t kI>
HWY_INLINE void interleave_u32(const uint32_t* HWY_RESTRICT in, int64_t in_stride, uint32_t* HWY_RESTRICT out,
                               int64_t nj) {
  const hn::ScalableTag<uint32_t> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t j = 0;
  for (; j + lanes <= nj; j += lanes) {
    uint32_t* p = out + j * static_cast<int64_t>(kI);
    const auto v0 = hn::LoadU(d, in + j), v1 = hn::LoadU(d, in + in_stride + j);
    if constexpr (kI == 2) hn::StoreInterleaved2(v0, v1, d, p);
    if constexpr (kI == 3) hn::StoreInterleaved3(v0, v1, hn::LoadU(d, in + 2 * in_stride + j), d, p);
    if constexpr (kI == 4) {
      hn::StoreInterleaved4(v0, v1, hn::LoadU(d, in + 2 * in_stride + j), hn::LoadU(d, in + 3 * in_stride + j), d, p);
    }
  }
  for (; j < nj; ++j) {
    for (size_t i = 0; i < kI; ++i) out[j * static_cast<int64_t>(kI) + i] = in[static_cast<int64_t>(i) * in_stride + j];
  }
}

// The (de)interleaving run of one tile when one side of the transpose has 2..4 dense elements; false otherwise.
HWY_INLINE bool short_side_u32(const TileGeometry& g, int64_t in_stride, int64_t out_stride, const uint32_t* src,
                               uint32_t* dst, int64_t ni, int64_t nj) {
  if (g.rows >= 2 && g.rows <= 4 && in_stride == g.rows) {  // nj == g.rows: one row block
    switch (g.rows) {
      case 2: deinterleave_u32<2>(src, dst, out_stride, ni); return true;
      case 3: deinterleave_u32<3>(src, dst, out_stride, ni); return true;
      default: deinterleave_u32<4>(src, dst, out_stride, ni); return true;
    }
  }
  if (g.cols >= 2 && g.cols <= 4 && out_stride == g.cols) {  // ni == g.cols: one column block
    switch (g.cols) {
      case 2: interleave_u32<2>(src, in_stride, dst, nj); return true;
      case 3: interleave_u32<3>(src, in_stride, dst, nj); return true;
      default: interleave_u32<4>(src, in_stride, dst, nj); return true;
    }
  }
  return false;
}
#endif

template <typename T>
void tiles(const TileGeometry& g, int64_t in_stride, int64_t out_stride, const T* in, T* out, int64_t u0,
           int64_t u1) {
  const int64_t per_outer = g.row_blocks * g.col_blocks;
  HWY_ALIGN T buffer[kTile * kTile];
  for (int64_t u = u0; u < u1; ++u) {
    int64_t o = u / per_outer;
    const int64_t rem = u % per_outer;
    const int64_t j0 = rem / g.col_blocks * kTile, i0 = rem % g.col_blocks * kTile;
    int64_t in_off = 0, out_off = 0;
    for (int k = g.outer_rank - 1; k >= 0; --k) {
      const int64_t idx = o % g.outer_dims[k];
      o /= g.outer_dims[k];
      in_off += idx * g.outer_in[k];
      out_off += idx * g.outer_out[k];
    }
    const T* src = in + in_off + i0 * in_stride + j0;
    T* dst = out + out_off + j0 * out_stride + i0;
    const int64_t ni = std::min(kTile, g.cols - i0), nj = std::min(kTile, g.rows - j0);
#if HWY_TARGET != HWY_SCALAR
    if constexpr (sizeof(T) == 4) {
      if (short_side_u32(g, in_stride, out_stride, src, dst, ni, nj)) continue;
    }
#endif
    // Transposed into a contiguous buffer, then written out whole rows at a time: writing the output's
    // 16-byte column pieces directly thrashes L1 when its row stride is a multiple of 4 KiB (every row in the same
    // cache set), which large power-of-two shapes hit.
    if constexpr (sizeof(T) == 4) {
      tile_u32(src, in_stride, buffer, kTile, ni, nj);
    } else {
      tile_scalar(src, in_stride, buffer, kTile, ni, nj);
    }
    for (int64_t j = 0; j < nj; ++j) std::memcpy(dst + j * out_stride, buffer + j * kTile, sizeof(T) * ni);
  }
}

void TransposeTiles(const TileGeometry& g, size_t elem_size, int64_t in_stride, int64_t out_stride, const void* in,
                    void* out, int64_t u0, int64_t u1) {
  switch (elem_size) {
    case 1: return tiles(g, in_stride, out_stride, static_cast<const uint8_t*>(in), static_cast<uint8_t*>(out), u0, u1);
    case 2:
      return tiles(g, in_stride, out_stride, static_cast<const uint16_t*>(in), static_cast<uint16_t*>(out), u0, u1);
    case 4:
      return tiles(g, in_stride, out_stride, static_cast<const uint32_t*>(in), static_cast<uint32_t*>(out), u0, u1);
    default:
      return tiles(g, in_stride, out_stride, static_cast<const uint64_t*>(in), static_cast<uint64_t*>(out), u0, u1);
  }
}

// Vector loads and stores for everything but the last partial vector. Not memcpy: glibc 2.36 on the AMD EPYC
// machines we measured copies 4 KiB .. 256 KiB with `rep movsb` at ~2 GB/s, 20x slower than this loop.
HWY_INLINE void copy_bytes(uint8_t* HWY_RESTRICT dst, const uint8_t* HWY_RESTRICT src, size_t n) {
  const hn::ScalableTag<uint8_t> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    const auto v0 = hn::LoadU(d, src + i), v1 = hn::LoadU(d, src + i + lanes);
    const auto v2 = hn::LoadU(d, src + i + 2 * lanes), v3 = hn::LoadU(d, src + i + 3 * lanes);
    hn::StoreU(v0, d, dst + i);
    hn::StoreU(v1, d, dst + i + lanes);
    hn::StoreU(v2, d, dst + i + 2 * lanes);
    hn::StoreU(v3, d, dst + i + 3 * lanes);
  }
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  if (i < n) std::memcpy(dst + i, src + i, n - i);  // under one vector: glibc's small-size path is fine
}

void CopyBytes(void* dst, const void* src, size_t n) {
  copy_bytes(static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), n);
}

// Rows [r0, r1) of the row-copy form: row r is output elements [r * len, (r+1) * len).
void CopyRows(const TransposePlan& p, const void* in, void* out, int64_t r0, int64_t r1) {
  const uint8_t* src = static_cast<const uint8_t*>(in);
  uint8_t* dst = static_cast<uint8_t*>(out);
  const int outer = p.rank - 1;
  const int64_t row_bytes = p.dims[outer] * static_cast<int64_t>(p.elem_size);
  const int64_t es = static_cast<int64_t>(p.elem_size);
  int64_t idx[kMaxTransposeRank] = {};
  int64_t in_off = 0;
  int64_t rem = r0;
  for (int k = outer - 1; k >= 0; --k) {
    idx[k] = rem % p.dims[k];
    rem /= p.dims[k];
    in_off += idx[k] * p.in_strides[k];
  }
  for (int64_t r = r0; r < r1; ++r) {
    copy_bytes(dst + r * row_bytes, src + in_off * es, static_cast<size_t>(row_bytes));
    for (int k = outer - 1; k >= 0; --k) {  // odometer over the outer dims
      in_off += p.in_strides[k];
      if (++idx[k] < p.dims[k]) break;
      in_off -= p.in_strides[k] * p.dims[k];
      idx[k] = 0;
    }
  }
}

}  // namespace ef::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(TransposeTiles);
HWY_EXPORT(CopyBytes);
HWY_EXPORT(CopyRows);

namespace {
using transpose_detail::kTile;
using transpose_detail::TileGeometry;

constexpr int64_t kParallelMinElems = int64_t{1} << 16;
constexpr int64_t kParallelGrainElems = int64_t{1} << 15;
constexpr int64_t kCopyChunkBytes = int64_t{1} << 18;

TileGeometry tile_geometry(const TransposePlan& p) {
  TileGeometry g{};
  const int q = p.contiguous_pos, last = p.rank - 1;
  g.rows = p.dims[q];
  g.cols = p.dims[last];
  g.row_blocks = (g.rows + kTile - 1) / kTile;
  g.col_blocks = (g.cols + kTile - 1) / kTile;
  for (int k = 0; k < last; ++k) {
    if (k == q) continue;
    g.outer_dims[g.outer_rank] = p.dims[k];
    g.outer_in[g.outer_rank] = p.in_strides[k];
    g.outer_out[g.outer_rank] = p.out_strides[k];
    ++g.outer_rank;
  }
  return g;
}

}  // namespace

TransposePlan plan_transpose(std::span<const int64_t> in_shape, std::span<const int64_t> perm, size_t elem_size) {
  const size_t rank = in_shape.size();
  if (rank > kMaxTransposeRank) throw std::invalid_argument("transpose: rank above " + std::to_string(kMaxTransposeRank));
  if (elem_size == 0) throw std::invalid_argument("transpose: element size 0");
  if (perm.size() != rank) throw std::invalid_argument("transpose: perm has " + std::to_string(perm.size()) +
                                                       " entries for rank " + std::to_string(rank));
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)]) {
      throw std::invalid_argument("transpose: perm is not a permutation of [0, rank)");
    }
    seen[static_cast<size_t>(p)] = true;
  }
  std::vector<int64_t> shape(in_shape.begin(), in_shape.end()), order(perm.begin(), perm.end());
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("transpose: negative dim");
  }
  TransposePlan plan;
  plan.elem_size = elem_size;
  if (elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8) {
    // Bytes with one more, unpermuted innermost dim: the row-copy form then moves whole elements.
    shape.push_back(static_cast<int64_t>(elem_size));
    order.push_back(static_cast<int64_t>(rank));
    plan.elem_size = 1;
  }
  plan.numel = std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());

  // Groups of input dims that stay adjacent and in order in the output, size-1 dims dropped; output order.
  struct Group {
    int64_t first_in, size;
  };
  std::vector<Group> groups;
  int64_t prev_in = -2;
  for (int64_t d : order) {
    const int64_t size = shape[static_cast<size_t>(d)];
    if (size == 1) continue;
    // Dims dropped in between do not break adjacency: compare with the previous kept input dim.
    bool adjacent = !groups.empty();
    for (int64_t k = prev_in + 1; adjacent && k < d; ++k) adjacent = shape[static_cast<size_t>(k)] == 1;
    if (adjacent && d > prev_in) {
      groups.back().size *= size;
    } else {
      groups.push_back({d, size});
    }
    prev_in = d;
  }
  if (plan.numel == 0 || groups.size() <= 1) {
    plan.form = TransposeForm::kCopy;
    plan.rank = 1;
    plan.dims[0] = plan.numel;
    plan.in_strides[0] = plan.out_strides[0] = 1;
    plan.num_units = plan.numel > 0 ? 1 : 0;
    return plan;
  }
  if (groups.size() > kMaxTransposeRank) throw std::invalid_argument("transpose: rank above limit after planning");
  plan.rank = static_cast<int>(groups.size());
  std::vector<size_t> by_input(groups.size());
  std::iota(by_input.begin(), by_input.end(), size_t{0});
  std::sort(by_input.begin(), by_input.end(), [&](size_t x, size_t y) { return groups[x].first_in < groups[y].first_in; });
  int64_t stride = 1;
  for (size_t k = by_input.size(); k-- > 0;) {
    plan.in_strides[by_input[k]] = stride;
    stride *= groups[by_input[k]].size;
  }
  stride = 1;
  for (int k = plan.rank - 1; k >= 0; --k) {
    plan.dims[k] = groups[static_cast<size_t>(k)].size;
    plan.out_strides[k] = stride;
    stride *= plan.dims[k];
  }
  const int last = plan.rank - 1;
  if (plan.in_strides[last] == 1) {
    plan.form = TransposeForm::kRowCopy;
    plan.num_units = plan.numel / plan.dims[last];
  } else {
    plan.form = TransposeForm::kTiled;
    for (int k = 0; k < plan.rank; ++k) {
      if (plan.in_strides[k] == 1) plan.contiguous_pos = k;
    }
    const TileGeometry g = tile_geometry(plan);
    plan.num_units = plan.numel / (g.rows * g.cols) * g.row_blocks * g.col_blocks;
  }
  return plan;
}

void run_transpose(const TransposePlan& plan, const void* in, void* out, ThreadPool& pool) {
  if (plan.numel == 0) return;
  const bool parallel = plan.numel >= kParallelMinElems && pool.num_threads() > 1;
  const char* src = static_cast<const char*>(in);
  char* dst = static_cast<char*>(out);
  switch (plan.form) {
    case TransposeForm::kCopy: {
      const int64_t bytes = plan.numel * static_cast<int64_t>(plan.elem_size);
      if (!parallel) return HWY_DYNAMIC_DISPATCH(CopyBytes)(dst, src, static_cast<size_t>(bytes));
      pool.parallel_for((bytes + kCopyChunkBytes - 1) / kCopyChunkBytes, 1, [&](int64_t c0, int64_t c1) {
        const int64_t b0 = c0 * kCopyChunkBytes, b1 = std::min(bytes, c1 * kCopyChunkBytes);
        HWY_DYNAMIC_DISPATCH(CopyBytes)(dst + b0, src + b0, static_cast<size_t>(b1 - b0));
      });
      return;
    }
    case TransposeForm::kRowCopy: {
      if (!parallel) return HWY_DYNAMIC_DISPATCH(CopyRows)(plan, in, out, 0, plan.num_units);
      const int64_t grain = std::max<int64_t>(1, kParallelGrainElems / plan.dims[plan.rank - 1]);
      pool.parallel_for(plan.num_units, grain, [&](int64_t r0, int64_t r1) {
        HWY_DYNAMIC_DISPATCH(CopyRows)(plan, in, out, r0, r1);
      });
      return;
    }
    case TransposeForm::kTiled: {
      const TileGeometry g = tile_geometry(plan);
      const int64_t in_stride = plan.in_strides[plan.rank - 1], out_stride = plan.out_strides[plan.contiguous_pos];
      auto run = [&](int64_t u0, int64_t u1) {
        HWY_DYNAMIC_DISPATCH(TransposeTiles)(g, plan.elem_size, in_stride, out_stride, in, out, u0, u1);
      };
      if (!parallel) return run(0, plan.num_units);
      pool.parallel_for(plan.num_units, std::max<int64_t>(1, kParallelGrainElems / (kTile * kTile)), run);
      return;
    }
  }
}

void copy_bytes(void* dst, const void* src, size_t bytes) { HWY_DYNAMIC_DISPATCH(CopyBytes)(dst, src, bytes); }

void transpose(const void* in, void* out, std::span<const int64_t> in_shape, std::span<const int64_t> perm,
               size_t elem_size, ThreadPool& pool) {
  run_transpose(plan_transpose(in_shape, perm, elem_size), in, out, pool);
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
