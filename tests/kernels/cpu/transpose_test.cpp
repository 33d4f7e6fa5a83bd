// Tests of the transpose kernels (kernels/cpu/transpose.cpp) against a naive index loop: every permutation of
// rank <= 4 on odd sizes, random rank 5/6, element sizes 1/2/4/8 and an odd size, size-1 dims, the CNN layouts by
// form (2..4-channel images (de)interleaved), threaded runs, every compiled SIMD target. Prints the speedup over the naive loop (informational only).
#include "kernels/cpu/transpose.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "hwy/targets.h"

#include "core/thread_pool.h"
#include "kernels/cpu/target_test_util.h"

namespace ef::cpu {
namespace transpose_test {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s) { return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<>()); }

// The definition: for every output index, copy the input element it names.
std::vector<uint8_t> naive(const std::vector<uint8_t>& in, const Shape& shape, const Shape& perm, size_t es) {
  const size_t rank = shape.size();
  Shape in_strides(rank, 1), out_shape(rank);
  for (size_t k = rank; k-- > 1;) in_strides[k - 1] = in_strides[k] * shape[k];
  for (size_t k = 0; k < rank; ++k) out_shape[k] = shape[static_cast<size_t>(perm[k])];
  std::vector<uint8_t> out(in.size());
  const int64_t n = numel(shape);
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rem = flat, src = 0;
    for (size_t k = rank; k-- > 0;) {
      src += rem % out_shape[k] * in_strides[static_cast<size_t>(perm[k])];
      rem /= out_shape[k];
    }
    std::memcpy(&out[static_cast<size_t>(flat) * es], &in[static_cast<size_t>(src) * es], es);
  }
  return out;
}

std::string str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

void check(const Shape& shape, const Shape& perm, size_t es, ThreadPool& pool, std::mt19937& rng) {
  std::vector<uint8_t> in(static_cast<size_t>(numel(shape)) * es);
  for (uint8_t& b : in) b = static_cast<uint8_t>(rng());
  const auto want = naive(in, shape, perm, es);
  std::vector<uint8_t> out(in.size(), 0xAB);
  transpose(in.data(), out.data(), shape, perm, es, pool);
  ASSERT_TRUE(out == want) << str(shape) << " perm " << str(perm) << " elem " << es;
}

