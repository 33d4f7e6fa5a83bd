// Winograd F(4x4, 3x3): the per-target input / output transforms (vectorized over tiles: lane l of a vector is
// tile t + l of one tile row) and the driver that pads the input, runs the transforms and the 36 packed SGEMMs
// block by block. The input is first copied into zero-padded planes wide enough that every group of tiles reads
// its 6 rows with two deinterleaving loads and no bounds checks; the last group of a tile row computes lanes past
// the row, whose results land in the slack of V or are overwritten by the next group. Depends on winograd.h,
// sgemm.h, activation-inl.h and Highway (compiled once per target by foreach_target.h, picked at run time).
#include "kernels/cpu/winograd.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

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

// B^T d for one 6-vector (points 0, +-1, +-2, inf).
HWY_INLINE void InputT(const V d0, const V d1, const V d2, const V d3, const V d4, const V d5, V* t) {
  const D d;
  const V four = hn::Set(d, 4.0f), five = hn::Set(d, 5.0f), two = hn::Set(d, 2.0f);
  const V s34 = hn::Add(d3, d4), d42 = hn::Sub(d4, d2), d43 = hn::Sub(d4, d3);
  t[0] = hn::Add(hn::NegMulAdd(five, d2, hn::Mul(four, d0)), d4);
  t[1] = hn::NegMulAdd(four, hn::Add(d1, d2), s34);
  t[2] = hn::MulAdd(four, hn::Sub(d1, d2), d43);
  t[3] = hn::MulAdd(two, hn::Sub(d3, d1), d42);
  t[4] = hn::MulAdd(two, hn::Sub(d1, d3), d42);
  t[5] = hn::Add(hn::NegMulAdd(five, d3, hn::Mul(four, d1)), d5);
}

