// MatMulInteger (dynamic quantization) and QLinearMatMul on the quantized GEMM (kernels/cpu/qgemm.h):
// A [..., M, K] 8-bit activations times a constant B [K, N] whose values minus their zero points fit int8
// (int8 weights with zero zero points, or uint8 weights stored around 128). B is transposed and packed at plan
// time; A's rows are the GEMM's columns (kernels/cpu/qconv_pack.h QRowPanels), so the kernel computes Y^T and its
// epilogue writes Y with a column stride. The activation zero point may be a run-time tensor (MatMulInteger
// after DynamicQuantizeLinear): its correction is formed per run. Other forms stay on the reference kernels.
#include <optional>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/qconv_pack.h"
#include "kernels/cpu/qgemm.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

int32_t int_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt8 ? t.data<int8_t>()[i] : t.data<uint8_t>()[i];
}

// B [K, N] minus its zero point (scalar or per column), transposed to [N, K] int8; nullopt when it does not fit.
std::optional<std::vector<int8_t>> weights_minus_zero_point(const Tensor& b, const Tensor* zp) {
  const int64_t K = b.dim(0), N = b.dim(1);
  if (zp != nullptr && (zp->dtype() != b.dtype() || (zp->numel() != 1 && zp->numel() != N))) return std::nullopt;
  std::vector<int8_t> w(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n) {
    const int32_t z = zp == nullptr ? 0 : int_at(*zp, zp->numel() == 1 ? 0 : n);
    for (int64_t k = 0; k < K; ++k) {
      const int32_t v = int_at(b, k * N + n) - z;
      if (v < -128 || v > 127) return std::nullopt;
      w[static_cast<size_t>(n * K + k)] = static_cast<int8_t>(v);
    }
  }
  return w;
}

class QGemmMatMul final : public PreparedKernel {
 public:
  // a_zp_input: the input holding A's zero point (read per run), or -1 with the constant a_zp.
  QGemmMatMul(std::string name, cpu::QPackedWeights w, bool a_signed, int a_zp_input, int32_t a_zp,
              std::vector<float> scale, cpu::QRequant rq)
      : name_(std::move(name)), w_(std::move(w)), a_signed_(a_signed), a_zp_input_(a_zp_input), a_zp_(a_zp),
        scale_(std::move(scale)), rq_(rq) {}
  std::string name() const override { return name_ + w_.kernel_name(); }
  void run(const KernelArgs& args) const override {
    const Tensor& a = args.input(0);
    int32_t zp = a_zp_;
    if (a_zp_input_ >= 0 && args.has_input(static_cast<size_t>(a_zp_input_))) {
      zp = int_at(args.input(static_cast<size_t>(a_zp_input_)), 0);
    }
    const int32_t zp_unsigned = zp + (a_signed_ ? 128 : 0);
    std::vector<int32_t> offset(static_cast<size_t>(w_.M));
    for (size_t n = 0; n < offset.size(); ++n) {
      offset[n] = static_cast<int32_t>(0u - static_cast<uint32_t>(zp_unsigned) *
                                                 static_cast<uint32_t>(w_.row_sums[n]));
    }
    cpu::QRequant rq = rq_;
    rq.offset = offset.data();
    rq.scale = scale_.empty() ? nullptr : scale_.data();
    const int64_t rows = w_.K == 0 ? 0 : a.numel() / w_.K;
    const cpu::QRowPanels panels(static_cast<const uint8_t*>(a.raw()), w_.K, a_signed_ ? 0x80 : 0);
    cpu::qgemm(w_, rows, panels, rq, args.output(0).raw(), 1, w_.M, *args.pool);
  }

 private:
  std::string name_;
  cpu::QPackedWeights w_;
  bool a_signed_;
  int a_zp_input_;
  int32_t a_zp_;
  std::vector<float> scale_;
  cpu::QRequant rq_;
};

