// Tests of the packed SGEMM (kernels/cpu/sgemm.h) against ef::sgemm_reference plus a scalar epilogue: edge and
// cache-block sizes, transposes, strides, pre-packed operands, every activation, every SIMD target this CPU runs,
// and bit-identical results for any thread count.
#include "kernels/cpu/sgemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/reference/gemm.h"

namespace ef::cpu {
namespace sgemm_test {

enum class Path { kPlain, kPackedA, kPackedB };
enum class Bias { kNone, kRow, kCol };

struct Case {
  bool ta = false, tb = false;
  int64_t M = 1, N = 1, K = 1;
  int64_t pad_a = 0, pad_b = 0, pad_c = 0;  // extra elements per stored row
  float alpha = 1.0f;
  Bias bias = Bias::kNone;
  bool residual = false;
  Activation act;
  Path path = Path::kPlain;
};

std::string describe(const Case& c) {
  return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
         " ta=" + std::to_string(c.ta) + " tb=" + std::to_string(c.tb) + " pads=" + std::to_string(c.pad_a) + "/" +
         std::to_string(c.pad_b) + "/" + std::to_string(c.pad_c) + " alpha=" + std::to_string(c.alpha) +
         " bias=" + std::to_string(static_cast<int>(c.bias)) + " residual=" + std::to_string(c.residual) +
         " act=" + std::to_string(static_cast<int>(c.act.kind)) + " path=" + std::to_string(static_cast<int>(c.path)) +
         " target=" + sgemm_target_name();
}

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// The operands of one case, stored as the case says (transposed or not, with row padding).
struct Operands {
  int64_t lda, ldb, ldc, ldr;
  std::vector<float> A, B, bias, residual;
};

Operands make_operands(const Case& c, std::mt19937& rng) {
  Operands o;
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  o.lda = a_cols + c.pad_a;
  o.ldb = b_cols + c.pad_b;
  o.ldc = c.N + c.pad_c;
  o.ldr = c.N + 3;
  o.A = random_vector(static_cast<size_t>(std::max<int64_t>(a_rows * o.lda, 1)), rng);
  o.B = random_vector(static_cast<size_t>(std::max<int64_t>(b_rows * o.ldb, 1)), rng);
  if (c.bias != Bias::kNone) o.bias = random_vector(static_cast<size_t>(c.bias == Bias::kRow ? c.M : c.N), rng);
  if (c.residual) o.residual = random_vector(static_cast<size_t>(c.M * o.ldr), rng);
  return o;
}

GemmEpilogue epilogue_of(const Case& c, const Operands& o) {
  GemmEpilogue e;
  e.alpha = c.alpha;
  e.bias = o.bias.empty() ? nullptr : o.bias.data();
  e.bias_per_row = c.bias == Bias::kRow;
  e.residual = o.residual.empty() ? nullptr : o.residual.data();
  e.ldr = o.ldr;
  e.act = c.act;
  return e;
}

// C as the case's path computes it; C starts as NaN everywhere (row padding included) so stale contents leaking
// into the result, or writes outside the M x N window, show up.
std::vector<float> run_case(const Case& c, const Operands& o, ThreadPool& pool) {
  std::vector<float> C(static_cast<size_t>(std::max<int64_t>(c.M * o.ldc, 1)), std::numeric_limits<float>::quiet_NaN());
  const GemmEpilogue e = epilogue_of(c, o);
  switch (c.path) {
    case Path::kPlain:
      sgemm(c.ta, c.tb, c.M, c.N, c.K, o.A.data(), o.lda, o.B.data(), o.ldb, C.data(), o.ldc, e, pool);
      break;
    case Path::kPackedA: {
      const PackedMatrix pa = pack_a(c.ta, c.M, c.K, o.A.data(), o.lda);
      EXPECT_EQ(pa.rows(), c.M);
      EXPECT_EQ(pa.cols(), c.K);
      sgemm_packed_a(pa, c.N, c.tb, o.B.data(), o.ldb, C.data(), o.ldc, e, pool);
      break;
    }
    case Path::kPackedB: {
      const PackedMatrix pb = pack_b(c.tb, c.K, c.N, o.B.data(), o.ldb);
      EXPECT_EQ(pb.rows(), c.K);
      EXPECT_EQ(pb.cols(), c.N);
      sgemm_packed_b(c.ta, c.M, o.A.data(), o.lda, pb, C.data(), o.ldc, e, pool);
      break;
    }
  }
  return C;
}

// Compares with sgemm_reference + a scalar epilogue, within a tolerance relative to sum |a||b| per element (the
// scale of any reordering error), and checks the row padding of C was left alone.
void check_case(const Case& c, ThreadPool& pool, uint32_t seed = 1) {
  SCOPED_TRACE(describe(c));
  std::mt19937 rng(seed);
  const Operands o = make_operands(c, rng);
  const std::vector<float> C = run_case(c, o, pool);

  std::vector<float> ref(static_cast<size_t>(std::max<int64_t>(c.M * c.N, 1)));
  sgemm_reference(c.ta, c.tb, c.M, c.N, c.K, c.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, 0.0f, ref.data(), c.N);
  int failures = 0;
  for (int64_t i = 0; i < c.M && failures < 5; ++i) {
    for (int64_t j = 0; j < c.N && failures < 5; ++j) {
      double scale = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const float a = c.ta ? o.A[k * o.lda + i] : o.A[i * o.lda + k];
        const float b = c.tb ? o.B[j * o.ldb + k] : o.B[k * o.ldb + j];
        scale += std::fabs(static_cast<double>(a) * b);
      }
      scale *= std::fabs(c.alpha);
      float x = ref[i * c.N + j];
      if (!o.bias.empty()) {
        const float b = o.bias[c.bias == Bias::kRow ? i : j];
        x += b;
        scale += std::fabs(b);
      }
      if (!o.residual.empty()) {
        x += o.residual[i * o.ldr + j];
        scale += std::fabs(o.residual[i * o.ldr + j]);
      }
      const float want = activation_reference(c.act, x);
      const float got = C[i * o.ldc + j];
      // Activations here have slopes below 1.6, so the pre-activation tolerance carries over.
      const double tol = 2e-5 * scale + 1e-6;
      if (!(std::fabs(static_cast<double>(got) - want) <= tol)) {
        ADD_FAILURE() << "C[" << i << "," << j << "] = " << got << ", want " << want << " (tol " << tol << ")";
        ++failures;
      }
    }
    for (int64_t j = c.N; j < o.ldc && failures < 5; ++j) {
      if (!std::isnan(C[i * o.ldc + j])) {
        ADD_FAILURE() << "row padding C[" << i << "," << j << "] was written";
        ++failures;
      }
    }
  }
}

// Runs fn once per SIMD target this CPU has a kernel for, then restores the best one.
template <typename Fn>
void for_each_target(Fn fn) {
  const std::vector<std::string> targets = sgemm_targets();
  ASSERT_FALSE(targets.empty());
  for (const std::string& t : targets) {
    ASSERT_TRUE(set_max_isa(t)) << t;
    ASSERT_EQ(std::string(sgemm_target_name()), t);
    SCOPED_TRACE("target " + t);
    fn();
  }
  ASSERT_TRUE(set_max_isa(""));
}

const Activation kActs[] = {
    {ActKind::kNone, 0, 0},         {ActKind::kRelu, 0, 0},        {ActKind::kClip, -0.5f, 0.75f},
    {ActKind::kLeakyRelu, 0.1f, 0}, {ActKind::kSigmoid, 0, 0},     {ActKind::kHardSigmoid, 0.2f, 0.5f},
    {ActKind::kHardSwish, 0, 0},    {ActKind::kSilu, 0, 0},        {ActKind::kTanh, 0, 0},
    {ActKind::kGelu, 0, 0},
};

TEST(Sgemm, TargetsAreListedAndSelectable) {
  const std::vector<std::string> targets = sgemm_targets();
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(std::string(sgemm_target_name()), targets.front());
  EXPECT_FALSE(set_max_isa("NoSuchISA"));
  EXPECT_EQ(std::string(sgemm_target_name()), targets.front());
  // Asking for a target no better than the worst available one selects that one.
  ASSERT_TRUE(set_max_isa(targets.back()));
  EXPECT_EQ(std::string(sgemm_target_name()), targets.back());
  ASSERT_TRUE(set_max_isa(""));
  EXPECT_EQ(std::string(sgemm_target_name()), targets.front());
}

TEST(Sgemm, SmallShapesAllTransposesEveryTarget) {
  ThreadPool& pool = ThreadPool::inline_pool();
  const int64_t sizes[] = {1, 2, 3, 5, 7, 8, 13, 17};
  for_each_target([&] {
    for (int64_t M : sizes)
      for (int64_t N : sizes)
        for (int64_t K : sizes)
          for (int t = 0; t < 4; ++t) {
            Case c;
            c.M = M, c.N = N, c.K = K, c.ta = t & 1, c.tb = t & 2;
            check_case(c, pool, static_cast<uint32_t>(M * 10000 + N * 100 + K));
          }
  });
}

// Sizes at and around the tile (mr = 6 or 12, nr = 16 or 32 on x86), KC = 256, MC = 144 / 168 and NC = 4096.
TEST(Sgemm, TileAndCacheBlockBoundaries) {
  ThreadPool& pool = ThreadPool::inline_pool();
  const int64_t shapes[][3] = {
      {6, 16, 256},   {12, 32, 257},  {11, 31, 255},  {13, 33, 512},  {167, 15, 513}, {168, 17, 64},
      {169, 48, 300}, {337, 23, 40},  {145, 64, 16},  {7, 4097, 9},   {5, 4113, 3},   {97, 131, 263},
      {1, 1000, 300}, {300, 1, 300},  {2, 257, 769},  {64, 64, 1},
  };
  for (const auto& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      Case c;
      c.M = s[0], c.N = s[1], c.K = s[2], c.ta = t & 1, c.tb = t & 2;
      check_case(c, pool);
    }
  }
}