// A^T m for one 6-vector.
HWY_INLINE void OutputT(const V m0, const V m1, const V m2, const V m3, const V m4, const V m5, V* o) {
  const D d;
  const V a = hn::Add(m1, m2), b = hn::Sub(m1, m2), c = hn::Add(m3, m4), e = hn::Sub(m3, m4);
  o[0] = hn::Add(hn::Add(m0, a), c);
  o[1] = hn::MulAdd(hn::Set(d, 2.0f), e, b);
  o[2] = hn::MulAdd(hn::Set(d, 4.0f), c, a);
  o[3] = hn::Add(hn::MulAdd(hn::Set(d, 8.0f), e, b), m5);
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

// V[xi][c][t - t0] for channels [c0, c1) of the block [t0, t1); V's xi stride is g.v_xi, its c stride g.ld.
void InputTransform(const Geometry& g, const float* xpad, int64_t t0, int64_t t1, int64_t c0, int64_t c1,
                    float* v) {
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  // Columns 4 and 5 of tile l are columns 0 and 1 of tile l + 1: one deinterleaving load per row gives columns
  // 0-3, and columns 4-5 are those shifted down a lane with the next tile's first columns in the last lane.
  HWY_ALIGN int32_t next[WinogradConv::kMaxLanes];
  for (int64_t i = 0; i < L; ++i) next[i] = static_cast<int32_t>(std::min(i + 1, L - 1));
  const auto shift = hn::SetTableIndices(d, next);
  const auto not_last = hn::FirstN(d, static_cast<size_t>(L - 1));
  for (int64_t c = c0; c < c1; ++c) {
    ForEachGroup(g, t0, t1, L, [&](int64_t s, int64_t, int64_t img, int64_t th, int64_t tw) HWY_ATTR {
      const float* p = xpad + ((img * g.C + c) * g.Hp + th * 4) * g.Wp + tw * 4;
      HWY_ALIGN float rows[36 * WinogradConv::kMaxLanes];  // B^T applied along each of the 6 input rows
      for (int64_t r = 0; r < 6; ++r) {
        const float* row = p + r * g.Wp;
        V a0, a1, a2, a3;
        hn::LoadInterleaved4(d, row, a0, a1, a2, a3);
        const V a4 = hn::IfThenElse(not_last, hn::TableLookupLanes(a0, shift), hn::Set(d, row[4 * L]));
        const V a5 = hn::IfThenElse(not_last, hn::TableLookupLanes(a1, shift), hn::Set(d, row[4 * L + 1]));
        V t[6];
        InputT(a0, a1, a2, a3, a4, a5, t);
        for (int k = 0; k < 6; ++k) hn::Store(t[k], d, rows + (r * 6 + k) * L);
      }
      float* out = v + c * g.ld + (s - t0);
      for (int64_t k = 0; k < 6; ++k) {
        V t[6];
        InputT(hn::Load(d, rows + k * L), hn::Load(d, rows + (6 + k) * L), hn::Load(d, rows + (12 + k) * L),
               hn::Load(d, rows + (18 + k) * L), hn::Load(d, rows + (24 + k) * L), hn::Load(d, rows + (30 + k) * L),
               t);
        for (int64_t i = 0; i < 6; ++i) hn::StoreU(t[i], d, out + (i * 6 + k) * g.v_xi);
      }
    });
  }
}

// y = act(A^T Mo A + bias + residual) for output channels [m0, m1) of the block [t0, t1).
template <ActKind kKind>
void OutputTransformK(const Geometry& g, const float* mo, int64_t t0, int64_t t1, int64_t m0, int64_t m1,
                      const float* bias, const float* residual, const Activation& act, float* y) {
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  const int64_t xi_stride = g.mo_xi, plane = g.OH * g.OW;
  for (int64_t m = m0; m < m1; ++m) {
    const V b = hn::Set(d, bias ? bias[m] : 0.0f);
    ForEachGroup(g, t0, t1, L, [&](int64_t s, int64_t seg_end, int64_t img, int64_t th, int64_t tw) HWY_ATTR {
      const float* in = mo + m * g.ld + (s - t0);
      HWY_ALIGN float cols[24 * WinogradConv::kMaxLanes];  // A^T applied down each of the 6 columns
      for (int64_t k = 0; k < 6; ++k) {
        V o[4];
        OutputT(hn::LoadU(d, in + k * xi_stride), hn::LoadU(d, in + (6 + k) * xi_stride),
                hn::LoadU(d, in + (12 + k) * xi_stride), hn::LoadU(d, in + (18 + k) * xi_stride),
                hn::LoadU(d, in + (24 + k) * xi_stride), hn::LoadU(d, in + (30 + k) * xi_stride), o);
        for (int64_t i = 0; i < 4; ++i) hn::Store(o[i], d, cols + (i * 6 + k) * L);
      }
      const int64_t oh0 = th * 4, ow0 = tw * 4;
      const int64_t valid_cols = std::min(4 * std::min(L, seg_end - s), g.OW - ow0);
      const bool full = valid_cols == 4 * L;
      const int64_t out_offset = (img * g.M + m) * plane;
      for (int64_t i = 0; i < 4 && oh0 + i < g.OH; ++i) {
        const float* c = cols + i * 6 * L;
        V o[4];
        OutputT(hn::Load(d, c), hn::Load(d, c + L), hn::Load(d, c + 2 * L), hn::Load(d, c + 3 * L),
                hn::Load(d, c + 4 * L), hn::Load(d, c + 5 * L), o);
        const int64_t row = out_offset + (oh0 + i) * g.OW + ow0;
        // Partial groups go through a buffer so that they run the same arithmetic as full ones.
        HWY_ALIGN float buf[4 * WinogradConv::kMaxLanes];
        if (residual) {
          V r0, r1, r2, r3;
          const float* z = residual + row;
          if (!full) {
            std::memcpy(buf, z, static_cast<size_t>(valid_cols) * sizeof(float));
            std::fill(buf + valid_cols, buf + 4 * L, 0.0f);
            z = buf;
          }
          hn::LoadInterleaved4(d, z, r0, r1, r2, r3);
          o[0] = hn::Add(hn::Add(o[0], b), r0);
          o[1] = hn::Add(hn::Add(o[1], b), r1);
          o[2] = hn::Add(hn::Add(o[2], b), r2);
          o[3] = hn::Add(hn::Add(o[3], b), r3);
        } else {
          for (V& x : o) x = hn::Add(x, b);
        }
        for (V& x : o) x = VecActivateK<kKind>(d, x, act.alpha, act.beta);
        if (full) {
          hn::StoreInterleaved4(o[0], o[1], o[2], o[3], d, y + row);
        } else {
          hn::StoreInterleaved4(o[0], o[1], o[2], o[3], d, buf);
          std::memcpy(y + row, buf, static_cast<size_t>(valid_cols) * sizeof(float));
        }
      }
    });
  }
}

void OutputTransform(const Geometry& g, const float* mo, int64_t t0, int64_t t1, int64_t m0, int64_t m1,
                     const float* bias, const float* residual, const Activation& act, float* y) {
  DispatchActKind(act.kind, [&](auto k) HWY_ATTR {
    OutputTransformK<decltype(k)::value>(g, mo, t0, t1, m0, m1, bias, residual, act, y);
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

// G (6x3) of F(4, 3).
constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                             {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                             {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                             {1.0 / 24, 1.0 / 12, 1.0 / 6},
                             {1.0 / 24, -1.0 / 12, 1.0 / 6},
                             {0, 0, 1}};

// Copies input planes [p0, p1) of the flattened (n, c) range into the zero-padded layout of g.
void pad_planes(const Conv2dParams& p, const WinogradConv::Geometry& g, const float* x, float* xpad, int64_t p0,
                int64_t p1) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* src = x + pl * p.H * p.W;
    float* dst = xpad + pl * g.Hp * g.Wp;
    for (int64_t r = 0; r < g.Hp; ++r, dst += g.Wp) {
      const int64_t ih = r - p.pad_top;
      if (ih < 0 || ih >= p.H) {
        std::fill(dst, dst + g.Wp, 0.0f);
        continue;
      }
      std::fill(dst, dst + p.pad_left, 0.0f);
      std::memcpy(dst + p.pad_left, src + ih * p.W, static_cast<size_t>(p.W) * sizeof(float));
      std::fill(dst + p.pad_left + p.W, dst + g.Wp, 0.0f);
    }
  }
}

}  // namespace

bool winograd_applicable(const Conv2dParams& p) {
  return p.group == 1 && p.kh == 3 && p.kw == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 &&
         p.dilation_w == 1 && p.N > 0 && p.C > 0 && p.M > 0 && p.OH > 0 && p.OW > 0 && p.pad_top >= 0 &&
         p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0;
}

bool winograd_preferred(const Conv2dParams& p) {
  if (!winograd_applicable(p)) return false;
  // Pads beyond 2 would pad planes far larger than the input for nothing: leave such layers to im2col.
  if (std::max({p.pad_top, p.pad_left, p.pad_bottom, p.pad_right}) > 2) return false;
  // Crossover measured with bench/conv_bench (conv_winograd vs conv_gemm implicit, AVX2, one thread): Winograd
  // wins from 8 channels in and out (C = M = 8 on 64x64: 2x) as long as there are >= 16 tiles (13x13 and 14x14
  // planes: 1.5-1.8x); with 4 tiles (7x7, 8x8 planes) it loses 1.5x: the GEMMs are 4 columns wide, 7x7 pads to
  // 8x8, and the 4x larger transformed weights are read for little work.
  const int64_t tiles = p.N * ((p.OH + 3) / 4) * ((p.OW + 3) / 4);
  return p.C >= 8 && p.M >= 8 && tiles >= 16;
}

WinogradConv::WinogradConv(const Conv2dParams& p, const float* w, int64_t tile_block) : p_(p) {
  if (!winograd_applicable(p)) throw std::invalid_argument("WinogradConv: not a 3x3 stride-1 dense convolution");
  Geometry& g = g_;
  g.N = p.N, g.C = p.C, g.M = p.M, g.OH = p.OH, g.OW = p.OW;
  g.TH = ceil_div(p.OH, 4), g.TW = ceil_div(p.OW, 4);
  // Tile th reads padded rows [4 th, 4 th + 6); a group starting at tile tw reads columns [4 tw, 4 tw + 4 L + 2).
  // The input rows and columns always fit: H + pad_top = OH + 2 - pad_bottom <= 4 TH + 2 (likewise W).
  g.Hp = 4 * g.TH + 2;
  g.Wp = 4 * g.TW + 4 * kMaxLanes;
  g.tiles = p.N * g.TH * g.TW;
  if (tile_block <= 0) {
    // V and Mo of one block (36 * (C + M) floats per tile) within ~768 KiB, so they stay in L2 from the input
    // transform through the GEMMs to the output transform; at least 32 tiles so the GEMMs' N is not too thin.
    const int64_t per_tile = 36 * (p.C + p.M) * static_cast<int64_t>(sizeof(float));
    tile_block = std::max<int64_t>(32, (768 << 10) / per_tile / 16 * 16);
  }
  g.block = std::min(tile_block, g.tiles);
  g.ld = round_up(g.block + kMaxLanes, 16);
  // 64 bytes between the 36 matrices: strides that are multiples of 4 KiB would put the 36 rows a transform
  // touches per group in one L1 set.
  g.v_xi = round_up(p.C * g.ld, 16) + 16;
  g.mo_xi = round_up(p.M * g.ld, 16) + 16;

  // U[xi] = (G g G^T)[xi] as 36 [M, C] matrices, computed in double.
  std::vector<float> u(static_cast<size_t>(36 * p.M * p.C));
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t c = 0; c < p.C; ++c) {
      const float* k = w + (m * p.C + c) * 9;
      double gk[6][3];  // G g
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 3; ++j) {
          gk[i][j] = kG[i][0] * k[j] + kG[i][1] * k[3 + j] + kG[i][2] * k[6 + j];
        }
      }
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) {
          const double x = gk[i][0] * kG[j][0] + gk[i][1] * kG[j][1] + gk[i][2] * kG[j][2];
          u[static_cast<size_t>(((i * 6 + j) * p.M + m) * p.C + c)] = static_cast<float>(x);
        }
      }
    }
  }
  u_.reserve(36);
  for (int64_t xi = 0; xi < 36; ++xi) u_.push_back(pack_a(false, p.M, p.C, u.data() + xi * p.M * p.C, p.C));
}

