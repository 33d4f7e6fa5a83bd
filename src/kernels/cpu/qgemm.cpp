// Weight packing, kernel choice, the blocked/threaded driver and the portable micro-kernel of the quantized GEMM
// (qgemm.h). Blocking: a task packs a group of column panels (sized to stay in L2), then every row block of
// weights (one tile, a few KiB for typical K, so it stays in L1) runs over all panels of the group, each tile
// accumulating over the whole K in registers and requantizing in its epilogue.
#include "kernels/cpu/qgemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/cpu/isa.h"

namespace ef::cpu {
namespace {

constexpr int64_t kRowPad = 16;                    // rows are padded to the tallest kernel tile
constexpr int64_t kGroupBytes = 192 * 1024;        // packed panels per task: within L2
constexpr int64_t kMaxGroupPanels = 16;

int64_t kernel_rows(QKernel k) {
  switch (k) {
    case QKernel::kAvx512Vnni: return 16;
    case QKernel::kAvx512Bw: return 8;
    default: return 4;
  }
}

bool int16_layout(QKernel k) { return k == QKernel::kAvx2Int16 || k == QKernel::kAvx512Bw; }

detail::QMicro micro_for(QKernel k) {
  switch (k) {
    case QKernel::kAvx2: return detail::qgemm_micro_avx2;
    case QKernel::kAvx2Acc16: return detail::qgemm_micro_avx2_acc16;
    case QKernel::kAvx2Int16: return detail::qgemm_micro_avx2_int16;
    case QKernel::kAvxVnni: return detail::qgemm_micro_avx_vnni;
    case QKernel::kAvx512Bw: return detail::qgemm_micro_avx512bw;
    case QKernel::kAvx512Vnni: return detail::qgemm_micro_avx512_vnni;
    case QKernel::kScalar: break;
  }
  return nullptr;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

int32_t saturate(int32_t v, const QRequant& rq) { return std::clamp(v, rq.lo, rq.hi); }

// The epilogue formula for one row of accumulators; y_col in elements.
void requant_row_scalar(const int32_t* acc, int64_t count, int32_t offset, float scale, const QRequant& rq,
                        void* y, int64_t y_col) {
  for (int64_t j = 0; j < count; ++j) {
    const auto sum = static_cast<int32_t>(static_cast<uint32_t>(acc[j]) + static_cast<uint32_t>(offset));
    if (rq.out_int32) {
      static_cast<int32_t*>(y)[j * y_col] = sum;
      continue;
    }
    // Clamped before converting (a float beyond int32 has no defined conversion); the result saturates anyway.
    const float r = std::nearbyint(std::clamp(static_cast<float>(sum) * scale, -65536.0f, 65536.0f));
    const int32_t q = saturate(static_cast<int32_t>(r) + rq.zero_point, rq);
    if (rq.out_signed) {
      static_cast<int8_t*>(y)[j * y_col] = static_cast<int8_t>(q);
    } else {
      static_cast<uint8_t*>(y)[j * y_col] = static_cast<uint8_t>(q);
    }
  }
}

// The portable micro-kernel: raw accumulators of `rows` rows (any multiple of 4) x 16 columns.
void micro_scalar(const int8_t* w, int64_t tile_stride, const uint8_t* x, int64_t quads, int64_t rows,
                  int32_t* acc) {
  std::fill(acc, acc + rows * kQgemmNR, 0);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* wr = w + (r / kQgemmMR) * tile_stride + (r % kQgemmMR) * 4;
    int32_t* a = acc + r * kQgemmNR;
    for (int64_t q = 0; q < quads; ++q) {
      const int8_t* wq = wr + q * kQgemmMR * 4;
      const uint8_t* xq = x + q * kQgemmNR * 4;
      for (int64_t j = 0; j < kQgemmNR; ++j) {
        const uint8_t* xj = xq + j * 4;
        a[j] += xj[0] * wq[0] + xj[1] * wq[1] + xj[2] * wq[2] + xj[3] * wq[3];
      }
    }
  }
}

// vpmaddubsw's int16 lanes: the k indices whose u8 x s8 products one int16 lane sums before widening. kAvx2: the
// pair (2i, 2i + 1); kAvx2Acc16: the pairs of two consecutive quads that land in the same lane, (8o + h, 8o + h +
// 1, 8o + h + 4, 8o + h + 5) for h = 0, 2. A lane is exact when its weights' magnitudes sum to at most 128
// (255 * 128 < 2^15). Fills safe (M x K) with the weights clamped so every lane fits - within a lane the larger
// magnitudes are kept, the smaller ones clamped to what is left of 128 - and appends one residual (row, k,
// remainder) per clamped weight, counting them per 4-row tile in begin[tile + 1].
void clamp_lane_groups(int64_t M, int64_t K, const int8_t* w, int64_t ldw, QKernel kernel, std::vector<int8_t>& safe,
                       std::vector<QPackedWeights::Residual>& residuals, std::vector<int64_t>& begin) {
  safe.resize(static_cast<size_t>(M * K));
  residuals.clear();
  const bool acc16 = kernel == QKernel::kAvx2Acc16;
  const int64_t span = acc16 ? 8 : 2;
  const int64_t lane[4] = {0, 1, 4, 5};
  const int n_lane = acc16 ? 4 : 2;
  for (int64_t m = 0; m < M; ++m) {
    const int8_t* row = w + m * ldw;
    std::memcpy(safe.data() + m * K, row, static_cast<size_t>(K));
    for (int64_t base = 0; base < K; base += span) {
      for (int64_t h = 0; h < span / 2; h += 2) {
        int64_t idx[4];
        int n = 0;
        int32_t total = 0;
        for (int i = 0; i < n_lane; ++i) {
          const int64_t k = base + h + lane[i];
          if (k >= K) continue;
          idx[n++] = k;
          total += std::abs(static_cast<int32_t>(row[k]));
        }
        if (total <= 128) continue;  // the common case: the lane fits
        std::stable_sort(idx, idx + n, [&](int64_t a, int64_t b) { return std::abs(row[a]) > std::abs(row[b]); });
        int32_t room = 128;
        for (int i = 0; i < n; ++i) {
          const int32_t v = row[idx[i]], kept = std::clamp(v, -room, room);
          room -= std::abs(kept);
          if (kept == v) continue;
          safe[static_cast<size_t>(m * K + idx[i])] = static_cast<int8_t>(kept);
          residuals.push_back({static_cast<int32_t>(m % kQgemmMR), static_cast<int32_t>(idx[i]), v - kept});
          if (!begin.empty()) ++begin[static_cast<size_t>(m / kQgemmMR + 1)];
        }
      }
    }
  }
}

// A per-thread scratch buffer of at least `bytes`, 64-byte aligned, one per slot (kPanels: the packed panels,
// kStaging: staged fused outputs (see `stage` in qgemm), kColumns: arranged tail columns). Pool workers live as
// long as the pool, so after the first run a GEMM neither allocates nor clears them (a per-call vector zeroed up
// to 192 KiB per task had been visible).
enum class Scratch { kPanels, kStaging, kColumns };
template <Scratch kSlot>
uint8_t* scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t{63});
}

}  // namespace

