// The SGEMM driver: cache blocking around the micro-kernel (BLIS loop order jc / pc / ic / jr / ir), the
// single-column path (N == 1 and narrow last column panels), per-thread packing buffers, the split of C among
// threads, the epilogue hand-off and the pre-packed operands. Depends on the standard library, Highway (target
// names), core/thread_pool.h and kernels/cpu/sgemm*.h.
#include "kernels/cpu/sgemm.h"

#include <algorithm>
#include <numeric>
#include <new>
#include <stdexcept>

#include "hwy/targets.h"
#include "kernels/cpu/sgemm_kernel.h"

namespace ef::cpu {
namespace {

using detail::GemmKernel;
using detail::TileEpilogue;

float* alloc_floats(size_t n) {
  return static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t(64)));
}
void free_floats(float* p) { ::operator delete(p, std::align_val_t(64)); }

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// A packing buffer that only grows: after the first calls of a given size, sgemm allocates nothing.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { free_floats(data_); }
  float* get(size_t n) {
    if (n > capacity_) {
      free_floats(data_);
      data_ = nullptr;
      data_ = alloc_floats(n);
      capacity_ = n;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

// Pool workers live as long as the pool, so their buffers are reused from call to call.
struct Scratch {
  Buffer a, b;
  Buffer column;  // run_column with a custom B packer: the packed column before it is expanded
  Buffer tail;      // TailColumns: the expanded columns
};
thread_local Scratch t_scratch;

struct Operand {
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
  const float* packed = nullptr;  // whole-matrix panels from pack_a / pack_b, or null: packed per block here
  int64_t padded = 0;             // packed: rows (A) or columns (B) rounded up to the tile
  const BPanelPacker* packer = nullptr;  // B only: the caller packs the per-block panels instead of data
};

// Packs B panels for columns [j0, j0 + cols) of K block [p0, p0 + kc) from whichever source the operand has.
void pack_b_block(const GemmKernel& k, const Operand& b, int64_t p0, int64_t kc, int64_t j0, int64_t cols,
                  float* dst) {
  if (b.packer) return b.packer->pack(p0, p0 + kc, j0, j0 + cols, k.nr, dst);
  detail::pack_b_panels(k, b.trans, b.data, b.ld, p0, kc, j0, cols, dst);
}

struct Problem {
  const GemmKernel* kernel;
  int64_t M, N, K;
  Operand a, b;
  float* C;
  int64_t ldc;
  const GemmEpilogue* epi;
};

// The epilogue of the tile at (i, j), or null when there is nothing to do.
const TileEpilogue* tile_epilogue(const GemmEpilogue& e, int64_t i, int64_t j, TileEpilogue& te) {
  if (e.alpha == 1.0f && !e.bias && !e.residual && e.act.kind == ActKind::kNone) return nullptr;
  te.alpha = e.alpha;
  if (e.bias) (e.bias_per_row ? te.row_bias : te.col_bias) = e.bias + (e.bias_per_row ? i : j);
  if (e.residual) te.residual = e.residual + i * e.ldr + j, te.ldr = e.ldr;
  te.act = e.act;
  return &te;
}

size_t buffer_floats(int64_t extent, int64_t block, int64_t tile, int64_t kc) {
  return static_cast<size_t>(round_up(std::min(block, extent), tile) * kc + detail::kPackSlack);
}

// op(B)(k, j) of K block pc (k = pc + kk) from a stored or pre-packed B; `col` is column j already packed by a
// custom packer (nr-wide panel, lane 0), or null.
float b_element(const Problem& p, const float* col, int64_t pc, int64_t kc, int64_t kk, int64_t j) {
  const int64_t nr = p.kernel->nr;
  if (col) return col[kk * nr];
  if (p.b.packed) return p.b.packed[pc * p.b.padded + j / nr * nr * kc + kk * nr + j % nr];
  return p.b.trans ? p.b.data[j * p.b.ld + pc + kk] : p.b.data[(pc + kk) * p.b.ld + j];
}

// Column j of op(B)'s K block [pc, pc + kc) expanded to the A panel layout for the column kernel: xe[kk * mr + r]
// = op(B)(pc + kk, j). `col` is scratch for a custom packer's panel (nr * kc floats), null for other B operands.
void expand_column(const Problem& p, int64_t pc, int64_t kc, int64_t j, float* col, float* xe) {
  const int64_t mr = p.kernel->mr;
  if (col) p.b.packer->pack(pc, pc + kc, j, j + 1, p.kernel->nr, col);
  for (int64_t kk = 0; kk < kc; ++kk) std::fill(xe + kk * mr, xe + (kk + 1) * mr, b_element(p, col, pc, kc, kk, j));
}

// One A panel (rows i .. i + rows, K block pc) times an expanded column: C[i:i+rows, j] on the column kernel.
void column_panel(const Problem& p, int64_t pc, int64_t kc, int64_t i, int64_t rows, const float* a_panel,
                  const float* xe, int64_t j) {
  TileEpilogue te;
  const TileEpilogue* ep = pc + kc == p.K ? tile_epilogue(*p.epi, i, j, te) : nullptr;
  p.kernel->column(kc, a_panel, xe, p.C + i * p.ldc + j, p.ldc, static_cast<int>(rows), pc > 0, ep);
}

// C[m0:m1, j] alone with the column kernel (N == 1, and a narrow last column panel with no full panel before it):
// per K block the column is expanded once for all A panels.
void run_column(const Problem& p, int64_t m0, int64_t m1, int64_t j) {
  const GemmKernel& k = *p.kernel;
  const int64_t mr = k.mr;
  Scratch& s = t_scratch;
  float* a_buf = p.a.packed ? nullptr : s.a.get(buffer_floats(m1 - m0, k.mc, mr, k.kc));
  float* xe = s.b.get(static_cast<size_t>(mr * k.kc));
  float* col = p.b.packer ? s.column.get(static_cast<size_t>(k.nr * k.kc)) : nullptr;
  for (int64_t pc = 0; pc < p.K; pc += k.kc) {
    const int64_t kc = std::min<int64_t>(k.kc, p.K - pc);
    expand_column(p, pc, kc, j, col, xe);
    for (int64_t ic = m0; ic < m1; ic += k.mc) {
      const int64_t mc = std::min<int64_t>(k.mc, m1 - ic);
      const float* a_block = p.a.packed ? p.a.packed + pc * p.a.padded + ic * kc : a_buf;
      for (int64_t ir = 0; ir < mc; ir += mr) {
        const int64_t rows = std::min<int64_t>(mr, mc - ir), i = ic + ir;
        if (!p.a.packed) detail::pack_a_panels(k, p.a.trans, p.a.data, p.a.ld, i, rows, pc, kc, a_buf + ir * kc);
        column_panel(p, pc, kc, i, rows, a_block + ir * kc, xe, j);
      }
    }
  }
}

// A last column panel this narrow (7x7 planes: N = 49 = 3 x 16 + 1) runs column by column on the column kernel,
// which multiplies full vectors along K: a tile would spend mr (or 2 mr with tile_pair) FMA vectors per k on it
// for 1 or 2 useful lanes each (gemm_bench 1280x49x320: 14% of the time for 2% of the columns). Only with A
// pre-packed, so no A panel is packed twice. Which columns take this path depends on N alone, never on the split.
constexpr int64_t kMaxColumnTail = 2;

int64_t column_tail(const Problem& p, int64_t n1) {
  // Modulo one vector, not a panel: on AVX-512 (nr = 32) N = 49 is then 32 + 16 + 1 (a two-vector panel, a
  // one-vector panel in row-tile pairs, one column) instead of 32 + 17, whose last panel took a full two-vector
  // tile for 17 columns (64 column slots for 49).
  const int64_t tail = p.N % (p.kernel->nr / 2);
  return p.a.packed && n1 == p.N && tail <= kMaxColumnTail ? tail : 0;
}

// The column_tail columns of a block, computed beside its tiles: per K block, each A panel takes them right after
// its tiles, while it is still in L1 (K <= kRowsOuterMaxK) or its block in L2. Run as a pass of their own, they read
// all of A once more from L3 (the weights of a 7x7 layer do not fit L2): 14% of the time of 1280x49x320 for 2% of
// its columns. The same column kernel calls as run_column, so the same bits.
class TailColumns {
 public:
  TailColumns(const Problem& p, int64_t j0, int64_t count) : p_(p), j0_(j0), count_(count) {
    if (count == 0) return;
    const GemmKernel& k = *p.kernel;
    Scratch& s = t_scratch;
    xe_ = s.tail.get(static_cast<size_t>(count * k.mr * k.kc));
    col_ = p.b.packer ? s.column.get(static_cast<size_t>(k.nr * k.kc)) : nullptr;
  }
  // Call before the block's tiles of K block pc.
  void expand(int64_t pc, int64_t kc) {
    for (int64_t t = 0; t < count_; ++t) expand_column(p_, pc, kc, j0_ + t, col_, xe_ + t * p_.kernel->mr * kc);
  }
  void run(int64_t pc, int64_t kc, int64_t i, int64_t rows, const float* a_panel) const {
    for (int64_t t = 0; t < count_; ++t) {
      column_panel(p_, pc, kc, i, rows, a_panel, xe_ + t * p_.kernel->mr * kc, j0_ + t);
    }
  }

 private:
  const Problem& p_;
  int64_t j0_, count_;
  float* xe_ = nullptr;
  float* col_ = nullptr;
};

// run_block's row-tile-outer order: up to this K (gemm_bench, 1 thread, AVX2: 1.01-1.22x on the 1x1 shapes of
// the mobile nets up to K = 144; neutral at K = 64..384 on 14x14 planes), with a column block whose B panels take
// this many bytes (half of a 512 KiB L2, leaving room for C's lines on their way out).
constexpr int64_t kRowsOuterMaxK = 160;
constexpr int64_t kRowsOuterBBytes = 256 << 10;
// b_in_place: rows of B whose line stride shares at most this factor with the L2's 1024 sets (64 or more sets).
constexpr int64_t kMaxInPlaceLineGcd = 16;
// ... and only for blocks of at most this many row tiles: each row tile reads B in place once more, from L2 at best
// and with as many streams and pages as K, while a packed copy is made once and read contiguously. gemm_bench,
// 1 thread, 4 interleaved rounds, median in place / packed: 16x12544x32 0.91, 24x3136x144 0.89, but 32x12544x27
// 1.04-1.11, 144x3136x24 1.15-1.20.
constexpr int64_t kMaxInPlaceRowTiles = 4;
// Past kRowsOuterMaxK, blocks of at most this many row tiles still take the row-tile-outer order with B in place:
// packing B (CopyPanelRows) was a quarter of such a product (squeezenet's squeeze convs, 32x729x256), and B's
// column block is read from L2 once per row tile. gemm_bench, 1 thread, 2 interleaved rounds: 32x729x256 0.73x the
// time, 48x169x384 0.77-0.8x, 64x169x512 0.85-0.92x; squeezenet1_1 0.98x, mobilenet_v2 0.98x, mobilenet_v3_small
// 0.97x at 1 thread (3 interleaved rounds).
constexpr int64_t kLongKInPlaceRowTiles = 6;
// ... or of at most this many when B has at least kWideInPlaceColumns columns, so that most of the product runs on
// the in-place panels: conv_bench --weight-copies=32 (cold weights, as inside a model), 672x196x112 0.146 -> 0.135
// ms; mobilenet_v2's 576 -> 96 on 14x14 0.108-0.114 -> 0.097-0.101 ms in the model at 1 thread, matching ORT's
// 0.099. With 49 columns (7x7: 32 in place, 17 packed) it was level (160 rows) or slower (192 rows: 0.110 ->
// 0.117).
constexpr int64_t kWideInPlaceRowTiles = 10;
constexpr int64_t kWideInPlaceColumns = 128;
int64_t long_k_in_place_row_tiles(const Problem& p) {
  return p.N >= kWideInPlaceColumns ? kWideInPlaceRowTiles : kLongKInPlaceRowTiles;
}

// Whether the short-K order reads B where it is stored (GemmKernel::sweep_in_place) instead of packing it: a stored,
// untransposed B whose rows fall into enough different L2 sets. Each row tile reads the column block's rows once
// more, from L2: with a row stride that is a multiple of a large power of two (blazeface's 128x128 planes: 64 KiB)
// every row of a column maps to the same set and the block would not stay there.
bool b_in_place(const Problem& p) {
  if (p.b.packed || p.b.packer || p.b.trans) return false;
  const int64_t bytes = p.b.ld * static_cast<int64_t>(sizeof(float));
  if (bytes % 64 != 0) return true;  // rows start at different offsets within lines: no set aliasing pattern
  const int64_t lines = bytes / 64;
  return std::gcd(lines, int64_t{1024}) <= kMaxInPlaceLineGcd;
}

// Computes C[m0:m1, n0:n1] (m0 a multiple of mr, n0 of nr). Each operand panel not pre-packed is packed right
// before its first use, so a block with a single row (column) pass consumes its B (A) panels from L1.
void run_block(const Problem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (p.N == 1) return run_column(p, m0, m1, 0);
  const int64_t tail_cols = column_tail(p, n1);
  if (tail_cols > 0 && n1 - tail_cols <= n0) {
    for (int64_t j = n0; j < n1; ++j) run_column(p, m0, m1, j);
    return;
  }
  n1 -= tail_cols;  // the tiles' columns; the tail's are computed beside them
  TailColumns tail(p, n1, tail_cols);
  const GemmKernel& k = *p.kernel;
  const int64_t mr = k.mr, nr = k.nr, half = k.nr / 2;
  // Short K (1x1 convolutions with few input channels) with A pre-packed: the tile's K loop is so short that
  // writing C is a large part of its cost. The usual order (column panel outer, row tiles inner) writes one
  // 2-vector piece of each of the block's M rows in turn: M streams over M pages, more than the prefetchers and
  // the TLB follow. Here each row tile instead sweeps the whole column block (6 or 12 write streams, one page
  // each), reading the block's B panels from L2, which the column block is sized for, and its A panel from L1.
  // Same tiles, same K order: results are bit-identical to the usual order.
  const bool long_k_in_place = p.a.packed && p.K > kRowsOuterMaxK && m1 - m0 > mr &&
                               m1 - m0 <= long_k_in_place_row_tiles(p) * mr && b_in_place(p);
  const bool rows_outer = p.a.packed && (p.K <= kRowsOuterMaxK || long_k_in_place) && m1 - m0 > mr;
  const bool in_place = long_k_in_place || (rows_outer && m1 - m0 <= kMaxInPlaceRowTiles * mr && b_in_place(p));
  const int64_t nc_max =
      rows_outer ? std::max<int64_t>(nr, kRowsOuterBBytes / static_cast<int64_t>(sizeof(float) * p.K) / nr * nr)
                 : k.nc;
  Scratch& s = t_scratch;
  float* a_buf = p.a.packed ? nullptr : s.a.get(buffer_floats(m1 - m0, k.mc, mr, k.kc));
  float* b_buf = p.b.packed ? nullptr : s.b.get(buffer_floats(n1 - n0, nc_max, nr, k.kc));

  for (int64_t jc = n0; jc < n1; jc += nc_max) {
    const int64_t nc = std::min<int64_t>(nc_max, n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += k.kc) {
      const int64_t kc = std::min<int64_t>(k.kc, p.K - pc);
      const bool accumulate = pc > 0, last = pc + kc == p.K;
      const float* b_block = p.b.packed ? p.b.packed + pc * p.b.padded + jc * kc : b_buf;
      const bool with_tail = jc + nc == n1;
      if (with_tail) tail.expand(pc, kc);
      if (rows_outer) {
        // With B in place, the block's full panels are read from B itself and only a partial last one is packed.
        const int64_t direct = in_place ? nc / nr * nr : 0, pj = jc + direct, pn = nc - direct;
        if (!p.b.packed && pn > 0) pack_b_block(k, p.b, pc, kc, pj, pn, b_buf);
        const float* pb = p.b.packed ? b_block : b_buf;
        // A last panel of one vector is left to a column pass, where row tiles go in pairs.
        const int64_t last_cols = pn == 0 ? 0 : pn - (pn - 1) / nr * nr;
        const int64_t swept = last_cols > half ? pn : pn - last_cols;
        for (int64_t i = m0; i < m1; i += mr) {
          const int64_t rows = std::min<int64_t>(mr, m1 - i);
          const float* a_panel = p.a.packed + pc * p.a.padded + i * kc;
          if (direct > 0) {
            TileEpilogue te;
            const TileEpilogue* ep = last ? tile_epilogue(*p.epi, i, jc, te) : nullptr;
            k.sweep_in_place[rows - 1](kc, a_panel, p.b.data + pc * p.b.ld + jc, p.b.ld, p.C + i * p.ldc + jc, p.ldc,
                                       direct, accumulate, ep);
          }
          if (swept > 0) {
            TileEpilogue te;
            const TileEpilogue* ep = last ? tile_epilogue(*p.epi, i, pj, te) : nullptr;
            k.sweep[rows - 1](kc, a_panel, pb, p.C + i * p.ldc + pj, p.ldc, swept, accumulate, ep);
          }
          if (with_tail) tail.run(pc, kc, i, rows, a_panel);
        }
        if (swept < pn) {
          for (int64_t i = m0; i < m1; i += mr) {
            const bool pair = i + 2 * mr <= m1;
            const int64_t rows = std::min<int64_t>(mr, m1 - i), j = pj + swept;
            TileEpilogue te;
            const TileEpilogue* ep = last ? tile_epilogue(*p.epi, i, j, te) : nullptr;
            (pair ? k.tile_pair : k.tile[rows - 1][0])(kc, p.a.packed + pc * p.a.padded + i * kc, pb + swept * kc,
                                                       p.C + i * p.ldc + j, p.ldc, last_cols, accumulate, ep);
            if (pair) i += mr;
          }
        }
        continue;
      }
      for (int64_t ic = m0; ic < m1; ic += k.mc) {
        const int64_t mc = std::min<int64_t>(k.mc, m1 - ic);
        const float* a_block = p.a.packed ? p.a.packed + pc * p.a.padded + ic * kc : a_buf;
        const bool pack_b = !p.b.packed && ic == m0;
        for (int64_t jr = 0; jr < nc; jr += nr) {
          if (mc == 1 && jr + detail::kRowPanels * nr <= nc) {
            // A single row (Gemm at batch 1): several column panels per call, for enough accumulators.
            const int64_t cols = detail::kRowPanels * nr;
            if (pack_b) pack_b_block(k, p.b, pc, kc, jc + jr, cols, b_buf + jr * kc);
            if (!p.a.packed && jr == 0) detail::pack_a_panels(k, p.a.trans, p.a.data, p.a.ld, ic, 1, pc, kc, a_buf);
            TileEpilogue te;
            const TileEpilogue* ep = last ? tile_epilogue(*p.epi, ic, jc + jr, te) : nullptr;
            k.row_panels(kc, a_block, b_block + jr * kc, p.C + ic * p.ldc + jc + jr, p.ldc, cols, accumulate, ep);
            jr += cols - nr;
            continue;
          }
          const int64_t cols = std::min<int64_t>(nr, nc - jr);
          const int vecs = cols > half ? 2 : 1;
          const float* b_panel = b_block + jr * kc;
          if (pack_b) pack_b_block(k, p.b, pc, kc, jc + jr, cols, b_buf + jr * kc);
          const bool pack_a = !p.a.packed && jr == 0;
          for (int64_t ir = 0; ir < mc; ir += mr) {
            // One-vector panels take two full row tiles at a time (GemmKernel::tile_pair).
            const bool pair = vecs == 1 && ir + 2 * mr <= mc;
            const int64_t rows = pair ? 2 * mr : std::min<int64_t>(mr, mc - ir);
            const int64_t i = ic + ir, j = jc + jr;
            const float* a_panel = a_block + ir * kc;
            if (pack_a) detail::pack_a_panels(k, p.a.trans, p.a.data, p.a.ld, i, rows, pc, kc, a_buf + ir * kc);
            TileEpilogue te;
            const TileEpilogue* ep = last ? tile_epilogue(*p.epi, i, j, te) : nullptr;
            // The first column panel reads each pre-packed A panel first (later ones find the block in L2).
            const detail::TileFn fn = pair                                                   ? k.tile_pair
                                      : jr == 0 && p.a.packed && rows == mr && vecs == 2 ? k.tile_stream_a
                                                                                         : k.tile[rows - 1][vecs - 1];
            fn(kc, a_panel, b_panel, p.C + i * p.ldc + j, p.ldc, cols, accumulate, ep);
            if (pair) ir += mr;
          }
        }
        if (with_tail) {
          for (int64_t ir = 0; ir < mc; ir += mr) {
            tail.run(pc, kc, ic + ir, std::min<int64_t>(mr, mc - ir), a_block + ir * kc);
          }
        }
      }
    }
  }
}

// K == 0: the product is zero, only the epilogue remains (C is write-only: zero it first).
void epilogue_only(const Problem& p) {
  for (int64_t i = 0; i < p.M; ++i) std::fill(p.C + i * p.ldc, p.C + i * p.ldc + p.N, 0.0f);
  apply_gemm_epilogue(*p.epi, 0, p.M, p.N, p.C, p.ldc);
}

// Below this many flops a parallel_for costs more than it saves.
constexpr double kMinFlopsPerTask = 1 << 19;

// Splits C into tm x tn blocks on the tile grid, one per task, by a rough cost: the largest block's multiply-adds
// plus the packing every block repeats for the operands that are not pre-packed (a packed float costs about as
// much as 8 multiply-adds) plus the pre-packed A rows every block streams again (half that: read, not written;
// on thin-N layers with large weights, e.g. resnet18's 7x7 stage, a split along N had each thread stream all of
// A). Results do not depend on the split, only speed does.
void run(const Problem& p, ThreadPool& pool) {
  if (p.M == 0 || p.N == 0) return;
  if (p.K == 0) return epilogue_only(p);
  const GemmKernel& k = *p.kernel;
  const int64_t m_tiles = (p.M + k.mr - 1) / k.mr, n_tiles = (p.N + k.nr - 1) / k.nr;
  const double flops = 2.0 * static_cast<double>(p.M) * static_cast<double>(p.N) * static_cast<double>(p.K);
  const int64_t max_tasks = std::min<int64_t>(pool.num_threads(), static_cast<int64_t>(flops / kMinFlopsPerTask));
  int64_t tm = 1, tn = 1;
  double best = -1;
  for (int64_t cm = 1; cm <= std::min(max_tasks, m_tiles); ++cm) {
    const int64_t cn = std::min(max_tasks / cm, n_tiles);
    const double rows = static_cast<double>((m_tiles + cm - 1) / cm * k.mr);
    const double cols = static_cast<double>((n_tiles + cn - 1) / cn * k.nr);
    const double col_passes = static_cast<double>((static_cast<int64_t>(cols) + k.nc - 1) / k.nc);
    double cost = rows * cols;
    cost += (p.a.packed ? 4 : 8) * rows * col_passes;
    if (!p.b.packed) cost += 8 * cols;
    if (best < 0 || cost < best) best = cost, tm = cm, tn = cn;
  }
  if (tm * tn <= 1) return run_block(p, 0, p.M, 0, p.N);
  // Along the dimension whose operand is packed per block anyway (N with A pre-packed, M with B pre-packed), more
  // blocks than threads cost no extra packing, and the pool hands them to whichever thread is free: a thread that
  // starts late or is preempted delays only a small block. Each block still reads all of the other operand, so
  // blocks keep kMinFineTiles tiles to amortize that read, and their count is a multiple of the threads (3 blocks
  // on 2 threads would leave one thread with twice the other's work).
  constexpr int64_t kMinFineTiles = 4;
  const int64_t fine_tasks = std::min<int64_t>(pool.num_threads() * ThreadPool::kChunksPerThread,
                                               static_cast<int64_t>(flops / kMinFlopsPerTask));
  auto fine = [&](int64_t tiles) {
    const int64_t f = std::min(tiles / kMinFineTiles, fine_tasks);
    return f - f % pool.num_threads();
  };
  if (tm == 1 && p.a.packed) {
    tn = std::max(tn, fine(n_tiles));
  } else if (tn == 1 && p.b.packed) {
    tm = std::max(tm, fine(m_tiles));
  }
  // The job captures one pointer, small enough for std::function to hold without allocating.
  struct Split {
    const Problem* p;
    int64_t tm, tn, m_tiles, n_tiles;
  } split{&p, tm, tn, m_tiles, n_tiles};
  pool.parallel_for(tm * tn, 1, [s = &split](int64_t begin, int64_t end) {
    const Problem& p = *s->p;
    const int64_t mr = p.kernel->mr, nr = p.kernel->nr;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t bm = t / s->tn, bn = t % s->tn;
      const int64_t m0 = bm * s->m_tiles / s->tm * mr, m1 = std::min(p.M, (bm + 1) * s->m_tiles / s->tm * mr);
      const int64_t n0 = bn * s->n_tiles / s->tn * nr, n1 = std::min(p.N, (bn + 1) * s->n_tiles / s->tn * nr);
      if (m0 < m1 && n0 < n1) run_block(p, m0, m1, n0, n1);
    }
  });
}

// op(B) [K, N] packed whole, each K block's panels after the previous block's: pack_b's layout, and the B that
// sgemm_packed_a_panels reads.
void pack_b_whole(const GemmKernel& k, bool trans_b, const float* B, int64_t ldb, int64_t K, int64_t N, float* dst) {
  const int64_t padded = round_up(N, k.nr);
  for (int64_t pc = 0; pc < K; pc += k.kc) {
    detail::pack_b_panels(k, trans_b, B, ldb, pc, std::min<int64_t>(k.kc, K - pc), 0, N, dst + pc * padded);
  }
}

Operand plain(const float* data, int64_t ld, bool trans) {
  Operand o;
  o.data = data;
  o.ld = ld;
  o.trans = trans;
  return o;
}

}  // namespace

