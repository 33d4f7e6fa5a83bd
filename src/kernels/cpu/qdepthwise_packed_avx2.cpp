// The channel-packed int8 depthwise kernel (qdepthwise.h QdwPacked), for small planes: the row kernels
// (qdepthwise_avx2.cpp) vectorize along an output row, so on a 7x7 or 14x14 plane most of a channel's time goes
// to per-plane work (plane build, weight set-up, row set-up, copies) around a few dozen vpmaddwd. Here a block of
// 16 channels is handled at once, with the channels in the vector lanes:
//   1. the 16 input planes are byte-transposed to position-major vectors (16 channels of one input position,
//      x ^ flip), with one extra vector holding the zero point for the padding;
//   2. the padded plane is built from them as horizontal position pairs: padded columns (2k, 2k + 1) of a row are
//      64 bytes, two halves of 8 channels whose int32 lanes hold the int16 pair (x[2k] - zp, x[2k + 1] - zp), so
//      one vpmaddwd with a weight pair (w[j], w[j + 1]) per lane sums two taps of 8 channels, exact (products
//      <= 255 * 128, as the row kernels'). Positions that are only padding are never written: the plane is
//      zeroed whenever the geometry changes;
//   3. each output position is a chain of vpmaddwd over its window's pairs, 4 positions at a time, starting from
//      the bias. At stride 1 a window starting at an odd column uses the weights shifted by one tap
//      ((0, w0), (w1, w2), ...): the outputs are run as two lists, even and odd window starts, each with its own
//      weight set (packed at plan time, qdw_pack);
//   4. the 16 sums are requantized in registers (requant_rounded: the row kernels' and the GEMM's formula, so
//      the same bits) and stored as 16 bytes per position, then byte-transposed back to the 16 output planes.
// x86 intrinsics compiled through function attributes, called only after the plan-time CPU / --isa check.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "kernels/cpu/qdepthwise.h"
#include "kernels/cpu/qrequant_avx2-inl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace ef::cpu::detail {

#if defined(__x86_64__) || defined(__i386__)

