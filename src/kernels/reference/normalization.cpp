#include "kernels/reference/normalization.h"

#include <algorithm>
#include <cmath>

namespace ef {
namespace {

template <typename T>
T store(double v) {
  return static_cast<T>(static_cast<compute_t<T>>(v));
}

// Mean and population variance of x[0, n) computed in two passes for accuracy.
template <typename T>
void moments(const T* x, int64_t n, double* mean, double* var) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += to_double(x[i]);
  double m = sum / static_cast<double>(n);
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    double d = to_double(x[i]) - m;
    sq += d * d;
  }
  *mean = m;
  *var = sq / static_cast<double>(n);
}

}  // namespace

template <typename T>
void batch_norm_reference(const ChannelView& v, const T* x, const double* scale, const double* bias,
                          const double* mean, const double* var, double epsilon, T* y) {
  for (int64_t c = 0; c < v.channels; ++c) {
    double inv_std = 1.0 / std::sqrt(var[c] + epsilon);
    for (int64_t n = 0; n < v.batch; ++n) {
      int64_t base = (n * v.channels + c) * v.inner;
      for (int64_t i = 0; i < v.inner; ++i) {
        y[base + i] = store<T>((to_double(x[base + i]) - mean[c]) * inv_std * scale[c] + bias[c]);
      }
    }
  }
}

template <typename T>
void channel_moments_reference(const ChannelView& v, const T* x, double* mean, double* var) {
  double count = static_cast<double>(v.batch * v.inner);
  for (int64_t c = 0; c < v.channels; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < v.batch; ++n) {
      const T* px = x + (n * v.channels + c) * v.inner;
      for (int64_t i = 0; i < v.inner; ++i) sum += to_double(px[i]);
    }
    double m = sum / count;
    double sq = 0;
    for (int64_t n = 0; n < v.batch; ++n) {
      const T* px = x + (n * v.channels + c) * v.inner;
      for (int64_t i = 0; i < v.inner; ++i) {
        double d = to_double(px[i]) - m;
        sq += d * d;
      }
    }
    mean[c] = m;
    var[c] = sq / count;
  }
}

template <typename T>
void instance_norm_reference(const ChannelView& v, const T* x, const double* scale, const double* bias,
                             double epsilon, T* y) {
  for (int64_t n = 0; n < v.batch; ++n) {
    for (int64_t c = 0; c < v.channels; ++c) {
      int64_t base = (n * v.channels + c) * v.inner;
      double mean = 0, var = 0;
      moments(x + base, v.inner, &mean, &var);
      double inv_std = 1.0 / std::sqrt(var + epsilon);
      for (int64_t i = 0; i < v.inner; ++i) {
        y[base + i] = store<T>((to_double(x[base + i]) - mean) * inv_std * scale[c] + bias[c]);
      }
    }
  }
}

template <typename T>
void layer_norm_reference(int64_t outer, int64_t inner, const T* x, const double* scale, const double* bias,
                          double epsilon, T* y, double* mean, double* inv_std_dev) {
  for (int64_t r = 0; r < outer; ++r) {
    const T* px = x + r * inner;
    T* py = y + r * inner;
    double m = 0, var = 0;
    moments(px, inner, &m, &var);
    double inv_std = 1.0 / std::sqrt(var + epsilon);
    for (int64_t i = 0; i < inner; ++i) {
      double normalized = (to_double(px[i]) - m) * inv_std;
      py[i] = store<T>(normalized * scale[i] + (bias ? bias[i] : 0.0));
    }
    if (mean) mean[r] = m;
    if (inv_std_dev) inv_std_dev[r] = inv_std;
  }
}

