// im2col for grouped 2-D NCHW convolution, as a matrix or straight into SGEMM's B panels. Memory-bound copying,
// so plain C++ (memcpy/memset for the matrix's runs, short fixed-width loops for panels); depends only on
// conv_params.h.
#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ef::cpu {

bool conv_needs_no_im2col(const Conv2dParams& p) {
  return p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         p.pad_bottom == 0 && p.pad_right == 0 && p.OH == p.H && p.OW == p.W;
}

void im2col(const Conv2dParams& p, const float* x, int64_t n, int64_t g, float* col) {
  const float* x_group = x + (n * p.C + g * (p.C / p.group)) * p.H * p.W;
  im2col_block(p, x_group, 0, im2col_rows(p), 0, im2col_cols(p), col, im2col_cols(p));
}

namespace {

void zero(float* dst, int64_t count) {
  if (count > 0) std::memset(dst, 0, static_cast<size_t>(count) * sizeof(float));
}

// Output columns [lo, hi) whose tap at horizontal offset `shift` (iw = ow * stride_w + shift) lands in [0, W).
struct TapColumns {
  int64_t lo, hi;
};
TapColumns tap_columns(const Conv2dParams& p, int64_t shift) {
  const int64_t lo = std::min(p.OW, shift >= 0 ? 0 : (-shift + p.stride_w - 1) / p.stride_w);
  return {lo, std::clamp(floor_div(p.W - 1 - shift, p.stride_w) + 1, lo, p.OW)};
}

constexpr int64_t kMaxPanel = 64;  // the widest B panel of any SGEMM kernel (AVX-512 would be 32)
constexpr int64_t kMaxKw = 32;     // kernel widths whose tap ranges are tabulated once per call

// The part of a panel's columns that lies in one output row: lanes [lane, lane + len) hold columns
// (oh, ow) ... (oh, ow + len - 1).
struct Segment {
  int64_t oh, ow, len, lane;
};

// im2col_pack_panel for a panel width known at compile time (kWidth > 0) or not (0). Within a panel, each K row
// reads at most a few short runs of one input plane; a panel of one output row whose windows are all inside the
// input (the bulk of a padded conv) takes a single fixed-width copy, which the compiler turns into a few vector
// moves (or a fixed-size strided gather for stride_w > 1).
// dst[x] = src[x * stride] for kWidth lanes; restrict lets the fixed-size loop be unrolled into vector stores.
template <int64_t kWidth>
void gather(const float* __restrict src, int64_t stride, float* __restrict dst) {
  float lanes[kWidth];
  for (int64_t x = 0; x < kWidth; ++x) lanes[x] = src[x * stride];
  std::memcpy(dst, lanes, sizeof(lanes));
}

template <int64_t kWidth>
void pack_panels(const Conv2dParams& p, const float* x_group, int64_t k_begin, int64_t k_end, int64_t j_begin,
                 int64_t j_end, int64_t nr, float* dst) {
  const int64_t width_nr = kWidth > 0 ? kWidth : nr;
  const int64_t taps = p.kh * p.kw, kc = k_end - k_begin, plane = p.H * p.W, sw = p.stride_w;
  // Tap column ranges per kj: a division each for strided convs, so computed once rather than per panel row.
  TapColumns table[kMaxKw];
  const bool tabulated = p.kw <= kMaxKw;
  if (tabulated) {
    for (int64_t kj = 0; kj < p.kw; ++kj) table[kj] = tap_columns(p, kj * p.dilation_w - p.pad_left);
  }
  Segment seg[kMaxPanel];
  for (int64_t j = j_begin; j < j_end; j += width_nr, dst += width_nr * kc) {
    const int64_t width = std::min(width_nr, j_end - j);
    int nseg = 0;
    for (int64_t lane = 0; lane < width;) {
      const int64_t oh = (j + lane) / p.OW, ow = (j + lane) - oh * p.OW;
      const int64_t len = std::min(width - lane, p.OW - ow);
      seg[nseg++] = {oh, ow, len, lane};
      lane += len;
    }
    // Only a panel of one output row and full width can take the fixed-width copy.
    const bool one_row = kWidth > 0 && nseg == 1 && width == kWidth;
    int64_t c = k_begin / taps, ki = k_begin % taps / p.kw, kj = k_begin % p.kw;
    float* out = dst;
    for (int64_t k = k_begin; k < k_end; ++k, out += width_nr) {
      const float* x_plane = x_group + c * plane;
      const int64_t shift = kj * p.dilation_w - p.pad_left, ih_base = ki * p.dilation_h - p.pad_top;
      const TapColumns r = tabulated ? table[kj] : tap_columns(p, shift);
      bool done = false;
      if (one_row) {
        const Segment& s = seg[0];
        const int64_t ih = s.oh * p.stride_h + ih_base;
        if (ih >= 0 && ih < p.H && s.ow >= r.lo && s.ow + kWidth <= r.hi) {
          const float* in = x_plane + ih * p.W + s.ow * sw + shift;  // every tap is inside the row
          // sgemm packs panels left to right, and the next ones read the same rows further on: prefetch a few
          // panels ahead, as the hardware prefetchers cannot follow one stream per K row (as in sgemm_pack.cpp).
          __builtin_prefetch(in + 2 * kWidth * sw);
          // memcpy: a constant-size copy the compiler emits as vector moves (a loop would stay scalar, as it
          // cannot rule out overlap at -O2).
          if (sw == 1) {
            std::memcpy(out, in, kWidth * sizeof(float));
          } else {
            gather<kWidth>(in, sw, out);
          }
          done = true;
        }
      }
      if (!done) {
        for (int i = 0; i < nseg; ++i) {
          const Segment& s = seg[i];
          float* o = out + s.lane;  // o[t] is column (s.oh, s.ow + t)
          const int64_t ih = s.oh * p.stride_h + ih_base;
          if (ih < 0 || ih >= p.H) {
            std::fill(o, o + s.len, 0.0f);
            continue;
          }
          // Valid taps: t in [lo, hi), reading row[(s.ow + t) * sw + shift].
          const int64_t lo = std::clamp(r.lo - s.ow, int64_t{0}, s.len);
          const int64_t hi = std::clamp(r.hi - s.ow, lo, s.len);
          const float* row = x_plane + ih * p.W;
          std::fill(o, o + lo, 0.0f);
          if (sw == 1) {
            // row[s.ow + shift + t] is inside the row for every t in [lo, hi).
            if (hi > lo) std::memcpy(o + lo, row + (s.ow + shift + lo), static_cast<size_t>(hi - lo) * sizeof(float));
          } else {
            for (int64_t t = lo; t < hi; ++t) o[t] = row[(s.ow + t) * sw + shift];
          }
          std::fill(o + hi, o + s.len, 0.0f);
        }
        std::fill(out + width, out + width_nr, 0.0f);  // lanes past the last column
      }
      if (++kj == p.kw) {
        kj = 0;
        if (++ki == p.kh) ki = 0, ++c;
      }
    }
  }
}

}  // namespace

