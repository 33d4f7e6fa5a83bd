// Tests of the broadcasting binary kernels (kernels/cpu/binary.cpp) against a naive broadcasting index loop:
// randomized shapes of rank 0..5 with size-1 dims anywhere, the CNN forms by name, in-place, NaN, fused
// activations, threaded runs. Prints the speedup over the naive loop (informational only).
#include "kernels/cpu/binary.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "hwy/targets.h"

#include "core/thread_pool.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace binary_test {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

float apply_op(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv: return a / b;
    case BinaryOp::kMax: return std::isnan(a) || std::isnan(b) ? std::numeric_limits<float>::quiet_NaN() : std::max(a, b);
    case BinaryOp::kMin: return std::isnan(a) || std::isnan(b) ? std::numeric_limits<float>::quiet_NaN() : std::min(a, b);
  }
  return 0;
}

// The definition: for every output index, the operand index with broadcast dims pinned to 0.
std::vector<float> naive(BinaryOp op, const std::vector<float>& a, const Shape& as, const std::vector<float>& b,
                         const Shape& bs, const Activation& act, Shape* out_shape) {
  const size_t rank = std::max(as.size(), bs.size());
  Shape ap(rank, 1), bp(rank, 1), os(rank);
  std::copy(as.begin(), as.end(), ap.begin() + static_cast<long>(rank - as.size()));
  std::copy(bs.begin(), bs.end(), bp.begin() + static_cast<long>(rank - bs.size()));
  for (size_t i = 0; i < rank; ++i) os[i] = std::max(ap[i], bp[i]);
  *out_shape = os;
  std::vector<float> out(static_cast<size_t>(numel(os)));
  Shape idx(rank, 0);
  for (size_t flat = 0; flat < out.size(); ++flat) {
    int64_t rem = static_cast<int64_t>(flat), ai = 0, bi = 0, astr = 1, bstr = 1;
    for (size_t k = rank; k-- > 0;) {
      const int64_t i = rem % os[k];
      rem /= os[k];
      ai += (ap[k] == 1 ? 0 : i) * astr;
      bi += (bp[k] == 1 ? 0 : i) * bstr;
      astr *= ap[k];
      bstr *= bp[k];
    }
    out[flat] = activation_reference(act, apply_op(op, a[static_cast<size_t>(ai)], b[static_cast<size_t>(bi)]));
  }
  return out;
}

std::vector<float> random_data(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void expect_matches(const std::vector<float>& got, const std::vector<float>& want, bool exact, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << what << " at " << i;
    } else if (exact) {
      ASSERT_EQ(got[i], want[i]) << what << " at " << i;
    } else {
      ASSERT_NEAR(got[i], want[i], 2e-6 * std::abs(want[i]) + 1e-7) << what << " at " << i;
    }
  }
}

std::string str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// Runs one case out of place and, when shapes allow, in place over a and over b; single- and multi-threaded.
void check_case(BinaryOp op, const Shape& as, const Shape& bs, const Activation& act, std::mt19937& rng,
                ThreadPool& pool) {
  const auto a = random_data(static_cast<size_t>(numel(as)), rng);
  auto b = random_data(static_cast<size_t>(numel(bs)), rng);
  if (op == BinaryOp::kDiv) {
    for (float& x : b) x = std::abs(x) < 0.1f ? 0.5f : x;
  }
  Shape os;
  const auto want = naive(op, a, as, b, bs, act, &os);
  const BinaryPlan plan = plan_binary(op, as, bs, act);
  ASSERT_EQ(plan.numel, numel(os));
  ASSERT_EQ(Shape(plan.out_shape, plan.out_shape + plan.out_rank), os);
  const std::string what = str(as) + " op " + str(bs) + " op=" + std::to_string(static_cast<int>(op)) +
                           " act=" + std::to_string(static_cast<int>(act.kind));
  const bool exact = act.kind == ActKind::kNone || act.kind == ActKind::kRelu;
  std::vector<float> out(want.size(), -1.0f);
  run_binary(plan, a.data(), b.data(), out.data(), pool);
  expect_matches(out, want, exact, (what + " out of place").c_str());
  if (numel(as) == plan.numel) {
    auto inplace = a;
    run_binary(plan, inplace.data(), b.data(), inplace.data(), pool);
    expect_matches(inplace, want, exact, (what + " in place over a").c_str());
  }
  if (numel(bs) == plan.numel) {
    auto inplace = b;
    run_binary(plan, a.data(), inplace.data(), inplace.data(), pool);
    expect_matches(inplace, want, exact, (what + " in place over b").c_str());
  }
}

