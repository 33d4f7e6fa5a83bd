// Winograd F(4x4, 3x3) and F(2x2, 3x3): the per-target input / output transforms (vectorized over tiles: lane l of a
// vector is tile t + l of one tile row) and the driver that pads the input, runs the transforms and the 36 packed
// SGEMMs block by block (for F(2x2) read 16 points and 2x2 tiles wherever 36 and 4x4 appear). The input is first copied
// into zero-padded planes wide enough that every group of tiles reads its 6 rows with two deinterleaving loads and no
// bounds checks; the last group of a tile row computes lanes past the row, whose results land in padding columns of V's
// panels or are overwritten by a later store. Depends on winograd.h, sgemm.h, conv_layout.h, activation-inl.h and
// Highway (compiled once per target by foreach_target.h, picked at run time).
#include "kernels/cpu/winograd.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "kernels/cpu/conv_layout.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/winograd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/cpu/activation-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using Geometry = WinogradConv::Geometry;
using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
static_assert(HWY_MAX_BYTES / sizeof(float) <= WinogradConv::kMaxLanes, "slack too small for this target");

// B^T x for one column of kT + 2 vectors: F(4, 3) points 0, +-1, +-2, inf; F(2, 3) points 0, +-1, inf.
template <int kT>
HWY_INLINE void InputT(const V* x, V* t) {
  if constexpr (kT == 4) {
    const D d;
    const V four = hn::Set(d, 4.0f), five = hn::Set(d, 5.0f), two = hn::Set(d, 2.0f);
    const V s34 = hn::Add(x[3], x[4]), d42 = hn::Sub(x[4], x[2]), d43 = hn::Sub(x[4], x[3]);
    t[0] = hn::Add(hn::NegMulAdd(five, x[2], hn::Mul(four, x[0])), x[4]);
    t[1] = hn::NegMulAdd(four, hn::Add(x[1], x[2]), s34);
    t[2] = hn::MulAdd(four, hn::Sub(x[1], x[2]), d43);
    t[3] = hn::MulAdd(two, hn::Sub(x[3], x[1]), d42);
    t[4] = hn::MulAdd(two, hn::Sub(x[1], x[3]), d42);
    t[5] = hn::Add(hn::NegMulAdd(five, x[3], hn::Mul(four, x[1])), x[5]);
  } else {
    t[0] = hn::Sub(x[0], x[2]);
    t[1] = hn::Add(x[1], x[2]);
    t[2] = hn::Sub(x[2], x[1]);
    t[3] = hn::Sub(x[1], x[3]);
  }
}

// A^T m for one column of kT + 2 vectors.
template <int kT>
HWY_INLINE void OutputT(const V* m, V* o) {
  if constexpr (kT == 4) {
    const D d;
    const V a = hn::Add(m[1], m[2]), b = hn::Sub(m[1], m[2]), c = hn::Add(m[3], m[4]), e = hn::Sub(m[3], m[4]);
    o[0] = hn::Add(hn::Add(m[0], a), c);
    o[1] = hn::MulAdd(hn::Set(d, 2.0f), e, b);
    o[2] = hn::MulAdd(hn::Set(d, 4.0f), c, a);
    o[3] = hn::Add(hn::MulAdd(hn::Set(d, 8.0f), e, b), m[5]);
  } else {
    o[0] = hn::Add(hn::Add(m[0], m[1]), m[2]);
    o[1] = hn::Sub(hn::Sub(m[1], m[2]), m[3]);
  }
}

// kT interleaved streams of L floats each (lane l of v[j] at p[l * kT + j]).
template <int kT>
HWY_INLINE void LoadInterleaved(D d, const float* p, V* v) {
  if constexpr (kT == 4) {
    hn::LoadInterleaved4(d, p, v[0], v[1], v[2], v[3]);
  } else {
    hn::LoadInterleaved2(d, p, v[0], v[1]);
  }
}
template <int kT>
HWY_INLINE void StoreInterleaved(D d, const V* v, float* p) {
  if constexpr (kT == 4) {
    hn::StoreInterleaved4(v[0], v[1], v[2], v[3], d, p);
  } else {
    hn::StoreInterleaved2(v[0], v[1], d, p);
  }
}

