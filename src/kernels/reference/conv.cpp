#include "kernels/reference/conv.h"

#include <cstddef>

namespace ef {
namespace {

// The loop bounds both directions share: per-group channel counts, the window's tap offsets and the input's
// row-major strides.
struct ConvLoops {
  explicit ConvLoops(const ConvParams& p)
      : nd(p.axes.size()),
        in_size(dims_product(p.in_spatial)),
        out_size(dims_product(p.out_spatial)),
        cin_g(p.in_channels / p.group),
        cout_g(p.out_channels / p.group),
        taps(window_tap_offsets(p.axes)),
        in_strides(dims_row_major_strides(p.in_spatial)) {
    for (const WindowAxis& a : p.axes) num_taps *= a.kernel;
  }
  size_t nd;
  int64_t in_size, out_size, cin_g, cout_g;
  std::vector<int64_t> taps;
  std::vector<int64_t> in_strides;
  int64_t num_taps = 1;
};

template <typename T>
void conv_impl(const ConvParams& p, const T* x, const T* w, const T* b, T* y) {
  const ConvLoops l(p);
  std::vector<int64_t> out_coord(l.nd);
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t first_c = (m / l.cout_g) * l.cin_g;
      const T* x_group = x + (n * p.in_channels + first_c) * l.in_size;
      const T* w_m = w + m * l.cin_g * l.num_taps;
      T* y_m = y + (n * p.out_channels + m) * l.out_size;
      for (int64_t o = 0; o < l.out_size; ++o) {
        dims_unravel(o, p.out_spatial, out_coord);
        double acc = b ? static_cast<double>(b[m]) : 0.0;
        for (int64_t t = 0; t < l.num_taps; ++t) {
          int64_t offset = 0;
          bool inside = true;
          for (size_t i = 0; i < l.nd && inside; ++i) {
            const WindowAxis& a = p.axes[i];
            int64_t pos = out_coord[i] * a.stride - a.pad_begin + l.taps[static_cast<size_t>(t) * l.nd + i];
            inside = pos >= 0 && pos < p.in_spatial[i];
            offset += pos * l.in_strides[i];
          }
          if (!inside) continue;
          for (int64_t c = 0; c < l.cin_g; ++c) {
            acc += static_cast<double>(x_group[c * l.in_size + offset]) * static_cast<double>(w_m[c * l.num_taps + t]);
          }
        }
        y_m[o] = static_cast<T>(acc);
      }
    }
  }
}

// Written as a gather (each output sums the inputs that reach it) so every output accumulates in one double.
template <typename T>
void conv_transpose_impl(const ConvParams& p, const T* x, const T* w, const T* b, T* y) {
  const ConvLoops l(p);
  std::vector<int64_t> out_coord(l.nd);
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t g = m / l.cout_g;
      const int64_t m_local = m % l.cout_g;
      const T* x_group = x + (n * p.in_channels + g * l.cin_g) * l.in_size;
      // w[c, m_local, l.taps] for the group's input channels c.
      const T* w_m = w + (g * l.cin_g * l.cout_g + m_local) * l.num_taps;
      T* y_m = y + (n * p.out_channels + m) * l.out_size;
      for (int64_t o = 0; o < l.out_size; ++o) {
        dims_unravel(o, p.out_spatial, out_coord);
        double acc = b ? static_cast<double>(b[m]) : 0.0;
        for (int64_t t = 0; t < l.num_taps; ++t) {
          int64_t offset = 0;
          bool reached = true;
          for (size_t i = 0; i < l.nd && reached; ++i) {
            const WindowAxis& a = p.axes[i];
            int64_t scaled = out_coord[i] + a.pad_begin - l.taps[static_cast<size_t>(t) * l.nd + i];
            reached = scaled >= 0 && scaled % a.stride == 0 && scaled / a.stride < p.in_spatial[i];
            offset += (scaled / a.stride) * l.in_strides[i];
          }
          if (!reached) continue;
          for (int64_t c = 0; c < l.cin_g; ++c) {
            acc += static_cast<double>(x_group[c * l.in_size + offset]) *
                   static_cast<double>(w_m[c * l.cout_g * l.num_taps + t]);
          }
        }
        y_m[o] = static_cast<T>(acc);
      }
    }
  }
}

}  // namespace

void conv_reference(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
  conv_impl(p, x, w, b, y);
}
void conv_reference(const ConvParams& p, const double* x, const double* w, const double* b, double* y) {
  conv_impl(p, x, w, b, y);
}
void conv_transpose_reference(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
  conv_transpose_impl(p, x, w, b, y);
}
void conv_transpose_reference(const ConvParams& p, const double* x, const double* w, const double* b, double* y) {
  conv_transpose_impl(p, x, w, b, y);
}

}  // namespace ef
