// im2col for grouped 2-D NCHW convolution, as a matrix or straight into SGEMM's B panels. Memory-bound copying,
// so plain C++ (memcpy/memset for the matrix's runs, short fixed-width loops for panels); depends only on
// conv_params.h and conv_layout.h.
#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/conv_layout.h"

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
constexpr int64_t kMaxKw = 32;     // kernel widths whose tap column ranges are tabulated once per call
constexpr int kMaxTaps = 64;       // kernels (kh * kw) whose per-panel copy plans are tabulated once per panel
constexpr int kMaxSegments = 4;    //   ... when the panel spans at most this many output rows (7x7 planes: 4)

// The part of a panel's columns that lies in one output row: lanes [lane, lane + len) hold columns
// (oh, ow) ... (oh, ow + len - 1).
struct Segment {
  int64_t oh, ow, len, lane;
};

// The segments of the `width` columns from column j; returns their number.
inline int panel_segments(const Conv2dParams& p, int64_t j, int64_t width, Segment* seg) {
  int nseg = 0;
  for (int64_t lane = 0; lane < width;) {
    const int64_t oh = (j + lane) / p.OW, ow = (j + lane) - oh * p.OW;
    const int64_t len = std::min(width - lane, p.OW - ow);
    seg[nseg++] = {oh, ow, len, lane};
    lane += len;
  }
  return nseg;
}

// How one tap fills one segment: lanes [lo, hi) of it (relative to the segment) read plane[src + t * stride_w]
// for t in [0, hi - lo); the others are padding, 0.
struct Run {
  int64_t src, lo, hi;
};

inline Run tap_run(const Conv2dParams& p, const Segment& s, int64_t ki, int64_t kj, const TapColumns& r) {
  const int64_t ih = s.oh * p.stride_h + ki * p.dilation_h - p.pad_top;
  if (ih < 0 || ih >= p.H) return {0, 0, 0};
  const int64_t lo = std::clamp(r.lo - s.ow, int64_t{0}, s.len);
  const int64_t hi = std::clamp(r.hi - s.ow, lo, s.len);
  if (lo == hi) return {0, 0, 0};  // all padding (src would point outside the plane)
  return {ih * p.W + (s.ow + lo) * p.stride_w + kj * p.dilation_w - p.pad_left, lo, hi};
}

// dst[x] = src[x] for n < kMaxPanel floats, without a library call: runs here are a few to a few dozen floats,
// where memcpy's call and size dispatch cost more than the copy.
inline void copy_short(float* dst, const float* src, int64_t n) {
  for (; n >= 8; n -= 8, dst += 8, src += 8) std::memcpy(dst, src, 8 * sizeof(float));
  for (; n > 0; --n) *dst++ = *src++;
}

// dst[x] = src[2 x] for x in [x0, x0 + 4): the even lanes of two overlapping 4-float loads, one shuffle per 4
// outputs instead of 4 scalar moves. The second load starts at 3, not 4, so nothing past the last tap is read.
inline void gather4_stride2(const float* __restrict src, int64_t x0, float* __restrict dst) {
  using V4 = float __attribute__((vector_size(16)));
  V4 a, b;
  std::memcpy(&a, src + 2 * x0, sizeof(a));
  std::memcpy(&b, src + 2 * x0 + 3, sizeof(b));
  const V4 even = __builtin_shufflevector(a, b, 0, 2, 5, 7);
  std::memcpy(dst + x0, &even, sizeof(even));
}

// dst[x] = src[2 x] for n lanes: the runs of panels that span output rows (28x28 -> 14x14 and 56x56 -> 28x28
// downsampling convs), gathered element by element before (resnet18's layer2.0.conv1: 0.88 ms against ORT's 0.59).
inline void gather_stride2(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t x = 0;
  for (; x + 4 <= n; x += 4) gather4_stride2(src, x, dst);
  for (; x < n; ++x) dst[x] = src[2 * x];
}

// dst[x] = src[x * stride] for kWidth lanes; restrict lets the fixed-size loop become straight-line code.
template <int64_t kWidth>
void gather(const float* __restrict src, int64_t stride, float* __restrict dst) {
  if constexpr (kWidth % 4 == 0) {
    if (stride == 2) {  // downsampling convs
      for (int64_t x = 0; x < kWidth; x += 4) gather4_stride2(src, x, dst);
      return;
    }
  }
  float lanes[kWidth];
  for (int64_t x = 0; x < kWidth; ++x) lanes[x] = src[x * stride];
  std::memcpy(dst, lanes, sizeof(lanes));
}

