// Softmax, LogSoftmax and Hardmax. Opsets 1 and 11 coerce the input to 2-D at `axis` ([a0*..*a(k-1), ak*..*an])
// and normalize each row; opset 13 normalizes along the single dimension `axis`.
#include <cmath>
#include <vector>

#include "core/dispatch.h"
#include "ops/activation_family.h"
#include "ops/shape_util.h"

namespace ef {

void softmax_along_axis(SoftmaxMode mode, const double* in, double* out, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < inner; ++k) {
      const double* x = in + o * n * inner + k;
      double* y = out + o * n * inner + k;
      if (mode == SoftmaxMode::kHardmax) {
        // The first maximum wins; a NaN counts as the maximum, as in NumPy's argmax.
        int64_t best = 0;
        for (int64_t j = 1; j < n; ++j) {
          double v = x[j * inner];
          double b = x[best * inner];
          if (!std::isnan(b) && (std::isnan(v) || v > b)) best = j;
        }
        for (int64_t j = 0; j < n; ++j) y[j * inner] = j == best ? 1.0 : 0.0;
        continue;
      }
      // Subtracting the maximum keeps exp() from overflowing without changing the result.
      double max = -INFINITY;
      for (int64_t j = 0; j < n; ++j) max = std::fmax(max, x[j * inner]);
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(x[j * inner] - max);
      if (mode == SoftmaxMode::kSoftmax) {
        for (int64_t j = 0; j < n; ++j) y[j * inner] = std::exp(x[j * inner] - max) / sum;
      } else {
        double log_sum = std::log(sum);
        for (int64_t j = 0; j < n; ++j) y[j * inner] = x[j * inner] - max - log_sum;
      }
    }
  }
}

namespace {

void infer_softmax(InferContext& ctx) {
  const ValueType& t = ctx.input_type(0);
  if (t.has_rank()) {
    int64_t fallback = ctx.version() < 13 ? 1 : -1;
    normalize_axis(ctx.node().attr_int("axis", fallback), static_cast<int64_t>(t.rank()), ctx.node());
  }
  infer_float_same_as_input(ctx);
}

template <SoftmaxMode Mode>
void softmax_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& out = ctx.output(0);
  const Shape& shape = x.shape();
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t axis = normalize_axis(ctx.node().attr_int("axis", ctx.version() < 13 ? 1 : -1), rank, ctx.node());
  int64_t outer = 1;
  int64_t n = 1;
  int64_t inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t size = shape[static_cast<size_t>(d)];
    if (d < axis) {
      outer *= size;
    } else if (d == axis || ctx.version() < 13) {
      n *= size;  // the 2-D coercion folds every trailing dim into the row
    } else {
      inner *= size;
    }
  }
  if (x.numel() == 0) return;
  visit_float_dtype(x.dtype(), ctx.node(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    std::vector<double> in(static_cast<size_t>(x.numel()));
    std::vector<double> res(in.size());
    for (size_t i = 0; i < in.size(); ++i) in[i] = to_double(px[i]);
    softmax_along_axis(Mode, in.data(), res.data(), outer, n, inner);
    T* po = out.data<T>();
    for (size_t i = 0; i < res.size(); ++i) po[i] = float_from_double<T>(res[i]);
  });
}

}  // namespace

void register_softmax_ops(OpRegistry& r) {
  r.add({"", "Softmax", 1, 13, infer_softmax, softmax_kernel<SoftmaxMode::kSoftmax>});
  r.add({"", "LogSoftmax", 1, 13, infer_softmax, softmax_kernel<SoftmaxMode::kLogSoftmax>});
  r.add({"", "Hardmax", 1, 13, infer_softmax, softmax_kernel<SoftmaxMode::kHardmax>});
}

}  // namespace ef
