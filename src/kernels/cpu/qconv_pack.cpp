// Builds each panel four k rows at a time: every row's 16 bytes are gathered (strides 1 and 2: one masked load
// per output-row run from a per-panel plan; otherwise copies with padding filled per run, never a per-byte 2-D
// bounds check), then the four rows are interleaved into the quad layout with byte/word unpacks.
#include "kernels/cpu/qconv_pack.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ef::cpu {
namespace {

#if defined(__SSE2__)
// Interleaves four 16-byte rows (flipped by f) into 64 bytes: dst[j * 4 + i] = row_i[j] ^ flip.
inline void interleave4v(__m128i a, __m128i b, __m128i c, __m128i d, __m128i f, uint8_t* dst) {
  a = _mm_xor_si128(a, f);
  b = _mm_xor_si128(b, f);
  c = _mm_xor_si128(c, f);
  d = _mm_xor_si128(d, f);
  const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
  const __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_unpacklo_epi16(ab_lo, cd_lo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16), _mm_unpackhi_epi16(ab_lo, cd_lo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 32), _mm_unpacklo_epi16(ab_hi, cd_hi));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 48), _mm_unpackhi_epi16(ab_hi, cd_hi));
}
#else
// Interleaves four 16-byte rows into 64 bytes: dst[j * 4 + i] = row_i[j] ^ flip.
void interleave4(const uint8_t* r0, const uint8_t* r1, const uint8_t* r2, const uint8_t* r3, uint8_t flip,
                 uint8_t* dst) {
  const uint8_t* rows[4] = {r0, r1, r2, r3};
  for (int64_t j = 0; j < kQgemmNR; ++j) {
    for (int i = 0; i < 4; ++i) dst[j * 4 + i] = rows[i][j] ^ flip;
  }
}
#endif

#if defined(__SSE2__)
// Pointwise quads [0, quads) of `panels` consecutive full panels (panel i at dst + i * panel_bytes) from input
// rows `plane` bytes apart starting at x: quad by quad across the panels, so each quad's four channel rows are
// read while their lines are in L1 (see QConvPanels::pack_panels).
inline void pack_pointwise_quads(const uint8_t* x, int64_t plane, int64_t quads, int64_t panels, __m128i flip,
                                 uint8_t* dst, int64_t panel_bytes) {
  for (int64_t q = 0; q < quads; ++q, x += 4 * plane) {
    for (int64_t i = 0; i < panels; ++i) {
      const uint8_t* xi = x + i * kQgemmNR;
      interleave4v(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xi)),
                   _mm_loadu_si128(reinterpret_cast<const __m128i*>(xi + plane)),
                   _mm_loadu_si128(reinterpret_cast<const __m128i*>(xi + 2 * plane)),
                   _mm_loadu_si128(reinterpret_cast<const __m128i*>(xi + 3 * plane)), flip,
                   dst + i * panel_bytes + q * kQgemmNR * 4);
    }
  }
}
#endif

// dst[0, n) = src[0, n) for n <= 16: one vector move for a whole panel row, else a byte loop.
inline void copy_bytes(uint8_t* dst, const uint8_t* src, int64_t n) {
#if defined(__SSE2__)
  if (n == kQgemmNR) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
    return;
  }
#endif
  for (int64_t t = 0; t < n; ++t) dst[t] = src[t];
}

// Columns [j, j + count) of the panel that share one output row.
struct Run {
  int64_t j, count, oy, ox;
};

#if defined(__SSE2__)
// One tap of a panel whose taps all have at most two runs (every panel of output rows at least 16 wide): the row
// of channel c is (load(xc + o0) & m0) | (load(xc + o1) & m1) | fill, without branches. Unused runs have zero
// masks and an offset that is safe to load from (another run's); fill is the padding byte outside both masks.
struct TwoRunTap {
  int64_t o0, o1;
  __m128i m0, m1, fill;
};

// The panel's rows at stride SW (1 or 2: the even bytes of 32): the row's 16 bytes of the run at offset o.
template <int SW>
inline __m128i run_bytes(const uint8_t* at) {
  const __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
  if (SW == 1) return in;
  const __m128i even = _mm_set1_epi16(0x00FF);
  const __m128i in2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at + 16));
  return _mm_packus_epi16(_mm_and_si128(in, even), _mm_and_si128(in2, even));
}

