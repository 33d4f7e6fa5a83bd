// QWindowQuadPanels (qconv_window_pack.h). A panel inside one output row with input rows of at least 16 bytes
// takes the shuffle path: per (panel, h, 4-column lane) a plan of one in-row load offset, a byte shuffle that
// gathers the lane's four 4-byte windows from it, and the padding bytes to or in (shuffle index 0x80 gives 0
// there); the plan does not depend on the channel or the window row, so a quad costs four load + shuffle + or +
// xor + store. Other panels (spanning output rows, narrow inputs) are gathered byte by byte.
#include "kernels/cpu/qconv_window_pack.h"

#include <algorithm>

#include "kernels/cpu/qconv_pack.h"

#if defined(__SSSE3__) || defined(__AVX2__)
#include <tmmintrin.h>
#define EF_QWIN_SHUFFLE 1
#elif defined(__x86_64__)
#include <tmmintrin.h>
#define EF_QWIN_SHUFFLE 1
#define EF_QWIN_TARGET __attribute__((target("ssse3")))
#endif
#ifndef EF_QWIN_TARGET
#define EF_QWIN_TARGET
#endif

namespace ef::cpu {

bool qconv_window_quads(const Conv2dParams& p) {
  // kw 3 and 5 only over at most 3 channels (image stems): with more, the extra multiplies outweigh the gathers.
  const bool kw_fits = p.kw == 4 || p.kw == 7 || p.kw == 8 || ((p.kw == 3 || p.kw == 5) && p.C / p.group <= 3);
  return (p.stride_w == 1 || p.stride_w == 2) && p.dilation_w == 1 && kw_fits &&
         !qconv_is_pointwise(p) && !qconv_tap_major(p);
}

int64_t qconv_window_quad_k(const Conv2dParams& p) { return p.C / p.group * p.kh * ((p.kw + 3) / 4 * 4); }

void qconv_window_quad_weights(const Conv2dParams& p, int64_t M, const int8_t* w, int64_t ldw, int8_t* out) {
  const int64_t rows = p.C / p.group * p.kh, kw4 = (p.kw + 3) / 4 * 4, K = rows * kw4;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t kx = 0; kx < kw4; ++kx) out[m * K + r * kw4 + kx] = kx < p.kw ? w[m * ldw + r * p.kw + kx] : 0;
    }
  }
}

