// Pointwise + depthwise convolution in row bands (see pointwise_depthwise.h).
#include "kernels/cpu/pointwise_depthwise.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/cpu/depthwise_conv.h"
#include "kernels/cpu/depthwise_packed.h"
#include "kernels/cpu/row_bands.h"

namespace ef::cpu {
namespace {

int64_t round_up_16(int64_t a) { return (a + 15) / 16 * 16; }

std::vector<float> copy_or_empty(const float* v, int64_t n) {
  return v ? std::vector<float>(v, v + n) : std::vector<float>{};
}

}  // namespace

bool pointwise_depthwise_applicable(const Conv2dParams& pw, const Conv2dParams& dw) {
  return pw.kh == 1 && pw.kw == 1 && pw.stride_h == 1 && pw.stride_w == 1 && pw.pad_top == 0 && pw.pad_left == 0 &&
         pw.pad_bottom == 0 && pw.pad_right == 0 && pw.group == 1 && pw.N >= 1 && pw.C >= 1 && pw.M >= 1 &&
         pw.OH == pw.H && pw.OW == pw.W && pw.H >= 1 && pw.W >= 1 && depthwise_band_applicable(dw) &&
         dw.N == pw.N && dw.C == pw.M && dw.H == pw.OH && dw.W == pw.OW;
}

PointwiseDepthwiseConv::PointwiseDepthwiseConv(const Conv2dParams& pw, const float* w1, const float* bias1,
                                               const Activation& act1, const Conv2dParams& dw, const float* w2,
                                               const float* bias2, const Activation& act2, int64_t chunks,
                                               int64_t band_bytes)
    : pw_(pw), dw_(dw), act1_(act1), act2_(act2) {
  if (!pointwise_depthwise_applicable(pw, dw)) {
    throw std::invalid_argument("PointwiseDepthwiseConv: unsupported geometry");
  }
  w1_ = pack_a(false, pw.M, pw.C, w1, pw.C);
  bias1_ = copy_or_empty(bias1, pw.M);
  w2_.assign(w2, w2 + dw.M * dw.kh * dw.kw);
  bias2_ = copy_or_empty(bias2, dw.M);
  banded_ = !depthwise_packed_preferred(dw);
  chunks_ = std::clamp<int64_t>(chunks, 1, dw.OH);
  const BandSize size = band_size(dw, pw.M * pw.W * static_cast<int64_t>(sizeof(float)), band_bytes);
  sub_rows_ = size.sub_rows;
  band_rows_ = size.band_rows;
  band_floats_ = round_up_16(pw.M * band_rows_ * pw.W);
}

uint64_t PointwiseDepthwiseConv::scratch_bytes() const {
  const int64_t floats = banded_ ? chunks_ * band_floats_ : pw_.M * pw_.H * pw_.W;
  return static_cast<uint64_t>(floats) * sizeof(float);
}

GemmEpilogue PointwiseDepthwiseConv::pointwise_epilogue() const {
  GemmEpilogue epi;
  epi.bias = bias1_.empty() ? nullptr : bias1_.data();
  epi.bias_per_row = true;
  epi.act = act1_;
  return epi;
}

void PointwiseDepthwiseConv::run_range(const float* x, int64_t o0, int64_t o1, float* buf, float* y) const {
  const int64_t W = pw_.W, band_plane = band_rows_ * W, out_plane = dw_.OH * dw_.OW;
  const GemmEpilogue epi = pointwise_epilogue();
  int64_t held0 = 0, held1 = 0;  // pointwise rows [held0, held1) sit at the start of buf's channel planes
  for (int64_t oa = o0; oa < o1; oa += sub_rows_) {
    const int64_t ob = std::min(o1, oa + sub_rows_);
    const RowRange rows = window_rows(dw_, oa, ob);
    const int64_t kept = keep_shared_rows(rows, held0, held1, buf, pw_.M, band_plane, W);
    const int64_t from = rows.first + kept;
    if (from < rows.last) {
      // Nested in the caller's parallel_for (or on a pool of one): the GEMM runs on this thread.
      sgemm_packed_a(w1_, (rows.last - from) * W, false, x + from * W, pw_.H * W, buf + kept * W, band_plane, epi,
                     ThreadPool::inline_pool());
    }
    held0 = rows.first, held1 = rows.last;
    depthwise_conv2d_band(band_window(dw_, rows, oa, ob), buf, band_plane, w2_.data(), bias2_.empty() ? nullptr : bias2_.data(), act2_,
                          y + oa * dw_.OW, out_plane, 0, dw_.M);
  }
}

void PointwiseDepthwiseConv::run(const float* x, float* y, void* scratch, ThreadPool& pool) const {
  if (!banded_) {
    const GemmEpilogue epi = pointwise_epilogue();
    auto* mid = static_cast<float*>(scratch);
    const int64_t n = pw_.H * pw_.W;
    for (int64_t i = 0; i < pw_.N; ++i) {
      sgemm_packed_a(w1_, n, false, x + i * pw_.C * n, n, mid, n, epi, pool);
      Conv2dParams one = dw_;
      one.N = 1;
      depthwise_conv2d(one, mid, w2_.data(), bias2_.empty() ? nullptr : bias2_.data(), nullptr, act2_,
                       y + i * dw_.M * dw_.OH * dw_.OW, pool);
    }
    return;
  }
  // `this` and one reference: std::function keeps captures of up to 16 bytes without a heap allocation.
  struct Image {
    const float* x;
    float* y;
    float* bands;
  } im{nullptr, nullptr, static_cast<float*>(scratch)};
  for (int64_t n = 0; n < pw_.N; ++n) {
    im.x = x + n * pw_.C * pw_.H * pw_.W;
    im.y = y + n * dw_.M * dw_.OH * dw_.OW;
    pool.parallel_for(chunks_, 1, [this, &im](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        run_range(im.x, k * dw_.OH / chunks_, (k + 1) * dw_.OH / chunks_, im.bands + k * band_floats_, im.y);
      }
    });
  }
}

}  // namespace ef::cpu