// Writes one K row of a panel (width_nr lanes, `width` of them columns) from its runs. The row is zeroed whole
// first (for a compile-time width, a couple of vector stores) and the runs copied over it: cheaper than filling
// each segment's padding separately, which costs a call per fill on the narrow rows of small planes.
template <int64_t kWidth>
void write_row(const float* x_plane, const Segment* seg, const Run* runs, int nseg, int64_t sw, int64_t width_nr,
               float* out) {
  if constexpr (kWidth > 0 && kWidth % 4 == 0) {
    // Explicit 16-byte stores: GCC turns a constant 128-byte memset into `rep stos`, whose start-up was 30% of
    // this function on stride-2 layers (one row per K row of every panel). The asm hides the zero, or GCC would
    // merge the stores back into that memset.
    using V4 = float __attribute__((vector_size(16), aligned(4)));
    V4 zero4 = {0.0f, 0.0f, 0.0f, 0.0f};
#if defined(__x86_64__) || defined(__i386__)
    asm("" : "+x"(zero4));
#endif
    for (int64_t x = 0; x < kWidth; x += 4) std::memcpy(out + x, &zero4, sizeof(zero4));
  } else if constexpr (kWidth > 0) {
    std::memset(out, 0, kWidth * sizeof(float));
  } else {
    std::fill(out, out + width_nr, 0.0f);
  }
  for (int i = 0; i < nseg; ++i) {
    const Run& r = runs[i];
    float* o = out + seg[i].lane + r.lo;
    const float* in = x_plane + r.src;
    const int64_t n = r.hi - r.lo;
    if (sw == 1) {
      copy_short(o, in, n);
    } else if (sw == 2) {
      gather_stride2(o, in, n);
    } else {
      for (int64_t t = 0; t < n; ++t) o[t] = in[t * sw];
    }
  }
}

// im2col_pack_panel for a panel width known at compile time (kWidth > 0) or not (0). Per panel, the copy plan of
// each tap (ki, kj) is worked out once and reused for every input channel; a panel of one output row whose
// windows are all inside the input (the bulk of a padded conv) then takes a single fixed-width copy per K row,
// which the compiler turns into a few vector moves (or a fixed-size strided gather for stride_w > 1).
template <int64_t kWidth>
void pack_panels(const Conv2dParams& p, const float* x_group, int64_t k_begin, int64_t k_end, int64_t j_begin,
                 int64_t j_end, int64_t nr, float* dst) {
  const int64_t width_nr = kWidth > 0 ? kWidth : nr;
  const int64_t taps = p.kh * p.kw, kc = k_end - k_begin, plane = p.H * p.W, sw = p.stride_w;
  // Tap column ranges per kj: a division each for strided convs, so computed once rather than per panel row.
  TapColumns columns[kMaxKw];
  const bool kw_tabulated = p.kw <= kMaxKw;
  if (kw_tabulated) {
    for (int64_t kj = 0; kj < p.kw; ++kj) columns[kj] = tap_columns(p, kj * p.dilation_w - p.pad_left);
  }
  auto tap_columns_of = [&](int64_t kj) {
    return kw_tabulated ? columns[kj] : tap_columns(p, kj * p.dilation_w - p.pad_left);
  };
  Segment seg[kMaxPanel];
  Run plan[kMaxTaps][kMaxSegments];
  bool full[kMaxTaps];  // the tap's single run covers the whole panel
  for (int64_t j = j_begin; j < j_end; j += width_nr, dst += width_nr * kc) {
    const int64_t width = std::min(width_nr, j_end - j);
    const int nseg = panel_segments(p, j, width, seg);
    const bool planned = taps <= kMaxTaps && nseg <= kMaxSegments;
    if (planned) {
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t ki = t / p.kw, kj = t % p.kw;
        for (int i = 0; i < nseg; ++i) plan[t][i] = tap_run(p, seg[i], ki, kj, tap_columns_of(kj));
        full[t] = kWidth > 0 && nseg == 1 && width == kWidth && plan[t][0].lo == 0 && plan[t][0].hi == kWidth;
      }
    }
    int64_t t = k_begin % taps;
    const float* x_plane = x_group + k_begin / taps * plane;
    float* out = dst;
    for (int64_t k = k_begin; k < k_end; ++k, out += width_nr) {
      if (planned && full[t]) {
        const float* in = x_plane + plan[t][0].src;
        // sgemm packs panels left to right, and the next ones read the same rows further on: prefetch a few
        // panels ahead, as the hardware prefetchers cannot follow one stream per K row (as in sgemm_pack.cpp).
        __builtin_prefetch(in + 2 * kWidth * sw);
        // memcpy: a constant-size copy the compiler emits as vector moves (a loop would stay scalar, as it
        // cannot rule out overlap at -O2).
        if constexpr (kWidth > 0) {  // full[] is never set otherwise
          if (sw == 1) {
            std::memcpy(out, in, kWidth * sizeof(float));
          } else {
            gather<kWidth>(in, sw, out);
          }
        }
      } else if (planned) {
        write_row<kWidth>(x_plane, seg, plan[t], nseg, sw, width_nr, out);
      } else {
        Run runs[kMaxPanel];
        const int64_t ki = t / p.kw, kj = t % p.kw;
        for (int i = 0; i < nseg; ++i) runs[i] = tap_run(p, seg[i], ki, kj, tap_columns_of(kj));
        write_row<kWidth>(x_plane, seg, runs, nseg, sw, width_nr, out);
      }
      if (++t == taps) t = 0, x_plane += plane;
    }
  }
}