namespace {

// Byte by byte: column j, byte i of quad q (any geometry; kx >= kw meets zero weights, reads the padding byte).
void pack_bytes(const Conv2dParams& p, const uint8_t* x, uint8_t flip, uint8_t pad, int64_t j0, int64_t j1,
                uint8_t* dst) {
  const int64_t kq = (p.kw + 3) / 4, quads = p.C / p.group * p.kh * kq;
  for (int64_t q = 0; q < quads; ++q) {
    const int64_t row = q / kq, h = q % kq, c = row / p.kh, ky = row % p.kh;
    for (int64_t j = 0; j < kQgemmNR; ++j) {
      const int64_t o = j0 + std::min(j, j1 - j0 - 1), oy = o / p.OW, ox = o % p.OW;
      const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
      for (int64_t i = 0; i < 4; ++i) {
        const int64_t kx = 4 * h + i, ix = ox * p.stride_w - p.pad_left + kx;
        const bool inside = kx < p.kw && iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
        dst[(q * kQgemmNR + j) * 4 + i] = inside ? x[(c * p.H + iy) * p.W + ix] ^ flip : pad;
      }
    }
  }
}

#if defined(EF_QWIN_SHUFFLE)
template <int SW>
EF_QWIN_TARGET void pack_shuffled(const Conv2dParams& p, const uint8_t* x, uint8_t flip, uint8_t pad, int64_t j0,
                                  int64_t count, uint8_t* dst) {
  constexpr int64_t kMaxQ = 2;  // kw <= 8
  const int64_t kq = (p.kw + 3) / 4, oy = j0 / p.OW, ox0 = j0 % p.OW;
  const auto pad_raw = static_cast<uint8_t>(pad ^ flip);
  int64_t off[kMaxQ][4];
  __m128i pat[kMaxQ][4], fill[kMaxQ][4];
  // Byte b = 4 jj + i of a lane reads input column s + SW jj + i; as an index into the load at o it is
  // rel = s - o + SW jj + i, which lies in [-16, 31] (o = s unless clamped into the row): int8 compares apply.
  // It is valid when 0 <= rel < W - o (in the row), jj < count - 4l (a real column) and i < kw - 4h (a tap).
  const __m128i jj = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m128i ii = _mm_setr_epi8(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
  const __m128i step = _mm_add_epi8(SW == 1 ? jj : _mm_add_epi8(jj, jj), ii);
  const __m128i pad_raw_vec = _mm_set1_epi8(static_cast<char>(pad_raw)), none = _mm_set1_epi8(-1);
  for (int64_t h = 0; h < kq; ++h) {
    const __m128i taps_left = _mm_set1_epi8(static_cast<char>(p.kw - 4 * h));  // i < this: a tap
    for (int64_t l = 0; l < 4; ++l) {
      const int64_t s = (ox0 + 4 * l) * SW - p.pad_left + 4 * h;  // input column of the lane's first byte
      const int64_t o = std::clamp<int64_t>(s, 0, p.W - 16);
      const __m128i rel = _mm_add_epi8(_mm_set1_epi8(static_cast<char>(s - o)), step);
      const __m128i row_end = _mm_set1_epi8(static_cast<char>(std::min<int64_t>(p.W - o, 127)));
      const __m128i cols_left = _mm_set1_epi8(static_cast<char>(std::clamp<int64_t>(count - 4 * l, 0, 4)));
      const __m128i valid = _mm_and_si128(
          _mm_and_si128(_mm_cmpgt_epi8(rel, none), _mm_cmplt_epi8(rel, row_end)),
          _mm_and_si128(_mm_cmplt_epi8(jj, cols_left), _mm_cmplt_epi8(ii, taps_left)));
      off[h][l] = o;
      pat[h][l] = _mm_or_si128(_mm_and_si128(valid, rel), _mm_andnot_si128(valid, _mm_set1_epi8(-128)));
      fill[h][l] = _mm_andnot_si128(valid, pad_raw_vec);
    }
  }
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip)), pad_vec = _mm_set1_epi8(static_cast<char>(pad));
  const int64_t rows = p.C / p.group * p.kh;
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t c = row / p.kh, ky = row % p.kh;
    const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
    const bool inside = iy >= 0 && iy < p.H;
    const uint8_t* src = x + (c * p.H + iy) * p.W;
    for (int64_t h = 0; h < kq; ++h, dst += kQgemmNR * 4) {
      for (int64_t l = 0; l < 4; ++l) {
        __m128i v = pad_vec;
        if (inside) {
          const __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + off[h][l]));
          v = _mm_xor_si128(_mm_or_si128(_mm_shuffle_epi8(in, pat[h][l]), fill[h][l]), f);
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * l), v);
      }
    }
  }
}
#endif

}  // namespace

void QWindowQuadPanels::pack(int64_t j0, int64_t j1, uint8_t* dst) const {
  const Conv2dParams& p = p_;
#if defined(EF_QWIN_SHUFFLE)
  static const bool ssse3 = __builtin_cpu_supports("ssse3");
  // One output row (columns j0 .. j1 - 1 share oy), rows a 16-byte load fits in, pads that keep the shuffle
  // plan's relative columns within int8.
  if (ssse3 && p.W >= 16 && p.pad_left <= 64 && p.pad_right <= 64 && j0 / p.OW == (j1 - 1) / p.OW) {
    if (p.stride_w == 1) {
      pack_shuffled<1>(p, x_, flip_, pad_, j0, j1 - j0, dst);
    } else {
      pack_shuffled<2>(p, x_, flip_, pad_, j0, j1 - j0, dst);
    }
    return;
  }
#endif
  pack_bytes(p, x_, flip_, pad_, j0, j1, dst);
}

}  // namespace ef::cpu
