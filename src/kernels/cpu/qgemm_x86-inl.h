// x86 helpers shared by the quantized GEMM micro-kernels (qgemm_avx2.cpp, qgemm_avx512.cpp): the requantizing
// tile epilogue on AVX2 registers. Included only by files that compile on x86; functions carry their own
// target attribute, so AVX-512 kernels inline them too (their target is a superset).
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/qgemm.h"
#include "kernels/cpu/qrequant_avx2-inl.h"

#define EF_QAVX2 __attribute__((target("avx2,fma")))

namespace ef::cpu::detail {

// 16 int32 accumulators of one row (columns 0-7, 8-15, offset not yet added) -> `count` 8-bit results at y per
// the epilogue formula (the register form shared with the depthwise kernel: qrequant_avx2-inl.h). Always
// inlined: as a call per row it cost as much as a small-K tile's multiply loop (mobilenet_v2's pointwise convs).
EF_QAVX2 __attribute__((always_inline)) inline void requant_row16(const Requant16& r, __m256i a0, __m256i a1,
                                                                  int32_t offset, int64_t count, void* y) {
  const __m256i off = _mm256_set1_epi32(offset);
  a0 = _mm256_add_epi32(a0, off);
  a1 = _mm256_add_epi32(a1, off);
  const __m128i bytes = r.out_signed ? requant16<true>(r, a0, a1) : requant16<false>(r, a0, a1);
  if (count == kQgemmNR) {
    _mm_storeu_si128(static_cast<__m128i*>(y), bytes);
  } else {
    alignas(16) uint8_t tmp[kQgemmNR];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
    std::memcpy(y, tmp, static_cast<size_t>(count));
  }
}

// A tile's epilogue state, read from the QTile once per tile: local copies, because the byte stores of one row
// may alias anything behind a pointer and would make the compiler reload them for the next row.
struct TileOut {
  Requant16 r;  // r.scale is set per row
  const int32_t* offset;
  const float* scale;
  uint8_t* y;
  int64_t y_row, cols, valid_rows;
  int32_t* acc;
};

EF_QAVX2 inline TileOut tile_out(const QTile& t) {
  TileOut o{};
  if (t.acc == nullptr) o.r = requant16_setup(1.0f, *t.rq);
  o.offset = t.offset;
  o.scale = t.scale;
  o.y = t.y;
  o.y_row = t.y_row;
  o.cols = t.cols;
  o.valid_rows = t.valid_rows;
  o.acc = t.acc;
  return o;
}

// Row r of a finished tile: requantized into y, or stored raw into acc.
EF_QAVX2 __attribute__((always_inline)) inline void finish_row(TileOut& o, int64_t r, __m256i a0, __m256i a1) {
  if (o.acc != nullptr) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o.acc + r * kQgemmNR), a0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o.acc + r * kQgemmNR + 8), a1);
  } else if (r < o.valid_rows) {
    o.r.scale = _mm256_set1_ps(o.scale[r]);
    requant_row16(o.r, a0, a1, o.offset[r], o.cols, o.y + r * o.y_row);
  }
}

// Int16 kernels accumulate two lanes per column (k pairs 0-1 and 2-3): a holds columns 0-3, b columns 4-7.
// Returns the 8 column sums in order.
EF_QAVX2 inline __m256i sum_lane_pairs(__m256i a, __m256i b) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(a, b), 0xD8);
}

EF_QAVX2 inline __m256i broadcast32(const int8_t* p) {
  int32_t bits;
  std::memcpy(&bits, p, 4);
  return _mm256_set1_epi32(bits);
}

EF_QAVX2 inline __m256i broadcast64(const int16_t* p) {
  long long bits;
  std::memcpy(&bits, p, 8);
  return _mm256_set1_epi64x(bits);
}

}  // namespace ef::cpu::detail