namespace {

constexpr int kTile = 4;  // output positions per step: 8 accumulators (two halves each)

// out[c] = byte c of every r[b] (b = 0..15 -> byte b of out[c]), independently in each 128-bit lane: a 16 x 16
// byte transpose per lane.
EF_AVX2 __attribute__((always_inline)) inline void transpose16(const __m256i* r, __m256i* out) {
  __m256i t[16], u[16], v[16];
#pragma GCC unroll 16
  for (int i = 0; i < 8; ++i) {  // t[i]: rows 2i, 2i + 1 as words, columns 0-7; t[8 + i]: columns 8-15
    t[i] = _mm256_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    t[i + 8] = _mm256_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 4; ++i) {  // u[4g + i]: rows 4i..4i + 3 as dwords, columns 4g..4g + 3
    u[i] = _mm256_unpacklo_epi16(t[2 * i], t[2 * i + 1]);
    u[i + 4] = _mm256_unpackhi_epi16(t[2 * i], t[2 * i + 1]);
    u[i + 8] = _mm256_unpacklo_epi16(t[8 + 2 * i], t[9 + 2 * i]);
    u[i + 12] = _mm256_unpackhi_epi16(t[8 + 2 * i], t[9 + 2 * i]);
  }
#pragma GCC unroll 16
  for (int g = 0; g < 4; ++g) {  // v[4g + {0, 1}]: rows 0-7, columns 4g + {0, 1} / {2, 3}; v[4g + {2, 3}]: rows 8-15
    v[4 * g] = _mm256_unpacklo_epi32(u[4 * g], u[4 * g + 1]);
    v[4 * g + 1] = _mm256_unpackhi_epi32(u[4 * g], u[4 * g + 1]);
    v[4 * g + 2] = _mm256_unpacklo_epi32(u[4 * g + 2], u[4 * g + 3]);
    v[4 * g + 3] = _mm256_unpackhi_epi32(u[4 * g + 2], u[4 * g + 3]);
  }
#pragma GCC unroll 16
  for (int g = 0; g < 4; ++g) {
    out[4 * g] = _mm256_unpacklo_epi64(v[4 * g], v[4 * g + 2]);
    out[4 * g + 1] = _mm256_unpackhi_epi64(v[4 * g], v[4 * g + 2]);
    out[4 * g + 2] = _mm256_unpacklo_epi64(v[4 * g + 1], v[4 * g + 3]);
    out[4 * g + 3] = _mm256_unpackhi_epi64(v[4 * g + 1], v[4 * g + 3]);
  }
}

// t[i * 16 + b] = src[b][i] ^ flip for i < count: 16 planes to position-major vectors. Chunks of 32 positions
// (two transposes, one per lane), the last one shifted back to end at `count`; under 32, one transpose of 16.
EF_AVX2 void planes_to_positions(const uint8_t* const* src, int64_t count, uint8_t flip, uint8_t* t) {
  const __m256i f = _mm256_set1_epi8(static_cast<char>(flip));
  __m256i r[16], out[16];
  if (count >= 32) {
    for (int64_t k0 = 0; k0 < count; k0 += 32) {
      const int64_t k = std::min(k0, count - 32);
#pragma GCC unroll 16
      for (int b = 0; b < 16; ++b) {
        r[b] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[b] + k)), f);
      }
      transpose16(r, out);
#pragma GCC unroll 16
      for (int c = 0; c < 16; ++c) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(t + (k + c) * 16), _mm256_castsi256_si128(out[c]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(t + (k + 16 + c) * 16), _mm256_extracti128_si256(out[c], 1));
      }
    }
    return;
  }
  for (int64_t k0 = 0; k0 < count; k0 += 16) {
    const int64_t k = count >= 16 ? std::min(k0, count - 16) : 0;
#pragma GCC unroll 16
    for (int b = 0; b < 16; ++b) {
      __m128i row;
      if (count >= 16) {
        row = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[b] + k));
      } else {
        alignas(16) uint8_t tmp[16] = {};
        std::memcpy(tmp, src[b], static_cast<size_t>(count));
        row = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
      }
      r[b] = _mm256_castsi128_si256(_mm_xor_si128(row, _mm256_castsi256_si128(f)));
    }
    transpose16(r, out);
    for (int c = 0; c < std::min<int64_t>(16, count); ++c) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(t + (k + c) * 16), _mm256_castsi256_si128(out[c]));
    }
  }
}

// y[c][i] = o[i * 16 + c] for i < count and the `valid` first channels c: the requantized position-major bytes
// back to the output planes (the inverse of planes_to_positions, same chunking).
EF_AVX2 void positions_to_planes(const uint8_t* o, int64_t count, int64_t valid, uint8_t* const* dst) {
  __m256i r[16], out[16];
  if (count >= 32) {
    for (int64_t k0 = 0; k0 < count; k0 += 32) {
      const int64_t k = std::min(k0, count - 32);
#pragma GCC unroll 16
      for (int b = 0; b < 16; ++b) {
        r[b] = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(o + (k + 16 + b) * 16),
                                   reinterpret_cast<const __m128i*>(o + (k + b) * 16));
      }
      transpose16(r, out);
      if (valid == 16) {
#pragma GCC unroll 16
        for (int c = 0; c < 16; ++c) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[c] + k), out[c]);
      } else {
        alignas(32) __m256i keep[16];
#pragma GCC unroll 16
        for (int c = 0; c < 16; ++c) keep[c] = out[c];
        for (int64_t c = 0; c < valid; ++c) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[c] + k), keep[c]);
      }
    }
    return;
  }
  for (int64_t k0 = 0; k0 < count; k0 += 16) {
    const int64_t k = count >= 16 ? std::min(k0, count - 16) : 0;
#pragma GCC unroll 16
    for (int b = 0; b < 16; ++b) {
      // Under 16 positions the rows past `count` are left over from other blocks: their bytes are not stored.
      r[b] = _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(o + (k + b) * 16)));
    }
    transpose16(r, out);
    for (int64_t c = 0; c < valid; ++c) {
      if (count >= 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[c] + k), _mm256_castsi256_si128(out[c]));
      } else {
        alignas(16) uint8_t tmp[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(tmp), _mm256_castsi256_si128(out[c]));
        std::memcpy(dst[c], tmp, static_cast<size_t>(count));
      }
    }
  }
}

