// The 256-bit micro-kernels of the quantized GEMM (qgemm.h) in x86 intrinsics (Highway 1.0.3 has no u8 x s8
// pairwise multiply-add): AVX2 vpmaddubsw for pair-safe weights, AVX2 int16 vpmaddwd for any weights, and
// AVX-VNNI vpdpbusd. Compiled for their ISA through function attributes and only called after a run-time CPU
// check, so the rest of the binary keeps its baseline ISA. Other architectures get stubs never called.
#include "kernels/cpu/qgemm.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

#include "kernels/cpu/qgemm_x86-inl.h"
#define EF_QAVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
// CPUID leaf 7 sub-leaf 1, EAX bit 4 (AVX-VNNI), read directly: clang 14's __builtin_cpu_supports does not know
// "avxvnni". The register state it needs is AVX's, which cpu_has_avx2() already checked with the OS.
bool cpu_has_avx_vnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!cpu_has_avx2() || __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (eax >> 4) & 1u;
}

namespace {

// acc += r * x[k][0..15] for one residual (row, k, r) of the tile, on the row's two accumulator registers; x is
// the packed panel. x sits in the low 16 bits of each lane (high half zero), times r as int16: one vpmaddwd, exact.
EF_QAVX2 __attribute__((always_inline)) inline void add_residual(const QPackedWeights::Residual& res,
                                                                 const uint8_t* x, __m256i& c0, __m256i& c1) {
  const auto k = static_cast<uint32_t>(res.k);  // k >= 0: shifts, not signed division
  const uint8_t* xq = x + static_cast<size_t>(k >> 2) * (kQgemmNR * 4);
  const __m128i shift = _mm_cvtsi32_si128(static_cast<int>((k & 3) * 8));
  const __m256i r = _mm256_set1_epi32(res.r & 0xFFFF), low_byte = _mm256_set1_epi32(0xFF);
  const __m256i v0 =
      _mm256_and_si256(_mm256_srl_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(xq)), shift), low_byte);
  const __m256i v1 = _mm256_and_si256(
      _mm256_srl_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(xq + 32)), shift), low_byte);
  c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(v0, r));
  c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(v1, r));
}

}  // namespace

// The end of a 4 x 16 tile from the named accumulator registers (named registers in the loops keep GCC from
// spilling and shuffling an accumulator array every k quad). The tile's sparse residuals, sorted by row, are
// added to the row's registers (they went through an int32 tile in memory before: 8 stores, a call and 8 loads
// per tile, and most tiles of layers with a few clamped lanes carry some). xp: the panel; o: the epilogue state.
#define EF_QRES_ROW(t, xp, R, lo, hi) \
  for (; e < (t).res_count && (t).res[e].row == (R); ++e) add_residual((t).res[e], (xp), lo, hi);
#define EF_QFINISH_TILE4(t, o, xp)    \
  do {                                \
    if ((t).res_count != 0) {         \
      int64_t e = 0;                  \
      EF_QRES_ROW(t, xp, 0, c00, c01) \
      EF_QRES_ROW(t, xp, 1, c10, c11) \
      EF_QRES_ROW(t, xp, 2, c20, c21) \
      EF_QRES_ROW(t, xp, 3, c30, c31) \
    }                                 \
    finish_rows2(o, 0, c00, c01, c10, c11); \
    finish_rows2(o, 2, c20, c21, c30, c31); \
  } while (0)

// The panels of one sweep (QTile::panels): o's output pointer and column count set for panel pi.
EF_QAVX2 __attribute__((always_inline)) inline const uint8_t* sweep_panel(const QTile& t, TileOut& o, int64_t pi) {
  o.y = t.y + pi * kQgemmNR;
  o.cols = std::min<int64_t>(kQgemmNR, t.cols - pi * kQgemmNR);
  return t.x + pi * t.panel_stride;
}

// 4 rows x 16 columns: per k quad two panel loads, four weight broadcasts, 8 vpmaddubsw + 8 vpmaddwd.
EF_QAVX2 void qgemm_micro_avx2(const QTile& t) {
  TileOut o = tile_out(t);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t pi = 0; pi < t.panels; ++pi) {
    const uint8_t* const xp = sweep_panel(t, o, pi);
    const auto* w = static_cast<const int8_t*>(t.w);
    const uint8_t* x = xp;
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
            c31 = c00;
    // Each int16 pair sum is at most 255 * 128 in magnitude (checked when packing): no saturation.
#define EF_QSTEP(r, lo, hi)                                                                \
  {                                                                                        \
    const __m256i wv = broadcast32(w + (r) * 4);                                           \
    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_maddubs_epi16(x0, wv), ones));      \
    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_maddubs_epi16(x1, wv), ones));      \
  }
    for (int64_t q = 0; q < t.quads; ++q, x += 64, w += kQgemmMR * 4) {
      const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
      const __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 32));
      EF_QSTEP(0, c00, c01) EF_QSTEP(1, c10, c11) EF_QSTEP(2, c20, c21) EF_QSTEP(3, c30, c31)
    }
