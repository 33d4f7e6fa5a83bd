// The int8 matrix-vector product (qgemv.h). The head it serves (1000 x 1280 at batch 1) is bound by streaming
// its weights, so the kernel reads each weight once, sign-extended to int16 (vpmovsxbw straight from memory),
// against the activations zero-extended to int16 and multiplies with vpmaddwd: products are at most
// 128 * 255 and a pair sum fits int32, so nothing saturates (unlike vpmaddubsw with full-range weights) and no
// weight packing or residual list is needed. Sums accumulate in int32 lanes with wrap-around, which is
// associative modulo 2^32: any order, kernel or thread split gives the GEMM's bits.
#include "kernels/cpu/qgemv.h"

#include <algorithm>

#include "kernels/cpu/isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ef::cpu {
namespace {

constexpr int64_t kBlockRows = 32;  // rows per task: the int32 sums of a block live on the stack

// Row sums from k0 on, added to `sum`: the AVX2 kernel's k tail and the whole portable path. uint32 wraps like
// the GEMM's int32 accumulators, without signed overflow.
int32_t finish_row(const QGemvArgs& a, const int8_t* w, int64_t k0, uint32_t sum) {
  for (int64_t k = k0; k < a.K; ++k) {
    sum += static_cast<uint32_t>(static_cast<int32_t>(w[k]) * static_cast<int32_t>(a.x[k] ^ a.flip));
  }
  return static_cast<int32_t>(sum);
}

void rows_scalar(const QGemvArgs& a, int64_t m0, int64_t rows, int32_t* acc) {
  for (int64_t r = 0; r < rows; ++r) acc[r] = finish_row(a, a.w + (m0 + r) * a.K, 0, 0);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

__attribute__((target("avx2"))) inline __m256i widened_x(const QGemvArgs& a, int64_t k, __m128i flip) {
  return _mm256_cvtepu8_epi16(_mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.x + k)), flip));
}
__attribute__((target("avx2"))) inline __m256i dot16(const int8_t* w, __m256i x16) {
  return _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w))), x16);
}

// Four rows share each activation load, 16 k a step, each row in its own register (written out: the compiler
// keeps an accumulator array in memory, a store-to-load chain per step).
__attribute__((target("avx2"))) void rows4_avx2(const QGemvArgs& a, int64_t m0, int32_t* acc) {
  const int64_t K = a.K, K16 = K / 16 * 16;
  const __m128i flip = _mm_set1_epi8(static_cast<char>(a.flip));
  const int8_t* w0 = a.w + m0 * K;
  const int8_t *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t k = 0; k < K16; k += 16) {
    // The next four rows (4K bytes, contiguous) one cache line a step: the head's weights usually come from
    // DRAM or a far cache level, and the hardware prefetcher alone left the loop waiting on them.
    _mm_prefetch(reinterpret_cast<const char*>(w0 + 4 * K + 4 * k), _MM_HINT_T0);
    const __m256i x16 = widened_x(a, k, flip);
    s0 = _mm256_add_epi32(s0, dot16(w0 + k, x16));
    s1 = _mm256_add_epi32(s1, dot16(w1 + k, x16));
    s2 = _mm256_add_epi32(s2, dot16(w2 + k, x16));
    s3 = _mm256_add_epi32(s3, dot16(w3 + k, x16));
  }
  acc[0] = finish_row(a, w0, K16, static_cast<uint32_t>(hsum(s0)));
  acc[1] = finish_row(a, w1, K16, static_cast<uint32_t>(hsum(s1)));
  acc[2] = finish_row(a, w2, K16, static_cast<uint32_t>(hsum(s2)));
  acc[3] = finish_row(a, w3, K16, static_cast<uint32_t>(hsum(s3)));
}

__attribute__((target("avx2"))) void row1_avx2(const QGemvArgs& a, int64_t m, int32_t* acc) {
  const int64_t K16 = a.K / 16 * 16;
  const __m128i flip = _mm_set1_epi8(static_cast<char>(a.flip));
  const int8_t* w = a.w + m * a.K;
  __m256i s = _mm256_setzero_si256();
  for (int64_t k = 0; k < K16; k += 16) s = _mm256_add_epi32(s, dot16(w + k, widened_x(a, k, flip)));
  *acc = finish_row(a, w, K16, static_cast<uint32_t>(hsum(s)));
}
#endif

}  // namespace

bool qgemv_use_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  return detail::cpu_has_avx2() && active_isa().rfind("AVX", 0) == 0;
#else
  return false;
#endif
}

void qgemv(const QGemvArgs& a, bool avx2, ThreadPool& pool) {
  if (a.M <= 0) return;
  const int64_t blocks = (a.M + kBlockRows - 1) / kBlockRows;
  pool.parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t m0 = b * kBlockRows, rows = std::min(kBlockRows, a.M - m0);
      int32_t acc[kBlockRows];
#if defined(__x86_64__) || defined(__i386__)
      if (avx2) {
        int64_t r = 0;
        for (; r + 4 <= rows; r += 4) rows4_avx2(a, m0 + r, acc + r);
        for (; r < rows; ++r) row1_avx2(a, m0 + r, acc + r);
      } else {
        rows_scalar(a, m0, rows, acc);
      }
#else
      (void)avx2;
      rows_scalar(a, m0, rows, acc);
#endif
      requantize_rows(acc, rows, 1, a.offset + m0, a.scale + m0, a.rq, static_cast<uint8_t*>(a.y) + m0);
    }
  });
}

}  // namespace ef::cpu
