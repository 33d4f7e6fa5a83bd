// Softmax and LogSoftmax over one axis of float32 data, vectorized and parallel, numerically stable (the maximum
// of each normalized slice is subtracted before exp). ONNX opset >= 13 normalizes over the single axis `axis`:
// view the tensor as [outer, axis_len, inner] (outer = product of the dims before the axis, inner = after it);
// opset < 13 flattens from the axis on, which is the same call with axis_len = product of those dims, inner = 1.
// Depends on the standard library and core/thread_pool.h (in the .cpp); Highway inside.
#pragma once
#include <cstdint>

namespace ef {
class ThreadPool;
}

namespace ef::cpu {

enum class SoftmaxKind : uint8_t { kSoftmax, kLogSoftmax };

// y = softmax(x) (or log_softmax) over the middle axis of the row-major [outer, axis_len, inner] view; y may be x
// (in place) but must not overlap it otherwise. inner == 1 is the common [rows, cols] case (last axis). Runs on
// `pool` when the tensor has at least 32K elements and more than one slice.
void softmax(SoftmaxKind kind, const float* x, float* y, int64_t outer, int64_t axis_len, int64_t inner,
             ThreadPool& pool);

}  // namespace ef::cpu