#undef EF_QSTEP
    EF_QFINISH_TILE4(t, o, xp);
  }
}

// 4 rows x 16 columns, two k quads per step: the vpmaddubsw products of both quads are added in int16 (exact:
// packing bounds each lane's four weights to |w| summing to 128) and widened by one vpmaddwd. Per two quads: four
// panel loads, eight weight broadcasts, 16 vpmaddubsw + 8 vpmaddwd (kAvx2: 16 + 16). An odd last quad runs alone.
// The same for a panel of at most 8 valid columns (the last panel of a 7x7 or 14x14 plane: N = 49 = 3 x 16 + 1):
// only the first 8 columns are computed, half the work; the epilogue stores only o.cols columns.
static EF_QAVX2 void micro_avx2_acc16_half(const QTile& t, TileOut& o, const uint8_t* xp) {
  const auto* w = static_cast<const int8_t*>(t.w);
  const uint8_t* x = xp;
  __m256i c00 = _mm256_setzero_si256(), c10 = c00, c20 = c00, c30 = c00;
  __m256i c01 = c00, c11 = c00, c21 = c00, c31 = c00;  // columns 8-15: never stored (residuals may touch them)
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t q = 0;
  for (; q + 2 <= t.quads; q += 2, x += 128, w += 2 * kQgemmMR * 4) {
    const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i y0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 64));
#define EF_QSTEP2(r, lo)                                                                                    \
  {                                                                                                         \
    const __m256i wa = broadcast32(w + (r) * 4), wb = broadcast32(w + kQgemmMR * 4 + (r) * 4);             \
    lo = _mm256_add_epi32(                                                                                  \
        lo, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x0, wa), _mm256_maddubs_epi16(y0, wb)), \
                              ones));                                                                       \
  }
    EF_QSTEP2(0, c00) EF_QSTEP2(1, c10) EF_QSTEP2(2, c20) EF_QSTEP2(3, c30)
#undef EF_QSTEP2
  }
  if (q < t.quads) {
    const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
#define EF_QSTEP(r, lo) \
  lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_maddubs_epi16(x0, broadcast32(w + (r) * 4)), ones));
    EF_QSTEP(0, c00) EF_QSTEP(1, c10) EF_QSTEP(2, c20) EF_QSTEP(3, c30)
#undef EF_QSTEP
  }
  EF_QFINISH_TILE4(t, o, xp);
}

// One panel of 9-16 columns.
static EF_QAVX2 __attribute__((always_inline)) inline void micro_avx2_acc16_full(const QTile& t, TileOut& o,
                                                                                 const uint8_t* xp) {
  const auto* w = static_cast<const int8_t*>(t.w);
  const uint8_t* x = xp;
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const __m256i ones = _mm256_set1_epi16(1);
#define EF_QSTEP2(r, lo, hi)                                                                                \
  {                                                                                                         \
    const __m256i wa = broadcast32(w + (r) * 4), wb = broadcast32(w + kQgemmMR * 4 + (r) * 4);             \
    lo = _mm256_add_epi32(                                                                                  \
        lo, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x0, wa), _mm256_maddubs_epi16(y0, wb)), \
                              ones));                                                                       \
    hi = _mm256_add_epi32(                                                                                  \
        hi, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x1, wa), _mm256_maddubs_epi16(y1, wb)), \
                              ones));                                                                       \
  }
  int64_t q = 0;
  for (; q + 2 <= t.quads; q += 2, x += 128, w += 2 * kQgemmMR * 4) {
    const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 32));
    const __m256i y0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 64));
    const __m256i y1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 96));
    EF_QSTEP2(0, c00, c01) EF_QSTEP2(1, c10, c11) EF_QSTEP2(2, c20, c21) EF_QSTEP2(3, c30, c31)
  }
#undef EF_QSTEP2
  if (q < t.quads) {
    const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 32));
