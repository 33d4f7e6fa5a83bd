// Direct convolution for few input channels (see conv_direct_smallc.h for the algorithm). The register tile is
// 4 output channels x 3 vectors on targets with 16 vector registers (12 accumulators + 3 input vectors + 1
// broadcast weight: per tap 3 loads and 4 broadcasts for 12 FMAs) and 8 x 3 with 32 (3 loads and 8 broadcasts for
// 24 FMAs: the stems 8-20% faster on AVX-512 than with 4 x 3), so it stays FMA-bound, whereas im2col + GEMM first
// writes every tap of every output (K = 27..75 rows) into packed panels and re-reads them.
#include "kernels/cpu/conv_direct_smallc.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/conv_layout.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/conv_direct_smallc.cpp"
// Arrays of accumulator vectors need sized vectors (as in sgemm_kernel.cpp).
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/cpu/activation-inl.h"
#include "kernels/cpu/partial_vec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ef::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr int64_t kPanel = DirectSmallCConv::kBlockM;  // channels per packed weight panel
// Channels per register tile: with 32 vector registers 8 x 3 accumulators fit (3 loads and 8 broadcasts per 24
// FMAs); with 16, 4 x 3 (a panel then takes two tiles).
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || (HWY_ARCH_ARM && HWY_TARGET == HWY_NEON)
constexpr int kMB = 8;
#else
constexpr int kMB = 4;
#endif
static_assert(kPanel % kMB == 0);

// One output row of one channel block.
struct RowArgs {
  const float* in;        // phase rows of this output row's first padded input row
  const int64_t* offset;  // [K] tap offsets from `in`
  int64_t K;
  const float* w;         // [K][kPanel], at the tile's first channel
  const float* bias;      // [kMB]
  const float* residual;  // at (channel m0, this row, column 0), or null
  float* y;               // at (channel m0, this row, column 0)
  int64_t plane;          // channel stride of y and residual
  int mvalid;             // channels of the block that exist (the last block may be partial)
  float alpha, beta;
};

// Output columns [ow, ow + NV * lanes) of the block's channels; of the last vector only the first `valid` lanes
// are stored (the row's last, partial vector; its loads stay inside the phase rows' kMaxLanes slack).
template <ActKind A, int NV>
HWY_INLINE void Tile(DF d, const RowArgs& a, int64_t ow, int64_t valid) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  VF acc[kMB][NV];
  HWY_UNROLL(8) for (int m = 0; m < kMB; ++m) {
    const VF b = hn::Set(d, a.bias[m]);
    HWY_UNROLL(3) for (int v = 0; v < NV; ++v) acc[m][v] = b;
  }
  const float* in = a.in + ow;
  const float* w = a.w;
#pragma GCC unroll 2
  for (int64_t k = 0; k < a.K; ++k, w += kPanel) {
    const float* p = in + a.offset[k];
    VF x[NV];
    HWY_UNROLL(3) for (int v = 0; v < NV; ++v) x[v] = hn::LoadU(d, p + v * n);
    HWY_UNROLL(8) for (int m = 0; m < kMB; ++m) {
      const VF wm = hn::Set(d, w[m]);
      HWY_UNROLL(3) for (int v = 0; v < NV; ++v) acc[m][v] = hn::MulAdd(x[v], wm, acc[m][v]);
    }
  }
  HWY_UNROLL(8) for (int m = 0; m < kMB; ++m) {
    if (m >= a.mvalid) break;
    float* y = a.y + m * a.plane + ow;
    const float* r = a.residual ? a.residual + m * a.plane + ow : nullptr;
    HWY_UNROLL(3) for (int v = 0; v < NV; ++v) {
      VF x = acc[m][v];
      if (v == NV - 1 && valid < n) {
        // Partial vector: the residual's lanes past the row are not readable, the output's not writable.
        // (Masked on x86: the stack-buffer copy GCC made of it was ~10% of squeezenet's stem, 111-wide rows.)
        if (r) x = hn::Add(x, LoadPartial(d, r + v * n, valid));
        StorePartial(VecActivateK<A>(d, x, a.alpha, a.beta), d, y + v * n, valid);
        continue;
      }
      if (r) x = hn::Add(x, hn::LoadU(d, r + v * n));
      hn::StoreU(VecActivateK<A>(d, x, a.alpha, a.beta), d, y + v * n);
    }
  }
}

