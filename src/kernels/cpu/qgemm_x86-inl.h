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
  __m256i zp16;  // the output zero point in int16 lanes (finish_rows2)
  const int32_t* offset;
  const float* scale;
  uint8_t* y;
  int64_t y_row, cols, valid_rows;
  int32_t* acc;
};

EF_QAVX2 inline TileOut tile_out(const QTile& t) {
  TileOut o{};
  if (t.acc == nullptr) {
    o.r = requant16_setup(1.0f, *t.rq);
    o.zp16 = _mm256_set1_epi16(static_cast<int16_t>(t.rq->zero_point));
  }
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

// Rows r and r + 1 of a finished tile (a0, a1 and b0, b1). Two full rows of a fused epilogue share the narrowing:
// the rounded values lie in [lo - zero_point, hi - zero_point] (|.| <= 510), so they pack to int16 exactly, the
// zero point is added there, one pack to bytes and one vpermd order both rows (the row-by-row path spent a pack,
// a permute, an extract and two int32 adds more per row; the epilogue is about half the instructions of the K <= 32
// pointwise layers). The same float operations as requant16 (requant_rounded): bit-identical.
EF_QAVX2 __attribute__((always_inline)) inline __m256i round_clamped(const Requant16& r, __m256i acc, __m256i off,
                                                                     __m256 scale) {
  return requant_rounded(r, _mm256_add_epi32(acc, off), scale);
}

EF_QAVX2 __attribute__((always_inline)) inline void finish_rows2(TileOut& o, int64_t r, __m256i a0, __m256i a1,
                                                                 __m256i b0, __m256i b1) {
  if (o.acc != nullptr || o.cols != kQgemmNR || r + 1 >= o.valid_rows) {
    finish_row(o, r, a0, a1);
    finish_row(o, r + 1, b0, b1);
    return;
  }
  const __m256 sa = _mm256_set1_ps(o.scale[r]), sb = _mm256_set1_ps(o.scale[r + 1]);
  const __m256i oa = _mm256_set1_epi32(o.offset[r]), ob = _mm256_set1_epi32(o.offset[r + 1]);
  const __m256i wa = _mm256_add_epi16(
      _mm256_packs_epi32(round_clamped(o.r, a0, oa, sa), round_clamped(o.r, a1, oa, sa)), o.zp16);
  const __m256i wb = _mm256_add_epi16(
      _mm256_packs_epi32(round_clamped(o.r, b0, ob, sb), round_clamped(o.r, b1, ob, sb)), o.zp16);
  // Dwords: lane 0 = row r columns 0-3, 8-11, row r + 1 columns 0-3, 8-11; lane 1 the same for columns 4-7, 12-15.
  const __m256i bytes = o.r.out_signed ? _mm256_packs_epi16(wa, wb) : _mm256_packus_epi16(wa, wb);
  const __m256i rows = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(o.y + r * o.y_row), _mm256_castsi256_si128(rows));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(o.y + (r + 1) * o.y_row), _mm256_extracti128_si256(rows, 1));
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