#define EF_QSTEP(r, lo, hi)                                                                \
  {                                                                                        \
    const __m256i wv = broadcast32(w + (r) * 4);                                           \
    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_maddubs_epi16(x0, wv), ones));      \
    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_maddubs_epi16(x1, wv), ones));      \
  }
    EF_QSTEP(0, c00, c01) EF_QSTEP(1, c10, c11) EF_QSTEP(2, c20, c21) EF_QSTEP(3, c30, c31)
#undef EF_QSTEP
  }
  EF_QFINISH_TILE4(t, o, xp);
}

EF_QAVX2 void qgemm_micro_avx2_acc16(const QTile& t) {
  TileOut o = tile_out(t);
  for (int64_t pi = 0; pi < t.panels; ++pi) {
    const uint8_t* const xp = sweep_panel(t, o, pi);
    if (o.cols <= 8) {
      micro_avx2_acc16_half(t, o, xp);
    } else {
      micro_avx2_acc16_full(t, o, xp);
    }
  }
}

// 4 rows x 8 columns, run for both halves of the panel: activations zero-extended to int16 while loading, int16
// weights broadcast as (w0, w1, w2, w3); each column keeps two lanes (k pairs 0-1, 2-3) summed at the end.
EF_QAVX2 void qgemm_micro_avx2_int16(const QTile& t) {
  alignas(32) int32_t sums[kQgemmMR][kQgemmNR];
  for (int half = 0; half < 2; ++half) {
    const auto* w = static_cast<const int16_t*>(t.w);
    const uint8_t* x = t.x + half * 32;
    __m256i c[kQgemmMR][2];
    for (auto& row : c) row[0] = row[1] = _mm256_setzero_si256();
    for (int64_t q = 0; q < t.quads; ++q, x += 64, w += kQgemmMR * 4) {
      const __m256i x0 = _mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(x)));
      const __m256i x1 = _mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(x + 16)));
#pragma GCC unroll 4
      for (int64_t r = 0; r < kQgemmMR; ++r) {
        const __m256i wv = broadcast64(w + r * 4);
        c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(x0, wv));
        c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(x1, wv));
      }
    }
    for (int64_t r = 0; r < kQgemmMR; ++r) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(&sums[r][half * 8]), sum_lane_pairs(c[r][0], c[r][1]));
    }
  }
  TileOut o = tile_out(t);
  for (int64_t r = 0; r < kQgemmMR; ++r) {
    finish_row(o, r, _mm256_load_si256(reinterpret_cast<const __m256i*>(&sums[r][0])),
               _mm256_load_si256(reinterpret_cast<const __m256i*>(&sums[r][8])));
  }
}

// 4 rows x 16 columns on vpdpbusd (u8 x s8 quads summed into int32 without intermediate saturation).
EF_QAVXVNNI void qgemm_micro_avx_vnni(const QTile& t) {
  const auto* w = static_cast<const int8_t*>(t.w);
  const uint8_t* x = t.x;
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
#define EF_QSTEP(r, lo, hi)                            \
  {                                                    \
    const __m256i wv = broadcast32(w + (r) * 4);       \
    lo = _mm256_dpbusd_avx_epi32(lo, x0, wv);          \
    hi = _mm256_dpbusd_avx_epi32(hi, x1, wv);          \
  }
  for (int64_t q = 0; q < t.quads; ++q, x += 64, w += kQgemmMR * 4) {
    const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 32));
    EF_QSTEP(0, c00, c01) EF_QSTEP(1, c10, c11) EF_QSTEP(2, c20, c21) EF_QSTEP(3, c30, c31)
  }
#undef EF_QSTEP
  TileOut o = tile_out(t);  // one panel: the driver sweeps only the AVX2 kernels
  EF_QFINISH_TILE4(t, o, t.x);
}

EF_QAVX2 void requant_row_avx2(const int32_t* acc, int64_t count, int32_t offset, float scale, const QRequant& rq,
                               void* y) {
  Requant16 r = requant16_setup(scale, rq);
  requant_row16(r, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc)),
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + 8)), offset, count, y);
}

#else

bool cpu_has_avx2() { return false; }
bool cpu_has_avx_vnni() { return false; }
void qgemm_micro_avx2(const QTile&) {}
void qgemm_micro_avx2_acc16(const QTile&) {}
void qgemm_micro_avx2_int16(const QTile&) {}
void qgemm_micro_avx_vnni(const QTile&) {}
void requant_row_avx2(const int32_t*, int64_t, int32_t, float, const QRequant&, void*) {}

#endif

}  // namespace ef::cpu::detail
