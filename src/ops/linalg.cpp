// Matrix products and determinants: MatMul, Gemm (with the opset < 7 `broadcast` attribute) and Det. The float
// paths run on the reference GEMM (kernels/reference/gemm.h), so they compute exactly what optimized GEMMs are
// checked against; 16-bit floats go through float32, integers accumulate in their own type with wraparound.
#include <cmath>
#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "kernels/reference/gemm.h"
#include "ops/linalg_family.h"

namespace ef {

MatMulGeometry matmul_geometry(const Shape& a, const Shape& b, const Node& node) {
  EF_CHECK(!a.empty() && !b.empty(), kInvalidModel, "{}: matmul operands must have rank >= 1, got {} and {}",
           node.label(), shape_str(a), shape_str(b));
  MatMulGeometry g;
  size_t ra = a.size(), rb = b.size();
  g.M = ra >= 2 ? a[ra - 2] : 1;
  g.K = a[ra - 1];
  int64_t kb = rb >= 2 ? b[rb - 2] : b[0];
  g.N = rb >= 2 ? b[rb - 1] : 1;
  EF_CHECK(g.K == kb, kInvalidModel, "{}: inner dimensions differ: {} x {}", node.label(), shape_str(a),
           shape_str(b));
  if (ra > 2) g.a_batch.assign(a.begin(), a.end() - 2);
  if (rb > 2) g.b_batch.assign(b.begin(), b.end() - 2);
  g.batch = broadcast_shapes(g.a_batch, g.b_batch, node);
  g.out = g.batch;
  if (ra >= 2) g.out.push_back(g.M);
  if (rb >= 2) g.out.push_back(g.N);
  return g;
}

std::optional<Dims> matmul_dims(const ValueType& a, const ValueType& b, const Node& node) {
  if (!a.has_rank() || !b.has_rank()) return std::nullopt;
  const Dims& da = *a.dims;
  const Dims& db = *b.dims;
  EF_CHECK(!da.empty() && !db.empty(), kInvalidModel, "{}: matmul operands must have rank >= 1, got {} and {}",
           node.label(), dims_str(da), dims_str(db));
  size_t ra = da.size(), rb = db.size();
  const Dim& ka = da[ra - 1];
  const Dim& kb = rb >= 2 ? db[rb - 2] : db[0];
  EF_CHECK(!ka.known() || !kb.known() || ka.value == kb.value, kInvalidModel, "{}: inner dimensions differ: {} x {}",
           node.label(), dims_str(da), dims_str(db));
  Dims batch_a(da.begin(), da.end() - std::min<size_t>(ra, 2));
  Dims batch_b(db.begin(), db.end() - std::min<size_t>(rb, 2));
  Dims out = broadcast_dims(batch_a, batch_b, node);
  if (ra >= 2) out.push_back(da[ra - 2]);
  if (rb >= 2) out.push_back(db[rb - 1]);
  return out;
}

namespace {

template <typename T>
std::vector<float> widen(const T* p, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<float>(p[i]);
  return out;
}

// Y[M, N] (row stride N) = alpha * op(A) * op(B) + beta * Y over contiguous operands of element type T.
template <typename T>
void gemm_typed(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const T* A, const T* B, float beta,
                T* Y) {
  int64_t lda = ta ? M : K;
  int64_t ldb = tb ? K : N;
  if constexpr (std::is_same_v<T, float>) {
    sgemm_reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Y, N);
  } else if constexpr (std::is_same_v<T, double>) {
    dgemm_reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Y, N);
  } else if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    std::vector<float> a = widen(A, M * K), b = widen(B, K * N), y = widen(Y, M * N);
    sgemm_reference(ta, tb, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta, y.data(), N);
    for (int64_t i = 0; i < M * N; ++i) Y[i] = T(y[static_cast<size_t>(i)]);
  } else {
    // Unsigned arithmetic so that overflow wraps as two's complement instead of being undefined.
    using U = std::make_unsigned_t<std::conditional_t<sizeof(T) < sizeof(int), int, T>>;
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        U acc = 0;
        for (int64_t k = 0; k < K; ++k) {
          U a = static_cast<U>(ta ? A[k * lda + m] : A[m * lda + k]);
          U b = static_cast<U>(tb ? B[n * ldb + k] : B[k * ldb + n]);
          acc = static_cast<U>(acc + a * b);
        }
        T prod = static_cast<T>(acc);
        T& y = Y[m * N + n];
        if (alpha != 1) prod = static_cast<T>(static_cast<double>(alpha) * static_cast<double>(prod));
        if (beta == 0) {
          y = prod;
        } else {
          T c = beta == 1 ? y : static_cast<T>(static_cast<double>(beta) * static_cast<double>(y));
          y = static_cast<T>(static_cast<U>(prod) + static_cast<U>(c));
        }
      }
    }
  }
}