// Calls fn(s, seg_end, img, th, tw) for every group of up to L tiles [s, min(s + L, seg_end)) of the block
// [t0, t1) that lies in one tile row (image img, tile row th, first tile column tw).
template <class Fn>
HWY_INLINE void ForEachGroup(const Geometry& g, int64_t t0, int64_t t1, int64_t L, const Fn& fn) {
  const int64_t per_image = g.TH * g.TW;
  for (int64_t t = t0; t < t1;) {
    const int64_t img = t / per_image, th = t % per_image / g.TW, tw0 = t % g.TW;
    const int64_t seg_end = std::min(t1, t - tw0 + g.TW);
    for (int64_t s = t; s < seg_end; s += L) fn(s, seg_end, img, th, tw0 + (s - t));
    t = seg_end;
  }
}

// V of channels [c0, c1) of the block [t0, t1), written straight into the SGEMM's B panels (dst; so V is not
// stored and then packed). A group of L tiles starting at column j0 = s - t0 of the block is one unaligned vector
// store per point when it lies in one panel; otherwise its first n1 lanes end panel q0's row and the rest start
// panel q0 + 1's (shifted down by a table lookup). Lanes past the group's valid tiles, and a first part stored
// whole past the end of its row, write positions that a later store of this call overwrites: the next group of
// the same channel (tiles later in the row) or channel c + 1 (the next row of the panel), which is why the whole
// store is used only when c + 1 < c1 in the same K block; the last channel of the range stores lane by lane.
template <int kT>
void InputTransformT(const Geometry& g, const float* xpad, int64_t row0, int64_t t0, int64_t t1, int64_t c0,
                     int64_t c1, const WinogradConv::Panels& dst) {
  constexpr int kIn = kT + 2;
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d)), nr = dst.nr;
  // Columns kT and kT + 1 of tile l are columns 0 and 1 of tile l + 1: one deinterleaving load per row gives
  // columns 0..kT-1, the last two are the first two shifted down a lane with the next tile's in the last lane.
  HWY_ALIGN int32_t next[WinogradConv::kMaxLanes];
  HWY_ALIGN int32_t down[2 * WinogradConv::kMaxLanes];  // down + n: lane l takes lane min(l + n, L - 1)
  for (int64_t i = 0; i < L; ++i) next[i] = static_cast<int32_t>(std::min(i + 1, L - 1));
  for (int64_t i = 0; i < 2 * L; ++i) down[i] = static_cast<int32_t>(std::min(i, L - 1));
  const auto shift = hn::SetTableIndices(d, next);
  const auto not_last = hn::FirstN(d, static_cast<size_t>(L - 1));
  for (int64_t c = c0; c < c1; ++c) {
    const int64_t pc = c / dst.kc * dst.kc, kcl = std::min(dst.kc, g.C - pc);
    const int64_t panel = nr * kcl;  // floats per panel of this K block
    float* const row = dst.data + pc * dst.padded + (c - pc) * nr;
    const bool spill_ok = c + 1 < c1 && c + 1 < pc + kcl;
    ForEachGroup(g, t0, t1, L, [&](int64_t s, int64_t seg_end, int64_t img, int64_t th, int64_t tw) HWY_ATTR {
      const float* p = xpad + ((img * g.C + c) * g.Hp + th * kT - row0) * g.Wp + tw * kT;
      HWY_ALIGN float rows[kIn * kIn * WinogradConv::kMaxLanes];  // B^T applied along each input row
      // The small fixed loops are unrolled explicitly (GCC at -O2 keeps them as loops over stack arrays).
      HWY_UNROLL(6) for (int r = 0; r < kIn; ++r) {
        const float* in = p + r * g.Wp;
        V a[kIn], t[kIn];
        LoadInterleaved<kT>(d, in, a);
        a[kT] = hn::IfThenElse(not_last, hn::TableLookupLanes(a[0], shift), hn::Set(d, in[kT * L]));
        a[kT + 1] = hn::IfThenElse(not_last, hn::TableLookupLanes(a[1], shift), hn::Set(d, in[kT * L + 1]));
        InputT<kT>(a, t);
        HWY_UNROLL(6) for (int k = 0; k < kIn; ++k) hn::Store(t[k], d, rows + (r * kIn + k) * L);
      }
      const int64_t j0 = s - t0, q0 = j0 / nr, off = j0 % nr, valid = std::min(L, seg_end - s);
      float* const out = row + q0 * panel + off;
      // Lanes that fit in panel q0's row (all of them when n1 >= L). Panels narrower than a vector (a GEMM
      // kernel of a lower target than the transforms') take every lane by itself (n1 = 0).
      const int64_t n1 = nr >= L ? nr - off : 0;
      const bool cross = n1 < L, whole = !cross || (spill_ok && n1 > 0);
      const bool second = cross && n1 > 0 && (q0 + 1) * nr < dst.padded && n1 < valid;
      const auto to_next = hn::SetTableIndices(d, down + (cross ? n1 : 0));
      HWY_UNROLL(6) for (int k = 0; k < kIn; ++k) {
        V col[kIn], t[kIn];
        HWY_UNROLL(6) for (int r = 0; r < kIn; ++r) col[r] = hn::Load(d, rows + (r * kIn + k) * L);
        InputT<kT>(col, t);
        HWY_UNROLL(6) for (int i = 0; i < kIn; ++i) {
          float* o = out + (i * kIn + k) * dst.stride;
          if (HWY_LIKELY(whole)) {
            hn::StoreU(t[i], d, o);
          } else if (n1 > 0) {
            HWY_ALIGN float lanes[WinogradConv::kMaxLanes];
            hn::Store(t[i], d, lanes);
            for (int64_t l = 0; l < n1; ++l) o[l] = lanes[l];
          } else {
            HWY_ALIGN float lanes[WinogradConv::kMaxLanes];
            hn::Store(t[i], d, lanes);
            float* base = o - off - q0 * panel;
            for (int64_t l = 0; l < valid; ++l) base[(j0 + l) / nr * panel + (j0 + l) % nr] = lanes[l];
          }
          if (second) hn::StoreU(hn::TableLookupLanes(t[i], to_next), d, o - off + panel);
        }
      }
    });
  }
}

