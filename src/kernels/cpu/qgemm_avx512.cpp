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
  const RequantZmm b = requant_zmm(1.0f, rq.lo, rq.hi, rq.zero_point);  // each row's scale below
  const int64_t rows = std::min<int64_t>(kRows, t.valid_rows), cols = t.cols;
  // A constant trip count, unrolled: indexing c[] by a run-time row count put the accumulators in memory.
#pragma GCC unroll 24
  for (int64_t r = 0; r < kRows; ++r) {
    if (!kFull && r >= rows) continue;
    const __m128i bytes = requant16_zmm<kSigned>(c[r], _mm512_set1_ps(t.scale[r]), b.lo, b.hi, b.zero_point);
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

// The K loop of an 8-row x 2-panel tile as inline asm: per quad, the two panels' 64-byte loads, then per row one
// broadcast of its 4 weights (a pointer per 4-row tile) feeding two vpdpbusd. 10 loads per 16 vpdpbusd instead of
// the 16-row tile's 17; written in asm because GCC's code for the same loop was slower than the 16-row tile, while
// this one runs at ~445 GMAC/s against ~380 for the 16-row tile in asm (standalone harness, Zen 5, K = 576; the
// register-only vpdpbusd peak measured 447). The 16 sums (row r, panel j at sums + 16 * (2 r + j)) are read from
// and written back to `sums` around the loop: an asm statement takes at most 30 operands.
#define EF_VNNI_PAIR_ROW(ptr, off, a, b) \
  "vpbroadcastd " #off "(%[" #ptr "]), %%zmm18\n\t" \
  "vpdpbusd %%zmm18, %%zmm16, %%zmm" #a "\n\t" \
  "vpdpbusd %%zmm18, %%zmm17, %%zmm" #b "\n\t"
#define EF_VNNI_LOAD(i) "vmovdqa32 " #i "*64(%[sums]), %%zmm" #i "\n\t"
#define EF_VNNI_STORE(i) "vmovdqa32 %%zmm" #i ", " #i "*64(%[sums])\n\t"
EF_QAVX512VNNI void vnni_pair_k_loop(int32_t* sums, const int8_t* w, int64_t tile_stride, const uint8_t* x,
                                     int64_t panel_stride, int64_t quads) {
  const int8_t* w1 = w + tile_stride;
  const uint8_t* x1 = x + panel_stride;
  asm volatile(
      EF_VNNI_LOAD(0) EF_VNNI_LOAD(1) EF_VNNI_LOAD(2) EF_VNNI_LOAD(3) EF_VNNI_LOAD(4) EF_VNNI_LOAD(5)
      EF_VNNI_LOAD(6) EF_VNNI_LOAD(7) EF_VNNI_LOAD(8) EF_VNNI_LOAD(9) EF_VNNI_LOAD(10) EF_VNNI_LOAD(11)
      EF_VNNI_LOAD(12) EF_VNNI_LOAD(13) EF_VNNI_LOAD(14) EF_VNNI_LOAD(15)
      "1:\n\t"
      "vmovdqu64 (%[x0]), %%zmm16\n\t"
      "vmovdqu64 (%[x1]), %%zmm17\n\t"
      EF_VNNI_PAIR_ROW(w0, 0, 0, 1) EF_VNNI_PAIR_ROW(w0, 4, 2, 3) EF_VNNI_PAIR_ROW(w0, 8, 4, 5)
      EF_VNNI_PAIR_ROW(w0, 12, 6, 7) EF_VNNI_PAIR_ROW(w1, 0, 8, 9) EF_VNNI_PAIR_ROW(w1, 4, 10, 11)
      EF_VNNI_PAIR_ROW(w1, 8, 12, 13) EF_VNNI_PAIR_ROW(w1, 12, 14, 15)
      "add $64, %[x0]\n\t"
      "add $64, %[x1]\n\t"
      "add $16, %[w0]\n\t"
      "add $16, %[w1]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      EF_VNNI_STORE(0) EF_VNNI_STORE(1) EF_VNNI_STORE(2) EF_VNNI_STORE(3) EF_VNNI_STORE(4) EF_VNNI_STORE(5)
      EF_VNNI_STORE(6) EF_VNNI_STORE(7) EF_VNNI_STORE(8) EF_VNNI_STORE(9) EF_VNNI_STORE(10) EF_VNNI_STORE(11)
      EF_VNNI_STORE(12) EF_VNNI_STORE(13) EF_VNNI_STORE(14) EF_VNNI_STORE(15)
      : [x0] "+r"(x), [x1] "+r"(x1), [w0] "+r"(w), [w1] "+r"(w1), [n] "+r"(quads)
      : [sums] "r"(sums)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18");
}
#undef EF_VNNI_PAIR_ROW
#undef EF_VNNI_LOAD
#undef EF_VNNI_STORE

// Two full panels x 16 full rows, fused: rows 0-7 then 8-15 through vnni_pair_k_loop, each 8-row half requantized
// as the row kernels do (the same sums and float steps, so the same bytes). t.x: the first panel, the second
// t.panel_stride bytes further; t.y: the first panel's outputs, the second's 16 bytes further; t.quads >= 1.
EF_QAVX512VNNI void qgemm_pair_avx512_vnni(const QTile& t) {
  const auto* w = static_cast<const int8_t*>(t.w);
  const QRequant& rq = *t.rq;
  const RequantZmm b = requant_zmm(1.0f, rq.lo, rq.hi, rq.zero_point);  // each row's scale below
  alignas(64) int32_t sums[16 * 16];
  for (int64_t h = 0; h < 2; ++h) {
#pragma GCC unroll 8
    for (int64_t r = 0; r < 8; ++r) {
      const __m512i o = _mm512_set1_epi32(t.offset[8 * h + r]);
      _mm512_store_si512(sums + 16 * (2 * r), o);
      _mm512_store_si512(sums + 16 * (2 * r + 1), o);
    }
    vnni_pair_k_loop(sums, w + 2 * h * t.tile_stride, t.tile_stride, t.x, t.panel_stride, t.quads);
#pragma GCC unroll 8
    for (int64_t r = 0; r < 8; ++r) {
      const __m512 scale = _mm512_set1_ps(t.scale[8 * h + r]);
      uint8_t* y = t.y + (8 * h + r) * t.y_row;
      const __m512i c0 = _mm512_load_si512(sums + 16 * (2 * r)), c1 = _mm512_load_si512(sums + 16 * (2 * r + 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y), requant16_zmm(rq.out_signed, c0, scale, b));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + kQgemmNR), requant16_zmm(rq.out_signed, c1, scale, b));
    }
  }
}