TEST(Sgemm, RandomShapesStridesAndEpilogues) {
  ThreadPool pool(3);
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> coin(0, 1), pick(0, 9), pad(0, 5);
  std::uniform_int_distribution<int64_t> small(1, 40), mid(1, 300);
  for (int it = 0; it < 120; ++it) {
    Case c;
    c.M = coin(rng) ? small(rng) : mid(rng);
    c.N = coin(rng) ? small(rng) : mid(rng);
    c.K = coin(rng) ? small(rng) : mid(rng);
    c.ta = coin(rng), c.tb = coin(rng);
    c.pad_a = pad(rng), c.pad_b = pad(rng), c.pad_c = pad(rng);
    c.alpha = coin(rng) ? 1.0f : -0.75f;
    c.bias = static_cast<Bias>(pick(rng) % 3);
    c.residual = coin(rng);
    c.act = kActs[pick(rng)];
    c.path = static_cast<Path>(pick(rng) % 3);
    check_case(c, pool, static_cast<uint32_t>(it));
  }
}

TEST(Sgemm, EveryActivationWithBiasAndResidual) {
  ThreadPool& pool = ThreadPool::inline_pool();
  for (const Activation& act : kActs) {
    for (Bias bias : {Bias::kRow, Bias::kCol}) {
      Case c;
      c.M = 19, c.N = 37, c.K = 300;  // two K blocks: the epilogue must run once, after the last
      c.alpha = 0.5f, c.bias = bias, c.residual = true, c.act = act, c.pad_c = 2;
      check_case(c, pool);
      c.path = Path::kPackedA;
      check_case(c, pool);
    }
  }
}