void infer_matmul(InferContext& ctx) {
  ctx.set_output(0, ctx.input_dtype(0), matmul_dims(ctx.input_type(0), ctx.input_type(1), ctx.node()));
}

void matmul_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  EF_CHECK(a.dtype() == b.dtype(), kInvalidModel, "{}: operand types differ ({} vs {})", ctx.node().label(),
           dtype_name(a.dtype()), dtype_name(b.dtype()));
  MatMulGeometry g = matmul_geometry(a.shape(), b.shape(), ctx.node());
  BroadcastIndexer batches(g.batch, {g.a_batch, g.b_batch});
  visit_arith_or_half(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    int64_t off[2];
    for (int64_t i = 0; i < batches.numel(); ++i) {
      batches.offsets(i, off);
      gemm_typed<T>(false, false, g.M, g.N, g.K, 1.0f, pa + off[0] * g.M * g.K, pb + off[1] * g.K * g.N, 0.0f,
                    py + i * g.M * g.N);
    }
  });
}

struct GemmDims {
  Dim M, N;
};

GemmDims gemm_dims(const InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& ta = ctx.input_type(0);
  const ValueType& tb = ctx.input_type(1);
  GemmDims out;
  if (ta.has_rank()) {
    EF_CHECK(ta.rank() == 2, kInvalidModel, "{}: A must be 2-D, got {}", node.label(), ta.str());
    out.M = (*ta.dims)[node.attr_int("transA", 0) ? 1 : 0];
  }
  if (tb.has_rank()) {
    EF_CHECK(tb.rank() == 2, kInvalidModel, "{}: B must be 2-D, got {}", node.label(), tb.str());
    out.N = (*tb.dims)[node.attr_int("transB", 0) ? 0 : 1];
  }
  if (ta.has_rank() && tb.has_rank()) {
    const Dim& ka = (*ta.dims)[node.attr_int("transA", 0) ? 0 : 1];
    const Dim& kb = (*tb.dims)[node.attr_int("transB", 0) ? 1 : 0];
    EF_CHECK(!ka.known() || !kb.known() || ka.value == kb.value, kInvalidModel,
             "{}: inner dimensions differ: {} x {} (transA={}, transB={})", node.label(), ta.str(), tb.str(),
             node.attr_int("transA", 0), node.attr_int("transB", 0));
  }
  return out;
}

// C must broadcast one way onto [M, N]; before opset 7 only when the `broadcast` attribute allows it.
void check_gemm_bias(const Node& node, const Shape& c, int64_t M, int64_t N) {
  bool legacy_exact = node.version < 7 && node.attr_int("broadcast", 0) == 0;
  bool ok = c.size() <= 2;
  if (ok && legacy_exact) ok = c == Shape{M, N};
  if (ok && c.size() == 2) ok = (c[0] == M || c[0] == 1) && (c[1] == N || c[1] == 1);
  if (ok && c.size() == 1) ok = c[0] == N || c[0] == 1;
  EF_CHECK(ok, kInvalidModel, "{}: C of shape {} does not {}broadcast to [{},{}]", node.label(), shape_str(c),
           legacy_exact ? "(with broadcast=0) " : "", M, N);
}

void infer_gemm(InferContext& ctx) {
  GemmDims d = gemm_dims(ctx);
  if (ctx.version() < 11) {
    EF_CHECK(ctx.has_input(2), kInvalidModel, "{}: input C is required before opset 11", ctx.node().label());
  }
  std::optional<Shape> c = ctx.has_input(2) ? ctx.input_shape(2) : std::nullopt;
  if (c && d.M.known() && d.N.known()) check_gemm_bias(ctx.node(), *c, d.M.value, d.N.value);
  ctx.set_output(0, ctx.input_dtype(0), Dims{d.M, d.N});
}