TEST(CpuBinary, RandomBroadcastShapesMatchNaiveLoop) {
  std::mt19937 rng(11);
  ThreadPool inline_pool(1);
  const int64_t sizes[] = {1, 1, 2, 3, 5, 7, 8, 9, 16, 17, 33};
  const BinaryOp ops[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv, BinaryOp::kMax,
                          BinaryOp::kMin};
  for (int trial = 0; trial < 600; ++trial) {
    const size_t rank = static_cast<size_t>(trial % 6);
    Shape out(rank);
    for (int64_t& d : out) d = sizes[rng() % std::size(sizes)];
    Shape as = out, bs = out;
    for (size_t i = 0; i < rank; ++i) {  // each operand keeps the dim or broadcasts it
      if (rng() % 3 == 0) as[i] = 1;
      if (rng() % 3 == 0) bs[i] = 1;
    }
    as.erase(as.begin(), as.begin() + static_cast<long>(rng() % (rank + 1) == 0 ? rank : rng() % (rank / 2 + 1)));
    bs.erase(bs.begin(), bs.begin() + static_cast<long>(rng() % (rank / 2 + 1)));
    const Activation act = trial % 4 == 0 ? Activation{ActKind::kRelu}
                           : trial % 4 == 1 ? Activation{ActKind::kSigmoid}
                                            : Activation{};
    check_case(ops[trial % std::size(ops)], as, bs, act, rng, inline_pool);
  }
}

TEST(CpuBinary, CnnFormsAreRecognizedAndCorrect) {
  struct Case {
    Shape a, b;
    BinaryForm form;
  };
  const Case cases[] = {
      {{2, 16, 9, 11}, {2, 16, 9, 11}, BinaryForm::kSameShape},
      {{2, 16, 9, 11}, {}, BinaryForm::kScalar},
      {{1}, {2, 16, 9, 11}, BinaryForm::kScalar},
      {{2, 16, 9, 11}, {1, 16, 1, 1}, BinaryForm::kChannel},
      {{16, 1, 1}, {2, 16, 9, 11}, BinaryForm::kChannel},
      {{2, 16, 9, 11}, {2, 16, 1, 1}, BinaryForm::kPerRow},
      {{3, 50, 37}, {37}, BinaryForm::kRow},
      {{1, 37}, {3, 50, 37}, BinaryForm::kRow},
      {{5, 1}, {1, 7}, BinaryForm::kGeneral},
      {{2, 1, 3, 1, 5}, {1, 4, 1, 6, 1}, BinaryForm::kGeneral},
  };
  std::mt19937 rng(5);
  ThreadPool pool(1);
  for (const Case& c : cases) {
    EXPECT_EQ(plan_binary(BinaryOp::kAdd, c.a, c.b).form, c.form) << str(c.a) << " " << str(c.b);
    for (BinaryOp op : {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv}) {
      check_case(op, c.a, c.b, {}, rng, pool);
      check_case(op, c.a, c.b, {ActKind::kClip, 0.0f, 6.0f}, rng, pool);
    }
  }
}

TEST(CpuBinary, LargeTensorsSplitOverThreadsAndLongRows) {
  std::mt19937 rng(9);
  ThreadPool pool(3);
  // Long single rows (segmented), many short rows, and per-channel with a spatial size that is not a whole vector.
  const std::pair<Shape, Shape> cases[] = {
      {{300001}, {300001}},        {{300001}, {}},          {{1, 64, 57, 57}, {64, 1, 1}},
      {{2, 32, 40, 40}, {2, 32, 1, 1}}, {{4099, 33}, {33}}, {{7, 1, 9000}, {1, 5, 1}},
  };
  for (const auto& [as, bs] : cases) {
    check_case(BinaryOp::kMul, as, bs, {}, rng, pool);
    check_case(BinaryOp::kAdd, as, bs, {ActKind::kRelu}, rng, pool);
    check_case(BinaryOp::kSub, as, bs, {ActKind::kHardSwish}, rng, pool);
  }
}

