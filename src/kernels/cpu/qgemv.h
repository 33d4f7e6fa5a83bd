// Quantized matrix-vector product for the int8 kernels: y[m] = requant(sum_k W[m, k] * x[k] + offset[m]) for one
// activation vector, with qgemm.h's epilogue (QRequant, offset, per-row scale), so results equal the GEMM path
// bit for bit. It exists for the classifier heads of QDQ models (a Gemm at batch 1 after global pooling): the
// GEMM packs 16-column activation panels, so one column would pay 8-16x the multiplies, while the head is bound
// by reading its weights once. The weights are read as they are (int8, row-major, no packing); the activations
// enter as uint8 (int8 flipped by x ^ 0x80, the caller folds the +128 into the offset as for qgemm).
// Depends on core/thread_pool.h and qgemm.h (the shared epilogue) only.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/qgemm.h"

namespace ef::cpu {

struct QGemvArgs {
  const int8_t* w = nullptr;  // [M, K], row stride K
  int64_t M = 0, K = 0;
  const uint8_t* x = nullptr;  // K activations
  uint8_t flip = 0;            // 0x80 for int8 activations, else 0
  const int32_t* offset = nullptr;  // M: bias - (activation zero point after the flip) * row sum
  const float* scale = nullptr;     // M
  QRequant rq;                      // zero point, bounds, output type (out_int32 unsupported)
  void* y = nullptr;                // M bytes
};

// Whether qgemv runs the AVX2 kernel (the CPU has it and --isa allows it); otherwise portable loops.
bool qgemv_use_avx2();

// Rows are split over the pool's threads; every row is summed in the same order whatever the thread count, and
// int32 sums wrap exactly as the GEMM's do, so results never depend on the thread count or the kernel.
void qgemv(const QGemvArgs& a, bool avx2, ThreadPool& pool);

}  // namespace ef::cpu
