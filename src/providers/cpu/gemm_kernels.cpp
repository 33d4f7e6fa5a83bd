// Gemm, ai.edgeforge FusedGemm and MatMul (float32) on the packed SGEMM. Constant B operands (weights) are packed
// once at plan time; alpha, a constant or same-shape C (scaled by beta) and the fused activation go into the GEMM
// epilogue. MatMul folds the batch dims of A into rows when B is one 2-D matrix, and loops over batches when both
// operands have the same batch dims; other broadcasts stay on the reference kernel.
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/sgemm.h"
#include "ops/fused.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

// How C (already scaled by beta) enters the epilogue.
struct GemmAddend {
  enum Kind { kNone, kPerColumn, kPerRow, kConstantMatrix, kInputMatrix } kind = kNone;
  std::vector<float> values;  // kPerColumn (N), kPerRow (M), kConstantMatrix (M*N)
};

// nullopt when C broadcasts in a way the epilogue cannot express.
std::optional<GemmAddend> gemm_addend(const NodeSignature& sig, int64_t M, int64_t N, float beta) {
  GemmAddend add;
  if (!sig.has_input(2) || beta == 0.0f) return add;
  const Shape c = sig.input_shape(2);
  const Tensor* value = sig.constant(2);
  const int64_t rows = c.size() == 2 ? c[0] : 1, cols = c.empty() ? 1 : c.back();
  if (value == nullptr) {
    if (beta != 1.0f || rows != M || cols != N || c.size() != 2) return std::nullopt;
    add.kind = GemmAddend::kInputMatrix;
    return add;
  }
  const float* v = value->data<float>();
  if (rows == M && cols == N && M > 1 && N > 1) {
    add.kind = GemmAddend::kConstantMatrix;
    add.values.assign(v, v + M * N);
  } else if (rows == 1) {  // [N], [1, N] or a scalar: one value per column
    add.kind = GemmAddend::kPerColumn;
    for (int64_t j = 0; j < N; ++j) add.values.push_back(v[cols == 1 ? 0 : j]);
  } else if (cols == 1 && rows == M) {
    add.kind = GemmAddend::kPerRow;
    add.values.assign(v, v + M);
  } else if (rows == M && cols == N) {  // M == 1 or N == 1: still one value per output
    add.kind = GemmAddend::kConstantMatrix;
    add.values.assign(v, v + M * N);
  } else {
    return std::nullopt;
  }
  for (float& x : add.values) x *= beta;
  return add;
}

class GemmKernel final : public PreparedKernel {
 public:
  GemmKernel(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, GemmAddend addend,
             cpu::Activation act, const Tensor* constant_b)
      : trans_a_(trans_a), trans_b_(trans_b), M_(M), N_(N), K_(K), addend_(std::move(addend)) {
    epi_.alpha = alpha;
    epi_.act = act;
    if (addend_.kind == GemmAddend::kPerColumn || addend_.kind == GemmAddend::kPerRow) {
      epi_.bias = addend_.values.data();
      epi_.bias_per_row = addend_.kind == GemmAddend::kPerRow;
    } else if (addend_.kind == GemmAddend::kConstantMatrix) {
      epi_.residual = addend_.values.data();
      epi_.ldr = N_;
    }
    if (constant_b != nullptr) {
      packed_b_ = cpu::pack_b(trans_b, K, N, constant_b->data<float>(), trans_b ? K : N);
    }
  }
  std::string name() const override { return packed_b_.empty() ? "gemm.sgemm" : "gemm.packed_b"; }
  void run(const KernelArgs& args) const override {
    cpu::GemmEpilogue epi = epi_;
    if (addend_.kind == GemmAddend::kInputMatrix) {
      epi.residual = args.input(2).data<float>();
      epi.ldr = N_;
    }
    const float* a = args.input(0).data<float>();
    float* c = args.output(0).data<float>();
    const int64_t lda = trans_a_ ? M_ : K_;
    if (!packed_b_.empty()) {
      cpu::sgemm_packed_b(trans_a_, M_, a, lda, packed_b_, c, N_, epi, *args.pool);
    } else {
      cpu::sgemm(trans_a_, trans_b_, M_, N_, K_, a, lda, args.input(1).data<float>(), trans_b_ ? K_ : N_, c, N_,
                 epi, *args.pool);
    }
  }

 private:
  bool trans_a_, trans_b_;
  int64_t M_, N_, K_;
  GemmAddend addend_;
  cpu::GemmEpilogue epi_;
  cpu::PackedMatrix packed_b_;
};

