// The 512-bit micro-kernels of the quantized GEMM (qgemm.h): AVX-512 VNNI vpdpbusd (16 rows x 16 columns, one
// panel load per k quad feeding 16 accumulators) and AVX-512BW int16 vpmaddwd (8 x 16) for CPUs without VNNI.
// Same packed layouts as the 256-bit kernels; the epilogue is the AVX2 one on the two halves of each row.
// Compiled through function attributes and called only after a run-time CPU check.
#include "kernels/cpu/qgemm.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include "kernels/cpu/qgemm_x86-inl.h"
#include "kernels/cpu/qrequant_avx512-inl.h"
#define EF_QAVX512BW __attribute__((target("avx2,fma,avx512f,avx512bw")))
#define EF_QAVX512VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vnni")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

bool cpu_has_avx512bw() {
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
bool cpu_has_avx512_vnni() { return cpu_has_avx512bw() && __builtin_cpu_supports("avx512vnni"); }
bool cpu_has_avx512_vbmi() { return cpu_has_avx512_vnni() && __builtin_cpu_supports("avx512vbmi"); }

namespace {
// The low or high 256 bits (the masked form: GCC 12's plain cast/extract warn of an uninitialized pass-through).
#define EF_HALF(v, i) _mm512_maskz_extracti64x4_epi64(0xFF, v, i)
EF_QAVX512BW inline __m256i half(__m512i v, int i) { return i == 0 ? EF_HALF(v, 0) : EF_HALF(v, 1); }
#undef EF_HALF
}  // namespace

// The fused epilogue on whole rows: one 512-bit register is a row's 16 columns (the offset already in it),
// requantized by requant16_zmm (the AVX2 epilogue's float steps, so its bits). kFull: all kRows rows valid and 16 columns, so no per-row checks (with K = 16 - 32 the
// epilogue is most of a tile's instructions: K = 16 is 4 vpdpbusd per row).
template <int64_t kRows, bool kSigned, bool kFull>
EF_QAVX512VNNI __attribute__((always_inline)) inline void vnni_epilogue(const QTile& t, const __m512i (&c)[kRows]) {
  const QRequant& rq = *t.rq;
  const __m512 lo = _mm512_set1_ps(static_cast<float>(rq.lo - rq.zero_point));
  const __m512 hi = _mm512_set1_ps(static_cast<float>(rq.hi - rq.zero_point));
  const __m512i zp = _mm512_set1_epi32(rq.zero_point);
  const int64_t rows = std::min<int64_t>(kRows, t.valid_rows), cols = t.cols;
  // A constant trip count, unrolled: indexing c[] by a run-time row count put the accumulators in memory.
#pragma GCC unroll 24
  for (int64_t r = 0; r < kRows; ++r) {
    if (!kFull && r >= rows) continue;
    const __m128i bytes = requant16_zmm<kSigned>(c[r], _mm512_set1_ps(t.scale[r]), lo, hi, zp);
    uint8_t* y = t.y + r * t.y_row;
    if (kFull || cols == kQgemmNR) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y), bytes);
    } else {
      alignas(16) uint8_t tmp[kQgemmNR];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
      std::memcpy(y, tmp, static_cast<size_t>(cols));
    }
  }
}