// The last few columns of a GEMM whose last panel is mostly empty (N = 49: 1 column of 16), with the rows in the
// lanes instead: one vpdpbusd multiplies 4 quads of a 4-row weight tile (its 64 contiguous bytes: lane 4 qq + r
// is row r, quad qq) by the column's 4 quads each repeated 4 times (qgemm_arrange_columns), so a column costs
// 1/16 of a panel's products. The 4 quad lanes of each row are summed by two 128-bit lane swaps, the tiles
// blended 4 rows each into one register of 16 rows, requantized as the row kernels do (the same integer sums,
// the same float steps, so the same bytes), and stored with the row stride.
EF_QAVX512VNNI void qgemm_columns_avx512_vnni(const QTile& t) {
  const auto* w = static_cast<const int8_t*>(t.w);
  const int64_t groups = (t.quads + 3) / 4;
  const int64_t rem = t.quads % 4;
  const __mmask16 last = rem == 0 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (4 * rem)) - 1);
  const QRequant& rq = *t.rq;
  const RequantZmm b = requant_zmm(1.0f, rq.lo, rq.hi, rq.zero_point);  // each row's scale below
  for (int64_t j = 0; j < t.cols; ++j) {
    const uint8_t* xa = t.x + j * groups * 64;
    // 16 rows (4 tiles) at a time: the weights are padded to 16 rows, so all 4 tiles exist.
    for (int64_t r0 = 0; r0 < t.valid_rows; r0 += 16) {
      const int8_t* wt = w + (r0 / kQgemmMR) * t.tile_stride;
      __m512i a[4];
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) a[k] = _mm512_setzero_si512();
      for (int64_t g = 0; g < groups; ++g) {
        const __m512i xv = _mm512_load_si512(xa + g * 64);
        const __mmask16 m = g + 1 == groups ? last : static_cast<__mmask16>(0xFFFF);  // no read past the weights
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          a[k] = _mm512_dpbusd_epi32(a[k], xv, _mm512_maskz_loadu_epi32(m, wt + k * t.tile_stride + g * 64));
        }
      }
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        a[k] = _mm512_add_epi32(a[k], _mm512_maskz_shuffle_i64x2(0xFF, a[k], a[k], 0x4E));  // 128-bit lanes 2 3 0 1
        a[k] = _mm512_add_epi32(a[k], _mm512_maskz_shuffle_i64x2(0xFF, a[k], a[k], 0xB1));  // 1 0 3 2
      }
      __m512i v = _mm512_mask_blend_epi32(0x00F0, a[0], a[1]);
      v = _mm512_mask_blend_epi32(0x0F00, v, a[2]);
      v = _mm512_mask_blend_epi32(0xF000, v, a[3]);
      const int64_t rows = std::min<int64_t>(16, t.valid_rows - r0);
      const auto valid = static_cast<__mmask16>((1u << rows) - 1);
      v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(valid, t.offset + r0));
      const __m512 scale = _mm512_maskz_loadu_ps(valid, t.scale + r0);
      alignas(16) uint8_t bytes[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(bytes), requant16_zmm(rq.out_signed, v, scale, b));
      for (int64_t r = 0; r < rows; ++r) t.y[(r0 + r) * t.y_row + j] = bytes[r];
    }
  }
}

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
void qgemm_columns_avx512_vnni(const QTile&) {}
void qgemm_pair_avx512_vnni(const QTile&) {}
void qgemm_micro_avx512bw(const QTile&) {}

#endif

}  // namespace ef::cpu::detail
