// The 512-bit micro-kernels of the quantized GEMM (qgemm.h): AVX-512 VNNI vpdpbusd (16 rows x 16 columns, one
// panel load per k quad feeding 16 accumulators) and AVX-512BW int16 vpmaddwd (8 x 16) for CPUs without VNNI.
// Same packed layouts as the 256-bit kernels; the epilogue is the AVX2 one on the two halves of each row.
// Compiled through function attributes and called only after a run-time CPU check.
#include "kernels/cpu/qgemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include "kernels/cpu/qgemm_x86-inl.h"
#define EF_QAVX512BW __attribute__((target("avx2,fma,avx512f,avx512bw")))
#define EF_QAVX512VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vnni")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

bool cpu_has_avx512bw() {
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
bool cpu_has_avx512_vnni() { return cpu_has_avx512bw() && __builtin_cpu_supports("avx512vnni"); }

namespace {
// The low or high 256 bits (the masked form: GCC 12's plain cast/extract warn of an uninitialized pass-through).
#define EF_HALF(v, i) _mm512_maskz_extracti64x4_epi64(0xFF, v, i)
EF_QAVX512BW inline __m256i half(__m512i v, int i) { return i == 0 ? EF_HALF(v, 0) : EF_HALF(v, 1); }
#undef EF_HALF
}  // namespace

EF_QAVX512VNNI void qgemm_micro_avx512_vnni(const QTile& t) {
  constexpr int64_t kRows = 16;
  const auto* w = static_cast<const int8_t*>(t.w);
  const uint8_t* x = t.x;
  __m512i c[kRows];
  for (auto& v : c) v = _mm512_setzero_si512();
  for (int64_t q = 0; q < t.quads; ++q, x += 64, w += kQgemmMR * 4) {
    const __m512i xv = _mm512_load_si512(x);
#pragma GCC unroll 16
    for (int64_t r = 0; r < kRows; ++r) {
      int32_t bits;
      std::memcpy(&bits, w + (r / kQgemmMR) * t.tile_stride + (r % kQgemmMR) * 4, 4);
      c[r] = _mm512_dpbusd_epi32(c[r], xv, _mm512_set1_epi32(bits));
    }
  }
  TileOut o = tile_out(t);
#pragma GCC unroll 16
  for (int64_t r = 0; r < kRows; ++r) {
    finish_row(o, r, half(c[r], 0), half(c[r], 1));
  }
}

EF_QAVX512BW void qgemm_micro_avx512bw(const QTile& t) {
  constexpr int64_t kRows = 8;
  const auto* w = static_cast<const int16_t*>(t.w);
  const uint8_t* x = t.x;
  __m512i c[kRows][2];
  for (auto& row : c) row[0] = row[1] = _mm512_setzero_si512();
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
void qgemm_micro_avx512_vnni(const QTile&) {}
void qgemm_micro_avx512bw(const QTile&) {}

#endif

}  // namespace ef::cpu::detail