void PackedMatrix::Free::operator()(float* p) const { free_floats(p); }
PackedMatrix::PackedMatrix() = default;
PackedMatrix::~PackedMatrix() = default;
PackedMatrix::PackedMatrix(PackedMatrix&&) noexcept = default;
PackedMatrix& PackedMatrix::operator=(PackedMatrix&&) noexcept = default;

const char* PackedMatrix::target_name() const {
  return kernel_ ? hwy::TargetName(kernel_->target) : "";
}

PackedMatrix pack_a(bool trans_a, int64_t M, int64_t K, const float* A, int64_t lda) {
  PackedMatrix out;
  out.rows_ = M;
  out.cols_ = K;
  out.is_a_ = true;
  out.kernel_ = &detail::active_kernel();
  const GemmKernel& k = *out.kernel_;
  const int64_t padded = round_up(M, k.mr);
  out.size_ = static_cast<size_t>(padded * K);
  if (out.size_ == 0) return out;
  out.data_.reset(alloc_floats(out.size_ + detail::kPackSlack));
  // Same layout as run_block's per-block buffer, one K block after the other.
  for (int64_t pc = 0; pc < K; pc += k.kc) {
    detail::pack_a_panels(k, trans_a, A, lda, 0, M, pc, std::min<int64_t>(k.kc, K - pc), out.data_.get() + pc * padded);
  }
  return out;
}

