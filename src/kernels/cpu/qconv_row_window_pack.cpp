// QRowWindowPanels (qconv_row_window_pack.h). Panels spanning two output rows (at most one per output row, and
// none when OW is a multiple of 16) are gathered byte by byte.
#include "kernels/cpu/qconv_row_window_pack.h"

#include <algorithm>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/qconv_pack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_QROW_VBMI __attribute__((target("avx2,avx512f,avx512bw,avx512vbmi")))
#endif

namespace ef::cpu {

bool qconv_row_windows(const Conv2dParams& p) {
  const int64_t channels = p.C / p.group;
  // Only where a kernel row takes fewer quads than window quads give it (4 < channels * kw rounded up to 4 / 4):
  // 3 channels x 5 taps yes (4 vs 6); 3 x 3 taps (3), 7 taps (too wide) and 4+ channels (tap-major) no.
  return channels * p.kw <= 16 && p.kw >= 3 && 16 < channels * ((p.kw + 3) / 4 * 4) &&
         (p.stride_w == 1 || p.stride_w == 2) && p.dilation_w == 1 &&
         !qconv_is_pointwise(p) && detail::cpu_has_avx512_vbmi() && avx512_in_use();
}

int64_t qconv_row_window_k(const Conv2dParams& p) { return p.kh * 16; }

void qconv_row_window_weights(const Conv2dParams& p, int64_t M, const int8_t* w, int64_t ldw, int8_t* out) {
  const int64_t channels = p.C / p.group, K = p.kh * 16;
  for (int64_t m = 0; m < M; ++m) {
    int8_t* o = out + m * K;
    std::fill(o, o + K, int8_t{0});
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t ky = 0; ky < p.kh; ++ky) {
        for (int64_t kx = 0; kx < p.kw; ++kx) o[ky * 16 + c * p.kw + kx] = w[m * ldw + (c * p.kh + ky) * p.kw + kx];
      }
    }
  }
}

QRowWindowPanels::QRowWindowPanels(const Conv2dParams& p, const uint8_t* x_group, uint8_t flip, uint8_t pad)
    : p_(p), x_(x_group), flip_(flip), pad_(pad) {
  const int64_t channels = p.C / p.group, taps = channels * p.kw;
  for (int g = 0; g < 4; ++g) {
    const int first = static_cast<int>(std::min<int64_t>(4 * g / p.kw, channels - 1));
    first_channel_[g] = first;
    for (int l = 0; l < 16; ++l) {
      for (int i = 0; i < 4; ++i) {
        const int64_t b = 4 * g + i;  // the byte of the kernel row's 16; past `taps` its weight is zero
        const int64_t c = b < taps ? b / p.kw : first, kx = b < taps ? b % p.kw : 0;
        index_[g][4 * l + i] = static_cast<uint8_t>((c - first) * 64 + l * p.stride_w + kx);
      }
    }
  }
}

namespace {

// Byte by byte: any panel (k = ky * 16 + c * kw + kx; bytes past channels * kw read the padding byte).
void pack_row_window_bytes(const Conv2dParams& p, const uint8_t* x, uint8_t flip, uint8_t pad, int64_t j0,
                           int64_t j1, uint8_t* dst) {
  const int64_t channels = p.C / p.group;
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    for (int64_t b = 0; b < 16; ++b) {
      const int64_t q = ky * 4 + b / 4, i = b % 4, c = b / p.kw, kx = b % p.kw;
      for (int64_t j = 0; j < kQgemmNR; ++j) {
        const int64_t o = j0 + std::min(j, j1 - j0 - 1), oy = o / p.OW, ox = o % p.OW;
        const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h, ix = ox * p.stride_w - p.pad_left + kx;
        const bool inside = c < channels && iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
        dst[(q * kQgemmNR + j) * 4 + i] = inside ? x[(c * p.H + iy) * p.W + ix] ^ flip : pad;
      }
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
// One panel inside output row oy from column ox0: per kernel row, each channel's 64-byte input span (bytes outside
// the image read the padding byte: masked loads never touch them), then the 4 quads by vpermt2b.
EF_QROW_VBMI void pack_row_window_vbmi(const Conv2dParams& p, const uint8_t* x, uint8_t flip, uint8_t pad,
                                       int64_t oy, int64_t ox0, const int* first, const uint8_t (*index)[64],
                                       uint8_t* dst) {
  const int64_t channels = p.C / p.group, s = ox0 * p.stride_w - p.pad_left;  // the span's first input column
  // Bytes b of the span with 0 <= s + b < W.
  const int64_t lo = std::clamp<int64_t>(-s, 0, 64), hi = std::clamp<int64_t>(p.W - s, 0, 64);
  const __mmask64 inside = hi <= lo ? 0 : (hi - lo == 64 ? ~__mmask64{0} : ((__mmask64{1} << (hi - lo)) - 1) << lo);
  const __m512i f = _mm512_set1_epi8(static_cast<char>(flip));
  const __m512i pad_raw = _mm512_set1_epi8(static_cast<char>(pad ^ flip));  // flipped back with the data below
  __m512i idx[4];
  for (int g = 0; g < 4; ++g) idx[g] = _mm512_load_si512(index[g]);
  __m512i span[17];  // channels <= 16 (kw >= 1), + 1 for the second operand of the last quad
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
    const bool row_inside = iy >= 0 && iy < p.H;
    for (int64_t c = 0; c < channels; ++c) {
      // The span starts s bytes into the row (s may be negative: the masked bytes are never read).
      const uint8_t* row = x + (c * p.H + (row_inside ? iy : 0)) * p.W;
      const __m512i v = row_inside ? _mm512_mask_loadu_epi8(pad_raw, inside, row + s) : pad_raw;
      span[c] = _mm512_xor_si512(v, f);
    }
    span[channels] = span[channels - 1];
    for (int g = 0; g < 4; ++g, dst += kQgemmNR * 4) {
      const int c = first[g];
      _mm512_storeu_si512(dst, _mm512_permutex2var_epi8(span[c], idx[g], span[c + 1]));
    }
  }
}
#endif

}  // namespace

void QRowWindowPanels::pack(int64_t j0, int64_t j1, uint8_t* dst) const {
  const Conv2dParams& p = p_;
#if defined(__x86_64__) || defined(__i386__)
  if (j0 / p.OW == (j1 - 1) / p.OW) {
    pack_row_window_vbmi(p, x_, flip_, pad_, j0 / p.OW, j0 % p.OW, first_channel_, index_, dst);
    return;
  }
#endif
  pack_row_window_bytes(p, x_, flip_, pad_, j0, j1, dst);
}

}  // namespace ef::cpu