TEST(CpuTranspose, EveryPermutationUpToRank4) {
  std::mt19937 rng(17);
  ThreadPool pool(1);
  const Shape shapes[] = {{}, {7}, {5, 9}, {1, 13}, {67, 131}, {3, 5, 7}, {2, 1, 9}, {3, 70, 66}, {2, 3, 5, 7},
                          {1, 3, 1, 5}, {2, 17, 1, 65}, {3, 9, 66, 5}};
  for (const Shape& shape : shapes) {
    Shape perm(shape.size());
    std::iota(perm.begin(), perm.end(), 0);
    do {
      for (size_t es : {size_t{4}, size_t{1}, size_t{2}, size_t{8}, size_t{3}}) check(shape, perm, es, pool, rng);
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
}

TEST(CpuTranspose, RandomRank5And6) {
  std::mt19937 rng(23);
  ThreadPool pool(2);
  const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 9};
  for (int trial = 0; trial < 200; ++trial) {
    Shape shape(5 + trial % 2);
    for (int64_t& d : shape) d = sizes[rng() % std::size(sizes)];
    Shape perm(shape.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    check(shape, perm, trial % 3 == 0 ? 2 : 4, pool, rng);
  }
}

TEST(CpuTranspose, CnnLayoutsPickTheirFormAndRunThreaded) {
  std::mt19937 rng(29);
  ThreadPool pool(3);
  struct Case {
    Shape shape, perm;
    TransposeForm form;
  };
  const Case cases[] = {
      {{2, 24, 33, 35}, {0, 2, 3, 1}, TransposeForm::kTiled},       // NCHW -> NHWC
      {{2, 33, 35, 24}, {0, 3, 1, 2}, TransposeForm::kTiled},       // NHWC -> NCHW
      {{1, 2, 58, 28, 28}, {0, 2, 1, 3, 4}, TransposeForm::kRowCopy},  // channel shuffle, g = 2
      {{3, 1, 5, 1}, {1, 0, 3, 2}, TransposeForm::kCopy},           // only size-1 dims move
      {{300, 257}, {1, 0}, TransposeForm::kTiled},
      {{1, 3, 640, 480}, {0, 2, 3, 1}, TransposeForm::kTiled},      // large: many tiles over threads
      {{2, 37, 41, 3}, {0, 3, 1, 2}, TransposeForm::kTiled},        // NHWC RGB -> NCHW: deinterleaved
      {{1, 256, 256, 3}, {0, 3, 1, 2}, TransposeForm::kTiled},
      {{2, 3, 37, 41}, {0, 2, 3, 1}, TransposeForm::kTiled},        // NCHW RGB -> NHWC: interleaved
      {{1, 67, 5, 2}, {0, 3, 1, 2}, TransposeForm::kTiled},         // 2 and 4 channels, odd pixel counts
      {{3, 4, 13, 7}, {0, 2, 3, 1}, TransposeForm::kTiled},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(plan_transpose(c.shape, c.perm, 4).form, c.form) << str(c.shape) << " " << str(c.perm);
    check(c.shape, c.perm, 4, pool, rng);
    check(c.shape, c.perm, 2, pool, rng);
  }
  const TransposePlan nchw = plan_transpose(Shape{2, 24, 33, 35}, Shape{0, 2, 3, 1}, 4);
  EXPECT_EQ(nchw.rank, 3);  // H and W merged
}

TEST(CpuTranspose, RejectsBadPermutations) {
  EXPECT_THROW(plan_transpose(Shape{2, 3}, Shape{0, 0}, 4), std::invalid_argument);
  EXPECT_THROW(plan_transpose(Shape{2, 3}, Shape{0}, 4), std::invalid_argument);
  EXPECT_THROW(plan_transpose(Shape{2, 3}, Shape{0, 2}, 4), std::invalid_argument);
  EXPECT_THROW(plan_transpose(Shape{2, 3}, Shape{1, 0}, 0), std::invalid_argument);
  EXPECT_EQ(plan_transpose(Shape{0, 3}, Shape{1, 0}, 4).numel, 0);
}

TEST(CpuTranspose, EveryCompiledTargetMatchesNaiveLoop) {
  ThreadPool pool(1);
  const std::pair<Shape, Shape> cases[] = {{{2, 24, 33, 35}, {0, 2, 3, 1}}, {{67, 131}, {1, 0}},
                                           {{1, 2, 58, 9, 9}, {0, 2, 1, 3, 4}}, {{3, 9, 66, 5}, {3, 1, 0, 2}},
                                           {{5000}, {0}}, {{2, 19, 23, 3}, {0, 3, 1, 2}},
                                           {{2, 3, 19, 23}, {0, 2, 3, 1}}, {{1, 45, 2}, {0, 2, 1}},
                                           {{1, 4, 45}, {0, 2, 1}}, {{1, 45, 4}, {0, 2, 1}}};
  for_each_compiled_target([&](const char*) {
    std::mt19937 rng(5);
    for (const auto& [shape, perm] : cases) {
      for (size_t es : {size_t{1}, size_t{2}, size_t{4}, size_t{8}}) check(shape, perm, es, pool, rng);
    }
  });
}

// Informational: speedup over the naive loop (specialized to 4-byte elements so that it is a fair scalar loop).
TEST(CpuTranspose, PrintSpeedupOverNaive) {
  ThreadPool pool(1);
  struct Case {
    const char* name;
    Shape shape, perm;
  };
  const Case cases[] = {{"NCHW->NHWC 1x64x56x56", {1, 64, 56, 56}, {0, 2, 3, 1}},
                        {"NHWC->NCHW 1x56x56x64", {1, 56, 56, 64}, {0, 3, 1, 2}},
                        {"NHWC->NCHW 1x256x256x3", {1, 256, 256, 3}, {0, 3, 1, 2}},
                        {"NCHW->NHWC 1x3x256x256", {1, 3, 256, 256}, {0, 2, 3, 1}},
                        {"2-D 1024x1024", {1024, 1024}, {1, 0}},
                        {"shuffle 1x2x58x28x28", {1, 2, 58, 28, 28}, {0, 2, 1, 3, 4}}};
  for (const Case& c : cases) {
    const size_t rank = c.shape.size();
    const int64_t n = numel(c.shape);
    std::vector<float> in(static_cast<size_t>(n)), out(in.size());
    std::iota(in.begin(), in.end(), 0.0f);
    Shape in_strides(rank, 1), out_shape(rank);
    for (size_t k = rank; k-- > 1;) in_strides[k - 1] = in_strides[k] * c.shape[k];
    for (size_t k = 0; k < rank; ++k) out_shape[k] = c.shape[static_cast<size_t>(c.perm[k])];
    const int reps = 5;
    auto t0 = thread_now();
    for (int r = 0; r < reps; ++r) {
      for (int64_t flat = 0; flat < n; ++flat) {
        int64_t rem = flat, src = 0;
        for (size_t k = rank; k-- > 0;) {
          src += rem % out_shape[k] * in_strides[static_cast<size_t>(c.perm[k])];
          rem /= out_shape[k];
        }
        out[static_cast<size_t>(flat)] = in[static_cast<size_t>(src)];
      }
    }
    auto t1 = thread_now();
    const TransposePlan plan = plan_transpose(c.shape, c.perm, 4);
    for (int r = 0; r < reps; ++r) run_transpose(plan, in.data(), out.data(), pool);
    auto t2 = thread_now();
    const double naive_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / (double(reps) * n);
    const double fast_ns = std::chrono::duration<double, std::nano>(t2 - t1).count() / (double(reps) * n);
    std::printf("[ info ] Transpose %s: naive %.2f ns/elem, fast %.3f ns/elem, speedup %.1fx\n", c.name, naive_ns,
                fast_ns, naive_ns / fast_ns);
  }
}

}  // namespace
}  // namespace ef::cpu