void im2col_block(const Conv2dParams& p, const float* x_group, int64_t k_begin, int64_t k_end, int64_t j_begin,
                  int64_t j_end, float* col, int64_t ld) {
  const int64_t taps = p.kh * p.kw;
  for (int64_t k = k_begin; k < k_end; ++k) {
    const int64_t c = k / taps, ki = k % taps / p.kw, kj = k % p.kw;
    const float* x_plane = x_group + c * p.H * p.W;
    // Output columns whose tap kj lands inside the row: iw = ow * stride_w + shift in [0, W).
    const int64_t shift = kj * p.dilation_w - p.pad_left;
    const int64_t ow_lo = std::min(p.OW, shift >= 0 ? 0 : (-shift + p.stride_w - 1) / p.stride_w);
    const int64_t ow_hi = std::clamp(floor_div(p.W - 1 - shift, p.stride_w) + 1, ow_lo, p.OW);
    float* dst = col + (k - k_begin) * ld - j_begin;
    int64_t j = j_begin;
    while (j < j_end) {
      const int64_t oh = j / p.OW, row_start = oh * p.OW;
      const int64_t a = j - row_start, b = std::min(j_end - row_start, p.OW);  // this output row's columns
      float* out = dst + row_start;
      const int64_t ih = oh * p.stride_h - p.pad_top + ki * p.dilation_h;
      if (ih < 0 || ih >= p.H) {
        zero(out + a, b - a);
      } else {
        const float* in = x_plane + ih * p.W;  // tap of column ow: in[ow * stride_w + shift]
        const int64_t lo = std::clamp(ow_lo, a, b), hi = std::clamp(ow_hi, lo, b);
        zero(out + a, lo - a);
        if (p.stride_w == 1) {
          if (hi > lo) std::memcpy(out + lo, in + (lo + shift), static_cast<size_t>(hi - lo) * sizeof(float));
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * p.stride_w + shift];
        }
        zero(out + hi, b - hi);
      }
      j = row_start + b;
    }
  }
}

void im2col_pack_panel(const Conv2dParams& p, const float* x_group, int64_t k_begin, int64_t k_end, int64_t j_begin,
                       int64_t j_end, int64_t nr, float* dst) {
  if (nr < 1 || nr > kMaxPanel) std::abort();  // a contract violation by the caller, not an input error
  if (k_begin >= k_end || j_begin >= j_end) return;
  // The widths SGEMM kernels use (two vectors: 4 to 32 lanes) get compile-time copies; others the generic loop.
  switch (nr) {
    case 4: return pack_panels<4>(p, x_group, k_begin, k_end, j_begin, j_end, nr, dst);
    case 8: return pack_panels<8>(p, x_group, k_begin, k_end, j_begin, j_end, nr, dst);
    case 16: return pack_panels<16>(p, x_group, k_begin, k_end, j_begin, j_end, nr, dst);
    case 32: return pack_panels<32>(p, x_group, k_begin, k_end, j_begin, j_end, nr, dst);
    default: return pack_panels<0>(p, x_group, k_begin, k_end, j_begin, j_end, nr, dst);
  }
}

}  // namespace ef::cpu