PackedMatrix pack_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb) {
  PackedMatrix out;
  out.rows_ = K;
  out.cols_ = N;
  out.is_a_ = false;
  out.kernel_ = &detail::active_kernel();
  out.size_ = static_cast<size_t>(round_up(N, out.kernel_->nr) * K);
  if (out.size_ == 0) return out;
  out.data_.reset(alloc_floats(out.size_ + detail::kPackSlack));
  pack_b_whole(*out.kernel_, trans_b, B, ldb, K, N, out.data_.get());
  return out;
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, float* C, int64_t ldc, const GemmEpilogue& epi, ThreadPool& pool) {
  run({&detail::active_kernel(), M, N, K, plain(A, lda, trans_a), plain(B, ldb, trans_b), C, ldc, &epi}, pool);
}

void sgemm_packed_a(const PackedMatrix& A, int64_t N, bool trans_b, const float* B, int64_t ldb, float* C,
                    int64_t ldc, const GemmEpilogue& epi, ThreadPool& pool) {
  if (!A.kernel_) throw std::invalid_argument("sgemm_packed_a: empty packed matrix");
  if (!A.is_a_) throw std::invalid_argument("sgemm_packed_a: the matrix was packed as a B operand");
  Operand a;
  a.packed = A.data_.get();
  a.padded = round_up(A.rows_, A.kernel_->mr);
  run({A.kernel_, A.rows_, N, A.cols_, a, plain(B, ldb, trans_b), C, ldc, &epi}, pool);
}