// Loop-invariant operands the tile loop reads from memory on purpose: held in registers they would take 7 of
// the 16 (biases, scales, bounds, zero point) beside the 8 accumulators and 2 weight vectors, and GCC spills.
struct alignas(32) TileConsts {
  __m256i bias0, bias1;
  __m256 scale0, scale1, lo, hi;
  __m256i zero_point;
};

// The outputs of one list (window starts of one column parity), kTile at a time: off[u] is output u's first
// pair in the plane (int16 elements), at[u] its position; n is a multiple of kTile. wq: the parity's weights,
// [kh][np] x 16 int32 (two halves). KH / NP: kh and the pairs per kernel row when known at compile time, else 0.
template <int KH, int NP, bool kSigned>
EF_AVX2 void run_list(const int16_t* buf, const int32_t* off, const int32_t* at, int64_t n, int64_t kh_rt,
                      int64_t np_rt, int64_t pitch, const int32_t* wq, const TileConsts& consts, uint8_t* obuf) {
  const int64_t kh = KH ? KH : kh_rt, np = NP ? NP : np_rt;
  for (int64_t u = 0; u < n; u += kTile) {
    // Opaque per tile, so that nothing read through them is hoisted out of this loop (see TileConsts; the
    // weights: kh x np x 2 vectors, L1 hits, one load per 4 vpmaddwd).
    const int32_t* w = wq;
    const TileConsts* k = &consts;
    __asm__("" : "+r"(w), "+r"(k));
    const int16_t* p0 = buf + off[u];
    const int16_t* p1 = buf + off[u + 1];
    const int16_t* p2 = buf + off[u + 2];
    const int16_t* p3 = buf + off[u + 3];
    __m256i c00 = k->bias0, c01 = k->bias1, c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
#pragma GCC unroll 7
    for (int64_t i = 0; i < kh; ++i) {
#pragma GCC unroll 4
      for (int64_t t = 0; t < np; ++t) {
        const int32_t* wt = w + (i * np + t) * 16;
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt + 8));
        const int64_t o = i * pitch + t * 32;
        // Each sum stays a running chain in its register (the empty asm): GCC otherwise reassociates the adds
        // into a tree over all the tile's products, held (spilled) until the end.
#define EF_QDW_STEP(ptr, lo, hi)                                                                               \
  lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(ptr + o)), w0)); \
  hi = _mm256_add_epi32(hi,                                                                                    \
                        _mm256_madd_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(ptr + o + 16)), w1)); \
  __asm__("" : "+x"(lo), "+x"(hi));
        EF_QDW_STEP(p0, c00, c01) EF_QDW_STEP(p1, c10, c11) EF_QDW_STEP(p2, c20, c21) EF_QDW_STEP(p3, c30, c31)
#undef EF_QDW_STEP
      }
    }
    // Lanes 0-3 of half 0 / half 1 are channels 0-3 / 4-7, lanes 4-7 channels 8-11 / 12-15 (kQdwLaneChannel):
    // the saturating pack puts the 16 channels in order across the two 128-bit lanes. The float steps are
    // requant_rounded's (qrequant_avx2-inl.h), with per-lane scales.
    auto rounded = [k](__m256i acc, __m256 scale) EF_AVX2 {
      const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale), k->lo), k->hi);
      return _mm256_add_epi32(_mm256_cvtps_epi32(v), k->zero_point);
    };
    auto two = [&](__m256i a0, __m256i a1, __m256i b0, __m256i b1, int64_t j) EF_AVX2 {
      const __m256i va = _mm256_packs_epi32(rounded(a0, k->scale0), rounded(a1, k->scale1));
      const __m256i vb = _mm256_packs_epi32(rounded(b0, k->scale0), rounded(b1, k->scale1));
      const __m256i b = kSigned ? _mm256_packs_epi16(va, vb) : _mm256_packus_epi16(va, vb);
      const __m256i o = _mm256_permute4x64_epi64(b, 0xD8);  // output j's 16 bytes, then output j + 1's
      _mm_storeu_si128(reinterpret_cast<__m128i*>(obuf + at[u + j] * 16), _mm256_castsi256_si128(o));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(obuf + at[u + j + 1] * 16), _mm256_extracti128_si256(o, 1));
    };
    two(c00, c01, c10, c11, 0);
    two(c20, c21, c30, c31, 2);
  }
}