std::unique_ptr<PreparedKernel> prepare_gemm(const NodeSignature& sig) {
  const Node& n = *sig.node;
  // Gemm before opset 7 broadcasts C only on request; left to the reference kernel.
  if ((n.domain.empty() && n.version < 7) || !all_float32(sig) || !sig.has_input(0) || !sig.has_input(1)) {
    return nullptr;
  }
  const Shape a = sig.input_shape(0), b = sig.input_shape(1);
  if (a.size() != 2 || b.size() != 2) return nullptr;
  const bool trans_a = n.attr_int("transA", 0) != 0, trans_b = n.attr_int("transB", 0) != 0;
  const int64_t M = trans_a ? a[1] : a[0], K = trans_a ? a[0] : a[1], N = trans_b ? b[0] : b[1];
  if (M == 0 || N == 0) return nullptr;
  auto addend = gemm_addend(sig, M, N, n.attr_float("beta", 1.0f));
  if (!addend) return nullptr;
  cpu::Activation act = n.domain == kEdgeForgeDomain ? fused_activation(n) : cpu::Activation{};
  return std::make_unique<GemmKernel>(trans_a, trans_b, M, N, K, n.attr_float("alpha", 1.0f), std::move(*addend),
                                      act, sig.constant(1));
}

class MatMulKernel final : public PreparedKernel {
 public:
  MatMulKernel(int64_t batches, int64_t M, int64_t N, int64_t K, const Tensor* constant_b)
      : batches_(batches), M_(M), N_(N), K_(K) {
    if (constant_b != nullptr) packed_b_ = cpu::pack_b(false, K, N, constant_b->data<float>(), N);
  }
  std::string name() const override { return packed_b_.empty() ? "matmul.batched_sgemm" : "matmul.packed_b"; }
  void run(const KernelArgs& args) const override {
    const float* a = args.input(0).data<float>();
    float* c = args.output(0).data<float>();
    const cpu::GemmEpilogue epi;
    if (!packed_b_.empty()) {
      cpu::sgemm_packed_b(false, batches_ * M_, a, K_, packed_b_, c, N_, epi, *args.pool);
      return;
    }
    const float* b = args.input(1).data<float>();
    if (args.input(1).rank() == 2) {
      cpu::sgemm(false, false, batches_ * M_, N_, K_, a, K_, b, N_, c, N_, epi, *args.pool);
      return;
    }
    for (int64_t i = 0; i < batches_; ++i) {
      cpu::sgemm(false, false, M_, N_, K_, a + i * M_ * K_, K_, b + i * K_ * N_, N_, c + i * M_ * N_, N_, epi,
                 *args.pool);
    }
  }

 private:
  int64_t batches_, M_, N_, K_;
  cpu::PackedMatrix packed_b_;
};

std::unique_ptr<PreparedKernel> prepare_matmul(const NodeSignature& sig) {
  if (!all_float32(sig) || !sig.has_input(0) || !sig.has_input(1)) return nullptr;
  const Shape a = sig.input_shape(0), b = sig.input_shape(1);
  if (a.empty() || b.size() < 2) return nullptr;  // 1-D B (matrix-vector) stays on the reference kernel
  const int64_t K = a.back(), N = b.back();
  const int64_t M = a.size() >= 2 ? a[a.size() - 2] : 1;
  if (b[b.size() - 2] != K) return nullptr;
  const int64_t a_batches = a.size() >= 2 ? shape_numel(Shape(a.begin(), a.end() - 2)) : 1;
  if (b.size() == 2) {
    if (M * N * a_batches == 0) return nullptr;
    // Rows of every batch are contiguous: one GEMM with batches * M rows.
    return std::make_unique<MatMulKernel>(a_batches, M, N, K, sig.constant(1));
  }
  // Same batch dims on both sides (no broadcasting) and A at least 3-D.
  if (a.size() != b.size() || !std::equal(a.begin(), a.end() - 2, b.begin())) return nullptr;
  if (M * N * a_batches == 0) return nullptr;
  return std::make_unique<MatMulKernel>(a_batches, M, N, K, nullptr);
}

}  // namespace

void add_gemm_kernels(KernelTable& table) {
  table.add("", "Gemm", prepare_gemm);
  table.add(kEdgeForgeDomain, "FusedGemm", prepare_gemm);
  table.add("", "MatMul", prepare_matmul);
}

}  // namespace ef::cpu_provider