void sgemm_packed_a_custom_b(const PackedMatrix& A, int64_t N, const BPanelPacker& pack, float* C, int64_t ldc,
                             const GemmEpilogue& epi, ThreadPool& pool) {
  if (!A.kernel_) throw std::invalid_argument("sgemm_packed_a_custom_b: empty packed matrix");
  if (!A.is_a_) throw std::invalid_argument("sgemm_packed_a_custom_b: the matrix was packed as a B operand");
  Operand a, b;
  a.packed = A.data_.get();
  a.padded = round_up(A.rows_, A.kernel_->mr);
  b.packer = &pack;
  // The panels are requested with A's nr: A fixes the kernel, whatever set_max_isa chose since.
  run({A.kernel_, A.rows_, N, A.cols_, a, b, C, ldc, &epi}, pool);
}

void apply_gemm_epilogue(const GemmEpilogue& e, int64_t i0, int64_t i1, int64_t N, float* C, int64_t ldc) {
  for (int64_t i = i0; i < i1; ++i) {
    float* row = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) {
      float x = e.alpha * row[j];
      if (e.bias) x += e.bias[e.bias_per_row ? i : j];
      if (e.residual) x += e.residual[i * e.ldr + j];
      row[j] = x;
    }
    apply_activation(e.act, row, static_cast<size_t>(N));
  }
}