namespace {
struct ScratchLayout {
  int64_t pad, v, mo;  // float offsets, each 64-byte aligned
  int64_t total;
};
ScratchLayout layout(const WinogradConv::Geometry& g) {
  ScratchLayout s;
  s.pad = 0;
  s.v = round_up(g.N * g.C * g.Hp * g.Wp, 16);
  s.mo = s.v + 36 * g.v_xi;
  s.total = s.mo + 36 * g.mo_xi;
  return s;
}
}  // namespace

uint64_t WinogradConv::scratch_bytes() const { return static_cast<uint64_t>(layout(g_).total) * sizeof(float); }

void WinogradConv::run(const float* x, const float* bias, const float* residual, const Activation& act, float* y,
                       void* scratch, ThreadPool& pool) const {
  const Geometry& g = g_;
  const ScratchLayout s = layout(g);
  float* base = static_cast<float*>(scratch);
  float* xpad = base + s.pad;
  float* v = base + s.v;
  float* mo = base + s.mo;
  const int64_t plane_work = std::max<int64_t>(1, g.Hp * g.Wp);
  pool.parallel_for(g.N * g.C, std::max<int64_t>(1, (int64_t{1} << 14) / plane_work),
                    [&](int64_t p0, int64_t p1) { pad_planes(p_, g, x, xpad, p0, p1); });
  for (int64_t t0 = 0; t0 < g.tiles; t0 += g.block) {
    const int64_t t1 = std::min(g.tiles, t0 + g.block), nt = t1 - t0;
    pool.parallel_for(g.C, 1, [&](int64_t c0, int64_t c1) {
      HWY_DYNAMIC_DISPATCH(InputTransform)(g, xpad, t0, t1, c0, c1, v);
    });
    // One GEMM per transform point; a nested parallel_for (inside sgemm) runs inline, so each GEMM is one thread's.
    pool.parallel_for(36, 1, [&](int64_t x0, int64_t x1) {
      for (int64_t xi = x0; xi < x1; ++xi) {
        sgemm_packed_a(u_[static_cast<size_t>(xi)], nt, false, v + xi * g.v_xi, g.ld, mo + xi * g.mo_xi, g.ld,
                       GemmEpilogue{}, pool);
      }
    });
    pool.parallel_for(g.M, 1, [&](int64_t m0, int64_t m1) {
      HWY_DYNAMIC_DISPATCH(OutputTransform)(g, mo, t0, t1, m0, m1, bias, residual, act, y);
    });
  }
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