// Quads [0, quads) of a panel from two-run taps (k = c * taps + tap; the per-row plan lookup, run loop and
// branches of the general path were most of the im2col packing time).
template <int SW>
void pack_two_run_quads(const TwoRunTap* taps_plan, int64_t taps, const uint8_t* x, int64_t plane, int64_t quads,
                        __m128i flip, uint8_t* dst);
#endif

#if defined(__SSE2__)
template <int SW>
void pack_two_run_quads(const TwoRunTap* taps_plan, int64_t taps, const uint8_t* x, int64_t plane, int64_t quads,
                        __m128i flip, uint8_t* dst) {
  const TwoRunTap* t = taps_plan;
  const TwoRunTap* const end = taps_plan + taps;
  const uint8_t* xc = x;
  for (int64_t q = 0; q < quads; ++q, dst += kQgemmNR * 4) {
    __m128i v[4];
    for (auto& vi : v) {
      vi = _mm_or_si128(_mm_or_si128(_mm_and_si128(t->m0, run_bytes<SW>(xc + t->o0)),
                                     _mm_and_si128(t->m1, run_bytes<SW>(xc + t->o1))),
                        t->fill);
      if (++t == end) {
        t = taps_plan;
        xc += plane;
      }
    }
    interleave4v(v[0], v[1], v[2], v[3], flip, dst);
  }
}

// Tap-major quads of one tap (QConvPanels' tap_major): the four rows of quad c / 4 are channels c .. c + 3 at the
// same offsets, so the tap's plan stays in registers. kRuns 0: one run filling the whole row (the row is the
// load); 1, 2: that many masked runs, `fill` (the padding outside the masks) or'ed in.
template <int SW, int kRuns>
void pack_tap_quads(const uint8_t* x, int64_t plane, int64_t quads, const int64_t* off, const __m128i* mask,
                    __m128i fill, __m128i flip, uint8_t* dst) {
  auto row = [&](const uint8_t* xc) {
    if (kRuns == 0) return run_bytes<SW>(xc + off[0]);
    __m128i v = _mm_or_si128(_mm_and_si128(mask[0], run_bytes<SW>(xc + off[0])), fill);
    if (kRuns == 2) v = _mm_or_si128(v, _mm_and_si128(mask[1], run_bytes<SW>(xc + off[1])));
    return v;
  };
  for (int64_t q = 0; q < quads; ++q, x += 4 * plane, dst += kQgemmNR * 4) {
    interleave4v(row(x), row(x + plane), row(x + 2 * plane), row(x + 3 * plane), flip, dst);
  }
}
#endif

}  // namespace

bool qconv_tap_major(const Conv2dParams& p) {
  return p.kh * p.kw > 1 && (p.C / p.group) % 4 == 0 && !qconv_is_pointwise(p);
}

void qconv_tap_major_weights(const Conv2dParams& p, int64_t M, const int8_t* w, int64_t ldw, int8_t* out) {
  const int64_t channels = p.C / p.group, taps = p.kh * p.kw, K = channels * taps;
  // One gather table for all rows (a loop with the index arithmetic inline was 66-80M instructions for
  // resnet18's 11M weights, at session creation).
  std::vector<int32_t> from(static_cast<size_t>(K));
  for (int64_t tap = 0; tap < taps; ++tap) {
    for (int64_t c = 0; c < channels; ++c) {
      from[static_cast<size_t>(tap * channels + c)] = static_cast<int32_t>(c * taps + tap);
    }
  }
  for (int64_t m = 0; m < M; ++m) {
    const int8_t* src = w + m * ldw;
    int8_t* dst = out + m * K;
    for (int64_t k = 0; k < K; ++k) dst[k] = src[from[static_cast<size_t>(k)]];
  }
}