TEST(Sgemm, PackedOperandsEveryTarget) {
  ThreadPool& pool = ThreadPool::inline_pool();
  for_each_target([&] {
    for (Path path : {Path::kPackedA, Path::kPackedB}) {
      for (int t = 0; t < 4; ++t) {
        Case c;
        c.path = path, c.ta = t & 1, c.tb = t & 2;
        c.M = 29, c.N = 45, c.K = 261, c.pad_a = 1, c.pad_b = 2, c.pad_c = 3, c.bias = Bias::kRow;
        c.act = {ActKind::kRelu, 0, 0};
        check_case(c, pool);
        c.M = 1, c.N = 1000, c.K = 70;  // MatMul with packed weights and a single row
        check_case(c, pool);
        c.M = 1000, c.N = 1, c.K = 128;  // classifier as conv: one column
        check_case(c, pool);
      }
    }
  });
}

// K above the short-K limit with pre-packed A runs the usual order, whose first column panel of each block takes
// the A-streaming tile (GemmKernel::tile_stream_a): several K and M blocks, full and edge row tiles, narrow and
// wide N, every epilogue. Same arithmetic as the plain path's tiles, so also bit-identical to sgemm on the same
// operands where both take the same tiles (no 1-2 column tail, which pre-packed A runs on the column kernel).
TEST(Sgemm, LargeKPackedAStreamsAEveryTarget) {
  ThreadPool& pool = ThreadPool::inline_pool();
  std::mt19937 rng(23);
  for_each_target([&] {
    const int64_t ks[] = {161, 255, 256, 257, 600, 961};
    for (int i = 0; i < 12; ++i) {
      Case c;
      c.path = Path::kPackedA;
      c.K = ks[i % 6];
      c.M = 1 + static_cast<int64_t>(rng() % 330);
      c.N = i % 3 == 0 ? 49 : 1 + static_cast<int64_t>(rng() % 220);
      c.ta = i % 4 == 1, c.tb = i % 4 == 3, c.pad_a = i % 3, c.pad_b = i % 2, c.pad_c = (i + 1) % 3;
      c.bias = static_cast<Bias>(i % 3), c.residual = i % 2 == 0, c.act = kActs[i % 10];
      check_case(c, pool, static_cast<uint32_t>(100 + i));
      const int64_t tail = c.N % (gemm_tile_shape().nr / 2);  // pre-packed A puts 1-2 column tails on the column kernel
      if (!c.ta && !c.tb && (tail == 0 || tail > 2)) {
        std::mt19937 r1(7), r2(7);
        const Operands o = make_operands(c, r1);
        Case plain = c;
        plain.path = Path::kPlain;
        const std::vector<float> packed_c = run_case(c, o, pool), plain_c = run_case(plain, make_operands(plain, r2), pool);
        for (int64_t x = 0; x < c.M * c.N; ++x) {
          const int64_t at = x / c.N * (c.N + c.pad_c) + x % c.N;
          ASSERT_EQ(std::memcmp(&packed_c[at], &plain_c[at], sizeof(float)), 0) << describe(c) << " at " << x;
        }
      }
    }
  });
}

