// Weight packing, the blocked/threaded driver and the portable micro-kernel of the quantized GEMM (qgemm.h).
#include "kernels/cpu/qgemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/cpu/isa.h"

namespace ef::cpu {
namespace {

constexpr int64_t kQuadsPerBlock = 128;  // 512 k per block: a panel block (8 KiB) stays in L1

bool isa_allows_avx2() {
  if (!detail::cpu_has_avx2()) return false;
  const std::string isa = active_isa();
  return isa.rfind("AVX", 0) == 0;  // AVX2, AVX3, AVX3_DL, ...: not capped below AVX2
}

int32_t saturate(int32_t v, const QRequant& rq) { return std::clamp(v, rq.lo, rq.hi); }

void requant_row_scalar(const int32_t* acc, int64_t count, int32_t offset, float scale, const QRequant& rq,
                        void* y, int64_t y_col) {
  for (int64_t j = 0; j < count; ++j) {
    float v = static_cast<float>(static_cast<int32_t>(static_cast<uint32_t>(acc[j]) + static_cast<uint32_t>(offset)));
    // Clamped before converting (a float beyond int32 has no defined conversion); the result saturates anyway.
    const float r = std::nearbyint(std::clamp(v * scale, -65536.0f, 65536.0f));
    int32_t q = saturate(static_cast<int32_t>(r) + rq.zero_point, rq);
    if (rq.out_signed) {
      static_cast<int8_t*>(y)[j * y_col] = static_cast<int8_t>(q);
    } else {
      static_cast<uint8_t*>(y)[j * y_col] = static_cast<uint8_t>(q);
    }
  }
}

}  // namespace

const char* QPackedWeights::kernel_name() const {
  if (avx2) return split ? "avx2_split" : (residuals.empty() ? "avx2" : "avx2_residual");
  return "scalar";
}

QPackedWeights qpack_weights(int64_t M, int64_t K, const int8_t* w, int64_t ldw, bool allow_avx2) {
  QPackedWeights p;
  p.M = M;
  p.K = K;
  p.Kq = (K + 3) / 4;
  p.avx2 = allow_avx2 && isa_allows_avx2();
  p.row_sums.assign(static_cast<size_t>(M), 0);
  // The packed (pair-safe) weights; residuals hold what clamping took off.
  std::vector<int8_t> safe(static_cast<size_t>(M * K));
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) {
      p.row_sums[static_cast<size_t>(m)] += w[m * ldw + k];
      safe[static_cast<size_t>(m * K + k)] = w[m * ldw + k];
      if (k % 2 == 0) continue;
      const int32_t a = w[m * ldw + k - 1], b = w[m * ldw + k];
      if (std::abs(a) + std::abs(b) <= 128) continue;
      // Keep the larger magnitude (at most 128), clamp the other to what is left of 128.
      const bool keep_a = std::abs(a) >= std::abs(b);
      const int32_t big = keep_a ? a : b, small = keep_a ? b : a;
      const int32_t room = 128 - std::abs(big);
      const int32_t clamped = std::clamp(small, -room, room);
      const int64_t at = keep_a ? k : k - 1;
      safe[static_cast<size_t>(m * K + at)] = static_cast<int8_t>(clamped);
      p.residuals.push_back({static_cast<int32_t>(m), static_cast<int32_t>(at), small - clamped});
    }
  }
  // Each residual costs about as much as 8 weights of the main kernel; past that, the split layout is cheaper.
  if (static_cast<int64_t>(p.residuals.size()) * 8 > M * K) {
    p.split = true;
    p.residuals.clear();
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t k = 0; k < K; ++k) safe[static_cast<size_t>(m * K + k)] = w[m * ldw + k];
    }
  }
  const int64_t width = p.split ? 8 : 4;
  const int64_t tiles = (M + kQgemmMR - 1) / kQgemmMR;
  p.data.assign(static_cast<size_t>(tiles * p.Kq * kQgemmMR * width), 0);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) {
      const int64_t at = (((m / kQgemmMR) * p.Kq + k / 4) * kQgemmMR + m % kQgemmMR) * width + k % 4;
      const int8_t v = safe[static_cast<size_t>(m * K + k)];
      if (p.split) {
        const auto half = static_cast<int8_t>(v / 2);
        p.data[static_cast<size_t>(at)] = half;
        p.data[static_cast<size_t>(at + 4)] = static_cast<int8_t>(v - half);
      } else {
        p.data[static_cast<size_t>(at)] = v;
      }
    }
  }
  return p;
}

