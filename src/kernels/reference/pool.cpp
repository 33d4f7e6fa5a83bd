#include "kernels/reference/pool.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "edgeforge/error.h"

namespace ef {
namespace {

// Visits the taps of one pooling window, telling for each where it lands in the input plane.
class WindowWalker {
 public:
  explicit WindowWalker(const PoolParams& p)
      : p_(p),
        nd_(p.axes.size()),
        taps_(window_tap_offsets(p.axes)),
        row_strides_(dims_row_major_strides(p.in_spatial)),
        col_strides_(p.in_spatial.size(), 1),
        out_coord_(p.axes.size()) {
    num_taps_ = 1;
    for (const WindowAxis& a : p.axes) num_taps_ *= a.kernel;
    for (size_t i = 1; i < nd_; ++i) col_strides_[i] = col_strides_[i - 1] * p.in_spatial[i - 1];
  }

  int64_t in_size() const { return dims_product(p_.in_spatial); }
  int64_t out_size() const { return dims_product(p_.out_spatial); }

  // f(row_major_offset, column_major_offset, in_input, in_padded_extent) for every tap of output element `o`;
  // the offsets are meaningful only when in_input.
  template <typename F>
  void visit(int64_t o, F&& f) {
    dims_unravel(o, p_.out_spatial, out_coord_);
    for (int64_t t = 0; t < num_taps_; ++t) {
      int64_t row = 0, col = 0;
      bool in_input = true, in_padded = true;
      for (size_t i = 0; i < nd_; ++i) {
        const WindowAxis& a = p_.axes[i];
        int64_t pos = out_coord_[i] * a.stride - a.pad_begin + taps_[static_cast<size_t>(t) * nd_ + i];
        in_input = in_input && pos >= 0 && pos < p_.in_spatial[i];
        in_padded = in_padded && pos >= -a.pad_begin && pos < p_.in_spatial[i] + a.pad_end;
        row += pos * row_strides_[i];
        col += pos * col_strides_[i];
      }
      f(row, col, in_input, in_padded);
    }
  }

 private:
  const PoolParams& p_;
  size_t nd_;
  std::vector<int64_t> taps_;
  std::vector<int64_t> row_strides_;
  std::vector<int64_t> col_strides_;
  std::vector<int64_t> out_coord_;
  int64_t num_taps_;
};

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

template <typename T>
void max_pool_impl(const PoolParams& p, const T* x, T* y, int64_t* indices, bool column_major) {
  WindowWalker walker(p);
  const int64_t in_size = walker.in_size();
  const int64_t out_size = walker.out_size();
  for (int64_t plane = 0; plane < p.batch * p.channels; ++plane) {
    const T* xp = x + plane * in_size;
    for (int64_t o = 0; o < out_size; ++o) {
      T best = std::numeric_limits<T>::lowest();
      int64_t best_at = -1;
      walker.visit(o, [&](int64_t row, int64_t col, bool in_input, bool) {
        if (!in_input) return;
        T v = xp[row];
        if (best_at < 0 || v > best || (is_nan(v) && !is_nan(best))) {
          best = v;
          best_at = column_major ? col : row;
        }
      });
      y[plane * out_size + o] = best;
      if (indices) indices[plane * out_size + o] = best_at < 0 ? -1 : plane * in_size + best_at;
    }
  }
}

template <typename T>
void average_pool_impl(const PoolParams& p, bool count_include_pad, const T* x, T* y) {
  WindowWalker walker(p);
  const int64_t in_size = walker.in_size();
  const int64_t out_size = walker.out_size();
  for (int64_t plane = 0; plane < p.batch * p.channels; ++plane) {
    const T* xp = x + plane * in_size;
    for (int64_t o = 0; o < out_size; ++o) {
      double sum = 0;
      int64_t count = 0;
      walker.visit(o, [&](int64_t row, int64_t, bool in_input, bool in_padded) {
        if (in_input) sum += static_cast<double>(xp[row]);
        if (count_include_pad ? in_padded : in_input) ++count;
      });
      y[plane * out_size + o] = static_cast<T>(count == 0 ? 0.0 : sum / static_cast<double>(count));
    }
  }
}

template <typename T>
void lp_pool_impl(const PoolParams& p, double norm_p, const T* x, T* y) {
  WindowWalker walker(p);
  const int64_t in_size = walker.in_size();
  const int64_t out_size = walker.out_size();
  for (int64_t plane = 0; plane < p.batch * p.channels; ++plane) {
    const T* xp = x + plane * in_size;
    for (int64_t o = 0; o < out_size; ++o) {
      double sum = 0;
      walker.visit(o, [&](int64_t row, int64_t, bool in_input, bool) {
        if (in_input) sum += std::pow(std::fabs(static_cast<double>(xp[row])), norm_p);
      });
      y[plane * out_size + o] = static_cast<T>(std::pow(sum, 1.0 / norm_p));
    }
  }
}

template <typename T>
void global_pool_impl(GlobalPoolKind kind, double norm_p, int64_t planes, int64_t plane_size, const T* x, T* y) {
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* xp = x + plane * plane_size;
    double acc = kind == GlobalPoolKind::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t i = 0; i < plane_size; ++i) {
      double v = static_cast<double>(xp[i]);
      switch (kind) {
        case GlobalPoolKind::kAverage: acc += v; break;
        case GlobalPoolKind::kMax:
          if (v > acc || (std::isnan(v) && !std::isnan(acc))) acc = v;
          break;
        case GlobalPoolKind::kLp: acc += std::pow(std::fabs(v), norm_p); break;
      }
    }
    if (kind == GlobalPoolKind::kAverage) acc = plane_size == 0 ? 0.0 : acc / static_cast<double>(plane_size);
    if (kind == GlobalPoolKind::kLp) acc = std::pow(acc, 1.0 / norm_p);
    y[plane] = static_cast<T>(acc);
  }
}

}  // namespace

