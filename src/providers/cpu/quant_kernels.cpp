// QLinearConv (8-bit NCHW activations, int8 weights with zero zero points, 1-D / 2-D) on the integer kernels:
//   - depthwise (group == C): the direct int16/int32 depthwise kernel (kernels/cpu/qdepthwise.h);
//   - 1x1 kernel on a 1x1 plane (the classifier heads qdq-fusion writes as QLinearConv): the matrix-vector
//     kernel (kernels/cpu/qgemv.h), one activation column per batch item;
//   - everything else: the u8 x s8 GEMM (kernels/cpu/qgemm.h) with activation panels packed straight from the
//     input windows and requantization (bias, zero points, per-channel scales) fused in its epilogue.
// Weights are packed at plan time. Uint8 weights, non-zero weight zero points and run-time scales stay on the
// reference kernel. ai.edgeforge QLinearConvAdd runs the same algorithms and adds its residual to each block of
// outputs as it is finished (the GEMM) or to the whole result (the others). Also per-tensor QuantizeLinear /
// DequantizeLinear with constant parameters (the edges of the quantized regions of a QDQ graph) and ai.edgeforge
// QLinearAdd (residual adds kept 8-bit).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/depthwise_conv.h"
#include "kernels/cpu/qadd.h"
#include "kernels/cpu/qconv_pack.h"
#include "kernels/cpu/qconv_plane_pack.h"
#include "kernels/cpu/qconv_row_window_pack.h"
#include "kernels/cpu/qconv_window_pack.h"
#include "kernels/cpu/qdepthwise.h"
#include "kernels/cpu/qgemm.h"
#include "kernels/cpu/qgemv.h"
#include "kernels/cpu/quantize.h"
#include "ops/conv_pool_family.h"
#include "ops/fused.h"
#include "ops/shape_util.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

// QLinearConv's inputs, then QLinearConvAdd's residual and output parameters.
enum : size_t { kX, kXScale, kXZp, kW, kWScale, kWZp, kYScale, kYZp, kBias, kR, kRScale, kRZp, kOutScale, kOutZp };

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

int32_t scalar_int(const Tensor* t) {
  if (t == nullptr) return 0;
  return t->dtype() == DType::kInt8 ? t->data<int8_t>()[0] : t->data<uint8_t>()[0];
}

// What every QLinearConv algorithm shares: geometry, requantization per output channel, zero points.
struct QConvSetup {
  cpu::Conv2dParams p;
  bool x_signed = false;
  int32_t x_zp_unsigned = 0;  // the activation zero point after the int8 -> uint8 flip
  std::vector<int32_t> bias;  // M
  std::vector<float> scale;   // M: x_scale * w_scale[m] / y_scale, formed as the reference kernel forms it
  cpu::QRequant rq;
  // QLinearConvAdd: y = QLinearAdd(conv result, input kR), in place on the output buffer.
  std::optional<cpu::QAddKernel> add;
  std::string name_suffix() const { return add ? std::string("+add_") + add->name : ""; }
  // The residual add over a whole output, for the algorithms that do not add block by block.
  void add_residual(const KernelArgs& args) const {
    if (!add) return;
    auto* y = static_cast<uint8_t*>(args.output(0).raw());
    (*add)(y, static_cast<const uint8_t*>(args.input(kR).raw()), args.output(0).numel(), y);
  }
};

// The residual add of QLinearConvAdd on GEMM output rows [0, rows) x cols, on each column block as qgemm
// finishes it.
class ResidualRows final : public cpu::QColumnsDone {
 public:
  ResidualRows(const cpu::QAddKernel& add, uint8_t* y, const uint8_t* r, int64_t rows, int64_t cols)
      : add_(add), y_(y), r_(r), rows_(rows), cols_(cols) {}
  void apply(int64_t j0, int64_t j1) const override {
    for (int64_t m = 0; m < rows_; ++m) {
      uint8_t* y = y_ + m * cols_ + j0;
      add_(y, r_ + m * cols_ + j0, j1 - j0, y);
    }
  }