TEST(CpuBinary, MaxMinPropagateNaNAndDivFollowsIeee) {
  ThreadPool pool(1);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> a = {nan, 1.0f, 2.0f, -1.0f, 0.0f, 3.0f, nan, 5.0f, 1.0f};
  const std::vector<float> b = {1.0f, nan, 3.0f, -2.0f, 0.0f, 0.0f, nan, -inf, 0.0f};
  const Shape s = {9};
  std::vector<float> out(9);
  binary_op(BinaryOp::kMax, a.data(), s, b.data(), s, out.data(), pool);
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]) && std::isnan(out[6]));
  EXPECT_EQ(out[2], 3.0f);
  EXPECT_EQ(out[3], -1.0f);
  EXPECT_EQ(out[7], 5.0f);
  binary_op(BinaryOp::kMin, a.data(), s, b.data(), s, out.data(), pool);
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]));
  EXPECT_EQ(out[7], -inf);
  binary_op(BinaryOp::kDiv, a.data(), s, b.data(), s, out.data(), pool);
  EXPECT_TRUE(std::isnan(out[4]));  // 0/0
  EXPECT_EQ(out[5], inf);
  EXPECT_EQ(out[8], inf);
}

TEST(CpuBinary, RejectsShapesThatDoNotBroadcast) {
  EXPECT_THROW(plan_binary(BinaryOp::kAdd, Shape{2, 3}, Shape{4}), std::invalid_argument);
  EXPECT_THROW(plan_binary(BinaryOp::kAdd, Shape(9, 1), Shape{1}), std::invalid_argument);
  EXPECT_NO_THROW(plan_binary(BinaryOp::kAdd, Shape{0, 3}, Shape{1, 3}));
  EXPECT_EQ(plan_binary(BinaryOp::kAdd, Shape{0, 3}, Shape{1, 3}).numel, 0);
}

TEST(CpuBinary, EveryCompiledTargetMatchesNaiveLoop) {
  ThreadPool pool(1);
  const std::pair<Shape, Shape> cases[] = {{{2, 16, 9, 11}, {1, 16, 1, 1}}, {{3, 50, 37}, {37}}, {{1, 37}, {3, 50, 37}},
                                           {{13}, {}}, {{2, 1, 3, 1, 5}, {1, 4, 1, 6, 1}}, {{4099}, {4099}}};
  for_each_compiled_target([&](const char*) {
    std::mt19937 rng(3);
    for (const auto& [as, bs] : cases) {
      for (BinaryOp op : {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv, BinaryOp::kMax,
                          BinaryOp::kMin}) {
        check_case(op, as, bs, {}, rng, pool);
      }
      check_case(BinaryOp::kAdd, as, bs, {ActKind::kSilu}, rng, pool);
    }
  });
}

// Informational: speedup over the naive broadcasting loop on CNN-sized shapes (single thread).
TEST(CpuBinary, PrintSpeedupOverNaive) {
  std::mt19937 rng(1);
  ThreadPool pool(1);
  const std::pair<Shape, Shape> cases[] = {{{1, 64, 56, 56}, {1, 64, 56, 56}}, {{1, 64, 56, 56}, {}},
                                           {{1, 64, 56, 56}, {64, 1, 1}},      {{1, 256, 14, 14}, {1, 256, 1, 1}},
                                           {{3136, 64}, {64}},                 {{1, 96, 7, 7}, {1, 96, 1, 1}}};
  for (const auto& [as, bs] : cases) {
    const auto a = random_data(static_cast<size_t>(numel(as)), rng), b = random_data(static_cast<size_t>(numel(bs)), rng);
    Shape os;
    const int reps = static_cast<int>(std::max<int64_t>(3, 2000000 / numel(as)));
    auto t0 = thread_now();
    for (int r = 0; r < 3; ++r) naive(BinaryOp::kAdd, a, as, b, bs, {}, &os);
    auto t1 = thread_now();
    const BinaryPlan plan = plan_binary(BinaryOp::kAdd, as, bs);
    std::vector<float> out(static_cast<size_t>(plan.numel));
    auto t2 = thread_now();
    for (int r = 0; r < reps; ++r) run_binary(plan, a.data(), b.data(), out.data(), pool);
    auto t3 = thread_now();
    const double naive_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / (3.0 * plan.numel);
    const double fast_ns = std::chrono::duration<double, std::nano>(t3 - t2).count() / (double(reps) * plan.numel);
    std::printf("[ info ] Add %s + %s: naive %.2f ns/elem, fast %.3f ns/elem, speedup %.1fx\n", str(as).c_str(),
                str(bs).c_str(), naive_ns, fast_ns, naive_ns / fast_ns);
  }
}

}  // namespace
}  // namespace ef::cpu
