// The 8-bit MaxPool of qpool.h. Per output row: the byte-wise max of the window's input rows (those inside the
// input) into a row padded with the lowest value, then the horizontal window max; both in SSE2 (x86-64's
// baseline: pmaxub) where the stride is 1 or 2 and the dilation 1, else plain loops.
#include "kernels/cpu/qpool.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ef::cpu {
namespace {

// dst[i] = max(dst[i], src[i] ^ flip) for i < n.
void max_into(uint8_t* dst, const uint8_t* src, int64_t n, uint8_t flip) {
  int64_t i = 0;
#if defined(__SSE2__)
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  for (; i + 16 <= n; i += 16) {
    const __m128i s = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)), f);
    __m128i* d = reinterpret_cast<__m128i*>(dst + i);
    _mm_storeu_si128(d, _mm_max_epu8(_mm_loadu_si128(d), s));
  }
#endif
  for (; i < n; ++i) dst[i] = std::max<uint8_t>(dst[i], src[i] ^ flip);
}

// dst[i] = src[i] ^ flip for i < n (the window's first input row).
void copy_into(uint8_t* dst, const uint8_t* src, int64_t n, uint8_t flip) {
  int64_t i = 0;
#if defined(__SSE2__)
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  for (; i + 16 <= n; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)), f));
  }
#endif
  for (; i < n; ++i) dst[i] = src[i] ^ flip;
}

// y[ow] = max over the kw taps of row[ow * stride + j] (row already padded), flipped back.
void horizontal(const uint8_t* row, const Conv2dParams& p, uint8_t flip, uint8_t* y) {
  int64_t ow = 0;
#if defined(__SSE2__)
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  if (p.dilation_w == 1 && p.stride_w == 1) {
    for (; ow + 16 <= p.OW; ow += 16) {
      __m128i m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + ow));
      for (int64_t j = 1; j < p.kw; ++j) m = _mm_max_epu8(m, _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + ow + j)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + ow), _mm_xor_si128(m, f));
    }
  } else if (p.dilation_w == 1 && p.stride_w == 2) {
    // Taps (2j, 2j + 1) of 8 outputs are the two bytes of each 16-bit lane of one 16-byte load at 2 * ow + 2j.
    const __m128i low = _mm_set1_epi16(0x00FF);
    for (; ow + 8 <= p.OW; ow += 8) {
      __m128i m = _mm_setzero_si128();
      for (int64_t j = 0; j < p.kw; j += 2) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * ow + j));
        if (j + 1 == p.kw) v = _mm_and_si128(v, low);  // an odd last tap: only the even byte
        m = _mm_max_epu8(m, v);
      }
      m = _mm_max_epu8(_mm_and_si128(m, low), _mm_srli_epi16(m, 8));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y + ow), _mm_xor_si128(_mm_packus_epi16(m, m), f));
    }
  }
#endif
  for (; ow < p.OW; ++ow) {
    uint8_t m = 0;
    for (int64_t j = 0; j < p.kw; ++j) m = std::max(m, row[ow * p.stride_w + j * p.dilation_w]);
    y[ow] = m ^ flip;
  }
}

// The 2 x 2, stride 2 pool without padding whose windows all lie inside the input (BlazeFace's and most CNNs'
// downsampling pools): each output row is the max of two input rows, then of each byte pair, with no padded row
// buffer (the general path's row fill was ~30x this loop's cost on BlazeFace's 24 x 128 x 128 pool).
bool is_2x2_stride2_inside(const Conv2dParams& p) {
  return p.kh == 2 && p.kw == 2 && p.stride_h == 2 && p.stride_w == 2 && p.dilation_h == 1 && p.dilation_w == 1 &&
         p.pad_top == 0 && p.pad_left == 0 && 2 * p.OH <= p.H && 2 * p.OW <= p.W;
}

void max_pool_2x2_stride2(const Conv2dParams& p, const uint8_t* xc, uint8_t flip, uint8_t* yc) {
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const uint8_t* r0 = xc + 2 * oh * p.W;
    const uint8_t* r1 = r0 + p.W;
    uint8_t* y = yc + oh * p.OW;
    int64_t ow = 0;
#if defined(__SSE2__)
    const __m128i f = _mm_set1_epi8(static_cast<char>(flip)), low = _mm_set1_epi16(0x00FF);
    auto pairs = [&](int64_t at) {  // 8 outputs: the max of rows, then of the two bytes of each 16-bit lane
      const __m128i m = _mm_max_epu8(_mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + at)), f),
                                     _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + at)), f));
      return _mm_max_epu8(_mm_and_si128(m, low), _mm_srli_epi16(m, 8));
    };
    for (; ow + 16 <= p.OW; ow += 16) {
      const __m128i bytes = _mm_packus_epi16(pairs(2 * ow), pairs(2 * ow + 16));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + ow), _mm_xor_si128(bytes, f));
    }
#endif
    for (; ow < p.OW; ++ow) {
      const uint8_t a = std::max<uint8_t>(r0[2 * ow] ^ flip, r0[2 * ow + 1] ^ flip);
      const uint8_t b = std::max<uint8_t>(r1[2 * ow] ^ flip, r1[2 * ow + 1] ^ flip);
      y[ow] = std::max(a, b) ^ flip;
    }
  }
}

}  // namespace

void max_pool2d_8bit(const Conv2dParams& p, const uint8_t* x, bool is_signed, uint8_t* y, ThreadPool& pool) {
  const auto flip = static_cast<uint8_t>(is_signed ? 0x80 : 0);
  const int64_t plane_in = p.H * p.W, plane_out = p.OH * p.OW;
  // Padded row: every tap any output reads, plus 16 bytes for the last vector.
  const int64_t width = std::max(p.pad_left + p.W, (p.OW - 1) * p.stride_w + (p.kw - 1) * p.dilation_w + 1) + 32;
  if (is_2x2_stride2_inside(p)) {
    pool.parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) max_pool_2x2_stride2(p, x + c * plane_in, flip, y + c * plane_out);
    });
    return;
  }
  pool.parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<uint8_t> row;  // kept between calls: no allocation per run
    if (row.size() < static_cast<size_t>(width)) row.resize(static_cast<size_t>(width));
    // 0 is the type's lowest value (flipped): the padding never wins, and a window wholly in it gives it. Only
    // the data columns [pad_left, pad_left + W) are written below, so the padding columns stay 0.
    std::memset(row.data(), 0, static_cast<size_t>(width));
    uint8_t* data = row.data() + p.pad_left;
    for (int64_t c = b; c < e; ++c) {
      const uint8_t* xc = x + c * plane_in;
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        const int64_t h0 = oh * p.stride_h - p.pad_top;
        const TapRange rows = valid_taps(h0, p.H, p.kh, p.dilation_h);
        if (rows.first >= rows.last) {
          std::memset(data, 0, static_cast<size_t>(p.W));
        } else {
          copy_into(data, xc + (h0 + rows.first * p.dilation_h) * p.W, p.W, flip);
        }
        for (int64_t i = rows.first + 1; i < rows.last; ++i) {
          max_into(data, xc + (h0 + i * p.dilation_h) * p.W, p.W, flip);
        }
        horizontal(row.data(), p, flip, y + c * plane_out + oh * p.OW);
      }
    }
  });
}

}  // namespace ef::cpu