void max_pool_reference(const PoolParams& p, const float* x, float* y, int64_t* indices, bool column_major_indices) {
  max_pool_impl(p, x, y, indices, column_major_indices);
}
void max_pool_reference(const PoolParams& p, const double* x, double* y, int64_t* indices,
                        bool column_major_indices) {
  max_pool_impl(p, x, y, indices, column_major_indices);
}
void max_pool_reference(const PoolParams& p, const int8_t* x, int8_t* y, int64_t* indices,
                        bool column_major_indices) {
  max_pool_impl(p, x, y, indices, column_major_indices);
}
void max_pool_reference(const PoolParams& p, const uint8_t* x, uint8_t* y, int64_t* indices,
                        bool column_major_indices) {
  max_pool_impl(p, x, y, indices, column_major_indices);
}

void average_pool_reference(const PoolParams& p, bool count_include_pad, const float* x, float* y) {
  average_pool_impl(p, count_include_pad, x, y);
}
void average_pool_reference(const PoolParams& p, bool count_include_pad, const double* x, double* y) {
  average_pool_impl(p, count_include_pad, x, y);
}

void lp_pool_reference(const PoolParams& p, double norm_p, const float* x, float* y) {
  lp_pool_impl(p, norm_p, x, y);
}
void lp_pool_reference(const PoolParams& p, double norm_p, const double* x, double* y) {
  lp_pool_impl(p, norm_p, x, y);
}

void global_pool_reference(GlobalPoolKind kind, double norm_p, int64_t planes, int64_t plane_size, const float* x,
                           float* y) {
  global_pool_impl(kind, norm_p, planes, plane_size, x, y);
}
void global_pool_reference(GlobalPoolKind kind, double norm_p, int64_t planes, int64_t plane_size, const double* x,
                           double* y) {
  global_pool_impl(kind, norm_p, planes, plane_size, x, y);
}

void max_unpool_reference(const std::vector<int64_t>& unpooled_shape, const std::vector<int64_t>& out_shape,
                          int64_t count, const void* x, const int64_t* indices, size_t elem_size, void* y) {
  const int64_t unpooled_numel = dims_product(unpooled_shape);
  const std::vector<int64_t> out_strides = dims_row_major_strides(out_shape);
  std::memset(y, 0, static_cast<size_t>(dims_product(out_shape)) * elem_size);
  std::vector<int64_t> coord(unpooled_shape.size());
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  for (int64_t j = 0; j < count; ++j) {
    int64_t idx = indices[j];
    EF_CHECK(idx >= 0 && idx < unpooled_numel, kInvalidArgument,
             "MaxUnpool index {} is outside the unpooled tensor of {} elements", idx, unpooled_numel);
    dims_unravel(idx, unpooled_shape, coord);
    int64_t offset = 0;
    for (size_t i = 0; i < coord.size(); ++i) offset += coord[i] * out_strides[i];
    std::memcpy(dst + static_cast<size_t>(offset) * elem_size, src + static_cast<size_t>(j) * elem_size, elem_size);
  }
}

}  // namespace ef