namespace detail {
void qgemm_arrange_columns(const uint8_t* panel, int64_t Kq, int64_t cols, uint8_t* out) {
  const int64_t groups = (Kq + 3) / 4;
  for (int64_t j = 0; j < cols; ++j, out += groups * 64) {
    for (int64_t q = 0; q < groups * 4; ++q) {
      uint32_t v = 0;
      if (q < Kq) std::memcpy(&v, panel + q * kQgemmNR * 4 + j * 4, 4);
      for (int r = 0; r < 4; ++r) std::memcpy(out + q * 16 + r * 4, &v, 4);
    }
  }
}
}  // namespace detail

const char* qkernel_name(QKernel k) {
  switch (k) {
    case QKernel::kAvx2: return "avx2";
    case QKernel::kAvx2Acc16: return "avx2_acc16";
    case QKernel::kAvx2Int16: return "avx2_int16";
    case QKernel::kAvxVnni: return "avx_vnni";
    case QKernel::kAvx512Bw: return "avx512bw";
    case QKernel::kAvx512Vnni: return "avx512_vnni";
    case QKernel::kScalar: break;
  }
  return "scalar";
}

std::vector<QKernel> qgemm_kernels_available() {
  // The --isa cap, in Highway's target names: AVX3* allows the AVX-512 kernels (Highway 1.0.3 builds report AVX3
  // even on VNNI CPUs: AVX3_DL is not compiled by default), AVX2 the 256-bit ones.
  const std::string isa = active_isa();
  std::vector<QKernel> out;
  if (starts_with(isa, "AVX3") && detail::cpu_has_avx512_vnni()) out.push_back(QKernel::kAvx512Vnni);
  if (starts_with(isa, "AVX") && detail::cpu_has_avx_vnni()) out.push_back(QKernel::kAvxVnni);
  if (starts_with(isa, "AVX3") && detail::cpu_has_avx512bw()) out.push_back(QKernel::kAvx512Bw);
  if (starts_with(isa, "AVX") && detail::cpu_has_avx2()) {
    out.push_back(QKernel::kAvx2Acc16);
    out.push_back(QKernel::kAvx2);
    out.push_back(QKernel::kAvx2Int16);
  }
  out.push_back(QKernel::kScalar);
  return out;
}