 private:
  const cpu::QAddKernel& add_;
  uint8_t* y_;
  const uint8_t* r_;
  int64_t rows_, cols_;
};

// The GEMM epilogue's offset: bias - x_zero_point * row_sum, wrapping modulo 2^32 like the int32 accumulators.
int32_t zero_point_offset(int32_t bias, int32_t x_zero_point, int32_t row_sum) {
  return static_cast<int32_t>(static_cast<uint32_t>(bias) -
                              static_cast<uint32_t>(x_zero_point) * static_cast<uint32_t>(row_sum));
}

class QGemmConv final : public PreparedKernel {
 public:
  QGemmConv(QConvSetup s, const int8_t* w) : s_(std::move(s)) {
    const cpu::Conv2dParams& p = s_.p;
    m_per_group_ = p.M / p.group;
    const int64_t k = (p.C / p.group) * p.kh * p.kw;
    offset_.resize(static_cast<size_t>(p.M));
    // Tap-major im2col rows where allowed: a panel quad is then one tap of four channels, packed with one offset
    // and mask instead of four (the packing was ~15% of resnet18's INT8 time). Else window quads for wide windows
    // over few channels (the 7x7 stem: its packing was ~30% of the layer). The sums are exact in any k order.
    // Row windows (AVX-512 VBMI) where a kernel row of every channel fits 16 bytes in fewer quads still.
    row_window_ = cpu::qconv_row_windows(p);
    tap_major_ = !row_window_ && cpu::qconv_tap_major(p);
    // Stride-1 tap-major layers on AVX-512 gather from quad planes laid out once per run (qconv_plane_pack.h).
    quad_planes_ = tap_major_ && cpu::qconv_quad_planes(p);
    window_ = !row_window_ && cpu::qconv_window_quads(p);
    const int64_t k_gemm = row_window_ ? cpu::qconv_row_window_k(p) : window_ ? cpu::qconv_window_quad_k(p) : k;
    std::vector<int8_t> permuted(tap_major_ || window_ || row_window_ ? static_cast<size_t>(m_per_group_ * k_gemm)
                                                                      : 0);
    for (int64_t g = 0; g < p.group; ++g) {
      const int8_t* wg = w + g * m_per_group_ * k;
      if (row_window_) {
        cpu::qconv_row_window_weights(p, m_per_group_, wg, k, permuted.data());
        wg = permuted.data();
      } else if (tap_major_) {
        cpu::qconv_tap_major_weights(p, m_per_group_, wg, k, permuted.data());
        wg = permuted.data();
      } else if (window_) {
        cpu::qconv_window_quad_weights(p, m_per_group_, wg, k, permuted.data());
        wg = permuted.data();
      }
      packed_.push_back(cpu::qpack_weights(m_per_group_, k_gemm, wg, k_gemm));
      const cpu::QPackedWeights& pw = packed_.back();
      for (int64_t m = 0; m < m_per_group_; ++m) {
        const size_t at = static_cast<size_t>(g * m_per_group_ + m);
        offset_[at] = zero_point_offset(s_.bias[at], s_.x_zp_unsigned, pw.row_sums[static_cast<size_t>(m)]);
      }
    }
  }
  std::string name() const override {
    const char* algo = cpu::qconv_is_pointwise(s_.p) ? "qconv.pointwise_"
                       : quad_planes_                ? "qconv.im2col_planes_"
                                                     : "qconv.im2col_";
    return std::string(algo) + packed_[0].kernel_name() + s_.name_suffix();
  }
  uint64_t scratch_bytes() const override {
    return quad_planes_ ? static_cast<uint64_t>(cpu::qconv_quad_plane_bytes(s_.p)) : 0;
  }
  void run(const KernelArgs& args) const override {
    const cpu::Conv2dParams& p = s_.p;
    const auto* x = static_cast<const uint8_t*>(args.input(kX).raw());
    auto* y = static_cast<uint8_t*>(args.output(0).raw());
    const int64_t cols = p.OH * p.OW, c_per_group = p.C / p.group;
    const auto flip = static_cast<uint8_t>(s_.x_signed ? 0x80 : 0);
    for (int64_t n = 0; n < p.N; ++n) {
      for (int64_t g = 0; g < p.group; ++g) {
        const uint8_t* x_group = x + (n * p.C + g * c_per_group) * p.H * p.W;
        cpu::QRequant rq = s_.rq;
        rq.offset = offset_.data() + g * m_per_group_;
        rq.scale = s_.scale.data() + g * m_per_group_;
        uint8_t* y_group = y + (n * p.M + g * m_per_group_) * cols;
        std::optional<ResidualRows> residual;
        if (s_.add) {
          const auto* r = static_cast<const uint8_t*>(args.input(kR).raw()) + (n * p.M + g * m_per_group_) * cols;
          residual.emplace(*s_.add, y_group, r, m_per_group_, cols);
        }
        auto gemm = [&](const cpu::QPanelPacker& panels) {
          cpu::qgemm(packed_[static_cast<size_t>(g)], cols, panels, rq, y_group, cols, 1, *args.pool,
                     residual ? &*residual : nullptr);
        };
        const auto pad = static_cast<uint8_t>(s_.x_zp_unsigned);
        if (quad_planes_) {
          auto* planes = static_cast<uint8_t*>(args.scratch);
          cpu::QQuadPlanePanels::build(p, x_group, flip, pad, planes, *args.pool);
          gemm(cpu::QQuadPlanePanels(p, planes));
        } else if (row_window_) {
          gemm(cpu::QRowWindowPanels(p, x_group, flip, pad));
        } else if (window_) {
          gemm(cpu::QWindowQuadPanels(p, x_group, flip, pad));
        } else {
          gemm(cpu::QConvPanels(p, x_group, flip, pad, tap_major_));
        }
      }
    }
  }