// dst[0, n) = src[0, n) for the n <= kT * L floats of a partial group, touching nothing outside either range
// (another thread may be writing the output columns next to them). A variable-length memcpy here was a
// library call per partial group (squeezenet's tile rows of 14, 7 and 4 tiles end in one); GCC also turns a
// plain loop of vector copies back into that call, so the kT copies are unrolled, each under its condition.
// (Whole vectors plus a scalar tail, which avoids the overlapping load's failed store forwarding from the
// group buffer, measured 2-5% slower on the squeezenet layers.)
template <int kT>
HWY_INLINE void CopyShort(D d, const float* src, int64_t n, float* dst) {
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  if (n < L) {
    for (int64_t j = 0; j < n; ++j) dst[j] = src[j];
    return;
  }
  const int64_t full = n / L;
  HWY_UNROLL(4) for (int j = 0; j < kT; ++j) {
    if (j < full) hn::StoreU(hn::LoadU(d, src + j * L), d, dst + j * L);
  }
  if (full * L < n) hn::StoreU(hn::LoadU(d, src + n - L), d, dst + n - L);  // overlaps lanes already copied
}

// y = act(A^T Mo A + bias + residual) for output channels [m0, m1) of the block [t0, t1).
template <int kT, ActKind kKind>
void OutputTransformK(const Geometry& g, const float* mo, int64_t t0, int64_t t1, int64_t m0, int64_t m1,
                      const float* bias, const float* residual, const Activation& act, float* y) {
  constexpr int kIn = kT + 2;
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  const int64_t plane = g.OH * g.OW;
  for (int64_t m = m0; m < m1; ++m) {
    const V b = hn::Set(d, bias ? bias[m] : 0.0f);
    ForEachGroup(g, t0, t1, L, [&](int64_t s, int64_t seg_end, int64_t img, int64_t th, int64_t tw) HWY_ATTR {
      const float* in = mo + m * g.row + (s - t0);
      HWY_ALIGN float cols[kT * kIn * WinogradConv::kMaxLanes];  // A^T applied down each column
      HWY_UNROLL(6) for (int k = 0; k < kIn; ++k) {
        V col[kIn], o[kT];
        HWY_UNROLL(6) for (int r = 0; r < kIn; ++r) col[r] = hn::LoadU(d, in + (r * kIn + k) * g.ld);
        OutputT<kT>(col, o);
        HWY_UNROLL(4) for (int i = 0; i < kT; ++i) hn::Store(o[i], d, cols + (i * kIn + k) * L);
      }
      const int64_t oh0 = th * kT, ow0 = tw * kT;
      const int64_t valid_cols = std::min(kT * std::min(L, seg_end - s), g.OW - ow0);
      const bool full = valid_cols == kT * L;
      const int64_t out_offset = (img * g.M + m) * plane;
      for (int64_t i = 0; i < kT && oh0 + i < g.OH; ++i) {
        V row[kIn], o[kT];
        HWY_UNROLL(6) for (int k = 0; k < kIn; ++k) row[k] = hn::Load(d, cols + (i * kIn + k) * L);
        OutputT<kT>(row, o);
        const int64_t at = out_offset + (oh0 + i) * g.OW + ow0;
        // Partial groups go through a buffer so that they run the same arithmetic as full ones.
        HWY_ALIGN float buf[kT * WinogradConv::kMaxLanes];
        if (residual) {
          const float* z = residual + at;
          if (!full) {
            HWY_UNROLL(4) for (int j = 0; j < kT; ++j) hn::Store(hn::Zero(d), d, buf + j * L);
            CopyShort<kT>(d, z, valid_cols, buf);
            z = buf;
          }
          V r[kT];
          LoadInterleaved<kT>(d, z, r);
          HWY_UNROLL(4) for (int j = 0; j < kT; ++j) o[j] = hn::Add(hn::Add(o[j], b), r[j]);
        } else {
          HWY_UNROLL(4) for (int j = 0; j < kT; ++j) o[j] = hn::Add(o[j], b);
        }
        HWY_UNROLL(4) for (int j = 0; j < kT; ++j) o[j] = VecActivateK<kKind>(d, o[j], act.alpha, act.beta);
        if (full) {
          StoreInterleaved<kT>(d, o, y + at);
        } else {
          StoreInterleaved<kT>(d, o, buf);
          CopyShort<kT>(d, buf, valid_cols, y + at);
        }
      }
    });
  }
}

