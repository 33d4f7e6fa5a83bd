// Stem conv + MaxPool in row bands (see conv_max_pool.h).
#include "kernels/cpu/conv_max_pool.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/cpu/pool.h"
#include "kernels/cpu/row_bands.h"

namespace ef::cpu {
namespace {

int64_t round_up_16(int64_t a) { return (a + 15) / 16 * 16; }

}  // namespace

bool conv_max_pool_applicable(const Conv2dParams& conv, const Conv2dParams& pool) {
  return direct_smallc_applicable(conv) && pool.N == conv.N && pool.C == conv.M && pool.H == conv.OH &&
         pool.W == conv.OW && pool.OH >= 1 && pool.OW >= 1 && pool.kh >= 1 && pool.kw >= 1 && pool.stride_h >= 1 &&
         pool.stride_w >= 1 && pool.dilation_h >= 1 && pool.dilation_w >= 1 && pool.pad_top >= 0 &&
         pool.pad_left >= 0 && pool.pad_bottom >= 0 && pool.pad_right >= 0;
}

SmallCConvMaxPool::SmallCConvMaxPool(const Conv2dParams& conv, const float* w, const float* bias,
                                     const Conv2dParams& pool, int64_t chunks, int64_t band_bytes)
    : conv_(conv, w, bias), pool_(pool) {
  if (!conv_max_pool_applicable(conv, pool)) throw std::invalid_argument("SmallCConvMaxPool: unsupported geometry");
  chunks_ = std::clamp<int64_t>(chunks, 1, pool.OH);
  const BandSize size = band_size(pool, conv.M * conv.OW * static_cast<int64_t>(sizeof(float)), band_bytes);
  sub_rows_ = size.sub_rows;
  band_rows_ = size.band_rows;
  band_floats_ = round_up_16(conv.M * band_rows_ * conv.OW);
  conv_scratch_ = round_up_16(static_cast<int64_t>(conv_.scratch_bytes() / sizeof(float)));
}

uint64_t SmallCConvMaxPool::scratch_bytes() const {
  return static_cast<uint64_t>(conv_scratch_ + chunks_ * band_floats_) * sizeof(float);
}

void SmallCConvMaxPool::run_range(const void* x_t, const Activation& act, int64_t q0, int64_t q1, float* buf,
                                  float* y) const {
  const Conv2dParams& c = conv_.params();
  const int64_t band_plane = band_rows_ * c.OW, out_plane = pool_.OH * pool_.OW;
  int64_t held0 = 0, held1 = 0;  // conv rows [held0, held1) sit at the start of buf's channel planes
  for (int64_t qa = q0; qa < q1; qa += sub_rows_) {
    const int64_t qb = std::min(q1, qa + sub_rows_);
    const RowRange rows = window_rows(pool_, qa, qb);
    const int64_t kept = keep_shared_rows(rows, held0, held1, buf, c.M, band_plane, c.OW);
    const int64_t from = rows.first + kept;
    if (from < rows.last) conv_.compute_rows(x_t, act, from, rows.last, buf + kept * c.OW, band_plane);
    held0 = rows.first, held1 = rows.last;
    max_pool2d_planes(band_window(pool_, rows, qa, qb), buf, band_plane, y + qa * pool_.OW, out_plane, 0, c.M);
  }
}

void SmallCConvMaxPool::run(const float* x, const Activation& act, float* y, void* scratch, ThreadPool& pool) const {
  const Conv2dParams& c = conv_.params();
  float* x_t = static_cast<float*>(scratch);
  float* bands = x_t + conv_scratch_;
  // `this` and one reference: std::function keeps captures of up to 16 bytes without a heap allocation.
  struct Image {
    const float* x_t;
    float* bands;
    float* y;
    const Activation* act;
  } im{x_t, bands, nullptr, &act};
  for (int64_t n = 0; n < c.N; ++n) {
    conv_.split_input(x + n * c.C * c.H * c.W, x_t, pool);
    im.y = y + n * c.M * pool_.OH * pool_.OW;
    pool.parallel_for(chunks_, 1, [this, &im](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        run_range(im.x_t, *im.act, k * pool_.OH / chunks_, (k + 1) * pool_.OH / chunks_, im.bands + k * band_floats_,
                  im.y);
      }
    });
  }
}

}  // namespace ef::cpu