 private:
  QConvSetup s_;
  int64_t m_per_group_ = 0;
  bool tap_major_ = false;
  bool quad_planes_ = false;  // tap-major panels from quad planes (qconv_plane_pack.h)
  bool window_ = false;  // window-quad panels (qconv_window_pack.h)
  bool row_window_ = false;  // row-window panels (qconv_row_window_pack.h)
  std::vector<int32_t> offset_;
  std::vector<cpu::QPackedWeights> packed_;
};

// Depthwise: the direct integer kernel (kernels/cpu/qdepthwise.h), requantized like the GEMM path.
class QDepthwiseConv final : public PreparedKernel {
 public:
  QDepthwiseConv(QConvSetup s, const int8_t* w, int64_t w_count)
      : s_(std::move(s)), w_(w, w + w_count), kernel_(cpu::qdepthwise_choose(s_.p)) {
    if (kernel_ == cpu::QdwKernel::kPacked) packed_ = cpu::qdw_pack(s_.p, w, s_.bias.data(), s_.scale.data());
  }
  std::string name() const override {
    switch (kernel_) {
      case cpu::QdwKernel::kPacked: return "qconv.depthwise_packed_avx2" + s_.name_suffix();
      case cpu::QdwKernel::kRows: return "qconv.depthwise_avx2" + s_.name_suffix();
      case cpu::QdwKernel::kRowsAvx512: return "qconv.depthwise_avx512_vnni" + s_.name_suffix();
      case cpu::QdwKernel::kBytesVbmi: return "qconv.depthwise_avx512_vbmi" + s_.name_suffix();
      default: return "qconv.depthwise_scalar" + s_.name_suffix();
    }
  }
  void run(const KernelArgs& args) const override {
    cpu::QDepthwiseArgs a;
    a.x = static_cast<const uint8_t*>(args.input(kX).raw());
    a.flip = static_cast<uint8_t>(s_.x_signed ? 0x80 : 0);
    a.x_zero_point = s_.x_zp_unsigned;
    a.w = w_.data();
    a.bias = s_.bias.data();
    a.scale = s_.scale.data();
    a.rq = s_.rq;
    a.y = args.output(0).raw();
    a.packed = &packed_;
    cpu::qdepthwise_conv2d(s_.p, a, kernel_, *args.pool);
    s_.add_residual(args);
  }