// Short K with pre-packed A (1x1 convolutions with few input channels) runs the row-tile-outer order, whose column
// blocks are sized by K: odd M, N spanning several such blocks and ending in partial tiles, all epilogues.
TEST(Sgemm, ShortKPackedAEveryTarget) {
  ThreadPool& pool = ThreadPool::inline_pool();
  std::mt19937 rng(11);
  for_each_target([&] {
    const int64_t ks[] = {1, 3, 16, 27, 63, 64, 65};
    for (int i = 0; i < 14; ++i) {
      Case c;
      c.path = Path::kPackedA;
      c.K = ks[i % 7];
      c.M = 7 + static_cast<int64_t>(rng() % 90);
      c.N = (i % 3 == 0 ? 2100 : 1) + static_cast<int64_t>(rng() % 300);
      c.tb = i % 4 == 3, c.pad_b = i % 2, c.pad_c = (i + 1) % 3;
      c.bias = static_cast<Bias>(i % 3), c.residual = i % 2 == 1, c.act = kActs[i % 10];
      check_case(c, pool, static_cast<uint32_t>(i));
    }
  });
}

// Short K with few rows reads B in place (no packing) when its row stride spreads over the L2's sets: row strides
// that do and do not (N = 1024), full and partial last panels, 1-2 column tails, padded rows, 1 to 3 threads.
TEST(Sgemm, ShortKBInPlaceEveryTarget) {
  ThreadPool three(3);
  for_each_target([&] {
    const int64_t shapes[][3] = {{16, 3136, 32}, {24, 784, 144}, {13, 1000, 20}, {7, 49, 64}, {24, 1024, 24},
                                 {18, 258, 160}, {12, 33, 9}};
    int i = 0;
    for (const auto& sh : shapes) {
      Case c;
      c.path = Path::kPackedA, c.M = sh[0], c.N = sh[1], c.K = sh[2], c.pad_b = i % 3 == 1 ? 3 : 0;
      c.pad_c = i % 2, c.bias = static_cast<Bias>(i % 3), c.residual = i % 2 == 0, c.act = kActs[i % 10];
      check_case(c, i % 2 == 0 ? ThreadPool::inline_pool() : three, static_cast<uint32_t>(i));
      ++i;
    }
  });
}