template <bool kSigned>
EF_AVX2 void run_list_sized(const Conv2dParams& p, const int16_t* buf, const int32_t* off, const int32_t* at,
                            int64_t n, int64_t np, int64_t pitch, const int32_t* wq, const TileConsts& c,
                            uint8_t* obuf) {
  if (p.kh == 3 && np == 2) return run_list<3, 2, kSigned>(buf, off, at, n, 3, 2, pitch, wq, c, obuf);
  if (p.kh == 5 && np == 3) return run_list<5, 3, kSigned>(buf, off, at, n, 5, 3, pitch, wq, c, obuf);
  if (p.kh == 7 && np == 4) return run_list<7, 4, kSigned>(buf, off, at, n, 7, 4, pitch, wq, c, obuf);
  return run_list<0, 0, kSigned>(buf, off, at, n, p.kh, np, pitch, wq, c, obuf);
}

// Per-thread buffers and the geometry's tables, rebuilt when the geometry changes.
struct Scratch {
  std::array<int64_t, 12> key{};
  bool any = false;
  std::vector<int16_t> plane_store;  // the padded pair plane (+ alignment slack)
  int16_t* plane = nullptr;          // 64-byte aligned
  std::vector<uint8_t> t, out;       // position-major input (+ the zero-point vector) / output bytes
  std::vector<int32_t> pair_tab;     // per written pair: plane offset (int16), input position of each column
  std::vector<int32_t> off[2], at[2];  // per parity: the outputs' first pair (int16 offset) and position
};

Scratch& scratch_for(const Conv2dParams& p, int64_t prows, int64_t ppairs) {
  thread_local Scratch s;
  const std::array<int64_t, 12> key{prows, ppairs, p.pad_top, p.pad_left, p.H, p.W,
                                    p.OH, p.OW, p.stride_h, p.stride_w, p.kh, p.kw};
  if (s.any && key == s.key) return s;
  s.key = key;
  s.any = true;
  const int64_t plane = prows * ppairs * 32;  // int16 elements
  s.plane_store.assign(static_cast<size_t>(plane + 32), 0);
  const auto addr = reinterpret_cast<uintptr_t>(s.plane_store.data());
  s.plane = s.plane_store.data() + ((64 - addr % 64) % 64) / sizeof(int16_t);
  const int64_t in_plane = p.H * p.W, out_plane = p.OH * p.OW;
  s.t.resize(static_cast<size_t>((in_plane + 1) * 16));
  s.out.resize(static_cast<size_t>(std::max<int64_t>(out_plane, 16) * 16));
  s.pair_tab.clear();
  for (int64_t ih = 0; ih < p.H; ++ih) {
    const int64_t row = ih + p.pad_top;
    for (int64_t k = 0; k < ppairs; ++k) {
      int32_t src[2];
      bool any_input = false;
      for (int h = 0; h < 2; ++h) {
        const int64_t iw = 2 * k + h - p.pad_left;
        const bool inside = iw >= 0 && iw < p.W;
        src[h] = static_cast<int32_t>(inside ? ih * p.W + iw : in_plane);  // in_plane: the zero-point vector
        any_input |= inside;
      }
      if (!any_input) continue;
      s.pair_tab.push_back(static_cast<int32_t>((row * ppairs + k) * 32));
      s.pair_tab.push_back(src[0]);
      s.pair_tab.push_back(src[1]);
    }
  }
  for (int q = 0; q < 2; ++q) s.off[q].clear(), s.at[q].clear();
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const int64_t col = ow * p.stride_w;
      const int q = static_cast<int>(col & 1);
      s.off[q].push_back(static_cast<int32_t>((oh * p.stride_h * ppairs + col / 2) * 32));
      s.at[q].push_back(static_cast<int32_t>(oh * p.OW + ow));
    }
  }
  for (int q = 0; q < 2; ++q) {  // whole tiles: the last output repeated (computed and stored again)
    while (!s.off[q].empty() && s.off[q].size() % kTile != 0) {
      s.off[q].push_back(s.off[q].back());
      s.at[q].push_back(s.at[q].back());
    }
  }
  return s;
}

}  // namespace

