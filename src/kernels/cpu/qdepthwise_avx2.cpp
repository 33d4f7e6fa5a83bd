// The AVX2 plane kernels of the int8 depthwise convolution (qdepthwise.h), in x86 intrinsics compiled through
// function attributes and called only after the plan-time CPU / --isa check (as qgemm_avx2.cpp). Other
// architectures get stubs that are never called.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/qdepthwise.h"
#include "kernels/cpu/qrequant_avx2-inl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

namespace {

// One input row padded to `cols` (+ 32 bytes of slack) with the byte that reads as the zero point.
void padded_row(const uint8_t* x, int64_t W, int64_t pad_left, int64_t cols, uint8_t pad_byte, uint8_t* u) {
  std::memset(u, pad_byte, static_cast<size_t>(cols + 32));
  std::memcpy(u + pad_left, x, static_cast<size_t>(W));
}

// Tap pairs of each kernel row as int16 pairs (w[2j], w[2j + 1]) in one int32; an odd last tap gets a zero
// partner.
inline void tap_pairs(const int8_t* w, int64_t kh, int64_t kw, int32_t (*wp)[8]) {
  for (int64_t i = 0; i < kh; ++i) {
    for (int64_t j = 0; j < (kw + 1) / 2; ++j) {
      const int32_t w0 = w[i * kw + 2 * j], w1 = 2 * j + 1 < kw ? w[i * kw + 2 * j + 1] : 0;
      wp[i][j] = static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xFFFF) | (static_cast<uint32_t>(w1) << 16));
    }
  }
}

// Exact sums of one 16-output block, added to c0 / c1. Two adjacent int16s of the plane, read as one int32 lane,
// are the pair vpmaddwd multiplies with a tap pair (2j, 2j + 1). `base`: the block's first input element in
// kernel row 0; `pitch`: elements between kernel rows. S == 2: lane t of a load at 2j holds output t's pair (c0:
// outputs 0-7, c1: the 8 outputs whose loads start `second` int32 lanes further: 8-15 of the row, or 0-7 of
// another row). S == 1: the same load holds the even outputs 2t, one at 1 + 2j the odd ones (c0 / c1).
template <int S>
EF_AVX2 __attribute__((always_inline)) inline void block_sums(const int16_t* base, int64_t pitch, int64_t kh,
                                                              int64_t pairs, const int32_t (*wp)[8], __m256i& c0,
                                                              __m256i& c1, int64_t second_lanes = 8) {
#pragma GCC unroll 5
  for (int64_t i = 0; i < kh; ++i) {
    const auto* first = reinterpret_cast<const int32_t*>(base + i * pitch);
    const auto* second = S == 2 ? first + second_lanes : reinterpret_cast<const int32_t*>(base + i * pitch + 1);
#pragma GCC unroll 3
    for (int64_t j = 0; j < pairs; ++j) {
      const __m256i wv = _mm256_set1_epi32(wp[i][j]);
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(first + j));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(second + j));
      c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(a, wv));
      c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(b, wv));
    }
  }
}

// A block's 16 requantized bytes in output order (stride 1: even outputs first, then odd -> interleaved).
template <int S, bool kSigned>
EF_AVX2 __attribute__((always_inline)) inline __m128i block_bytes(const Requant16& r, __m256i c0, __m256i c1) {
  const __m128i bytes = requant16<kSigned>(r, c0, c1);
  if (S == 2) return bytes;
  return _mm_shuffle_epi8(bytes, _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
}

// One output plane, 16 outputs of a row per block, requantized in registers. KH / KW: the kernel size when known
// at compile time (unrolled), else 0.
template <int S, int KH, int KW, bool kSigned>
EF_AVX2 void plane(const Conv2dParams& p, const QdwPlane& g, const int16_t* buf, const int8_t* w, int32_t offset,
                   const Requant16& rq, uint8_t* y) {
  const Requant16 r = rq;  // local copies: the byte stores below may alias anything behind a pointer
  const int64_t kh = KH ? KH : p.kh, kw = KW ? KW : p.kw, pairs = (kw + 1) / 2;
  const int64_t OH = p.OH, OW = p.OW, stride_h = p.stride_h, cols = g.cols;
  int32_t wp[16][8];
  tap_pairs(w, kh, kw, wp);
  const __m256i off = _mm256_set1_epi32(offset);
  const int64_t total = OH * OW;
  if (S == 2 && OW <= 8) {
    // Rows of at most 8 outputs (7x7 after a stride-2 layer): two output rows per block, c0 row oh and c1 row
    // oh + 1 (the last row of an odd count is computed twice), instead of a block per row with 8 idle lanes.
    for (int64_t oh = 0; oh < OH; oh += 2) {
      const bool pair = oh + 1 < OH;
      __m256i c0 = off, c1 = off;
      block_sums<S>(buf + oh * stride_h * cols, cols, kh, pairs, wp, c0, c1, pair ? stride_h * cols / 2 : 0);
      alignas(16) uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), block_bytes<S, kSigned>(r, c0, c1));
      for (int64_t h = 0; h < (pair ? 2 : 1); ++h) {
        const int64_t at = (oh + h) * OW;
        if (at + 8 <= total) {
          std::memcpy(y + at, tmp + 8 * h, 8);  // spills into the next row, written after this one
        } else {
          std::memcpy(y + at, tmp + 8 * h, static_cast<size_t>(OW));
        }
      }
    }
    return;
  }
  for (int64_t oh = 0; oh < OH; ++oh) {
    for (int64_t ob = 0; ob < OW; ob += 16) {
      __m256i c0 = off, c1 = off;
      block_sums<S>(buf + oh * stride_h * cols + S * ob, cols, kh, pairs, wp, c0, c1);
      const __m128i bytes = block_bytes<S, kSigned>(r, c0, c1);
      const int64_t at = oh * OW + ob;
      if (at + 16 <= total) {
        // A row's last block may spill into the next row, which is written after it.
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + at), bytes);
      } else {
        alignas(16) uint8_t tmp[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
        std::memcpy(y + at, tmp, static_cast<size_t>(std::min<int64_t>(16, OW - ob)));
      }
    }
  }
}