 private:
  QConvSetup s_;
  std::vector<int8_t> w_;
  cpu::QdwKernel kernel_;
  cpu::QdwPacked packed_;
};

// A 1x1 convolution of a 1x1 plane is a matrix-vector product per batch item (qgemv.h): the GEMM would pack a
// 16-column panel for its one column. Same offset and epilogue as QGemmConv, so the same bits.
class QGemvConv final : public PreparedKernel {
 public:
  static bool applies(const cpu::Conv2dParams& p) {
    return p.group == 1 && p.H == 1 && p.W == 1 && p.OH == 1 && p.OW == 1 && p.kh == 1 && p.kw == 1 &&
           p.pad_top == 0 && p.pad_left == 0;  // else the one output would read padding
  }
  QGemvConv(QConvSetup s, const int8_t* w) : s_(std::move(s)), avx2_(cpu::qgemv_use_avx2()) {
    const int64_t M = s_.p.M, K = s_.p.C;
    w_.assign(w, w + M * K);
    offset_.resize(static_cast<size_t>(M));
    for (int64_t m = 0; m < M; ++m) {
      uint32_t row_sum = 0;  // wraps like every other int32 sum of the kernels
      for (int64_t k = 0; k < K; ++k) row_sum += static_cast<uint32_t>(static_cast<int32_t>(w[m * K + k]));
      offset_[static_cast<size_t>(m)] =
          zero_point_offset(s_.bias[static_cast<size_t>(m)], s_.x_zp_unsigned, static_cast<int32_t>(row_sum));
    }
  }
  std::string name() const override {
    return (avx2_ ? "qconv.gemv_avx2" : "qconv.gemv_scalar") + s_.name_suffix();
  }
  void run(const KernelArgs& args) const override {
    const cpu::Conv2dParams& p = s_.p;
    cpu::QGemvArgs a;
    a.w = w_.data();
    a.M = p.M;
    a.K = p.C;
    a.flip = static_cast<uint8_t>(s_.x_signed ? 0x80 : 0);
    a.offset = offset_.data();
    a.scale = s_.scale.data();
    a.rq = s_.rq;
    const auto* x = static_cast<const uint8_t*>(args.input(kX).raw());
    auto* y = static_cast<uint8_t*>(args.output(0).raw());
    for (int64_t n = 0; n < p.N; ++n) {
      a.x = x + n * p.C;
      a.y = y + n * p.M;
      cpu::qgemv(a, avx2_, *args.pool);
    }
    s_.add_residual(args);
  }

 private:
  QConvSetup s_;
  std::vector<int8_t> w_;
  std::vector<int32_t> offset_;
  bool avx2_;
};

