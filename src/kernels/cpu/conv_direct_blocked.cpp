// Direct convolution with output channels in the vector lanes (see conv_direct_blocked.h for the algorithm). The
// register tile is kMV vectors of output channels x NP <= kTileP positions: 4 x 6 on targets with 32 vector
// registers (24 accumulators, 4 weight vectors, 1 broadcast: per tap 4 loads and 6 broadcasts for 24 FMAs), 2 x 6
// with 16. A weight block of kBlockM channels takes kBlockM / (kMV lanes) such tiles.
#include "kernels/cpu/conv_direct_blocked.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

#include "kernels/cpu/conv_layout.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/conv_direct_blocked.cpp"
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
using Geometry = DirectBlockedConv::Geometry;
constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(DF()));
constexpr int64_t kBlockM = DirectBlockedConv::kBlockM;
constexpr int kNP = static_cast<int>(DirectBlockedConv::kTileP);
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || (HWY_ARCH_ARM && HWY_TARGET == HWY_NEON)
constexpr int kMV = 4;
#else
constexpr int kMV = 2;
#endif
constexpr int64_t kSubM = std::min<int64_t>(kBlockM, kMV * kLanes);  // output channels per register tile
constexpr int kV = static_cast<int>(kSubM / kLanes);                 // channel vectors per register tile
static_assert(kBlockM % kSubM == 0);

// acc[p][0, kSubM) (rows Mp apart) = (kInit ? bias : acc) + the taps of `channels` input channels (planes cs
// apart from x) for NP positions (offsets pos[0, NP)); w at the first channel's first tap, kBlockM floats per tap.
template <int NP, bool kInit>
HWY_NOINLINE void Tile(DF d, const float* HWY_RESTRICT x, int64_t cs, int64_t channels, const int64_t* HWY_RESTRICT pos,
                       const int64_t* HWY_RESTRICT tap, int64_t taps, const float* HWY_RESTRICT w,
                       const float* HWY_RESTRICT bias, float* HWY_RESTRICT acc, int64_t Mp) {
  VF a[kV][NP];
  HWY_UNROLL(4) for (int v = 0; v < kV; ++v) {
    HWY_UNROLL(6) for (int p = 0; p < NP; ++p) {
      a[v][p] = kInit ? hn::LoadU(d, bias + v * kLanes) : hn::LoadU(d, acc + p * Mp + v * kLanes);
    }
  }
  int64_t o[NP];
  HWY_UNROLL(6) for (int p = 0; p < NP; ++p) o[p] = pos[p];
  for (int64_t c = 0; c < channels; ++c, x += cs) {
    for (int64_t t = 0; t < taps; ++t, w += kBlockM) {
      VF wv[kV];
      HWY_UNROLL(4) for (int v = 0; v < kV; ++v) wv[v] = hn::LoadU(d, w + v * kLanes);
      const float* xt = x + tap[t];
      HWY_UNROLL(6) for (int p = 0; p < NP; ++p) {
        const VF b = hn::Set(d, xt[o[p]]);
        HWY_UNROLL(4) for (int v = 0; v < kV; ++v) a[v][p] = hn::MulAdd(wv[v], b, a[v][p]);
      }
    }
  }
  HWY_UNROLL(4) for (int v = 0; v < kV; ++v) {
    HWY_UNROLL(6) for (int p = 0; p < NP; ++p) hn::StoreU(a[v][p], d, acc + p * Mp + v * kLanes);
  }
}

using TileFn = void (*)(DF, const float*, int64_t, int64_t, const int64_t*, const int64_t*, int64_t, const float*,
                        const float*, float*, int64_t);

template <bool kInit, int... NP>
constexpr std::array<TileFn, sizeof...(NP)> TileTable(std::integer_sequence<int, NP...>) {
  return {{&Tile<NP + 1, kInit>...}};
}
constexpr auto kTileInit = TileTable<true>(std::make_integer_sequence<int, kNP>());
constexpr auto kTileAdd = TileTable<false>(std::make_integer_sequence<int, kNP>());