// A small stride-1 plane flattened (QdwPlane::flat): output f = oh * P + ow of the padded plane with pitch P is
// the 1-D convolution of the flattened plane at f, so blocks run across rows; the columns ow >= OW of each
// flattened row are dropped while compacting. The results go through the scratch so no store leaves y's plane
// (other threads write the neighbouring planes).
template <int KH, int KW, bool kSigned>
EF_AVX2 void flat_plane(const Conv2dParams& p, const QdwPlane& g, int16_t* buf, const int8_t* w, int32_t offset,
                        const Requant16& rq, uint8_t* y) {
  const Requant16 r = rq;
  const int64_t kh = KH ? KH : p.kh, kw = KW ? KW : p.kw, pairs = (kw + 1) / 2;
  const int64_t P = g.cols, OH = p.OH, OW = p.OW, blocks = (OH * P + 15) / 16, total = OH * OW;
  int32_t wp[16][8];
  tap_pairs(w, kh, kw, wp);
  auto* flat = reinterpret_cast<uint8_t*>(buf + g.scratch);
  uint8_t* packed = flat + blocks * 16;
  const __m256i off = _mm256_set1_epi32(offset);
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i c0 = off, c1 = off;
    block_sums<1>(buf + b * 16, P, kh, pairs, wp, c0, c1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(flat + b * 16), block_bytes<1, kSigned>(r, c0, c1));
  }
  // Rows of OW <= 16 bytes: each 16-byte copy's spill is overwritten by the next row (the last one's lands in
  // the scratch's 16 bytes of slack).
  for (int64_t oh = 0; oh < OH; ++oh) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(packed + oh * OW),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(flat + oh * P)));
  }
  int64_t i = 0;
  for (; i + 16 <= total; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + i)));
  }
  if (i < total && total >= 16) {  // the last 16 bytes of the plane, overlapping the previous copy
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + total - 16),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + total - 16)));
  } else if (i < total) {
    std::memcpy(y + i, packed + i, static_cast<size_t>(total - i));
  }
}

// Fills a plane of rows of W <= 16 (the flattened plane, or a row kernel's with pad_left + 16 <= cols): zeros,
// then each input row as one 16-lane vector at its place, lanes >= W zeroed so the spill past the row is
// padding. Rows go top-down: in the flattened plane a row's spill into the next row's data is overwritten by
// that row. (The per-row path below costs several times more on such short rows.)
EF_AVX2 void build_short_rows(const Conv2dParams& p, const QdwPlane& g, const uint8_t* x, uint8_t flip, int32_t zp,
                        int16_t* buf) {
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t i = 0; i < g.scratch; i += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(buf + i), zero);
  const int64_t W = p.W, plane = p.H * p.W;
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zp));
  const __m256i keep = _mm256_cmpgt_epi16(_mm256_set1_epi16(static_cast<int16_t>(W)),
                                          _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m128i iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int64_t ih = 0; ih < p.H; ++ih) {
    __m128i a;
    if (ih * W + 16 <= plane) {
      a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + ih * W));
    } else if (plane >= 16) {
      // The last rows: the 16 bytes ending at the plane's end (no read past the input), shifted down so the
      // row starts at byte 0 (the bytes shifted in from past 15 land in lanes >= W, dropped below).
      const auto shift = static_cast<char>(ih * W + 16 - plane);
      a = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + plane - 16)),
                           _mm_add_epi8(iota, _mm_set1_epi8(shift)));
    } else {
      alignas(16) uint8_t tmp[16] = {};
      std::memcpy(tmp, x + ih * W, static_cast<size_t>(W));
      a = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
    }
    const __m256i v = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_xor_si128(a, f)), z);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(buf + (ih + p.pad_top) * g.cols + p.pad_left),
                        _mm256_and_si256(v, keep));
  }
}