// QLinearConv's part of a node whose convolution result has type `yt` (QLinearConv's output, QLinearConvAdd's
// intermediate) and shape `y_shape`.
std::unique_ptr<PreparedKernel> prepare_qconv(const NodeSignature& sig, DType yt, const Shape& y_shape,
                                              std::optional<cpu::QAddKernel> add) {
  const Node& node = *sig.node;
  for (size_t i : {kX, kXScale, kW, kWScale, kYScale}) {
    if (!sig.has_input(i)) return nullptr;
  }
  const DType xt = sig.input_dtype(kX);
  if (!is_8bit(xt) || !is_8bit(yt) || sig.input_dtype(kW) != DType::kInt8) return nullptr;
  const Tensor* w = sig.constant(kW);
  const Tensor* xs = sig.constant(kXScale);
  const Tensor* ws = sig.constant(kWScale);
  const Tensor* ys = sig.constant(kYScale);
  const Tensor* xzp = sig.has_input(kXZp) ? sig.constant(kXZp) : nullptr;
  const Tensor* wzp = sig.has_input(kWZp) ? sig.constant(kWZp) : nullptr;
  const Tensor* yzp = sig.has_input(kYZp) ? sig.constant(kYZp) : nullptr;
  if (w == nullptr || xs == nullptr || ws == nullptr || ys == nullptr) return nullptr;
  if ((sig.has_input(kXZp) && xzp == nullptr) || (sig.has_input(kWZp) && wzp == nullptr) ||
      (sig.has_input(kYZp) && yzp == nullptr)) {
    return nullptr;
  }
  for (const Tensor* s : {xs, ws, ys}) {
    if (s->dtype() != DType::kFloat32) return nullptr;
  }
  if (xs->numel() != 1 || ys->numel() != 1 || (xzp && (xzp->numel() != 1 || xzp->dtype() != xt)) ||
      (yzp && (yzp->numel() != 1 || yzp->dtype() != yt))) {
    return nullptr;
  }
  if (wzp != nullptr) {
    if (wzp->dtype() != DType::kInt8) return nullptr;
    for (int64_t i = 0; i < wzp->numel(); ++i) {
      if (wzp->data<int8_t>()[i] != 0) return nullptr;
    }
  }
  const Shape x_shape = sig.input_shape(kX);
  if (x_shape.size() < 3 || x_shape.size() > 4) return nullptr;
  const ConvParams cp = conv_params(node, x_shape, w->shape(), y_shape);
  auto p = window_2d(cp.batch, cp.in_channels, cp.out_channels, cp.group, cp.in_spatial, cp.out_spatial, cp.axes);
  if (!p || p->N * p->M * p->OH * p->OW == 0) return nullptr;
  QConvSetup s;
  s.p = *p;
  const int64_t M = p->M;
  if (ws->numel() != 1 && ws->numel() != M) return nullptr;
  s.x_signed = xt == DType::kInt8;
  s.x_zp_unsigned = scalar_int(xzp) + (s.x_signed ? 128 : 0);
  s.bias.assign(static_cast<size_t>(M), 0);
  if (sig.has_input(kBias)) {
    const Tensor* b = sig.constant(kBias);
    if (b == nullptr || b->dtype() != DType::kInt32 || b->numel() != M) return nullptr;
    s.bias.assign(b->data<int32_t>(), b->data<int32_t>() + M);
  }
  const float x_scale = xs->data<float>()[0], y_scale = ys->data<float>()[0];
  for (int64_t m = 0; m < M; ++m) {
    s.scale.push_back(x_scale * ws->data<float>()[ws->numel() == 1 ? 0 : m] / y_scale);
  }
  s.rq.out_signed = yt == DType::kInt8;
  s.rq.zero_point = scalar_int(yzp);
  s.rq.lo = s.rq.out_signed ? -128 : 0;
  s.rq.hi = s.rq.out_signed ? 127 : 255;
  s.add = add;
  const auto* wd = w->data<int8_t>();
  if (cpu::is_depthwise(s.p) && s.p.group > 1) return std::make_unique<QDepthwiseConv>(std::move(s), wd, w->numel());
  if (QGemvConv::applies(s.p)) return std::make_unique<QGemvConv>(std::move(s), wd);
  return std::make_unique<QGemmConv>(std::move(s), wd);
}

std::unique_ptr<PreparedKernel> prepare_qlinear_conv(const NodeSignature& sig) {
  if (sig.output_types.empty() || sig.output_types[0] == nullptr) return nullptr;
  return prepare_qconv(sig, sig.output_types[0]->dtype, sig.output_shape(0), std::nullopt);
}