namespace detail {

void qgemm_micro_scalar(const int8_t* w, const uint8_t* x, int64_t quads, bool split, bool accumulate,
                        int32_t* acc) {
  const int64_t width = split ? 8 : 4;
  if (!accumulate) std::fill(acc, acc + kQgemmMR * kQgemmNR, 0);
  for (int64_t q = 0; q < quads; ++q) {
    const uint8_t* xq = x + q * kQgemmNR * 4;
    const int8_t* wq = w + q * kQgemmMR * width;
    for (int64_t r = 0; r < kQgemmMR; ++r) {
      const int8_t* wr = wq + r * width;
      int32_t wsum[4];
      for (int i = 0; i < 4; ++i) wsum[i] = wr[i] + (split ? wr[i + 4] : 0);
      for (int64_t j = 0; j < kQgemmNR; ++j) {
        const uint8_t* xj = xq + j * 4;
        acc[r * kQgemmNR + j] += xj[0] * wsum[0] + xj[1] * wsum[1] + xj[2] * wsum[2] + xj[3] * wsum[3];
      }
    }
  }
}

void qgemm_residuals_scalar(const QPackedWeights::Residual* res, int64_t count, const uint8_t* x, int32_t* acc) {
  for (int64_t e = 0; e < count; ++e) {
    const uint8_t* xk = x + (res[e].k / 4) * kQgemmNR * 4 + res[e].k % 4;
    int32_t* row = acc + static_cast<int64_t>(res[e].m) * kQgemmNR;
    for (int64_t j = 0; j < kQgemmNR; ++j) row[j] += res[e].r * xk[j * 4];
  }
}

}  // namespace detail

void requantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const int32_t* offset, const float* scale,
                     const QRequant& rq, void* y) {
  const bool avx2 = isa_allows_avx2();
  for (int64_t m = 0; m < rows; ++m) {
    for (int64_t j = 0; j < cols; j += kQgemmNR) {
      const int64_t n = std::min(kQgemmNR, cols - j);
      void* out = static_cast<uint8_t*>(y) + m * cols + j;
      const int32_t* a = acc + m * cols + j;
      if (avx2 && n == kQgemmNR) {
        detail::requant_row_avx2(a, n, offset[m], scale[m], rq, out);
      } else {
        requant_row_scalar(a, n, offset[m], scale[m], rq, out, 1);
      }
    }
  }
}

void qgemm(const QPackedWeights& w, int64_t N, const QPanelPacker& packer, const QRequant& rq, void* y,
           int64_t y_row, int64_t y_col, ThreadPool& pool) {
  if (w.M == 0 || N == 0) return;
  const int64_t panels = (N + kQgemmNR - 1) / kQgemmNR;
  const int64_t tiles = (w.M + kQgemmMR - 1) / kQgemmMR;
  const int64_t width = w.split ? 8 : 4;
  const size_t elem = 1;  // 8-bit outputs
  auto micro = w.avx2 ? detail::qgemm_micro_avx2 : detail::qgemm_micro_scalar;
  pool.parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    std::vector<uint8_t> panel(static_cast<size_t>(std::max<int64_t>(w.Kq, 1) * kQgemmNR * 4 + 64));
    std::vector<int32_t> acc(static_cast<size_t>(tiles * kQgemmMR * kQgemmNR));
    for (int64_t pi = p0; pi < p1; ++pi) {
      const int64_t j0 = pi * kQgemmNR, j1 = std::min(N, j0 + kQgemmNR);
      packer.pack(j0, j1, panel.data());
      for (int64_t q0 = 0; q0 < w.Kq || q0 == 0; q0 += kQuadsPerBlock) {
        const int64_t quads = std::min(kQuadsPerBlock, w.Kq - q0);
        for (int64_t t = 0; t < tiles; ++t) {
          micro(w.data.data() + ((t * w.Kq + q0) * kQgemmMR) * width, panel.data() + q0 * kQgemmNR * 4, quads,
                w.split, q0 > 0, acc.data() + t * kQgemmMR * kQgemmNR);
        }
        if (w.Kq == 0) break;
      }
      if (!w.residuals.empty()) {
        (w.avx2 ? detail::qgemm_residuals_avx2 : detail::qgemm_residuals_scalar)(
            w.residuals.data(), static_cast<int64_t>(w.residuals.size()), panel.data(), acc.data());
      }
      const int64_t count = j1 - j0;
      for (int64_t m = 0; m < w.M; ++m) {
        void* yrow = static_cast<uint8_t*>(y) + (m * y_row + j0 * y_col) * static_cast<int64_t>(elem);
        const int32_t* a = acc.data() + m * kQgemmNR;
        if (w.avx2 && y_col == 1) {
          detail::requant_row_avx2(a, count, rq.offset[m], rq.scale[m], rq, yrow);
        } else {
          requant_row_scalar(a, count, rq.offset[m], rq.scale[m], rq, yrow, y_col);
        }
      }
    }
  });
}

}  // namespace ef::cpu