// Past the short-K limit, blocks of up to 6 row tiles still read B in place (kLongKInPlaceRowTiles), up to 10 with
// at least 128 columns: K just past the limit, K across one and two K-block boundaries (accumulating), M around
// 1-6 and 7-10 row tiles, full and partial last panels, 1-2 column tails, padded rows, a row stride that keeps B
// packed (N = 1024), 1 to 3 threads.
TEST(Sgemm, LongKSmallMBInPlaceEveryTarget) {
  ThreadPool three(3);
  for_each_target([&] {
    const int64_t shapes[][3] = {{32, 729, 256}, {48, 169, 384}, {64, 169, 512}, {13, 100, 161}, {72, 50, 300},
                                 {25, 1024, 200}, {40, 34, 520}, {7, 196, 257}, {96, 196, 576}, {112, 196, 672},
                                 {120, 129, 300}, {97, 130, 161}, {130, 200, 400}};
    int i = 0;
    for (const auto& sh : shapes) {
      Case c;
      c.path = Path::kPackedA, c.M = sh[0], c.N = sh[1], c.K = sh[2], c.pad_b = i % 3 == 1 ? 5 : 0;
      c.pad_c = i % 2, c.bias = static_cast<Bias>(i % 3), c.residual = i % 2 == 1, c.act = kActs[(i + 3) % 10];
      check_case(c, i % 2 == 0 ? ThreadPool::inline_pool() : three, static_cast<uint32_t>(100 + i));
      ++i;
    }
  });
}

// A last column panel of one vector runs two row tiles at a time (GemmKernel::tile_pair), and one of 1 or 2
// columns with pre-packed A runs column by column on the column kernel: 7x7 / 14x14 planes (N = 49, 196), tails of
// 1 and 2 columns after 1 or 2 full panels (N = 17, 34 on 8-lane targets), N = 2 with no full panel, a
// full-vector last panel (N = 56), odd M around pairs, both loop orders (short and long K), K blocks that
// accumulate, every path.
TEST(Sgemm, NarrowLastPanelEveryTarget) {
  ThreadPool& pool = ThreadPool::inline_pool();
  for_each_target([&] {
    const int64_t shapes[][3] = {{12, 49, 16}, {25, 49, 300}, {37, 196, 64}, {13, 56, 40}, {30, 3, 9},
                                 {31, 17, 520}, {19, 34, 24},  {9, 2, 40},    {50, 50, 170}};
    int i = 0;
    for (const auto& sh : shapes) {
      for (Path path : {Path::kPlain, Path::kPackedA, Path::kPackedB}) {
        Case c;
        c.M = sh[0], c.N = sh[1], c.K = sh[2], c.path = path, c.pad_c = i % 2, c.ta = i % 3 == 1;
        c.bias = static_cast<Bias>(i % 3), c.residual = i % 2 == 0, c.act = kActs[i % 10];
        check_case(c, pool, static_cast<uint32_t>(i++));
      }
    }
  });
}

// Columns on the column kernel (N == 1, and the last 1-2 columns with pre-packed A) apply the activation to the
// column's values as vectors: every activation, rows ending inside and at vector edges, with bias and residual.
TEST(Sgemm, ColumnKernelEveryActivationEveryTarget) {
  ThreadPool& pool = ThreadPool::inline_pool();
  for_each_target([&] {
    int i = 0;
    for (const Activation& act : kActs) {
      for (const int64_t n : {1, 17, 34}) {
        Case c;
        c.M = i % 2 == 0 ? 13 : 100, c.N = n, c.K = i % 3 == 0 ? 300 : 20, c.act = act;
        c.path = i % 2 == 0 ? Path::kPackedA : Path::kPlain, c.bias = Bias::kRow, c.residual = i % 3 != 1;
        check_case(c, pool, static_cast<uint32_t>(i++));
      }
    }
  });
}

// A C of one row runs GemmKernel::row_panels over groups of full column panels (Gemm at batch 1): N from below one
// group to several groups plus edge columns, K blocks that accumulate, a last MC block of one row (M = 169 with
// MC = 168), transposed operands, all epilogues, every path and target.
TEST(Sgemm, SingleRowEveryTarget) {
  ThreadPool& pool = ThreadPool::inline_pool();
  for_each_target([&] {
    const int64_t shapes[][3] = {{1, 1000, 300}, {1, 64, 17}, {1, 63, 9}, {1, 129, 520}, {1, 257, 64}, {169, 130, 40}};
    int i = 0;
    for (const auto& sh : shapes) {
      for (Path path : {Path::kPlain, Path::kPackedA, Path::kPackedB}) {
        Case c;
        c.M = sh[0], c.N = sh[1], c.K = sh[2], c.path = path, c.pad_c = i % 2, c.ta = i % 3 == 1, c.tb = i % 4 == 2;
        c.bias = static_cast<Bias>(i % 3), c.residual = i % 2 == 0, c.act = kActs[i % 10];
        check_case(c, pool, static_cast<uint32_t>(i++));
      }
    }
  });
}