namespace {
// A K slice's packer: the slice's rows [k0, k1) are the operand's [k0 + offset, k1 + offset).
class ShiftedPanels final : public BPanelPacker {
 public:
  ShiftedPanels(const BPanelPacker& inner, int64_t offset) : inner_(inner), offset_(offset) {}
  void pack(int64_t k0, int64_t k1, int64_t j0, int64_t j1, int64_t nr, float* dst) const override {
    inner_.pack(k0 + offset_, k1 + offset_, j0, j1, nr, dst);
  }

 private:
  const BPanelPacker& inner_;
  int64_t offset_;
};
}  // namespace

void sgemm_packed_a_custom_b_kslice(const PackedMatrix& A, int64_t k0, int64_t k1, int64_t N,
                                    const BPanelPacker& pack, float* C, int64_t ldc) {
  if (!A.kernel_ || !A.is_a_) throw std::invalid_argument("sgemm_packed_a_custom_b_kslice: not a packed A operand");
  const int64_t kc = A.kernel_->kc;
  if (k0 < 0 || k0 > k1 || k1 > A.cols_ || k0 % kc != 0 || (k1 % kc != 0 && k1 != A.cols_)) {
    throw std::invalid_argument("sgemm_packed_a_custom_b_kslice: K range not on the A operand's K blocks");
  }
  // The packed A holds its K blocks one after another (each padded-rows x kc), so a slice from a block boundary
  // is a packed matrix of its own with the same block sizes.
  Operand a, b;
  a.padded = round_up(A.rows_, A.kernel_->mr);
  a.packed = A.data_.get() + k0 * a.padded;
  const ShiftedPanels shifted(pack, k0);
  b.packer = &shifted;
  const GemmEpilogue none;
  if (k1 == k0) return run({A.kernel_, A.rows_, N, 0, a, b, C, ldc, &none}, ThreadPool::inline_pool());
  run_block({A.kernel_, A.rows_, N, k1 - k0, a, b, C, ldc, &none}, 0, A.rows_, 0, N);
}

