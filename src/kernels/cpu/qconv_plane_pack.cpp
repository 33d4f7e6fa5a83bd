// QQuadPlanePanels (qconv_plane_pack.h). A panel's 16 columns are output pixels j0 .. j0 + 15 in row-major order;
// a run of them inside one output row reads consecutive padded pixels, so the panel is one "segment" per output
// row it touches: lane l of segment s reads padded pixel base[s] + l + the tap's offset. The first segment is a
// plain 64-byte load (lanes past it read padded pixels further on, overwritten or discarded), the others merge
// under their lane masks.
#include "kernels/cpu/qconv_plane_pack.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/qconv_pack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_QPLANE_AVX512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl")))
#endif

namespace ef::cpu {
namespace {

constexpr int64_t kMaxPlaneBytes = int64_t{16} << 20;

struct Geometry {
  int64_t hp, wp;         // padded plane, in pixels
  int64_t quads;          // channel quads per group
  int64_t plane_bytes;    // one quad plane, rounded up to 64 bytes
};

Geometry geometry(const Conv2dParams& p) {
  Geometry g;
  g.hp = std::max(p.H + p.pad_top + p.pad_bottom, p.OH + (p.kh - 1) * p.dilation_h);
  g.wp = std::max(p.W + p.pad_left + p.pad_right, p.OW + (p.kw - 1) * p.dilation_w);
  g.quads = p.C / p.group / 4;
  g.plane_bytes = (g.hp * g.wp * 4 + 63) / 64 * 64;
  return g;
}

// The panel's segments: lanes [first, first + n) of segment s read padded pixel base[s] + lane (+ the tap's
// offset). Returns their count (at most 16).
int segments(const Conv2dParams& p, int64_t wp, int64_t j0, int64_t j1, int64_t* base, uint32_t* mask) {
  int n_seg = 0;
  for (int64_t j = 0; j < j1 - j0;) {
    const int64_t o = j0 + j, oy = o / p.OW, ox = o % p.OW;
    const int64_t n = std::min(j1 - j0 - j, p.OW - ox);
    base[n_seg] = oy * wp + ox - j;
    mask[n_seg] = ((1u << n) - 1) << j;
    ++n_seg;
    j += n;
  }
  return n_seg;
}

void build_quad_portable(const Conv2dParams& p, const Geometry& g, const uint8_t* x, uint8_t flip, uint8_t pad,
                         uint8_t* plane) {
  const int64_t in_plane = p.H * p.W;
  for (int64_t py = 0; py < g.hp; ++py) {
    for (int64_t px = 0; px < g.wp; ++px) {
      const int64_t iy = py - p.pad_top, ix = px - p.pad_left;
      const bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
      for (int64_t i = 0; i < 4; ++i) {
        plane[(py * g.wp + px) * 4 + i] =
            inside ? static_cast<uint8_t>(x[i * in_plane + iy * p.W + ix] ^ flip) : pad;
      }
    }
  }
}

void pack_portable(const Conv2dParams& p, const Geometry& g, const uint8_t* planes, int64_t j0, int64_t j1,
                   uint8_t* dst) {
  int64_t base[kQgemmNR];
  uint32_t mask[kQgemmNR];
  const int n_seg = segments(p, g.wp, j0, j1, base, mask);
  for (int64_t tap = 0; tap < p.kh * p.kw; ++tap) {
    const int64_t off = (tap / p.kw) * p.dilation_h * g.wp + (tap % p.kw) * p.dilation_w;
    for (int64_t q = 0; q < g.quads; ++q, dst += kQgemmNR * 4) {
      const uint8_t* plane = planes + q * g.plane_bytes;
      for (int s = 0; s < n_seg; ++s) {
        for (int64_t l = 0; l < kQgemmNR; ++l) {
          if (mask[s] >> l & 1) std::memcpy(dst + l * 4, plane + (base[s] + l + off) * 4, 4);
        }
      }
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
// Dwords [0, n) of dst set to `v`.
EF_QPLANE_AVX512 inline void fill_dwords(uint8_t* dst, int64_t n, __m512i v) {
  for (; n >= 16; n -= 16, dst += 64) _mm512_storeu_si512(dst, v);
  if (n > 0) _mm512_mask_storeu_epi32(dst, static_cast<__mmask16>((1u << n) - 1), v);
}

EF_QPLANE_AVX512 void build_quad_avx512(const Conv2dParams& p, const Geometry& g, const uint8_t* x, uint8_t flip,
                                        uint8_t pad, uint8_t* plane) {
  const int64_t in_plane = p.H * p.W, row_bytes = g.wp * 4;
  const __m512i pad_v = _mm512_set1_epi8(static_cast<char>(pad));
  const __m128i flip_v = _mm_set1_epi8(static_cast<char>(flip));
  const int64_t right = g.wp - p.pad_left - p.W;
  fill_dwords(plane, p.pad_top * g.wp, pad_v);
  for (int64_t iy = 0; iy < p.H; ++iy) {
    uint8_t* row = plane + (p.pad_top + iy) * row_bytes;
    fill_dwords(row, p.pad_left, pad_v);
    uint8_t* out = row + p.pad_left * 4;
    const uint8_t* r0 = x + iy * p.W;
    for (int64_t ix = 0; ix < p.W; ix += 16) {
      const int64_t n = std::min<int64_t>(16, p.W - ix);
      const auto m = static_cast<__mmask16>((1u << n) - 1);
      const __m128i a = _mm_xor_si128(_mm_maskz_loadu_epi8(m, r0 + ix), flip_v);
      const __m128i b = _mm_xor_si128(_mm_maskz_loadu_epi8(m, r0 + in_plane + ix), flip_v);
      const __m128i c = _mm_xor_si128(_mm_maskz_loadu_epi8(m, r0 + 2 * in_plane + ix), flip_v);
      const __m128i d = _mm_xor_si128(_mm_maskz_loadu_epi8(m, r0 + 3 * in_plane + ix), flip_v);
      const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
      const __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
      __m512i v = _mm512_castsi128_si512(_mm_unpacklo_epi16(ab_lo, cd_lo));
      v = _mm512_inserti32x4(v, _mm_unpackhi_epi16(ab_lo, cd_lo), 1);
      v = _mm512_inserti32x4(v, _mm_unpacklo_epi16(ab_hi, cd_hi), 2);
      v = _mm512_inserti32x4(v, _mm_unpackhi_epi16(ab_hi, cd_hi), 3);
      _mm512_mask_storeu_epi32(out + ix * 4, m, v);
    }
    fill_dwords(out + p.W * 4, right, pad_v);
  }
  fill_dwords(plane + (p.pad_top + p.H) * row_bytes, (g.hp - p.pad_top - p.H) * g.wp, pad_v);
}

// One tap's quads for a panel of kSeg segments (0: any count, from n_seg).
template <int kSeg>
EF_QPLANE_AVX512 inline void pack_tap_avx512(const uint8_t* src, int64_t plane_bytes, int64_t quads,
                                             const int64_t* base, const __mmask16* mask, int n_seg, uint8_t* dst) {
  const int segs = kSeg > 0 ? kSeg : n_seg;
  for (int64_t q = 0; q < quads; ++q, src += plane_bytes, dst += kQgemmNR * 4) {
    const auto at = reinterpret_cast<uintptr_t>(src);
    __m512i v = _mm512_loadu_si512(reinterpret_cast<const void*>(at + base[0] * 4));
    for (int s = 1; s < segs; ++s) {
      // base[s] may lie before the planes for masked-off lanes: the address is formed as an integer.
      v = _mm512_mask_loadu_epi32(v, mask[s], reinterpret_cast<const void*>(at + base[s] * 4));
    }
    _mm512_storeu_si512(dst, v);
  }
}

EF_QPLANE_AVX512 void pack_avx512(const Conv2dParams& p, const Geometry& g, const uint8_t* planes, int64_t j0,
                                  int64_t j1, uint8_t* dst) {
  int64_t base[kQgemmNR];
  uint32_t bits[kQgemmNR];
  const int n_seg = segments(p, g.wp, j0, j1, base, bits);
  __mmask16 mask[kQgemmNR];
  for (int s = 0; s < n_seg; ++s) mask[s] = static_cast<__mmask16>(bits[s]);
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    for (int64_t kx = 0; kx < p.kw; ++kx, dst += g.quads * kQgemmNR * 4) {
      const uint8_t* src = planes + (ky * p.dilation_h * g.wp + kx * p.dilation_w) * 4;
      switch (n_seg) {
        case 1: pack_tap_avx512<1>(src, g.plane_bytes, g.quads, base, mask, n_seg, dst); break;
        case 2: pack_tap_avx512<2>(src, g.plane_bytes, g.quads, base, mask, n_seg, dst); break;
        case 3: pack_tap_avx512<3>(src, g.plane_bytes, g.quads, base, mask, n_seg, dst); break;
        default: pack_tap_avx512<0>(src, g.plane_bytes, g.quads, base, mask, n_seg, dst); break;
      }
    }
  }
}
#endif

bool use_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  return detail::cpu_has_avx512bw() && avx512_in_use();
#else
  return false;
#endif
}

}  // namespace

bool qconv_quad_planes(const Conv2dParams& p) {
  return qconv_tap_major(p) && p.stride_h == 1 && p.stride_w == 1 && use_avx512() &&
         qconv_quad_plane_bytes(p) <= kMaxPlaneBytes;
}

int64_t qconv_quad_plane_bytes(const Conv2dParams& p) {
  const Geometry g = geometry(p);
  return g.quads * g.plane_bytes + 64;  // the last panel's first-segment load may run 15 dwords past the end
}

QQuadPlanePanels::QQuadPlanePanels(const Conv2dParams& p, const uint8_t* planes)
    : p_(p), planes_(planes), avx512_(use_avx512()) {}

void QQuadPlanePanels::build(const Conv2dParams& p, const uint8_t* x_group, uint8_t flip, uint8_t pad,
                             uint8_t* planes, ThreadPool& pool) {
  const Geometry g = geometry(p);
  const int64_t in_plane = p.H * p.W;
  const bool avx512 = use_avx512();
  pool.parallel_for(g.quads, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const uint8_t* x = x_group + 4 * q * in_plane;
      uint8_t* plane = planes + q * g.plane_bytes;
#if defined(__x86_64__) || defined(__i386__)
      if (avx512) {
        build_quad_avx512(p, g, x, flip, pad, plane);
        continue;
      }
#endif
      build_quad_portable(p, g, x, flip, pad, plane);
    }
  });
  std::memset(planes + g.quads * g.plane_bytes, pad, 64);
}

void QQuadPlanePanels::pack(int64_t j0, int64_t j1, uint8_t* dst) const {
  const Geometry g = geometry(p_);  // a few multiplies per panel of kh * kw * quads 64-byte moves
#if defined(__x86_64__) || defined(__i386__)
  if (avx512_) {
    pack_avx512(p_, g, planes_, j0, j1, dst);
    return;
  }
#endif
  pack_portable(p_, g, planes_, j0, j1, dst);
}

}  // namespace ef::cpu