// A matrix packed under one target keeps working (with that target's kernel) after the target changes.
TEST(Sgemm, PackedMatrixKeepsItsTarget) {
  const std::vector<std::string> targets = sgemm_targets();
  ThreadPool& pool = ThreadPool::inline_pool();
  std::mt19937 rng(5);
  const int64_t M = 23, N = 41, K = 77;
  const std::vector<float> A = random_vector(M * K, rng), B = random_vector(K * N, rng);
  std::vector<float> want(M * N), got(M * N);
  ASSERT_TRUE(set_max_isa(targets.back()));
  const PackedMatrix pa = pack_a(false, M, K, A.data(), K);
  EXPECT_EQ(std::string(pa.target_name()), targets.back());
  ASSERT_TRUE(set_max_isa(""));
  sgemm_packed_a(pa, N, false, B.data(), N, got.data(), N, {}, pool);
  sgemm_reference(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, want.data(), N);
  for (int64_t i = 0; i < M * N; ++i) EXPECT_NEAR(got[i], want[i], 1e-4f) << i;
}

TEST(Sgemm, BitIdenticalForAnyThreadCount) {
  ThreadPool one(1), two(2), three(3);
  const int64_t shapes[][3] = {{200, 300, 100}, {1000, 1, 1280}, {16, 3000, 27}, {64, 49, 1152}, {1, 1000, 512},
                                {95, 2500, 16}, {37, 49, 300}, {95, 196, 64}, {301, 50, 300}, {83, 17, 40},
                                {1, 1000, 1280}};
  for (const auto& s : shapes) {
    for (Path path : {Path::kPlain, Path::kPackedA, Path::kPackedB}) {
      Case c;
      c.M = s[0], c.N = s[1], c.K = s[2], c.path = path, c.bias = Bias::kRow, c.act = {ActKind::kGelu, 0, 0};
      SCOPED_TRACE(describe(c));
      std::mt19937 rng(7);
      const Operands o = make_operands(c, rng);
      const std::vector<float> r1 = run_case(c, o, one), r2 = run_case(c, o, two), r3 = run_case(c, o, three);
      EXPECT_EQ(std::memcmp(r1.data(), r2.data(), r1.size() * sizeof(float)), 0);
      EXPECT_EQ(std::memcmp(r1.data(), r3.data(), r1.size() * sizeof(float)), 0);
    }
  }
}

// Splits along M with B not pre-packed pack B once for all blocks (a shared buffer the threads fill together), and
// narrow last column panels run beside the tiles of each block: M >> N shapes (7x7 / 14x14 layers) with tails of
// 0, 1 and 2 columns, one and several K blocks, short K (row-tile sweeps), stored and transposed B, 1 to 3 threads:
// right, and bit-identical to one thread.
TEST(Sgemm, MSplitSharedBAndColumnTails) {
  ThreadPool one(1), two(2), three(3);
  const int64_t shapes[][3] = {{96, 196, 576}, {320, 49, 600}, {160, 50, 300},
                                {200, 33, 20},  {61, 17, 40},   {250, 64, 90}};
  int i = 0;
  for (const auto& s : shapes) {
    for (Path path : {Path::kPlain, Path::kPackedA}) {
      for (bool tb : {false, true}) {
        Case c;
        c.M = s[0], c.N = s[1], c.K = s[2], c.path = path, c.tb = tb, c.pad_b = i % 2, c.pad_c = (i + 1) % 2;
        c.bias = Bias::kRow, c.residual = i % 3 == 0, c.act = kActs[i % 10];
        check_case(c, three, static_cast<uint32_t>(i++));
        SCOPED_TRACE(describe(c));
        std::mt19937 rng(3);
        const Operands o = make_operands(c, rng);
        const std::vector<float> r1 = run_case(c, o, one), r2 = run_case(c, o, two), r3 = run_case(c, o, three);
        EXPECT_EQ(std::memcmp(r1.data(), r2.data(), r1.size() * sizeof(float)), 0);
        EXPECT_EQ(std::memcmp(r1.data(), r3.data(), r1.size() * sizeof(float)), 0);
      }
    }
  }
}