// Positions [p0, p1) x weight blocks [mb0, mb1) of one image into acc ([P][Mp]): xpad the image's padded planes.
void Band(const Geometry& g, const float* xpad, const float* w, const float* bias, const int64_t* pos,
          const int64_t* tap, float* acc, int64_t p0, int64_t p1, int64_t mb0, int64_t mb1) {
  const DF d;
  const Conv2dParams& p = g.p;
  const int64_t cs = g.Hp * g.Wp, K = p.C * g.taps;
  for (int64_t mb = mb0; mb < mb1; ++mb) {
    for (int64_t sub = 0; sub < kBlockM; sub += kSubM) {
      const int64_t m0 = mb * kBlockM + sub;
      if (m0 >= p.M) break;
      // Channel blocks outer: their weights (kBlockC taps x kBlockM floats) stay in L1 over the band's positions.
      for (int64_t c0 = 0; c0 < p.C; c0 += DirectBlockedConv::kBlockC) {
        const int64_t channels = std::min(DirectBlockedConv::kBlockC, p.C - c0);
        const float* wc = w + (mb * K + c0 * g.taps) * kBlockM + sub;
        const auto& table = c0 == 0 ? kTileInit : kTileAdd;
        // The band's positions as evenly sized tiles (169 as 24 x 6 + 5 x 5, not 28 x 6 + 1: a tile of one
        // position has too few accumulators to hide the FMA latency).
        const int64_t tiles = (p1 - p0 + kNP - 1) / kNP, small = (p1 - p0) / tiles, larger = (p1 - p0) % tiles;
        for (int64_t i = 0, q = p0; i < tiles; ++i) {
          const int64_t n = small + (i < larger ? 1 : 0);
          table[static_cast<size_t>(n - 1)](d, xpad + c0 * cs, cs, channels, pos + q, tap, g.taps, wc, bias + m0,
                                            acc + q * g.Mp + m0, g.Mp);
          q += n;
        }
      }
    }
  }
}

// y[m][p] = act(acc[p][m] + residual[m][p]) for positions [p0, p1) and channels [m0, m1) of one image, a column
// of acc (lanes Mp apart) per vector: copied a float at a time it was 6.5% of a 13x13 layer, gathered ~12%.
template <ActKind A>
void FinishGather(const Geometry& g, const float* acc, const float* residual, const Activation& act, float* y,
                  int64_t p0, int64_t p1, int64_t m0, int64_t m1) {
  const DF d;
  const hn::RebindToSigned<DF> di;
  const auto rows = hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<int32_t>(g.Mp)));
  HWY_ALIGN float column[kLanes] = {};
  for (int64_t m = m0; m < m1; ++m) {
    float* ym = y + m * g.P;
    const float* zm = residual ? residual + m * g.P : nullptr;
    for (int64_t q = p0; q < p1; q += kLanes) {
      const int64_t n = std::min(kLanes, p1 - q);
      VF v;
      if (n == kLanes) {
        v = hn::GatherIndex(d, acc + q * g.Mp + m, rows);
      } else {
        for (int64_t l = 0; l < n; ++l) column[l] = acc[(q + l) * g.Mp + m];
        v = hn::Load(d, column);
      }
      if (zm) v = hn::Add(v, LoadPartial(d, zm + q, n));
      StorePartial(VecActivateK<A>(d, v, act.alpha, act.beta), d, ym + q, n);
    }
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// Transposes the 16 x 16 block in r (r[i] = row i) in place, so that r[i] holds column i: 64 two-source shuffles
// (32-bit, 64-bit, then twice 128-bit interleaves) where gathering the columns takes 256 scalar loads.
HWY_INLINE void Transpose16x16(__m512* r) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // r[i + c] (i = 0, 4, 8, 12): in 128-bit block j, column 4 j + c of rows i .. i + 3.
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  // 0x88 takes blocks 0 and 2 of each source, 0xDD blocks 1 and 3.
  for (int c = 0; c < 4; ++c) {
    t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
    t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
    t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xDD);
    r[4 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xDD);
  }
}
#endif