// kRows of the 16-row tile (4, 8, 12 or 16): the last row block of M = 20, 36, ... needs fewer than 16 rows
// (BlazeFace's 24-channel layers computed a third of their products for padding rows); 24: the last 24 rows of
// M = 24, 40, 56 ... in one tile (qgemm), 24 accumulators + the panel quad + a broadcast in 32 registers.
template <int64_t kRows>
EF_QAVX512VNNI void vnni_rows(const QTile& t) {
  const auto* w = static_cast<const int8_t*>(t.w);
  const uint8_t* x = t.x;
  // The fused epilogue's sums start at the row offsets (int32 sums wrap, so the order of the adds is free); the
  // raw accumulators (t.acc) at zero. Rows past the valid ones have no offset.
  const bool fused = t.acc == nullptr;
  __m512i c[kRows];
#pragma GCC unroll 24
  for (int64_t r = 0; r < kRows; ++r) {
    c[r] = fused && r < t.valid_rows ? _mm512_set1_epi32(t.offset[r]) : _mm512_setzero_si512();
  }
  for (int64_t q = 0; q < t.quads; ++q, x += 64, w += kQgemmMR * 4) {
    const __m512i xv = _mm512_load_si512(x);
#pragma GCC unroll 24
    for (int64_t r = 0; r < kRows; ++r) {
      int32_t bits;
      std::memcpy(&bits, w + (r / kQgemmMR) * t.tile_stride + (r % kQgemmMR) * 4, 4);
      c[r] = _mm512_dpbusd_epi32(c[r], xv, _mm512_set1_epi32(bits));
    }
  }
  if (!fused) {
    TileOut o = tile_out(t);
#pragma GCC unroll 24
    for (int64_t r = 0; r < kRows; ++r) finish_row(o, r, half(c[r], 0), half(c[r], 1));
    return;
  }
  const bool full = t.valid_rows >= kRows && t.cols == kQgemmNR;
  if (t.rq->out_signed) {
    if (full) return vnni_epilogue<kRows, true, true>(t, c);
    return vnni_epilogue<kRows, true, false>(t, c);
  }
  if (full) return vnni_epilogue<kRows, false, true>(t, c);
  vnni_epilogue<kRows, false, false>(t, c);
}

EF_QAVX512VNNI void qgemm_micro_avx512_vnni(const QTile& t) { vnni_rows<16>(t); }

QMicro qgemm_micro_avx512_vnni_rows(int64_t rows) {
  if (rows <= 4) return vnni_rows<4>;
  if (rows <= 8) return vnni_rows<8>;
  if (rows <= 12) return vnni_rows<12>;
  if (rows <= 16) return vnni_rows<16>;
  return vnni_rows<24>;
}

EF_QAVX512BW void qgemm_micro_avx512bw(const QTile& t) {
  constexpr int64_t kRows = 8;
  const auto* w = static_cast<const int16_t*>(t.w);
  const uint8_t* x = t.x;
  __m512i c[kRows][2];
#pragma GCC unroll 8
  for (int64_t r = 0; r < kRows; ++r) c[r][0] = c[r][1] = _mm512_setzero_si512();  // unrolled: registers
  for (int64_t q = 0; q < t.quads; ++q, x += 64, w += kQgemmMR * 4) {
    // Columns 0-7 and 8-15, two int16 lanes (k pairs 0-1, 2-3) per column.
    const __m512i x0 = _mm512_cvtepu8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(x)));
    const __m512i x1 = _mm512_cvtepu8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(x + 32)));
#pragma GCC unroll 8
    for (int64_t r = 0; r < kRows; ++r) {
      long long bits;
      std::memcpy(&bits, w + (r / kQgemmMR) * t.tile_stride + (r % kQgemmMR) * 4, 8);
      const __m512i wv = _mm512_set1_epi64(bits);
      c[r][0] = _mm512_add_epi32(c[r][0], _mm512_madd_epi16(x0, wv));
      c[r][1] = _mm512_add_epi32(c[r][1], _mm512_madd_epi16(x1, wv));
    }
  }
  TileOut o = tile_out(t);
#pragma GCC unroll 8
  for (int64_t r = 0; r < kRows; ++r) {
    finish_row(o, r, sum_lane_pairs(half(c[r][0], 0), half(c[r][0], 1)),
               sum_lane_pairs(half(c[r][1], 0), half(c[r][1], 1)));
  }
}

#else

bool cpu_has_avx512bw() { return false; }
bool cpu_has_avx512_vnni() { return false; }
bool cpu_has_avx512_vbmi() { return false; }
void qgemm_micro_avx512_vnni(const QTile&) {}
QMicro qgemm_micro_avx512_vnni_rows(int64_t) { return qgemm_micro_avx512_vnni; }
void qgemm_micro_avx512bw(const QTile&) {}

#endif

}  // namespace ef::cpu::detail