EF_AVX2 void qdw_packed_blocks_avx2(const Conv2dParams& p, const QDepthwiseArgs& a, int64_t begin, int64_t end) {
  const QdwPacked& k = *a.packed;
  // Padded plane: every window inside it, plus the column a window's last pair may read past it (with a zero
  // weight); an even column count (whole pairs).
  const int64_t prows = std::max(p.H + p.pad_top, (p.OH - 1) * p.stride_h + p.kh);
  const int64_t pcols = std::max(p.W + p.pad_left, (p.OW - 1) * p.stride_w + p.kw + 1);
  const int64_t ppairs = (pcols + 1) / 2, pitch = ppairs * 32;
  Scratch& s = scratch_for(p, prows, ppairs);
  const int64_t in_plane = p.H * p.W, out_plane = p.OH * p.OW, blocks_per_image = (p.M + 15) / 16;
  const Requant16 r = requant16_setup(1.0f, a.rq);
  TileConsts consts;
  consts.lo = r.lo;
  consts.hi = r.hi;
  consts.zero_point = r.zero_point;
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(a.x_zero_point));
  std::memset(s.t.data() + in_plane * 16, a.x_zero_point, 16);
  for (int64_t blk = begin; blk < end; ++blk) {
    const int64_t n = blk / blocks_per_image, b = blk % blocks_per_image, m0 = b * 16;
    const int64_t valid = std::min<int64_t>(16, p.M - m0);
    const uint8_t* src[16];
#pragma GCC unroll 16
    for (int lane = 0; lane < 16; ++lane) {
      const int64_t c = std::min<int64_t>(m0 + kQdwLaneChannel[lane], p.M - 1);
      src[lane] = a.x + (n * p.C + c) * in_plane;
    }
    planes_to_positions(src, in_plane, a.flip, s.t.data());
    const int32_t* tab = s.pair_tab.data();
    const int64_t pairs = static_cast<int64_t>(s.pair_tab.size()) / 3;
    for (int64_t e = 0; e < pairs; ++e, tab += 3) {
      const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.t.data() + tab[1] * 16));
      const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.t.data() + tab[2] * 16));
      int16_t* d = s.plane + tab[0];
      _mm256_store_si256(reinterpret_cast<__m256i*>(d),
                         _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x0, x1)), z));
      _mm256_store_si256(reinterpret_cast<__m256i*>(d + 16),
                         _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_unpackhi_epi8(x0, x1)), z));
    }
    const int32_t* blockw = k.data.data() + b * k.block;
    const int32_t* tail = blockw + k.tail;
    consts.bias0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tail));
    consts.bias1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tail + 8));
    consts.scale0 = _mm256_loadu_ps(reinterpret_cast<const float*>(tail + 16));
    consts.scale1 = _mm256_loadu_ps(reinterpret_cast<const float*>(tail + 24));
    for (int q = 0; q < 2; ++q) {
      if (s.off[q].empty()) continue;
      const auto n_q = static_cast<int64_t>(s.off[q].size());
      if (a.rq.out_signed) {
        run_list_sized<true>(p, s.plane, s.off[q].data(), s.at[q].data(), n_q, k.pairs[q], pitch,
                             blockw + k.parity_at[q], consts, s.out.data());
      } else {
        run_list_sized<false>(p, s.plane, s.off[q].data(), s.at[q].data(), n_q, k.pairs[q], pitch,
                              blockw + k.parity_at[q], consts, s.out.data());
      }
    }
    uint8_t* dst[16];
    for (int64_t c = 0; c < valid; ++c) dst[c] = static_cast<uint8_t*>(a.y) + ((n * p.M) + m0 + c) * out_plane;
    positions_to_planes(s.out.data(), out_plane, valid, dst);
  }
}

#else

void qdw_packed_blocks_avx2(const Conv2dParams&, const QDepthwiseArgs&, int64_t, int64_t) {}

#endif

}  // namespace ef::cpu::detail