TEST(Sgemm, ThreadedMatchesReference) {
  ThreadPool pool(3);
  Case c;
  c.M = 150, c.N = 700, c.K = 520, c.tb = true, c.bias = Bias::kCol, c.residual = true;
  check_case(c, pool);
  c.path = Path::kPackedA;
  c.M = 1280, c.N = 7, c.K = 64;
  check_case(c, pool);
}

TEST(Sgemm, EmptyAndZeroK) {
  ThreadPool& pool = ThreadPool::inline_pool();
  Case c;
  c.M = 5, c.N = 9, c.K = 0, c.bias = Bias::kCol, c.residual = true, c.act = {ActKind::kSigmoid, 0, 0};
  check_case(c, pool);
  c.path = Path::kPackedA;
  check_case(c, pool);
  c.path = Path::kPackedB;
  check_case(c, pool);
  // M == 0 or N == 0 touch nothing.
  float C = 42.0f;
  const float A = 1.0f, B = 2.0f;
  sgemm(false, false, 0, 1, 1, &A, 1, &B, 1, &C, 1, {}, pool);
  sgemm(false, false, 1, 0, 1, &A, 1, &B, 1, &C, 1, {}, pool);
  EXPECT_EQ(C, 42.0f);
}

TEST(Sgemm, PackedMatrixIsMovableAndSized) {
  std::vector<float> A(10 * 20, 1.0f);
  PackedMatrix p = pack_a(false, 10, 20, A.data(), 20);
  EXPECT_GE(p.bytes(), 10u * 20u * sizeof(float));
  PackedMatrix q = std::move(p);
  EXPECT_EQ(q.rows(), 10);
  EXPECT_EQ(q.cols(), 20);
  EXPECT_TRUE(q.is_a());
  EXPECT_THROW(sgemm_packed_b(false, 10, A.data(), 20, q, A.data(), 20, {}, ThreadPool::inline_pool()),
               std::invalid_argument);
}

// B written in the kernel's panel layout by the caller (Winograd's per-point GEMMs): bit-identical to
// sgemm_packed_a on the same B as a matrix, with K spanning several K blocks, partial panels, N == 1 and an
// epilogue, on every target.
TEST(Sgemm, PanelLayoutBMatchesPackedAEveryTarget) {
  ThreadPool& pool = ThreadPool::inline_pool();
  const int64_t shapes[][3] = {{64, 56, 16}, {13, 37, 48}, {7, 1, 300}, {96, 200, 600}, {6, 16, 1}, {5, 3, 0}};
  for_each_target([&] {
    for (const auto& s : shapes) {
      Case c;
      c.path = Path::kPackedA, c.M = s[0], c.N = s[1], c.K = s[2], c.pad_b = 3, c.pad_c = 2, c.bias = Bias::kRow;
      c.act = {ActKind::kSilu, 0, 0};
      SCOPED_TRACE(describe(c));
      std::mt19937 rng(5);
      const Operands o = make_operands(c, rng);
      const std::vector<float> want = run_case(c, o, pool);
      const PackedMatrix pa = pack_a(false, c.M, c.K, o.A.data(), o.lda);
      const GemmTileShape t = gemm_tile_shape(pa);
      EXPECT_EQ(t.nr % 2, 0);
      // The panels must be 64-byte aligned, like the packed operands.
      std::vector<float> storage(static_cast<size_t>(c.K * ((c.N + t.nr - 1) / t.nr * t.nr) + 32));
      float* panels = storage.data() + (16 - reinterpret_cast<uintptr_t>(storage.data()) / sizeof(float) % 16) % 16;
      pack_b_panels_for(pa, c.K, c.N, o.B.data(), o.ldb, panels);
      std::vector<float> got(want.size(), std::numeric_limits<float>::quiet_NaN());
      sgemm_packed_a_panels(pa, c.N, panels, got.data(), o.ldc, epilogue_of(c, o));
      // Row padding of C (NaN in both) compares equal bitwise too.
      EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
    }
  });
}

}  // namespace
}  // namespace ef::cpu