void QRowPanels::pack(int64_t j0, int64_t j1, uint8_t* dst) const {
  const int64_t full = K_ / 4, quads = (K_ + 3) / 4;
  const uint32_t flip4 = flip_ * 0x01010101u;
  for (int64_t j = 0; j < kQgemmNR; ++j) {
    uint8_t* out = dst + j * 4;
    if (j0 + j >= j1) {  // columns past the end: any bytes; zeros keep them defined
      for (int64_t q = 0; q < quads; ++q) std::memset(out + q * kQgemmNR * 4, 0, 4);
      continue;
    }
    const uint8_t* row = a_ + (j0 + j) * K_;
    for (int64_t q = 0; q < full; ++q) {
      uint32_t v;
      std::memcpy(&v, row + q * 4, 4);
      v ^= flip4;
      std::memcpy(out + q * kQgemmNR * 4, &v, 4);
    }
    if (full < quads) {
      uint8_t tail[4] = {0, 0, 0, 0};
      for (int64_t k = full * 4; k < K_; ++k) tail[k - full * 4] = row[k] ^ flip_;
      std::memcpy(out + full * kQgemmNR * 4, tail, 4);
    }
  }
}

void QConvPanels::pack_panels(int64_t j0, int64_t j1, uint8_t* dst, int64_t panel_bytes) const {
  const int64_t K = p_.C / p_.group;
  const int64_t full = (j1 - j0) / kQgemmNR;  // panels of 16 columns
#if defined(__SSE2__)
  if (qconv_is_pointwise(p_) && K % 4 == 0 && full > 1) {
    pack_pointwise_quads(x_ + j0, p_.H * p_.W, K / 4, full, _mm_set1_epi8(static_cast<char>(flip_)), dst,
                         panel_bytes);
    if (j0 + full * kQgemmNR < j1) pack(j0 + full * kQgemmNR, j1, dst + full * panel_bytes);
    return;
  }
#endif
  QPanelPacker::pack_panels(j0, j1, dst, panel_bytes);
}

bool qconv_is_pointwise(const Conv2dParams& p) {
  return p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         p.pad_bottom == 0 && p.pad_right == 0 && p.OH == p.H && p.OW == p.W;
}