// y[m][p] = act(acc[p][m] + residual[m][p]) for positions [p0, p1) and channels [m0, m1) of one image.
void Finish(const Geometry& g, const float* acc, const float* residual, const Activation& act, float* y, int64_t p0,
            int64_t p1, int64_t m0, int64_t m1) {
  DispatchActKind(act.kind, [&](auto kind) HWY_ATTR {
    constexpr ActKind A = decltype(kind)::value;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    // Whole 16 x 16 blocks transposed in registers, the ragged edges gathered. conv_bench, 1 thread: 16 -> 64 on
    // 55x55 0.29-0.31 -> 0.27 ms, 32 -> 128 on 27x27 0.26-0.27 -> 0.24-0.25 ms; on 13x13 (64 -> 256) the epilogue
    // went from 12% of the layer to 5% (perf).
    static_assert(kLanes == 16, "Transpose16x16 works on 512-bit float vectors");
    const DF d;
    const int64_t p_end = p0 + (p1 - p0) / 16 * 16, m_end = m0 + (m1 - m0) / 16 * 16;
    for (int64_t m = m0; m < m_end; m += 16) {
      for (int64_t q = p0; q < p_end; q += 16) {
        __m512 r[16];
        for (int l = 0; l < 16; ++l) r[l] = _mm512_loadu_ps(acc + (q + l) * g.Mp + m);
        Transpose16x16(r);
        for (int c = 0; c < 16; ++c) {
          VF v{r[c]};
          if (residual) v = hn::Add(v, hn::LoadU(d, residual + (m + c) * g.P + q));
          hn::StoreU(VecActivateK<A>(d, v, act.alpha, act.beta), d, y + (m + c) * g.P + q);
        }
      }
    }
    if (p_end < p1) FinishGather<A>(g, acc, residual, act, y, p_end, p1, m0, m_end);
    if (m_end < m1) FinishGather<A>(g, acc, residual, act, y, p0, p1, m_end, m1);
#else
    FinishGather<A>(g, acc, residual, act, y, p0, p1, m0, m1);
#endif
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace ef::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ef::cpu {

HWY_EXPORT(Band);
HWY_EXPORT(Finish);

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up_16(int64_t a) { return (a + 15) / 16 * 16; }
}  // namespace

bool direct_blocked_applicable(const Conv2dParams& p) {
  return p.group == 1 && p.N >= 1 && p.C >= 1 && p.M >= 1 && p.kh >= 1 && p.kw >= 1 && p.stride_h >= 1 &&
         p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 && p.pad_top >= 0 && p.pad_left >= 0 &&
         p.pad_bottom >= 0 && p.pad_right >= 0 && p.OH >= 1 && p.OW >= 1 && p.M <= (int64_t{1} << 24) &&
         p.OH == window_count(p.H, p.kh, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom) &&
         p.OW == window_count(p.W, p.kw, p.stride_w, p.dilation_w, p.pad_left, p.pad_right);
}

bool direct_blocked_preferred(const Conv2dParams& p, int threads) {
  if (!direct_blocked_applicable(p) || p.kh != 3 || p.kw != 3 || p.dilation_h != 1 || p.dilation_w != 1 ||
      p.C < 48) {
    return false;
  }
  // Measured inside resnet18 (bench --profile, 3-4 interleaved rounds per thread count, Zen 5 AVX-512), on planes
  // of 65-256 output positions (14x14), where a Winograd F(4x4) layer has one block of 16 tiles and its transformed
  // weights (9.4 MB for 256 -> 256) stream from memory for 16 columns each:
  //  - stride 1 at two threads: 0.84-0.86 ms against Winograd's 0.90-1.03 (at one thread Winograd wins, 1.22-1.29
  //    against 1.34);
  //  - stride 2 (28x28 -> 14x14, 128 -> 256), where im2col + GEMM was the alternative: 0.71 against 0.75 ms at one
  //    thread, 0.47-0.50 against 0.56 at two. With 64 input channels (56x56 -> 28x28) it lost at two threads
  //    (0.56-0.58 against 0.47), on 7x7 outputs (512 channels) it was level or slower.
  // And inside squeezenet1_1 (13x13, 48 -> 192 and 64 -> 256, where direct planes was the alternative, since the
  // transposing epilogue and the even task split): at two threads 0.068-0.069 against 0.071-0.072 ms and 0.119-0.122
  // against 0.130-0.132; level at one thread.
  const int64_t positions = p.OH * p.OW;
  if (positions <= 64 || positions > 256) return false;
  if (p.stride_h == 1 && p.stride_w == 1) return threads >= 2;
  return p.stride_h == 2 && p.stride_w == 2 && p.C >= 128;
}

DirectBlockedConv::DirectBlockedConv(const Conv2dParams& p, const float* w, const float* bias) {
  if (!direct_blocked_applicable(p)) throw std::invalid_argument("DirectBlockedConv: unsupported geometry");
  Geometry& g = g_;
  g.p = p;
  // The padded plane holds every tap of every window, and every input row and column (pad_plane_rows copies
  // whole rows), whichever is larger.
  g.Hp = std::max((p.OH - 1) * p.stride_h + (p.kh - 1) * p.dilation_h + 1, p.pad_top + p.H);
  g.Wp = std::max((p.OW - 1) * p.stride_w + (p.kw - 1) * p.dilation_w + 1, p.pad_left + p.W);
  g.taps = p.kh * p.kw;
  g.blocks = ceil_div(p.M, kBlockM);
  g.Mp = g.blocks * kBlockM;
  g.P = p.OH * p.OW;
  g.band = std::min(g.P, kBandP);
  pack_channel_panels(w, bias, p.M, p.C * g.taps, kBlockM, w_, bias_);
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    for (int64_t ow = 0; ow < p.OW; ++ow) pos_.push_back(oh * p.stride_h * g.Wp + ow * p.stride_w);
  }
  for (int64_t i = 0; i < p.kh; ++i) {
    for (int64_t j = 0; j < p.kw; ++j) tap_.push_back(i * p.dilation_h * g.Wp + j * p.dilation_w);
  }
}

uint64_t DirectBlockedConv::scratch_bytes() const {
  return static_cast<uint64_t>(round_up_16(g_.p.C * g_.Hp * g_.Wp) + round_up_16(g_.P * g_.Mp)) * sizeof(float);
}

void DirectBlockedConv::run(const float* x, const float* residual, const Activation& act, float* y, void* scratch,
                            ThreadPool& pool) const {
  const Geometry& g = g_;
  const Conv2dParams& p = g.p;
  float* xpad = static_cast<float*>(scratch);
  float* acc = xpad + round_up_16(p.C * g.Hp * g.Wp);
  int64_t bands = ceil_div(g.P, g.band), band = g.band;
  // Tasks: (band, group of weight blocks). Small planes have one band: the weight blocks then split between the
  // threads, each thread reading only its share of the weights.
  const int64_t threads = pool.num_threads();
  const int64_t groups = threads <= 1 ? 1 : std::clamp<int64_t>(ceil_div(2 * threads, bands), 1, g.blocks);
  if (threads > 1 && (bands * groups) % threads != 0) {
    // Tasks that do not divide evenly between the threads leave one idle for a task's time (192 output channels
    // are 3 weight blocks: 2 + 1 on two threads); bands split threads-fold even them out.
    band = ceil_div(g.P, bands * threads);
    bands = ceil_div(g.P, band);
  }
  const int64_t out_image = p.M * g.P;
  // `this` and one reference: std::function keeps captures of up to 16 bytes without a heap allocation.
  struct Image {
    const float* x;
    const float* residual;
    float* y;
    float* xpad;
    float* acc;
    const Activation* act;
    int64_t groups, band;
  } im{nullptr, nullptr, nullptr, xpad, acc, &act, groups, band};
  for (int64_t n = 0; n < p.N; ++n) {
    im.x = x + n * p.C * p.H * p.W;
    im.residual = residual ? residual + n * out_image : nullptr;
    im.y = y + n * out_image;
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, g.Hp * g.Wp));
    pool.parallel_for(p.C, grain, [this, &im](int64_t c0, int64_t c1) {
      const Conv2dParams& q = g_.p;
      for (int64_t c = c0; c < c1; ++c) {
        pad_plane_rows(im.x + c * q.H * q.W, q.H, q.W, q.pad_top, q.pad_left, g_.Wp, 0, g_.Hp,
                       im.xpad + c * g_.Hp * g_.Wp);
      }
    });
    pool.parallel_for(bands * groups, 1, [this, &im](int64_t t0, int64_t t1) {
      const Geometry& gg = g_;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / im.groups, k = t % im.groups;
        const int64_t p0 = b * im.band, p1 = std::min(gg.P, p0 + im.band);
        const int64_t mb0 = k * gg.blocks / im.groups, mb1 = (k + 1) * gg.blocks / im.groups;
        HWY_DYNAMIC_DISPATCH(Band)(gg, im.xpad, w_.data(), bias_.data(), pos_.data(), tap_.data(), im.acc, p0, p1,
                                   mb0, mb1);
        HWY_DYNAMIC_DISPATCH(Finish)(gg, im.acc, im.residual, *im.act, im.y, p0, p1, mb0 * kBlockM,
                                     std::min(gg.p.M, mb1 * kBlockM));
      }
    });
  }
}

}  // namespace ef::cpu
#endif  // HWY_ONCE