// Per-tensor scale and zero point known at plan time (a missing zero point is a uint8 0).
struct TensorQParams {
  float scale = 1;
  int32_t zero_point = 0;
  DType type = DType::kUInt8;
};
std::optional<TensorQParams> tensor_qparams(const NodeSignature& sig, size_t scale = 1, size_t zero_point = 2) {
  const Tensor* s = sig.has_input(scale) ? sig.constant(scale) : nullptr;
  if (s == nullptr || s->dtype() != DType::kFloat32 || s->numel() != 1) return std::nullopt;
  TensorQParams q;
  q.scale = s->data<float>()[0];
  if (sig.has_input(zero_point)) {
    const Tensor* zp = sig.constant(zero_point);
    if (zp == nullptr || zp->numel() != 1 || !is_8bit(zp->dtype())) return std::nullopt;
    q.zero_point = scalar_int(zp);
    q.type = zp->dtype();
  }
  return q;
}

// QLinearAdd's parameters for operands a, b and result c.
cpu::QAddParams add_params(const TensorQParams& a, const TensorQParams& b, const TensorQParams& c) {
  cpu::QAddParams p;
  p.a_scale = a.scale, p.b_scale = b.scale, p.y_scale = c.scale;
  p.a_zero_point = a.zero_point, p.b_zero_point = b.zero_point, p.y_zero_point = c.zero_point;
  p.a_signed = a.type == DType::kInt8, p.b_signed = b.type == DType::kInt8, p.y_signed = c.type == DType::kInt8;
  return p;
}

std::unique_ptr<PreparedKernel> prepare_quantize(const NodeSignature& sig) {
  auto q = tensor_qparams(sig);
  if (!q || !sig.has_input(0) || sig.input_dtype(0) != DType::kFloat32 || sig.output_types.empty() ||
      sig.output_types[0] == nullptr || sig.output_types[0]->dtype != q->type) {
    return nullptr;
  }
  const bool out_signed = q->type == DType::kInt8;
  return make_kernel("quantize.per_tensor", [q = *q, out_signed](const KernelArgs& args) {
    const Tensor& x = args.input(0);
    cpu::quantize_linear(x.data<float>(), x.numel(), q.scale, q.zero_point, out_signed, args.output(0).raw());
  });
}

std::unique_ptr<PreparedKernel> prepare_dequantize(const NodeSignature& sig) {
  auto q = tensor_qparams(sig);
  if (!q || !sig.has_input(0) || sig.input_dtype(0) != q->type || sig.output_types.empty() ||
      sig.output_types[0] == nullptr || sig.output_types[0]->dtype != DType::kFloat32) {
    return nullptr;
  }
  const bool in_signed = q->type == DType::kInt8;
  return make_kernel("dequantize.per_tensor", [q = *q, in_signed](const KernelArgs& args) {
    const Tensor& x = args.input(0);
    cpu::dequantize_linear(x.raw(), in_signed, x.numel(), q.scale, q.zero_point, args.output(0).data<float>());
  });
}