void InputTransform(const Geometry& g, const float* xpad, int64_t row0, int64_t t0, int64_t t1, int64_t c0,
                    int64_t c1, const WinogradConv::Panels& dst) {
  if (g.tile == 4) return InputTransformT<4>(g, xpad, row0, t0, t1, c0, c1, dst);
  InputTransformT<2>(g, xpad, row0, t0, t1, c0, c1, dst);
}

void OutputTransform(const Geometry& g, const float* mo, int64_t t0, int64_t t1, int64_t m0, int64_t m1,
                     const float* bias, const float* residual, const Activation& act, float* y) {
  DispatchActKind(act.kind, [&](auto k) HWY_ATTR {
    if (g.tile == 4) {
      OutputTransformK<4, decltype(k)::value>(g, mo, t0, t1, m0, m1, bias, residual, act, y);
    } else {
      OutputTransformK<2, decltype(k)::value>(g, mo, t0, t1, m0, m1, bias, residual, act, y);
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(InputTransform);
HWY_EXPORT(OutputTransform);

namespace {

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
int64_t ceil_div(int64_t x, int64_t m) { return (x + m - 1) / m; }

// Output channels per GEMM + output transform pass (rounded up to the GEMM's row tile). See docs/performance.md.
// Each pass reads the block's whole V (C x 36 points x its tiles) again, so layers of several blocks, whose passes
// all run on one thread, take larger chunks: for resnet18's 28x28 layers (C = 128, 2 blocks) V is 1.2 MB and 5
// passes of 24 read it from L3 five times; 2 passes of 96 made those layers 0.9x the time at 1 thread, 0.83-0.95x
// at 2, squeezenet's 27x27 expand convs 0.92x at 1 (bench --profile, 3 interleaved rounds). A single block keeps
// 24 at one thread; with several, one pass per thread (M / threads), each of which then reads V once: resnet18's
// 14x14 layers (C = M = 256, one block of 16 tiles) 0.92-0.94x at 2 threads (24: 11 passes, 5-6 per thread;
// 64 was 1.05-1.17x, 96 1.05-1.13x, 128 at one thread 1.02-1.04x).
constexpr int64_t kDefaultChunk = 24;
constexpr int64_t kMultiBlockChunk = 96;

// G ((tile + 2) x 3) of F(4, 3) and F(2, 3).
constexpr double kG4[6][3] = {{1.0 / 4, 0, 0},
                              {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                              {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                              {1.0 / 24, 1.0 / 12, 1.0 / 6},
                              {1.0 / 24, -1.0 / 12, 1.0 / 6},
                              {0, 0, 1}};
constexpr double kG2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

// Copies padded rows [row0, row0 + rows) of input planes [p0, p1) of the flattened (n, c) range into the
// zero-padded layout of g at xpad, planes rows * Wp floats apart.
void pad_planes(const Conv2dParams& p, const WinogradConv::Geometry& g, const float* x, float* xpad, int64_t p0,
                int64_t p1, int64_t row0, int64_t rows) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    pad_plane_rows(x + pl * p.H * p.W, p.H, p.W, p.pad_top, p.pad_left, g.Wp, row0, rows, xpad + pl * rows * g.Wp);
  }
}

}  // namespace

bool winograd_applicable(const Conv2dParams& p) {
  return p.group == 1 && p.kh == 3 && p.kw == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 &&
         p.dilation_w == 1 && p.N > 0 && p.C > 0 && p.M > 0 && p.OH > 0 && p.OW > 0 && p.pad_top >= 0 &&
         p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0;
}

int winograd_preferred_tile(const Conv2dParams& p) {
  if (!winograd_applicable(p) || p.C < 8 || p.M < 8) return 0;
  // Pads beyond 2 would pad planes far larger than the input for nothing: leave such layers to im2col.
  if (std::max({p.pad_top, p.pad_left, p.pad_bottom, p.pad_right}) > 2) return 0;
  // Crossover measured with bench/conv_bench (conv_winograd vs conv_gemm implicit, AVX2, one thread, see
  // docs/performance.md): F(4x4) wins from 8 channels in and out (C = M = 8 on 64x64: 2x) as long as there are
  // >= 16 tiles (13x13 and 14x14 planes: 1.5-1.8x); with 4 tiles (7x7, 8x8 planes) it loses 1.5x (GEMMs 4
  // columns wide, 7x7 padded to 8x8, 4x the weight bytes read for little work). F(2x2) wins there instead
  // (7x7 with 256 / 512 channels, 8x8 with 64: 1.6-1.8x).
  // The padded planes carry a vector of tiles of slack per row: on very narrow images that would be many times
  // the input (a [4096, 3] plane pads to ~24x), so those stay on im2col.
  auto fits = [&](int64_t t) {
    const int64_t hp = t * ceil_div(p.OH, t) + 2, wp = t * ceil_div(p.OW, t) + t * WinogradConv::kMaxLanes + 2;
    return hp * wp <= 4 * p.H * p.W + 4096;
  };
  if (winograd_tiles(p, 4) >= 16) return fits(4) ? 4 : 0;
  // F(2x2) only while its transformed weights (16 C M floats) fit in L2: that crossover was measured on one layer
  // run over and over, its weights in cache. Inside a model they come from memory each run, and at 4-16 tiles a
  // weight byte meets a quarter to a third of the columns it meets in the direct GEMM: resnet18's 7x7 stage
  // (C = M = 512, 16.8 MB of transformed weights per layer) made the model 4-5% slower at 1 and 2 threads than
  // im2col (20.56 vs 19.70 ms, 14.63 vs 13.92 ms; 4 interleaved rounds).
  const bool u_in_l2 = 16 * p.C * p.M * static_cast<int64_t>(sizeof(float)) <= (int64_t{1} << 20);
  return winograd_tiles(p, 2) >= 16 && p.C >= 16 && p.M >= 16 && u_in_l2 && fits(2) ? 2 : 0;
}

WinogradConv::WinogradConv(const Conv2dParams& p, const float* w, int tile, int64_t tile_block, int64_t chunk,
                           int threads)
    : p_(p) {
  if (!winograd_applicable(p)) throw std::invalid_argument("WinogradConv: not a 3x3 stride-1 dense convolution");
  if (tile != 2 && tile != 4) throw std::invalid_argument("WinogradConv: tile must be 2 or 4");
  const int64_t in = tile + 2;
  points_ = in * in;
  Geometry& g = g_;
  g.tile = tile;
  g.N = p.N, g.C = p.C, g.M = p.M, g.OH = p.OH, g.OW = p.OW;
  g.TH = ceil_div(p.OH, tile), g.TW = ceil_div(p.OW, tile);
  // Tile th reads padded rows [t th, t th + t + 2) (t = tile); a group starting at tile tw reads columns
  // [t tw, t tw + t L + 2). The input always fits: H + pad_top = OH + 2 - pad_bottom <= t TH + 2 (likewise W).
  g.Hp = tile * g.TH + 2;
  g.Wp = tile * g.TW + tile * kMaxLanes + 2;
  g.tiles = p.N * g.TH * g.TW;
  if (tile_block <= 0) {
    // V and Mo of one block (points * (C + M) floats per tile) within ~768 KiB, so they stay in L2 from the input
    // transform through the GEMMs to the output transform; at least 32 tiles so the GEMMs' N is not too thin.
    const int64_t per_tile = points_ * (p.C + p.M) * static_cast<int64_t>(sizeof(float));
    tile_block = std::max<int64_t>(32, (768 << 10) / per_tile / 16 * 16);
    // Then even out the blocks (an even count, multiples of 8 tiles, a GEMM half-panel): slots claim whole
    // blocks, so 196 tiles as 64+64+64+4 left 2 threads 128 vs 68 tiles; 56+56+56+28 gives 112 vs 84 at the
    // same GEMM panel count. Fixed here, so the thread count still does not change the blocks.
    int64_t blocks = ceil_div(p.N * g.TH * g.TW, tile_block);
    if (blocks > 1) {
      blocks += blocks % 2;
      tile_block = round_up(ceil_div(p.N * g.TH * g.TW, blocks), 8);
    }
  }
  g.block = std::min(tile_block, g.tiles);
  g.ld = round_up(g.block + kMaxLanes, 16);
  // Mo is channel-major ([M][points][ld]): the points*ld floats the output transform reads per channel are
  // contiguous (one prefetchable stream instead of `points` streams 4 KiB-multiples apart, which also shared L1
  // sets); each point's GEMM result is then a matrix of row stride g.row.
  g.row = points_ * g.ld;

  // U[xi] = (G g G^T)[xi] as points_ [M, C] matrices, computed in double.
  const double(*G)[3] = tile == 4 ? kG4 : kG2;
  std::vector<float> u(static_cast<size_t>(points_ * p.M * p.C));
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t c = 0; c < p.C; ++c) {
      const float* k = w + (m * p.C + c) * 9;
      double gk[6][3];  // G g
      for (int64_t i = 0; i < in; ++i) {
        for (int j = 0; j < 3; ++j) gk[i][j] = G[i][0] * k[j] + G[i][1] * k[3 + j] + G[i][2] * k[6 + j];
      }
      for (int64_t i = 0; i < in; ++i) {
        for (int64_t j = 0; j < in; ++j) {
          const double x = gk[i][0] * G[j][0] + gk[i][1] * G[j][1] + gk[i][2] * G[j][2];
          u[static_cast<size_t>(((i * in + j) * p.M + m) * p.C + c)] = static_cast<float>(x);
        }
      }
    }
  }
  // Blocks in flight at once when the pool has threads to spare (scratch for each): at most one per core.
  slots_ = std::max<int64_t>(1, std::min<int64_t>(ceil_div(g.tiles, g.block), physical_core_count()));
  // The GEMMs of a chunk of output channels are followed at once by its output transform, so the chunk's Mo is
  // read back from L1/L2 rather than after the whole block's GEMMs have pushed it out.
  const GemmTileShape shape = gemm_tile_shape();  // the kernel the pack_a calls below pack for
  const bool one_block = ceil_div(g.tiles, g.block) == 1;
  const int64_t default_chunk = !one_block ? kMultiBlockChunk
                                : threads >= 2 ? std::max(kDefaultChunk, ceil_div(p.M, threads))
                                               : kDefaultChunk;
  chunk_ = std::min(p.M, round_up(chunk > 0 ? chunk : default_chunk, shape.mr));
  u_.reserve(static_cast<size_t>(ceil_div(p.M, chunk_) * points_));
  for (int64_t m0 = 0; m0 < p.M; m0 += chunk_) {
    const int64_t rows = std::min(chunk_, p.M - m0);
    for (int64_t xi = 0; xi < points_; ++xi) {
      u_.push_back(pack_a(false, rows, p.C, u.data() + (xi * p.M + m0) * p.C, p.C));
    }
  }
  nr_ = shape.nr, kc_ = shape.kc;
  vp_stride_ = round_up(p.C * round_up(g.block, shape.nr) + 16, 16);
}

namespace {
// The padded rows the input transform of block b reads (one image: tiles in row-major order), [first, first + count).
std::pair<int64_t, int64_t> block_rows(const WinogradConv::Geometry& g, int64_t b) {
  const int64_t t0 = b * g.block, t1 = std::min(g.tiles, t0 + g.block);
  const int64_t th0 = t0 / g.TW, th1 = (t1 - 1) / g.TW;
  return {th0 * g.tile, (th1 - th0 + 1) * g.tile + 2};
}

// With several slots on one image, each slot pads the rows of its own block into its own buffer: when the whole
// padded input was built first, split by planes between the threads, every block's input transform read rows
// the other core had written (and the next run's padding overwrote rows the other core had read). Two threads
// then took as long as one on squeezenet's 55x55 layer (edgeforge_conv_bench, C:16/HW:55/M:64).
bool private_rows(const WinogradConv::Geometry& g, int64_t slots) { return g.N == 1 && slots > 1; }

// Scratch: the padded input (or, with private rows, nothing), then per slot (a block in flight) its V (in GEMM
// panels), Mo and, with private rows, its block's padded rows.
struct ScratchLayout {
  int64_t vp, mo;  // float offsets of slot 0's V and Mo, 64-byte aligned
  int64_t rows;    // float offset of slot 0's padded rows (with private rows)
  int64_t slot;    // floats per slot
  int64_t total;
};
ScratchLayout layout(const WinogradConv::Geometry& g, int64_t points, int64_t vp_stride, int64_t slots) {
  ScratchLayout s;
  const bool own = private_rows(g, slots);
  int64_t max_rows = 0;
  for (int64_t b = 0; own && b * g.block < g.tiles; ++b) max_rows = std::max(max_rows, block_rows(g, b).second);
  s.vp = own ? 0 : round_up(g.N * g.C * g.Hp * g.Wp, 16);
  s.mo = s.vp + points * vp_stride;
  s.rows = s.mo + round_up(g.M * g.row, 16);
  s.slot = s.rows - s.vp + round_up(g.C * max_rows * g.Wp, 16);
  s.total = s.vp + slots * s.slot;
  return s;
}
}  // namespace

uint64_t WinogradConv::scratch_bytes() const {
  return static_cast<uint64_t>(layout(g_, points_, vp_stride_, slots_).total) * sizeof(float);
}

void WinogradConv::run_block(int64_t t0, float* vp, float* mo, const float* xpad, int64_t row0, int64_t hp,
                             const float* bias, const float* residual, const Activation& act, float* y,
                             ThreadPool& pool) const {
  const Geometry& g = g_;
  Geometry in = g;  // the padded rows the input transform reads
  in.Hp = hp;
  const int64_t t1 = std::min(g.tiles, t0 + g.block), nt = t1 - t0;
  const Panels panels{vp, vp_stride_, nr_, kc_, round_up(nt, nr_)};
  pool.parallel_for(g.C, 1, [&](int64_t c0, int64_t c1) {
    // The last panel's columns past the block are multiplied but never stored: zero them so that no stale
    // scratch (NaN, subnormals) goes through the FMAs. Before the transform, whose spare lanes may land there.
    const int64_t last = (nt - 1) / nr_ * nr_, tail = panels.padded - nt;
    for (int64_t c = c0; tail > 0 && c < c1; ++c) {
      const int64_t pc = c / kc_ * kc_, kcl = std::min(kc_, g.C - pc);
      for (int64_t xi = 0; xi < points_; ++xi) {
        float* row = vp + xi * vp_stride_ + pc * panels.padded + last * kcl + (c - pc) * nr_;
        std::fill(row + nt - last, row + nr_, 0.0f);
      }
    }
    HWY_DYNAMIC_DISPATCH(InputTransform)(in, xpad, row0, t0, t1, c0, c1, panels);
  });
  const int64_t chunks = ceil_div(g.M, chunk_);
  pool.parallel_for(chunks, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t m0 = k * chunk_, m1 = std::min(g.M, m0 + chunk_);
      for (int64_t xi = 0; xi < points_; ++xi) {
        sgemm_packed_a_panels(u_[static_cast<size_t>(k * points_ + xi)], nt, vp + xi * vp_stride_,
                              mo + m0 * g.row + xi * g.ld, g.row, GemmEpilogue{});
      }
      HWY_DYNAMIC_DISPATCH(OutputTransform)(g, mo, t0, t1, m0, m1, bias, residual, act, y);
    }
  });
}

