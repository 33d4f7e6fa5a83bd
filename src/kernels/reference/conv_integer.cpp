#include "kernels/reference/conv_integer.h"

#include <cstddef>

namespace ef {
namespace {

int32_t load_int8(const void* data, bool is_signed, int64_t index) {
  return is_signed ? static_cast<const int8_t*>(data)[index] : static_cast<const uint8_t*>(data)[index];
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t n = 1;
  for (int64_t d : v) n *= d;
  return n;
}

}  // namespace

void conv_integer_reference(const ConvIntegerParams& p, const void* x, bool x_signed, int32_t x_zero_point,
                            const void* w, bool w_signed, const int32_t* w_zero_points, int64_t w_zero_point_stride,
                            int32_t* y) {
  size_t rank = p.in_spatial.size();
  int64_t in_size = product(p.in_spatial);
  int64_t out_size = product(p.out_spatial);
  int64_t taps = product(p.kernel);
  int64_t c_per_group = p.in_channels / p.group;
  int64_t m_per_group = p.out_channels / p.group;
  std::vector<int64_t> out_pos(rank), tap(rank);
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      int32_t w_zp = w_zero_points ? w_zero_points[m * w_zero_point_stride] : 0;
      int64_t c0 = (m / m_per_group) * c_per_group;
      for (int64_t o = 0; o < out_size; ++o) {
        int64_t rest = o;
        for (size_t d = rank; d-- > 0;) {
          out_pos[d] = rest % p.out_spatial[d];
          rest /= p.out_spatial[d];
        }
        uint32_t acc = 0;  // unsigned: wraps modulo 2^32 without undefined behaviour
        for (int64_t t = 0; t < taps; ++t) {
          int64_t tap_rest = t, in_off = 0;
          bool inside = true;
          for (size_t d = rank; d-- > 0;) {
            tap[d] = tap_rest % p.kernel[d];
            tap_rest /= p.kernel[d];
          }
          for (size_t d = 0; d < rank && inside; ++d) {
            int64_t i = out_pos[d] * p.strides[d] - p.pads_begin[d] + tap[d] * p.dilations[d];
            inside = i >= 0 && i < p.in_spatial[d];
            in_off = in_off * p.in_spatial[d] + i;
          }
          if (!inside) continue;
          for (int64_t c = 0; c < c_per_group; ++c) {
            int32_t xv = load_int8(x, x_signed, (n * p.in_channels + c0 + c) * in_size + in_off) - x_zero_point;
            int32_t wv = load_int8(w, w_signed, (m * c_per_group + c) * taps + t) - w_zp;
            acc += static_cast<uint32_t>(xv * wv);
          }
        }
        y[(n * p.out_channels + m) * out_size + o] = static_cast<int32_t>(acc);
      }
    }
  }
}

}  // namespace ef