template <ActKind A>
void Row(const RowArgs& a, int64_t OW) {
  const DF d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  int64_t ow = 0;
  for (; ow + 3 * n <= OW; ow += 3 * n) Tile<A, 3>(d, a, ow, n);
  // Fewer than 3 vectors left: 2-vector tiles keep 8 FMA chains in flight (a 1-vector tile has 4, too few to
  // hide the FMA latency; 112-wide rows end with 16 columns).
  for (; ow + 2 * n <= OW; ow += 2 * n) Tile<A, 2>(d, a, ow, n);
  // Between one and two vectors left (squeezenet's 111-wide rows end with 15 columns): one 2-vector tile with a
  // partial last vector, not two latency-bound 1-vector tiles.
  if (ow + n < OW) return Tile<A, 2>(d, a, ow, OW - ow - n);
  for (; ow + n <= OW; ow += n) Tile<A, 1>(d, a, ow, n);
  if (ow < OW) Tile<A, 1>(d, a, ow, OW - ow);
}

// Output rows [oh0, oh1) of image planes x_t (the phase-split input), all channel blocks, to y and from residual
// (both with channel stride `plane`, output row oh at (oh - row0) * OW: the image's planes, or a band of rows).
void DirectRows(const DirectSmallCConv::Geometry& g, const float* x_t, const float* w, const float* bias,
                const int64_t* offset, const float* residual, const Activation& act, float* y, int64_t plane,
                int64_t row0, int64_t oh0, int64_t oh1) {
  static_assert(hn::MaxLanes(DF()) <= DirectSmallCConv::kMaxLanes);
  const Conv2dParams& p = g.p;
  DispatchActKind(act.kind, [&](auto kind) HWY_ATTR {
    constexpr ActKind A = decltype(kind)::value;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      // Channel blocks inside the row: the row's phase rows (C * kh * S * LP floats, ~16 KiB for a 5x5 stride-2
      // stem on 256 columns) stay in L1 across all blocks.
      for (int64_t t = 0; t < g.blocks * (kPanel / kMB); ++t) {
        const int64_t m0 = t * kMB;
        if (m0 >= p.M) break;
        RowArgs a;
        a.in = x_t + oh * p.stride_h * g.S * g.LP;
        a.offset = offset;
        a.K = g.K;
        a.w = w + (m0 / kPanel) * g.K * kPanel + m0 % kPanel;
        a.bias = bias + m0;
        a.residual = residual ? residual + m0 * plane + (oh - row0) * p.OW : nullptr;
        a.y = y + m0 * plane + (oh - row0) * p.OW;
        a.plane = plane;
        a.mvalid = static_cast<int>(std::min<int64_t>(kMB, p.M - m0));
        a.alpha = act.alpha;
        a.beta = act.beta;
        Row<A>(a, p.OW);
      }
    }
  });
}