// The shared conditions: A 8-bit of rank >= 1 with last dim K, B a constant 2-D [K, N] 8-bit tensor.
const Tensor* constant_b(const NodeSignature& sig, size_t a, size_t b) {
  if (!sig.has_input(a) || !sig.has_input(b) || !is_8bit(sig.input_dtype(a))) return nullptr;
  if (!sig.input_types[a]->concrete_shape()) return nullptr;
  const Tensor* w = sig.constant(b);
  const Shape as = sig.input_shape(a);
  if (w == nullptr || w->shape().size() != 2 || as.empty() || as.back() != w->dim(0) || w->dim(0) == 0) {
    return nullptr;
  }
  return w;
}

std::unique_ptr<PreparedKernel> prepare_matmul_integer(const NodeSignature& sig) {
  const Tensor* b = constant_b(sig, 0, 1);
  if (b == nullptr || sig.output_types.empty() || sig.output_types[0] == nullptr) return nullptr;
  if (sig.has_input(2)) {  // per-row zero points: reference
    if (sig.input_dtype(2) != sig.input_dtype(0) || !sig.input_types[2]->concrete_shape() ||
        shape_numel(sig.input_shape(2)) != 1) {
      return nullptr;
    }
  }
  const Tensor* bzp = nullptr;
  if (sig.has_input(3)) {
    bzp = sig.constant(3);
    if (bzp == nullptr) return nullptr;
  }
  auto w = weights_minus_zero_point(*b, bzp);
  if (!w) return nullptr;
  const int64_t K = b->dim(0), N = b->dim(1);
  cpu::QRequant rq;
  rq.out_int32 = true;
  return std::make_unique<QGemmMatMul>("matmul_integer.qgemm_", cpu::qpack_weights(N, K, w->data(), K),
                                       sig.input_dtype(0) == DType::kInt8, sig.has_input(2) ? 2 : -1, 0,
                                       std::vector<float>{}, rq);
}

// QLinearMatMul inputs: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp.
std::unique_ptr<PreparedKernel> prepare_qlinear_matmul(const NodeSignature& sig) {
  const Tensor* b = constant_b(sig, 0, 3);
  if (b == nullptr || sig.output_types.empty() || sig.output_types[0] == nullptr) return nullptr;
  const Tensor* as = sig.constant(1);
  const Tensor* azp = sig.constant(2);
  const Tensor* bs = sig.constant(4);
  const Tensor* bzp = sig.constant(5);
  const Tensor* ys = sig.constant(6);
  const Tensor* yzp = sig.constant(7);
  for (const Tensor* t : {as, azp, bs, bzp, ys, yzp}) {
    if (t == nullptr) return nullptr;
  }
  const int64_t K = b->dim(0), N = b->dim(1);
  const DType yt = sig.output_types[0]->dtype;
  if (as->dtype() != DType::kFloat32 || bs->dtype() != DType::kFloat32 || ys->dtype() != DType::kFloat32 ||
      as->numel() != 1 || ys->numel() != 1 || azp->numel() != 1 || yzp->numel() != 1 ||
      (bs->numel() != 1 && bs->numel() != N) || azp->dtype() != sig.input_dtype(0) || !is_8bit(yt) ||
      yzp->dtype() != yt) {
    return nullptr;
  }
  auto w = weights_minus_zero_point(*b, bzp);
  if (!w) return nullptr;
  // The multiplier as the reference forms it: a_scale * b_scale[n] / y_scale in float.
  std::vector<float> scale(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    scale[static_cast<size_t>(n)] = as->data<float>()[0] * bs->data<float>()[bs->numel() == 1 ? 0 : n] /
                                    ys->data<float>()[0];
  }
  cpu::QRequant rq;
  rq.out_signed = yt == DType::kInt8;
  rq.zero_point = int_at(*yzp, 0);
  rq.lo = rq.out_signed ? -128 : 0;
  rq.hi = rq.out_signed ? 127 : 255;
  return std::make_unique<QGemmMatMul>("qlinear_matmul.qgemm_", cpu::qpack_weights(N, K, w->data(), K),
                                       sig.input_dtype(0) == DType::kInt8, -1, int_at(*azp, 0), std::move(scale),
                                       rq);
}

}  // namespace

void add_qmatmul_kernels(KernelTable& table) {
  table.add("", "MatMulInteger", prepare_matmul_integer);
  table.add("", "QLinearMatMul", prepare_qlinear_matmul);
}

}  // namespace ef::cpu_provider