void QConvPanels::pack(int64_t j0, int64_t j1, uint8_t* dst) const {
  const Conv2dParams& p = p_;
  const int64_t channels = p.C / p.group;
  const int64_t K = channels * p.kh * p.kw;
  const int64_t quads = (K + 3) / 4;
  const int64_t count = j1 - j0;
  const int64_t plane = p.H * p.W;
  const bool pointwise = qconv_is_pointwise(p);
  // Padding bytes are stored pre-flipped: rows pass through the flip once more in interleave4.
  const auto pad_raw = static_cast<uint8_t>(pad_ ^ flip_);
  Run runs[kQgemmNR];
  int64_t num_runs = 0;
  if (!pointwise) {
    for (int64_t j = 0; j < count;) {
      const int64_t o = j0 + j, oy = o / p.OW, ox = o % p.OW;
      const int64_t n = std::min(count - j, p.OW - ox);
      runs[num_runs++] = {j, n, oy, ox};
      j += n;
    }
  }
  // Fills row k = (c, ky, kx) of the im2col matrix for this panel's columns into `row` (16 bytes, unflipped
  // input bytes). Small inline copies: these runs are a few bytes long, library calls would dominate.
  auto fill_row = [&](int64_t k, int64_t c, int64_t ky, int64_t kx, uint8_t* row) {
    if (k >= K) {
      for (int64_t j = 0; j < kQgemmNR; ++j) row[j] = 0;  // meets zero weights
      return;
    }
    if (pointwise) {
      copy_bytes(row, x_ + k * plane + j0, count);
      return;
    }
    const uint8_t* xc = x_ + c * plane;
    for (int64_t r = 0; r < num_runs; ++r) {
      const Run& run = runs[r];
      uint8_t* out = row + run.j;
      const int64_t iy = run.oy * p.stride_h - p.pad_top + ky * p.dilation_h;
      if (iy < 0 || iy >= p.H) {
        for (int64_t t = 0; t < run.count; ++t) out[t] = pad_raw;
        continue;
      }
      const uint8_t* src = xc + iy * p.W;
      const int64_t ix0 = run.ox * p.stride_w - p.pad_left + kx * p.dilation_w;
      // Columns whose ix = ix0 + t * stride lies in [0, W): t in [lo, hi).
      const int64_t sw = p.stride_w;
      int64_t lo, hi;
      if (sw == 1) {  // no divisions on the common path
        lo = std::min(run.count, std::max<int64_t>(0, -ix0));
        hi = std::max(lo, std::min(run.count, p.W - ix0));
      } else {
        lo = std::min(run.count, ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw);
        hi = std::max(lo, std::min(run.count, ix0 >= p.W ? 0 : (p.W - 1 - ix0) / sw + 1));
      }
      for (int64_t t = 0; t < lo; ++t) out[t] = pad_raw;
      if (sw == 1) {
        copy_bytes(out + lo, src + ix0 + lo, hi - lo);
      } else {
        for (int64_t t = lo; t < hi; ++t) out[t] = src[ix0 + t * sw];
      }
      for (int64_t t = hi; t < run.count; ++t) out[t] = pad_raw;
    }
  };
#if defined(__SSE2__)
  // The plan: for each tap (ky, kx) and output-row run, where the run's valid span sits in every channel's plane
  // (a channel-independent offset) and which panel bytes it fills (a mask). Rows of stride 1 and 2 are then one
  // unaligned 16- or 32-byte load per run (stride 2 keeps the even bytes), merged under the mask: no per-row
  // bounds arithmetic. Taps whose loads could leave this group's input fall back to fill_row.
  constexpr int64_t kMaxTaps = 64, kMaxRuns = 4;
  const int64_t taps = p.kh * p.kw, sw = p.stride_w;
  const bool planned = !pointwise && (sw == 1 || sw == 2) && taps <= kMaxTaps && num_runs <= kMaxRuns;
  struct TapPlan {
    int64_t n = 0;  // runs with a valid span; -1: not planned (use fill_row)
    bool full = false;  // one run filling all 16 columns: the row is the load itself, no merge
    int64_t c_lo = 0, c_hi = 0;  // channels whose loads stay inside the input (tap-major uses the plan there)
    int64_t off[kMaxRuns];
    __m128i mask[kMaxRuns];
  };
  TapPlan plan[planned ? kMaxTaps : 1];
  bool all_planned = planned;  // every tap planned: the per-row dispatch below can be skipped
  if (planned) {
    const int64_t extent = channels * plane, width = 16 * sw;
    const __m128i iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t tap = 0; tap < taps; ++tap) {
      const int64_t ky = tap / p.kw, kx = tap % p.kw;
      TapPlan& tp = plan[tap];
      tp.c_hi = channels;
      for (int64_t r = 0; r < num_runs && tp.n >= 0; ++r) {
        const Run& run = runs[r];
        const int64_t iy = run.oy * p.stride_h - p.pad_top + ky * p.dilation_h;
        if (iy < 0 || iy >= p.H) continue;
        const int64_t ix0 = run.ox * sw - p.pad_left + kx * p.dilation_w;
        int64_t lo, hi;
        if (sw == 1) {
          lo = std::min(run.count, std::max<int64_t>(0, -ix0));
          hi = std::max(lo, std::min(run.count, p.W - ix0));
        } else {
          lo = std::min(run.count, ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw);
          hi = std::max(lo, std::min(run.count, ix0 >= p.W ? 0 : (p.W - 1 - ix0) / sw + 1));
        }
        if (hi == lo) continue;
        const int64_t off = iy * p.W + ix0 - run.j * sw;  // input byte of panel column 0, channel 0
        if (off < 0 || (channels - 1) * plane + off + width > extent) {
          // Small planes (7x7, 14x14: panels over several output rows) read before the first or past the last
          // channel's plane: tap-major keeps the plan for the channels in between, the other orders fall back.
          if (!tap_major_) {
            tp.n = -1;
            break;
          }
          if (off < 0) tp.c_lo = std::max(tp.c_lo, (-off + plane - 1) / plane);
          tp.c_hi = std::min(tp.c_hi, extent - off - width < 0 ? 0 : (extent - off - width) / plane + 1);
        }
        tp.off[tp.n] = off;
        tp.mask[tp.n++] = _mm_and_si128(_mm_cmpgt_epi8(iota, _mm_set1_epi8(static_cast<char>(run.j + lo - 1))),
                                        _mm_cmplt_epi8(iota, _mm_set1_epi8(static_cast<char>(run.j + hi))));
      }
      tp.full = tp.n == 1 && _mm_movemask_epi8(tp.mask[0]) == 0xFFFF;
      all_planned = all_planned && tp.n >= 0;
    }
  }
  const __m128i pad_vec = _mm_set1_epi8(static_cast<char>(pad_raw));
  const __m128i even = _mm_set1_epi16(0x00FF);
  // Row k of the panel as a vector: pointwise rows are the input row itself; planned taps one masked load per run.
  auto planned_row = [&](int64_t c, int64_t tap) {
    const TapPlan& tp = plan[tap];
    const uint8_t* xc = x_ + c * plane;
    if (tp.full) {
      const __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xc + tp.off[0]));
      if (sw == 1) return in;
      const __m128i in2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xc + tp.off[0] + 16));
      return _mm_packus_epi16(_mm_and_si128(in, even), _mm_and_si128(in2, even));
    }
    __m128i v = pad_vec;
    for (int64_t r = 0; r < tp.n; ++r) {
      __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xc + tp.off[r]));
      if (sw == 2) {
        const __m128i in2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xc + tp.off[r] + 16));
        in = _mm_packus_epi16(_mm_and_si128(in, even), _mm_and_si128(in2, even));
      }
      v = _mm_or_si128(_mm_and_si128(tp.mask[r], in), _mm_andnot_si128(tp.mask[r], v));
    }
    return v;
  };
  const __m128i flip_vec = _mm_set1_epi8(static_cast<char>(flip_));
  // Every tap has at most two runs and some tap has one.
  auto two_runs = [&] {
    bool any = false;
    for (int64_t t = 0; t < taps; ++t) {
      if (plan[t].n > 2) return false;
      any = any || plan[t].n > 0;
    }
    return any;
  };
  alignas(16) uint8_t row[kQgemmNR];
  if (tap_major_) {
    // Quad q is tap q / (channels / 4), channels 4 (q % (channels / 4)) .. + 3 (qconv_tap_major: K % 4 == 0).
    const int64_t cq = channels / 4;
    for (int64_t tap = 0; tap < taps; ++tap) {
      uint8_t* const d = dst + tap * cq * kQgemmNR * 4;
      const TapPlan* tp = planned && plan[tap].n >= 0 ? &plan[tap] : nullptr;
      // Quads [q_lo, q_hi) take the tap's plan in registers; the first / last quads whose loads would leave the
      // input, and taps of more than two runs, go row by row.
      int64_t q_lo = cq, q_hi = cq;
      if (tp != nullptr && tp->n <= 2) {
        q_lo = std::min(cq, (tp->c_lo + 3) / 4);
        q_hi = std::max(q_lo, std::min(cq, tp->c_hi / 4));
      }
      if (q_hi > q_lo) {
        const uint8_t* xq = x_ + 4 * q_lo * plane;
        uint8_t* dq = d + q_lo * kQgemmNR * 4;
        const int64_t nq = q_hi - q_lo;
        const __m128i m1 = tp->n > 1 ? tp->mask[1] : _mm_setzero_si128();
        const __m128i fill = _mm_andnot_si128(_mm_or_si128(tp->mask[0], m1), pad_vec);  // outside the runs
        if (tp->n == 0) {  // the tap reads only padding
          for (int64_t q = 0; q < nq; ++q) interleave4v(pad_vec, pad_vec, pad_vec, pad_vec, flip_vec, dq + q * 64);
        } else {
          // The run count (0: the row is the load) and the stride as template arguments.
          auto pack = [&](auto runs) {
            constexpr int kRuns = decltype(runs)::value;
            if (sw == 1) pack_tap_quads<1, kRuns>(xq, plane, nq, tp->off, tp->mask, fill, flip_vec, dq);
            else pack_tap_quads<2, kRuns>(xq, plane, nq, tp->off, tp->mask, fill, flip_vec, dq);
          };
          if (tp->full) pack(std::integral_constant<int, 0>{});
          else if (tp->n == 1) pack(std::integral_constant<int, 1>{});
          else pack(std::integral_constant<int, 2>{});
        }
      }
      for (int64_t q = 0; q < cq; ++q) {
        if (q == q_lo && q_hi > q_lo) q = q_hi;  // done above
        if (q == cq) break;
        __m128i v[4];
        for (int i = 0; i < 4; ++i) {
          const int64_t c = 4 * q + i;
          if (tp != nullptr && c >= tp->c_lo && c < tp->c_hi) {
            v[i] = planned_row(c, tap);
          } else {
            fill_row(tap * channels + c, c, tap / p.kw, tap % p.kw, row);
            v[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(row));
          }
        }
        interleave4v(v[0], v[1], v[2], v[3], flip_vec, d + q * kQgemmNR * 4);
      }
    }
    return;
  }
  const bool whole_rows = pointwise && count == kQgemmNR;
  int64_t c = 0, tap = 0;  // of row k, advanced without divisions
  int64_t q = 0;
  if (whole_rows) {
    // Pointwise panels of 16 columns, quads wholly inside K: four plain loads per quad, no per-row dispatch.
    q = K / 4;
    pack_pointwise_quads(x_ + j0, plane, q, 1, flip_vec, dst, 0);
    c = q * 4;  // taps == 1: row k is channel k
  } else if (all_planned && two_runs()) {
    // Every tap with at most two runs (and at least one tap with a run, whose offset the empty slots load from).
    TwoRunTap t2[kMaxTaps];
    int64_t safe = 0;
    for (int64_t t = 0; t < taps; ++t) {
      if (plan[t].n > 0) safe = plan[t].off[0];
    }
    for (int64_t t = 0; t < taps; ++t) {
      const TapPlan& tp = plan[t];
      const __m128i none = _mm_setzero_si128();
      t2[t].o0 = tp.n > 0 ? tp.off[0] : safe;
      t2[t].o1 = tp.n > 1 ? tp.off[1] : safe;
      t2[t].m0 = tp.n > 0 ? tp.mask[0] : none;
      t2[t].m1 = tp.n > 1 ? tp.mask[1] : none;
      t2[t].fill = _mm_andnot_si128(_mm_or_si128(t2[t].m0, t2[t].m1), pad_vec);
    }
    q = K / 4;
    if (sw == 1) {
      pack_two_run_quads<1>(t2, taps, x_, plane, q, flip_vec, dst);
    } else {
      pack_two_run_quads<2>(t2, taps, x_, plane, q, flip_vec, dst);
    }
    c = q * 4 / taps;
    tap = q * 4 % taps;
  } else if (all_planned) {
    // Quads wholly inside K with every tap planned: no per-row dispatch (most of the packing time of 3x3 and
    // stem convolutions was that dispatch and the merge of runs that fill the whole row).
    for (; q < K / 4; ++q) {
      __m128i v[4];
      for (auto& vi : v) {
        vi = planned_row(c, tap);
        if (++tap == taps) {
          tap = 0;
          ++c;
        }
      }
      interleave4v(v[0], v[1], v[2], v[3], flip_vec, dst + q * kQgemmNR * 4);
    }
  }
  for (; q < quads; ++q) {
    __m128i v[4];
    for (int i = 0; i < 4; ++i) {
      const int64_t k = q * 4 + i;
      if (k >= K) {
        v[i] = _mm_setzero_si128();  // meets zero weights
      } else if (whole_rows) {
        v[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x_ + k * plane + j0));
      } else if (planned && plan[tap].n >= 0) {
        v[i] = planned_row(c, tap);
      } else {
        fill_row(k, c, tap / p.kw, tap % p.kw, row);
        v[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(row));
      }
      if (++tap == taps) {
        tap = 0;
        ++c;
      }
    }
    interleave4v(v[0], v[1], v[2], v[3], flip_vec, dst + q * kQgemmNR * 4);
  }
#else
  alignas(16) uint8_t rows[4][kQgemmNR] = {};
  int64_t c = 0, ky = 0, kx = 0;  // of row k, advanced without divisions
  for (int64_t q = 0; q < quads; ++q) {
    for (int i = 0; i < 4; ++i) {
      if (tap_major_) {  // k = tap * channels + c
        const int64_t k = q * 4 + i, tap = k / channels;
        fill_row(k, k % channels, tap / p.kw, tap % p.kw, rows[i]);
        continue;
      }
      fill_row(q * 4 + i, c, ky, kx, rows[i]);
      if (++kx == p.kw) {
        kx = 0;
        if (++ky == p.kh) {
          ky = 0;
          ++c;
        }
      }
    }
    interleave4(rows[0], rows[1], rows[2], rows[3], flip_, dst + q * kQgemmNR * 4);
  }
#endif
}

}  // namespace ef::cpu