// Padded input rows [r0, r1) (flattened over channel and row; rows past the input and columns in the padding are
// zero), each split into S phase rows: phase ph holds padded columns ph, ph + S, ph + 2S, ...
void SplitRows(const DirectSmallCConv::Geometry& g, const float* x_image, int64_t r0, int64_t r1, float* x_t) {
  const Conv2dParams& p = g.p;
  for (int64_t cr = r0; cr < r1; ++cr) {
    const int64_t c = cr / g.HP, r = cr % g.HP;
    const int64_t ih = r - p.pad_top;
    const float* src = ih >= 0 && ih < p.H ? x_image + (c * p.H + ih) * p.W : nullptr;
    for (int64_t ph = 0; ph < g.S; ++ph) {
      float* dst = x_t + (cr * g.S + ph) * g.LP;
      if (src == nullptr) {
        std::fill(dst, dst + g.LP, 0.0f);
        continue;
      }
      // Phase column j is input column j * S + ph - pad_left; [j0, j1) of them are inside the input.
      const int64_t first = p.pad_left - ph;
      const int64_t j0 = std::clamp<int64_t>(first <= 0 ? 0 : (first + g.S - 1) / g.S, 0, g.LP);
      const int64_t last = p.W - 1 + p.pad_left - ph;
      const int64_t j1 = std::clamp<int64_t>(last < 0 ? 0 : last / g.S + 1, j0, g.LP);
      std::fill(dst, dst + j0, 0.0f);
      const int64_t col0 = j0 * g.S + ph - p.pad_left;  // input column of phase column j0
      int64_t j = j0;
      if (g.S == 1) {
        std::memcpy(dst + j0, src + col0, static_cast<size_t>(j1 - j0) * sizeof(float));
        j = j1;
      } else if (g.S == 2) {
#if HWY_TARGET != HWY_SCALAR
        const DF d;
        const int64_t n = static_cast<int64_t>(hn::Lanes(d));
        // Even lanes of two vectors; the pair's last (odd) lane must still be inside the input row.
        for (; j + n <= j1 && col0 + 2 * (j - j0 + n) <= p.W; j += n) {
          const float* s = src + col0 + 2 * (j - j0);
          hn::StoreU(hn::ConcatEven(d, hn::LoadU(d, s + n), hn::LoadU(d, s)), d, dst + j);
        }
#endif
      }
      for (; j < j1; ++j) dst[j] = src[col0 + (j - j0) * g.S];
      std::fill(dst + j1, dst + g.LP, 0.0f);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(DirectRows);
HWY_EXPORT(SplitRows);

bool direct_smallc_applicable(const Conv2dParams& p) {
  using D = DirectSmallCConv;
  return p.group == 1 && p.C >= 1 && p.C <= D::kMaxC && p.M >= 1 && p.kh >= 1 && p.kh <= D::kMaxKernel &&
         p.kw >= 1 && p.kw <= D::kMaxKernel && p.stride_h >= 1 && p.stride_w >= 1 && p.stride_w <= D::kMaxStride &&
         p.dilation_h == 1 && p.dilation_w == 1 && p.OH >= 1 && p.OW >= 1;
}

bool direct_smallc_preferred(const Conv2dParams& p) { return direct_smallc_applicable(p); }

DirectSmallCConv::DirectSmallCConv(const Conv2dParams& p, const float* w, const float* bias) {
  if (!direct_smallc_applicable(p)) throw std::invalid_argument("DirectSmallCConv: unsupported geometry");
  g_.p = p;
  g_.S = p.stride_w;
  g_.HP = (p.OH - 1) * p.stride_h + p.kh;
  g_.LP = p.OW + (p.kw - 1) / g_.S + kMaxLanes;
  g_.K = p.C * p.kh * p.kw;
  g_.blocks = (p.M + kBlockM - 1) / kBlockM;
  pack_channel_panels(w, bias, p.M, g_.K, kBlockM, w_, bias_);
  // Tap (c, i, t) of output column ow reads padded row i, column ow * S + t = (ow + t / S) * S + t % S: phase
  // row t % S at ow + t / S.
  for (int64_t c = 0; c < p.C; ++c) {
    for (int64_t i = 0; i < p.kh; ++i) {
      for (int64_t t = 0; t < p.kw; ++t) {
        offset_.push_back(((c * g_.HP + i) * g_.S + t % g_.S) * g_.LP + t / g_.S);
      }
    }
  }
}

uint64_t DirectSmallCConv::scratch_bytes() const {
  return static_cast<uint64_t>(g_.p.C * g_.HP * g_.S * g_.LP) * sizeof(float);
}

void DirectSmallCConv::run(const float* x, const float* residual, const Activation& act, float* y, void* scratch,
                           ThreadPool& pool) const {
  const Conv2dParams& p = g_.p;
  const int64_t out_image = p.M * p.OH * p.OW;
  // Rows per chunk: enough multiply-adds (~64K) that a chunk is worth waking a thread for.
  const int64_t row_work = std::max<int64_t>(1, p.M * g_.K * p.OW);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / row_work);
  // The lambdas capture `this` and one reference (16 bytes): std::function stores them without a heap allocation.
  struct Image {
    const float* x;
    const float* residual;
    float* y;
    float* x_t;
    const Activation* act;
  } im{nullptr, nullptr, nullptr, static_cast<float*>(scratch), &act};
  for (int64_t n = 0; n < p.N; ++n) {
    im.x = x + n * p.C * p.H * p.W;
    im.residual = residual ? residual + n * out_image : nullptr;
    im.y = y + n * out_image;
    split_input(im.x, im.x_t, pool);
    pool.parallel_for(p.OH, grain, [this, &im](int64_t oh0, int64_t oh1) {
      HWY_DYNAMIC_DISPATCH(DirectRows)(g_, im.x_t, w_.data(), bias_.data(), offset_.data(), im.residual, *im.act,
                                       im.y, g_.p.OH * g_.p.OW, 0, oh0, oh1);
    });
  }
}

void DirectSmallCConv::split_input(const float* x_image, void* scratch, ThreadPool& pool) const {
  // `this` and one reference: std::function keeps captures of up to 16 bytes without a heap allocation.
  const struct {
    const float* x;
    float* x_t;
  } io{x_image, static_cast<float*>(scratch)};
  pool.parallel_for(g_.p.C * g_.HP, 32, [this, &io](int64_t r0, int64_t r1) {
    HWY_DYNAMIC_DISPATCH(SplitRows)(g_, io.x, r0, r1, io.x_t);
  });
}

void DirectSmallCConv::compute_rows(const void* scratch, const Activation& act, int64_t oh0, int64_t oh1,
                                    float* y_rows, int64_t y_plane) const {
  HWY_DYNAMIC_DISPATCH(DirectRows)(g_, static_cast<const float*>(scratch), w_.data(), bias_.data(), offset_.data(),
                                   nullptr, act, y_rows, y_plane, oh0, oh0, oh1);
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