// ai.edgeforge QLinearAdd of two equal-shape tensors with constant per-tensor parameters (residual blocks);
// broadcasting stays on the reference kernel.
std::unique_ptr<PreparedKernel> prepare_qlinear_add(const NodeSignature& sig) {
  auto a = tensor_qparams(sig, 1, 2), b = tensor_qparams(sig, 4, 5), c = tensor_qparams(sig, 6, 7);
  if (!a || !b || !c || !sig.has_input(0) || !sig.has_input(3) || sig.output_types.empty() ||
      sig.output_types[0] == nullptr || sig.input_dtype(0) != a->type || sig.input_dtype(3) != b->type ||
      sig.output_types[0]->dtype != c->type) {
    return nullptr;
  }
  const Shape shape = sig.output_shape(0), a_shape = sig.input_shape(0), b_shape = sig.input_shape(3);
  if (a_shape != shape || b_shape != shape) {
    // One input the output's shape, the other broadcast and constant over runs of >= 256 contiguous outputs (a
    // single element: hard-swish's x + 3; one per channel: [1, C, 1, 1]): each run maps the full input's bytes
    // through a 256-entry table (cpu::qlinear_add_scalar). On the reference kernel these adds were 87% of
    // ppocr_det's INT8 run. Other broadcasts stay on the reference.
    const bool a_small = b_shape == shape;
    if (!a_small && a_shape != shape) return nullptr;
    const Shape& small = a_small ? a_shape : b_shape;
    if (small.size() > shape.size()) return nullptr;
    const size_t lead = shape.size() - small.size();
    // The small input, right-aligned (its missing leading axes count as 1): axes from `from` on are all 1 there.
    size_t from = shape.size();
    while (from > 0 && (from - 1 < lead || small[from - 1 - lead] == 1)) --from;
    int64_t inner = 1;
    for (size_t d = from; d < shape.size(); ++d) inner *= shape[d];
    const int64_t blocks = shape_numel(shape) / inner;
    if (blocks > 1 && inner < 256) return nullptr;  // a table per few outputs would cost more than it saves
    std::vector<int64_t> small_at(static_cast<size_t>(blocks), 0);  // the small input's element for each run
    const BroadcastIndexer index(shape, {small});
    for (int64_t j = 0; j < blocks; ++j) index.offsets(j * inner, &small_at[static_cast<size_t>(j)]);
    // The formula is symmetric in its two inputs (float addition commutes), so the broadcast input goes second.
    const cpu::QAddParams p = a_small ? add_params(*b, *a, *c) : add_params(*a, *b, *c);
    const int big_in = a_small ? 3 : 0, small_in = a_small ? 0 : 3;
    return make_in_place_kernel(
        blocks == 1 ? "qlinear_add.scalar_table" : "qlinear_add.broadcast_table", big_in,
        [p, big_in, small_in, inner, small_at = std::move(small_at)](const KernelArgs& args) {
          const auto* x = static_cast<const uint8_t*>(args.input(static_cast<size_t>(big_in)).raw());
          const auto* v = static_cast<const uint8_t*>(args.input(static_cast<size_t>(small_in)).raw());
          auto* y = static_cast<uint8_t*>(args.output(0).raw());
          for (size_t j = 0; j < small_at.size(); ++j) {
            const int64_t o = static_cast<int64_t>(j) * inner;
            cpu::qlinear_add_scalar(x + o, inner, v[small_at[j]], p, y + o);
          }
        });
  }
  const cpu::QAddKernel k = cpu::qlinear_add_kernel(add_params(*a, *b, *c));
  return make_in_place_kernel(std::string("qlinear_add.") + k.name, 0, [k](const KernelArgs& args) {
    k(static_cast<const uint8_t*>(args.input(0).raw()), static_cast<const uint8_t*>(args.input(3).raw()),
      args.output(0).numel(), static_cast<uint8_t*>(args.output(0).raw()));
  });
}

// ai.edgeforge QLinearConvAdd: constant per-tensor parameters, a residual of the output's shape.
std::unique_ptr<PreparedKernel> prepare_qlinear_conv_add(const NodeSignature& sig) {
  auto a = tensor_qparams(sig, kYScale, kYZp), r = tensor_qparams(sig, kRScale, kRZp);
  auto c = tensor_qparams(sig, kOutScale, kOutZp);
  if (!a || !r || !c || !sig.has_input(kR) || sig.output_types.empty() || sig.output_types[0] == nullptr ||
      sig.input_dtype(kR) != r->type || sig.output_types[0]->dtype != c->type) {
    return nullptr;
  }
  const Shape shape = sig.output_shape(0);
  if (sig.input_shape(kR) != shape) return nullptr;
  const cpu::QAddKernel add = cpu::qlinear_add_kernel(add_params(*a, *r, *c));
  return prepare_qconv(sig, a->type, shape, add);
}

}  // namespace

void add_quant_kernels(KernelTable& table) {
  table.add("", "QLinearConv", prepare_qlinear_conv);
  table.add("", "QuantizeLinear", prepare_quantize);
  table.add("", "DequantizeLinear", prepare_dequantize);
  table.add(kEdgeForgeDomain, "QLinearAdd", prepare_qlinear_add);
  table.add(kEdgeForgeDomain, "QLinearConvAdd", prepare_qlinear_conv_add);
  add_qmatmul_kernels(table);
}

}  // namespace ef::cpu_provider