template <typename T>
void lrn_reference(const ChannelView& v, int64_t size, double alpha, double beta, double bias, const T* x, T* y) {
  int64_t before = (size - 1) / 2;
  int64_t after = size - 1 - before;  // ceil((size - 1) / 2)
  for (int64_t n = 0; n < v.batch; ++n) {
    for (int64_t c = 0; c < v.channels; ++c) {
      int64_t lo = std::max<int64_t>(0, c - before);
      int64_t hi = std::min<int64_t>(v.channels - 1, c + after);
      for (int64_t i = 0; i < v.inner; ++i) {
        double square_sum = 0;
        for (int64_t k = lo; k <= hi; ++k) {
          double xv = to_double(x[(n * v.channels + k) * v.inner + i]);
          square_sum += xv * xv;
        }
        int64_t at = (n * v.channels + c) * v.inner + i;
        double denom = std::pow(bias + alpha / static_cast<double>(size) * square_sum, beta);
        y[at] = store<T>(to_double(x[at]) / denom);
      }
    }
  }
}

template <typename T>
void mean_variance_norm_reference(const std::vector<int64_t>& shape, const std::vector<bool>& reduced, const T* x,
                                  T* y) {
  // Group id of each element: its row-major index over the kept axes only.
  std::vector<int64_t> group_strides(shape.size(), 0);
  int64_t groups = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (reduced[d]) continue;
    group_strides[d] = groups;
    groups *= shape[d];
  }
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  std::vector<int64_t> group_of(static_cast<size_t>(numel));
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < numel; ++i) {
    int64_t g = 0;
    for (size_t d = 0; d < shape.size(); ++d) g += index[d] * group_strides[d];
    group_of[static_cast<size_t>(i)] = g;
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  std::vector<double> sum(static_cast<size_t>(groups), 0.0), sq(static_cast<size_t>(groups), 0.0);
  std::vector<int64_t> count(static_cast<size_t>(groups), 0);
  for (int64_t i = 0; i < numel; ++i) {
    size_t g = static_cast<size_t>(group_of[static_cast<size_t>(i)]);
    sum[g] += to_double(x[i]);
    ++count[g];
  }
  for (size_t g = 0; g < sum.size(); ++g) sum[g] /= static_cast<double>(count[g]);  // now the mean
  for (int64_t i = 0; i < numel; ++i) {
    size_t g = static_cast<size_t>(group_of[static_cast<size_t>(i)]);
    double d = to_double(x[i]) - sum[g];
    sq[g] += d * d;
  }
  const double epsilon = static_cast<double>(1e-9f);  // the float constant of ONNX's function body
  for (int64_t i = 0; i < numel; ++i) {
    size_t g = static_cast<size_t>(group_of[static_cast<size_t>(i)]);
    double stddev = std::sqrt(sq[g] / static_cast<double>(count[g]));
    y[i] = store<T>((to_double(x[i]) - sum[g]) / (stddev + epsilon));
  }
}

#define EF_INSTANTIATE_NORMALIZATION(T)                                                                          \
  template void batch_norm_reference<T>(const ChannelView&, const T*, const double*, const double*, const double*, \
                                        const double*, double, T*);                                             \
  template void channel_moments_reference<T>(const ChannelView&, const T*, double*, double*);                   \
  template void instance_norm_reference<T>(const ChannelView&, const T*, const double*, const double*, double,   \
                                           T*);                                                                  \
  template void layer_norm_reference<T>(int64_t, int64_t, const T*, const double*, const double*, double, T*,    \
                                        double*, double*);                                                       \
  template void lrn_reference<T>(const ChannelView&, int64_t, double, double, double, const T*, T*);             \
  template void mean_variance_norm_reference<T>(const std::vector<int64_t>&, const std::vector<bool>&, const T*, \
                                                T*);

EF_INSTANTIATE_NORMALIZATION(float)
EF_INSTANTIATE_NORMALIZATION(double)
EF_INSTANTIATE_NORMALIZATION(Float16)
EF_INSTANTIATE_NORMALIZATION(BFloat16)
#undef EF_INSTANTIATE_NORMALIZATION

}  // namespace ef