GemmTileShape gemm_tile_shape() {
  const GemmKernel& k = detail::active_kernel();
  return {k.mr, k.nr, k.kc};
}

GemmTileShape gemm_tile_shape(const PackedMatrix& A) {
  if (!A.kernel_ || !A.is_a_) throw std::invalid_argument("gemm_tile_shape: not a packed A operand");
  return {A.kernel_->mr, A.kernel_->nr, A.kernel_->kc};
}

void pack_b_panels_for(const PackedMatrix& A, int64_t K, int64_t N, const float* B, int64_t ldb, float* dst) {
  if (!A.kernel_ || !A.is_a_) throw std::invalid_argument("pack_b_panels_for: not a packed A operand");
  pack_b_whole(*A.kernel_, false, B, ldb, K, N, dst);
}

void sgemm_packed_a_panels(const PackedMatrix& A, int64_t N, const float* b_panels, float* C, int64_t ldc,
                           const GemmEpilogue& epi) {
  const GemmTileShape t = gemm_tile_shape(A);
  Operand a, b;
  a.packed = A.data_.get();
  a.padded = round_up(A.rows_, t.mr);
  b.packed = b_panels;
  b.padded = round_up(N, t.nr);
  const Problem p{A.kernel_, A.rows_, N, A.cols_, a, b, C, ldc, &epi};
  if (p.M == 0 || N == 0) return;
  if (p.K == 0) return epilogue_only(p);
  run_block(p, 0, p.M, 0, N);
}

void sgemm_packed_b(bool trans_a, int64_t M, const float* A, int64_t lda, const PackedMatrix& B, float* C,
                    int64_t ldc, const GemmEpilogue& epi, ThreadPool& pool) {
  if (!B.kernel_) throw std::invalid_argument("sgemm_packed_b: empty packed matrix");
  if (B.is_a_) throw std::invalid_argument("sgemm_packed_b: the matrix was packed as an A operand");
  Operand b;
  b.packed = B.data_.get();
  b.padded = round_up(B.cols_, B.kernel_->nr);
  run({B.kernel_, M, B.cols_, B.rows_, plain(A, lda, trans_a), b, C, ldc, &epi}, pool);
}

}  // namespace ef::cpu