constexpr int64_t kCopyChunk = 8;  // floats per move of the padded packer (it reads and writes up to 7 past a run)

}  // namespace

bool im2col_padded_applicable(const Conv2dParams& p) { return stride1_floor_output(p); }

int64_t im2col_padded_floats(const Conv2dParams& p, int64_t channels) {
  return channels * (p.pad_top + p.H + p.pad_bottom) * (p.pad_left + p.W + p.pad_right) + kCopyChunk;
}

void im2col_pad_planes(const Conv2dParams& p, const float* x_group, int64_t channels, int64_t c_begin, int64_t c_end,
                       float* xpad) {
  const int64_t wp = p.pad_left + p.W + p.pad_right, plane = (p.pad_top + p.H + p.pad_bottom) * wp;
  for (int64_t c = c_begin; c < c_end; ++c) {
    pad_plane_rows(x_group + c * p.H * p.W, p.H, p.W, p.pad_top, p.pad_left, wp, 0, p.pad_top + p.H + p.pad_bottom,
                   xpad + c * plane);
  }
  if (c_end == channels) zero(xpad + channels * plane, kCopyChunk);
}

void im2col_pack_panel_padded(const Conv2dParams& p, const float* xpad, int64_t k_begin, int64_t k_end,
                              int64_t j_begin, int64_t j_end, int64_t nr, float* dst) {
  if (nr < 1 || nr > kMaxPanel) std::abort();  // a contract violation by the caller, not an input error
  const int64_t wp = p.pad_left + p.W + p.pad_right, plane = (p.pad_top + p.H + p.pad_bottom) * wp;
  const int64_t taps = p.kh * p.kw, kc = k_end - k_begin;
  Segment seg[kMaxPanel];
  for (int64_t j = j_begin; j < j_end; j += nr, dst += nr * kc) {
    const int64_t width = std::min(nr, j_end - j);
    const int nseg = panel_segments(p, j, width, seg);
    // Each K row is built in a buffer with a chunk of slack (runs are copied in whole chunks, each over the
    // previous one's overshoot), then stored in whole chunks.
    float row[kMaxPanel + kCopyChunk];
    float* out = dst;
    for (int64_t k = k_begin; k < k_end; ++k, out += nr) {
      const int64_t c = k / taps, t = k % taps;
      const float* base = xpad + c * plane + (t / p.kw) * p.dilation_h * wp + (t % p.kw) * p.dilation_w;
      for (int i = 0; i < nseg; ++i) {
        const float* in = base + seg[i].oh * wp + seg[i].ow;  // stride 1: the segment's taps are contiguous
        float* o = row + seg[i].lane;
        for (int64_t x = 0; x < seg[i].len; x += kCopyChunk) std::memcpy(o + x, in + x, kCopyChunk * sizeof(float));
      }
      std::fill(row + width, row + nr, 0.0f);  // lanes past j_end (the last panel)
      int64_t x = 0;
      for (; x + kCopyChunk <= nr; x += kCopyChunk) std::memcpy(out + x, row + x, kCopyChunk * sizeof(float));
      for (; x < nr; ++x) out[x] = row[x];
    }
  }
}

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