void gemm_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  bool ta = node.attr_int("transA", 0) != 0;
  bool tb = node.attr_int("transB", 0) != 0;
  float alpha = node.attr_float("alpha", 1.0f);
  float beta = node.attr_float("beta", 1.0f);
  int64_t M = y.dim(0), N = y.dim(1);
  int64_t K = ta ? a.dim(0) : a.dim(1);
  bool has_c = ctx.has_input(2) && beta != 0;
  for (size_t i = 1; i < (has_c ? 3u : 2u); ++i) {
    EF_CHECK(ctx.input(i).dtype() == a.dtype(), kInvalidModel, "{}: input {} is {} but A is {}", node.label(), i,
             dtype_name(ctx.input(i).dtype()), dtype_name(a.dtype()));
  }
  if (has_c) check_gemm_bias(node, ctx.input(2).shape(), M, N);
  visit_arith_or_half(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    if (has_c) {  // Y starts as C broadcast onto [M, N]; the GEMM then scales it by beta
      const Tensor& c = ctx.input(2);
      BroadcastIndexer idx(y.shape(), {c.shape()});
      const T* pc = c.data<T>();
      int64_t off;
      for (int64_t i = 0; i < y.numel(); ++i) {
        idx.offsets(i, &off);
        py[i] = pc[off];
      }
    }
    gemm_typed<T>(ta, tb, M, N, K, alpha, a.data<T>(), b.data<T>(), has_c ? beta : 0.0f, py);
  });
}

void infer_det(InferContext& ctx) {
  const ValueType& t = ctx.input_type(0);
  if (!t.has_rank()) {
    ctx.set_output(0, t.dtype, std::nullopt);
    return;
  }
  const Dims& d = *t.dims;
  EF_CHECK(d.size() >= 2, kInvalidModel, "{}: input must have rank >= 2, got {}", ctx.node().label(), t.str());
  const Dim& r = d[d.size() - 2];
  const Dim& c = d[d.size() - 1];
  EF_CHECK(!r.known() || !c.known() || r.value == c.value, kInvalidModel, "{}: matrices must be square, got {}",
           ctx.node().label(), t.str());
  ctx.set_output(0, t.dtype, Dims(d.begin(), d.end() - 2));
}

// LU decomposition with partial pivoting, in double whatever the element type.
double determinant(std::vector<double>& m, int64_t n) {
  double det = 1;
  for (int64_t col = 0; col < n; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < n; ++r) {
      if (std::fabs(m[static_cast<size_t>(r * n + col)]) > std::fabs(m[static_cast<size_t>(pivot * n + col)])) {
        pivot = r;
      }
    }
    double p = m[static_cast<size_t>(pivot * n + col)];
    if (p == 0) return 0;
    if (pivot != col) {
      for (int64_t k = 0; k < n; ++k) {
        std::swap(m[static_cast<size_t>(pivot * n + k)], m[static_cast<size_t>(col * n + k)]);
      }
      det = -det;
    }
    det *= p;
    for (int64_t r = col + 1; r < n; ++r) {
      double f = m[static_cast<size_t>(r * n + col)] / p;
      for (int64_t k = col; k < n; ++k) m[static_cast<size_t>(r * n + k)] -= f * m[static_cast<size_t>(col * n + k)];
    }
  }
  return det;
}

void det_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t n = x.dim(x.rank() - 1);
  EF_CHECK(dtype_is_float(x.dtype()), kInvalidModel, "{}: Det needs a floating-point input, got {}",
           ctx.node().label(), dtype_name(x.dtype()));
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::vector<double> m(static_cast<size_t>(n * n));
    for (int64_t b = 0; b < y.numel(); ++b) {
      for (int64_t i = 0; i < n * n; ++i) m[static_cast<size_t>(i)] = to_double(px[b * n * n + i]);
      py[b] = static_cast<T>(static_cast<compute_t<T>>(determinant(m, n)));
    }
  });
}

}  // namespace

void register_linalg_ops(OpRegistry& r) {
  r.add({"", "MatMul", 1, 13, infer_matmul, matmul_kernel});
  r.add({"", "Gemm", 1, 13, infer_gemm, gemm_kernel});
  r.add({"", "Det", 11, 11, infer_det, det_kernel});
  register_einsum_op(r);
}

}  // namespace ef