// The plane kernel instance for p's stride and kernel size.
template <bool kSigned>
EF_AVX2 void plane_sized(const Conv2dParams& p, const QdwPlane& g, int16_t* buf, const int8_t* w,
                         int32_t offset, const Requant16& r, uint8_t* y) {
  const bool k3 = p.kh == 3 && p.kw == 3, k5 = p.kh == 5 && p.kw == 5;
  if (g.flat) {
    if (k3) return flat_plane<3, 3, kSigned>(p, g, buf, w, offset, r, y);
    if (k5) return flat_plane<5, 5, kSigned>(p, g, buf, w, offset, r, y);
    return flat_plane<0, 0, kSigned>(p, g, buf, w, offset, r, y);
  }
  if (p.stride_w == 1) {
    if (k3) return plane<1, 3, 3, kSigned>(p, g, buf, w, offset, r, y);
    if (k5) return plane<1, 5, 5, kSigned>(p, g, buf, w, offset, r, y);
    return plane<1, 0, 0, kSigned>(p, g, buf, w, offset, r, y);
  }
  if (k3) return plane<2, 3, 3, kSigned>(p, g, buf, w, offset, r, y);
  if (k5) return plane<2, 5, 5, kSigned>(p, g, buf, w, offset, r, y);
  return plane<2, 0, 0, kSigned>(p, g, buf, w, offset, r, y);
}

}  // namespace

EF_AVX2 void qdw_build_plane_avx2(const Conv2dParams& p, const QdwPlane& g, const uint8_t* x, uint8_t flip,
                                  int32_t zp, int16_t* buf) {
  if (g.flat || (p.W <= 16 && p.pad_left + 16 <= g.cols)) return build_short_rows(p, g, x, flip, zp, buf);
  // The padded byte row lives in the scratch after the plane.
  auto* u = reinterpret_cast<uint8_t*>(buf + g.scratch);
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zp));
  const __m256i zero = _mm256_setzero_si256();
  const int64_t W = p.W, left = p.pad_left, plane = p.H * p.W;
  for (int64_t r = 0; r < g.rows; ++r) {
    const int64_t ih = r - p.pad_top;
    int16_t* d = buf + r * g.cols;
    if (ih < 0 || ih >= p.H) {
      std::memset(d, 0, static_cast<size_t>(g.cols) * sizeof(int16_t));  // x - zp over the padding
      continue;
    }
    // Rows whose 16-byte loads stay inside this channel's plane (all but the last one or two) are widened
    // straight from the input: the left padding is one zero store, the loads' bytes past the row's end are
    // overwritten by the right padding's zeros. Padding the row in bytes first (memset + memcpy per row) was
    // most of the plane build's time on small planes.
    if (left <= 16 && ih * W + (W + 15) / 16 * 16 <= plane) {
      const uint8_t* xr = x + ih * W;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), zero);
      for (int64_t c = 0; c < W; c += 16) {
        const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xr + c)), f);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + left + c), _mm256_sub_epi16(_mm256_cvtepu8_epi16(a), z));
      }
      // Up to 15 elements past cols may be written: the next row is built after this one, and the last row's
      // spill lands in the byte-row scratch, which has cols + 32 bytes.
      for (int64_t c = left + W; c < g.cols; c += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c), zero);
      continue;
    }
    padded_row(x + ih * p.W, p.W, p.pad_left, g.cols, static_cast<uint8_t>(zp ^ flip), u);
    for (int64_t c = 0; c < g.cols; c += 16) {
      const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u + c)), f);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c), _mm256_sub_epi16(_mm256_cvtepu8_epi16(a), z));
    }
  }
}

EF_AVX2 void qdw_plane_avx2(const Conv2dParams& p, const QdwPlane& g, int16_t* buf, const int8_t* w,
                            int32_t offset, float scale, const QRequant& rq, uint8_t* y) {
  const Requant16 r = requant16_setup(scale, rq);
  if (rq.out_signed) return plane_sized<true>(p, g, buf, w, offset, r, y);
  return plane_sized<false>(p, g, buf, w, offset, r, y);
}

#else

void qdw_build_plane_avx2(const Conv2dParams&, const QdwPlane&, const uint8_t*, uint8_t, int32_t, int16_t*) {}
void qdw_plane_avx2(const Conv2dParams&, const QdwPlane&, int16_t*, const int8_t*, int32_t, float,
                    const QRequant&, uint8_t*) {}

#endif

}  // namespace ef::cpu::detail