void WinogradConv::run(const float* x, const float* bias, const float* residual, const Activation& act, float* y,
                       void* scratch, ThreadPool& pool) const {
  const Geometry& g = g_;
  const ScratchLayout s = layout(g, points_, vp_stride_, slots_);
  float* base = static_cast<float*>(scratch);
  const int64_t blocks = ceil_div(g.tiles, g.block);
  const int64_t used = std::min<int64_t>({slots_, pool.num_threads(), blocks});
  const bool own_rows = private_rows(g, slots_);
  const int64_t plane_work = std::max<int64_t>(1, g.Hp * g.Wp);
  const int64_t pad_grain = std::max<int64_t>(1, (int64_t{1} << 14) / plane_work);
  if (!own_rows) {
    pool.parallel_for(g.N * g.C, pad_grain,
                      [&](int64_t p0, int64_t p1) { pad_planes(p_, g, x, base, p0, p1, 0, g.Hp); });
  }
  // Block b in slot k's V and Mo; with private rows, after padding its rows into the slot's buffer (in a pool
  // worker the parallel_for runs inline).
  auto run_in_slot = [&](int64_t b, int64_t k) {
    float* vp = base + s.vp + k * s.slot;
    float* mo = base + s.mo + k * s.slot;
    if (!own_rows) return run_block(b * g.block, vp, mo, base, 0, g.Hp, bias, residual, act, y, pool);
    float* rows = base + s.rows + k * s.slot;
    // Plain variables, not a structured binding: clang (the fuzz build) cannot capture those in a lambda.
    const std::pair<int64_t, int64_t> span = block_rows(g, b);
    const int64_t row0 = span.first, count = span.second;
    pool.parallel_for(g.C, pad_grain,
                      [&](int64_t c0, int64_t c1) { pad_planes(p_, g, x, rows, c0, c1, row0, count); });
    run_block(b * g.block, vp, mo, rows, row0, count, bias, residual, act, y, pool);
  };
  if (used <= 1) {
    // One block at a time, each phase split among the threads (three joins per block).
    for (int64_t b = 0; b < blocks; ++b) run_in_slot(b, 0);
    return;
  }
  // Whole blocks per thread, no joins inside: slot k claims the next unclaimed block until none is left and runs
  // it in its own V / Mo (the phases' parallel_for calls run inline there). Claiming instead of a fixed
  // round-robin lets a thread that starts late or is preempted on a shared machine cost one block, not its share.
  // Slot 0 (the pool's calling thread) claims from the first block on, the others from the last one back: each
  // thread then mostly writes the same image rows in every layer, which the next layer's same thread reads from
  // its own cache (see docs/performance.md, two threads). A block's results do not depend on who ran it.
  std::atomic<uint64_t> unclaimed{static_cast<uint64_t>(blocks) << 32};  // first unclaimed (low 32 bits), end (high)
  auto claim = [&](bool from_front) -> int64_t {
    uint64_t u = unclaimed.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t front = static_cast<int64_t>(u & 0xFFFFFFFFu), end = static_cast<int64_t>(u >> 32);
      if (front >= end) return -1;
      const uint64_t next = from_front ? u + 1 : u - (uint64_t{1} << 32);
      if (unclaimed.compare_exchange_weak(u, next, std::memory_order_relaxed)) return from_front ? front : end - 1;
    }
  };
  pool.parallel_for(used, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      for (int64_t b; (b = claim(k == 0)) >= 0;) {
        run_in_slot(b, k);
      }
    }
  });
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