const char* QPackedWeights::kernel_name() const {
  return kernel == QKernel::kAvx2 && !residuals.empty() ? "avx2_residual" : qkernel_name(kernel);
}

QPackedWeights qpack_weights(int64_t M, int64_t K, const int8_t* w, int64_t ldw) {
  QPackedWeights packed = qpack_weights(M, K, w, ldw, qgemm_kernels_available().front());
  const int64_t res16 = static_cast<int64_t>(packed.residuals.size());
  // A residual costs about as much as 8 weights of the main kernel; kAvx2Acc16 saves about a quarter of the
  // multiplies of kAvx2, so it wins unless its extra residuals cost more than that (kAvx2's are only counted
  // when that could happen: packing large models twice more is a visible part of session creation).
  if (packed.kernel == QKernel::kAvx2Acc16 && res16 * 8 * 4 > M * K) {
    std::vector<int8_t> safe;
    std::vector<QPackedWeights::Residual> res2;
    std::vector<int64_t> none;
    clamp_lane_groups(M, K, w, ldw, QKernel::kAvx2, safe, res2, none);
    if ((res16 - static_cast<int64_t>(res2.size())) * 8 * 4 > M * K) return qpack_weights(M, K, w, ldw, QKernel::kAvx2);
  }
  return packed;
}

QPackedWeights qpack_weights(int64_t M, int64_t K, const int8_t* w, int64_t ldw, QKernel kernel) {
  const std::vector<QKernel> avail = qgemm_kernels_available();
  if (std::find(avail.begin(), avail.end(), kernel) == avail.end()) return qpack_weights(M, K, w, ldw);
  QPackedWeights p;
  p.M = M;
  p.K = K;
  p.Kq = (K + 3) / 4;
  p.kernel = kernel;
  p.row_sums.assign(static_cast<size_t>(M), 0);
  const int64_t tiles = (M + kRowPad - 1) / kRowPad * (kRowPad / kQgemmMR);
  const size_t size = static_cast<size_t>(tiles * p.Kq * kQgemmMR * 4);
  const bool wide = int16_layout(kernel);
  if (wide) {
    p.data16.assign(size, 0);
  } else {
    p.data.assign(size, 0);
  }
  std::vector<int8_t> safe;  // kAvx2 / kAvx2Acc16: the weights with every int16 lane group clamped to fit
  if (kernel == QKernel::kAvx2 || kernel == QKernel::kAvx2Acc16) {
    p.residual_begin.assign(static_cast<size_t>(tiles + 1), 0);
    clamp_lane_groups(M, K, w, ldw, kernel, safe, p.residuals, p.residual_begin);
    // A residual costs about as much as 8 weights of the main kernel; past that the next kernel is cheaper.
    if (static_cast<int64_t>(p.residuals.size()) * 8 > M * K) {
      return qpack_weights(M, K, w, ldw, kernel == QKernel::kAvx2Acc16 ? QKernel::kAvx2 : QKernel::kAvx2Int16);
    }
    for (int64_t t = 0; t < tiles; ++t) {
      p.residual_begin[static_cast<size_t>(t + 1)] += p.residual_begin[static_cast<size_t>(t)];
    }
  }
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) {
      const int8_t v = safe.empty() ? w[m * ldw + k] : safe[static_cast<size_t>(m * K + k)];
      p.row_sums[static_cast<size_t>(m)] += w[m * ldw + k];
      const auto at = static_cast<size_t>((((m / kQgemmMR) * p.Kq + k / 4) * kQgemmMR + m % kQgemmMR) * 4 + k % 4);
      if (wide) {
        p.data16[at] = v;
      } else {
        p.data[at] = v;
      }
    }
  }
  return p;
}

void requantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const int32_t* offset, const float* scale,
                     const QRequant& rq, void* y) {
  const bool avx2 = detail::cpu_has_avx2() && starts_with(active_isa(), "AVX") && !rq.out_int32;
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
           int64_t y_row, int64_t y_col, ThreadPool& pool, const QColumnsDone* done) {
  if (w.M == 0 || N == 0) return;
  const int64_t panels = (N + kQgemmNR - 1) / kQgemmNR;
  const int64_t rows = kernel_rows(w.kernel);
  const int64_t blocks = (w.M + rows - 1) / rows;
  const int64_t tile_stride = w.Kq * kQgemmMR * 4;  // elements
  const int64_t panel_bytes = std::max<int64_t>(w.Kq, 1) * kQgemmNR * 4 + 64;
  const detail::QMicro micro = micro_for(w.kernel);
  // Fused epilogue: 8-bit outputs in contiguous columns; otherwise raw accumulators and a strided epilogue.
  const bool fused = micro != nullptr && y_col == 1 && !rq.out_int32;
  const bool sweep = fused && (w.kernel == QKernel::kAvx2 || w.kernel == QKernel::kAvx2Acc16);
  // Fused outputs whose rows lie a multiple of 2 KiB apart (planes of 32 x 64, 64 x 64, 128 x 128 ...) map a
  // tile's 16-24 row segments to one or two L1 sets, so the tile's stores evicted each other before the group's
  // next panels wrote the rest of those lines. Their tiles write to a contiguous staging block instead, copied
  // out row by row once the group's panels are done.
  const bool stage = fused && y_row % 2048 == 0;
  constexpr int64_t kStageRows = 24;  // the tallest row block (merge24)
  const bool merge24 = fused && w.kernel == QKernel::kAvx512Vnni && w.M >= 24 && w.M % 16 == 8;
  // avx512_vnni, a last panel of at most 4 columns (N = 49, 196, ...): those columns with the rows in the lanes
  // (qgemm_columns_avx512_vnni) at 1/16 of a panel's products each, instead of a mostly empty 16-column panel
  // (resnet18's and mobilenet_v2's 7 x 7 layers: a quarter of their products were for padding columns).
  const int64_t tail_cols = N % kQgemmNR;
  const bool column_tail = fused && w.kernel == QKernel::kAvx512Vnni && tail_cols > 0 && tail_cols <= 4;
  const int64_t column_bytes = (w.Kq + 3) / 4 * 64;
  // avx512_vnni, fused, K of 32+ quads: full 16-row blocks run pairs of full panels on the 8-row x 2-panel tile
  // (qgemm_pair_avx512_vnni: 10 loads per 16 vpdpbusd instead of 17). Shorter K keeps the 16-row tile: the pair
  // tile's sums go through memory around its asm loop, which short loops do not repay.
  const bool pairs = fused && w.kernel == QKernel::kAvx512Vnni && w.Kq >= 32;
  const int64_t elem = rq.out_int32 ? 4 : 1;
  int64_t group = std::clamp<int64_t>(kGroupBytes / panel_bytes, 1, kMaxGroupPanels);
  // Enough groups for every thread.
  group = std::min(group, std::max<int64_t>(1, panels / std::max(1, pool.num_threads())));
  const int64_t groups = (panels + group - 1) / group;
  pool.parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
    uint8_t* base = scratch<Scratch::kPanels>(static_cast<size_t>(group * panel_bytes));
    const int64_t stage_row = group * kQgemmNR;
    uint8_t* staging = stage ? scratch<Scratch::kStaging>(static_cast<size_t>(kStageRows * stage_row)) : nullptr;
    alignas(64) int32_t acc[kRowPad * kQgemmNR];
    detail::QTile t{};
    t.tile_stride = tile_stride;
    t.quads = w.Kq;
    t.rq = &rq;
    t.y_row = stage ? stage_row : y_row;
    t.acc = fused ? nullptr : acc;
    t.panels = 1;
    t.panel_stride = panel_bytes;
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t p0 = g * group, p1 = std::min(panels, p0 + group);
      packer.pack_panels(p0 * kQgemmNR, std::min(N, p1 * kQgemmNR), base, panel_bytes);
      // This group holds the last panel and its columns go to the column kernel: arrange them once for all blocks.
      const bool has_tail = column_tail && p1 == panels;
      const int64_t p_full = has_tail ? p1 - 1 : p1;
      const int64_t group_cols = std::min(N, p1 * kQgemmNR) - p0 * kQgemmNR;
      uint8_t* arranged = nullptr;
      if (has_tail) {
        arranged = scratch<Scratch::kColumns>(static_cast<size_t>(tail_cols * column_bytes));
        detail::qgemm_arrange_columns(base + (p_full - p0) * panel_bytes, w.Kq, tail_cols, arranged);
      }
      for (int64_t b = 0; b < blocks; ++b) {
        // avx512_vnni, M % 16 == 8: the last 24 rows as one 24-row tile instead of 16 + 8 (EfQgemm 24 x 16384 x
        // 24 70 -> 64 us, 24 x 3136 x 144 44 -> 42 us; it needs the staging on 2 KiB row strides: there its 24
        // row stores per tile thrashed L1 and it ran at half the speed).
        if (merge24 && b == blocks - 1) continue;
        const int64_t m0 = b * rows, valid = merge24 && b == blocks - 2 ? 24 : std::min(rows, w.M - m0);
        const int64_t first_tile = m0 / kQgemmMR;
        // A short last block computes only the rows it has (the 16-row kernel's padding rows were a third of
        // the products of M = 24 layers).
        const detail::QMicro block_micro =
            w.kernel == QKernel::kAvx512Vnni && valid != rows ? detail::qgemm_micro_avx512_vnni_rows(valid) : micro;
        // The tile fields that change with the row block; `t` is set up once per task (value-initializing it
        // per tile was a 112-byte rep stos, 4% of mobilenet_v2's INT8 run).
        t.w = w.data16.empty() ? static_cast<const void*>(w.data.data() + first_tile * tile_stride)
                               : static_cast<const void*>(w.data16.data() + first_tile * tile_stride);
        t.valid_rows = valid;
        t.offset = rq.offset + m0;
        t.scale = rq.scale == nullptr ? nullptr : rq.scale + m0;  // int32 outputs have none
        if (!w.residual_begin.empty()) {
          t.res = w.residuals.data() + w.residual_begin[static_cast<size_t>(first_tile)];
          t.res_count = w.residual_begin[static_cast<size_t>(first_tile + 1)] -
                        w.residual_begin[static_cast<size_t>(first_tile)];
        }
        // Where this block's fused outputs for the group's first column go.
        uint8_t* const y_block = stage ? staging : static_cast<uint8_t*>(y) + m0 * y_row + p0 * kQgemmNR;
        auto unstage = [&] {
          for (int64_t r = 0; r < valid; ++r) {
            std::memcpy(static_cast<uint8_t*>(y) + (m0 + r) * y_row + p0 * kQgemmNR, staging + r * stage_row,
                        static_cast<size_t>(group_cols));
          }
        };
        if (sweep) {
          // The row block over the whole group in one call: the per-tile call and epilogue set-up were a
          // visible part of small-K tiles (mobilenet_v2's expansions, K = 16-32).
          t.x = base;
          t.panels = p1 - p0;
          t.cols = N - p0 * kQgemmNR;
          t.y = y_block;
          block_micro(t);
          if (stage) unstage();
          continue;
        }
        int64_t first = p0;
        if (pairs && valid == rows) {
          // Full 16-row blocks over pairs of full panels: the 8-row x 2-panel tile.
          for (; first + 2 <= p_full && (first + 2) * kQgemmNR <= N; first += 2) {
            t.x = base + (first - p0) * panel_bytes;
            t.y = y_block + (first - p0) * kQgemmNR;
            detail::qgemm_pair_avx512_vnni(t);
          }
        }
        for (int64_t pi = first; pi < p_full; ++pi) {
          const int64_t j0 = pi * kQgemmNR, count = std::min(kQgemmNR, N - j0);
          const uint8_t* panel = base + (pi - p0) * panel_bytes;
          if (micro == nullptr) {
            micro_scalar(w.data.data() + first_tile * tile_stride, tile_stride, panel, w.Kq, rows, acc);
          } else {
            t.x = panel;
            t.cols = count;
            t.y = y_block + (pi - p0) * kQgemmNR;
            block_micro(t);
            if (fused) continue;
          }
          for (int64_t r = 0; r < valid; ++r) {
            const int64_t m = m0 + r;
            void* yrow = static_cast<uint8_t*>(y) + (m * y_row + j0 * y_col) * elem;
            requant_row_scalar(acc + r * kQgemmNR, count, rq.offset[m], rq.out_int32 ? 1.0f : rq.scale[m],
                               rq, yrow, y_col);
          }
        }
        if (has_tail) {
          t.x = arranged;
          t.cols = tail_cols;
          t.y = y_block + (p_full - p0) * kQgemmNR;
          detail::qgemm_columns_avx512_vnni(t);
        }
        if (stage) unstage();
      }
      if (done != nullptr) done->apply(p0 * kQgemmNR, std::min(N, p1 * kQgemmNR));
    }
  });
}

}  // namespace ef::cpu
