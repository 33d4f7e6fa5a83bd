// Conv, ai.edgeforge FusedConv and FusedConvMaxPool (float32, 1-D and 2-D, NCHW) on the fast kernels, algorithm
// chosen per layer:
//   - depthwise (group == C, M a multiple of C): direct vectorized kernel, no GEMM;
//   - pointwise (1x1, stride 1, no padding): GEMM straight on the input, no im2col;
//   - dense 3x3 stride 1 with enough channels and output tiles (cpu::winograd_preferred_tile): Winograd F(4x4, 3x3)
//     or, on small planes, F(2x2, 3x3);
//   - dense 3x3 stride 1 where Winograd has few tiles to share its transforms (cpu::direct_planes_preferred:
//     squeezenet's 13x13 layers at one thread): direct kernel over padded planes (conv_direct_planes.h);
//   - dense 3x3 on 65-256 output positions (cpu::direct_blocked_preferred: resnet18's 14x14 stage, stride 2 from
//     128 input channels; stride 1 from 48 at two or more threads, which also takes squeezenet's 13x13 layers):
//     direct kernel with output channels in the vector lanes (conv_direct_blocked.h);
//   - few input channels (stem convs, C <= 4): direct kernel over phase-split padded rows (conv_direct_smallc.h);
//     as ai.edgeforge FusedConvMaxPool (conv-maxpool-fusion), the same kernel with the MaxPool applied to each band
//     of its output rows (conv_max_pool.h);
//   - ai.edgeforge FusedConvDepthwise (conv-depthwise-fusion: a 1x1 conv and the depthwise conv reading it): the
//     pointwise GEMM a band of rows at a time, each band consumed by the depthwise kernel while in L2
//     (pointwise_depthwise.h);
//   - everything else: GEMM whose B panels are packed straight from the input windows (im2col_pack_panel), so
//     the column matrix is never written.
// GEMM paths pre-pack each group's weights once at plan time. Bias, the FusedConv residual Z and its activation
// are fused into the kernels' epilogues. ConvTranspose runs as GEMM + col2im. 3-D convolutions stay on the
// reference kernel.
#include <algorithm>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/col2im.h"
#include "kernels/cpu/conv_direct_blocked.h"
#include "kernels/cpu/conv_direct_planes.h"
#include "kernels/cpu/conv_direct_smallc.h"
#include "kernels/cpu/conv_max_pool.h"
#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/depthwise_conv.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/im2col_panels.h"
#include "kernels/cpu/pointwise_depthwise.h"
#include "kernels/cpu/sgemm.h"
#include "kernels/cpu/winograd.h"
#include "ops/conv_pool_family.h"
#include "ops/fused.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

// Negative pads (ConvTranspose with an explicit larger output_shape) are rejected by window_2d like absurd ones.
std::optional<cpu::Conv2dParams> to_2d(const ConvParams& c) {
  return window_2d(c.batch, c.in_channels, c.out_channels, c.group, c.in_spatial, c.out_spatial, c.axes);
}

struct ConvSetup {
  cpu::Conv2dParams p;
  std::vector<float> bias;  // empty: none
  cpu::Activation act;
  bool has_residual = false;
};

class DepthwiseConv final : public PreparedKernel {
 public:
  DepthwiseConv(ConvSetup s, Tensor weights) : s_(std::move(s)), w_(std::move(weights)) {}
  std::string name() const override {
    return "conv.depthwise" + std::to_string(s_.p.kh) + "x" + std::to_string(s_.p.kw);
  }
  void run(const KernelArgs& args) const override {
    const float* z = s_.has_residual ? args.input(3).data<float>() : nullptr;
    cpu::depthwise_conv2d(s_.p, args.input(0).data<float>(), w_.data<float>(),
                          s_.bias.empty() ? nullptr : s_.bias.data(), z, s_.act, args.output(0).data<float>(),
                          *args.pool);
  }

 private:
  ConvSetup s_;
  Tensor w_;
};

// The direct kernels (weights and bias packed at construction, scratch for their padded input), named by `Name`.
template <class Conv, const char* Name>
class DirectConvKernel final : public PreparedKernel {
 public:
  DirectConvKernel(ConvSetup s, const float* w, int threads)
      : s_(std::move(s)),
        conv_(cpu::make_direct_conv<Conv>(s_.p, w, s_.bias.empty() ? nullptr : s_.bias.data(), threads)) {}
  std::string name() const override { return Name; }
  uint64_t scratch_bytes() const override { return conv_.scratch_bytes(); }
  void run(const KernelArgs& args) const override {
    const float* z = s_.has_residual ? args.input(3).data<float>() : nullptr;
    conv_.run(args.input(0).data<float>(), z, s_.act, args.output(0).data<float>(), args.scratch, *args.pool);
  }

 private:
  ConvSetup s_;
  Conv conv_;
};
constexpr char kDirectPlanesName[] = "conv.direct_planes";
constexpr char kDirectSmallCName[] = "conv.direct_smallc";
using DirectPlanesKernel = DirectConvKernel<cpu::DirectPlanesConv, kDirectPlanesName>;
using DirectSmallCKernel = DirectConvKernel<cpu::DirectSmallCConv, kDirectSmallCName>;
constexpr char kDirectBlockedName[] = "conv.direct_blocked";
using DirectBlockedKernel = DirectConvKernel<cpu::DirectBlockedConv, kDirectBlockedName>;

class WinogradConvKernel final : public PreparedKernel {
 public:
  WinogradConvKernel(ConvSetup s, const float* w, int tile, int threads)
      : s_(std::move(s)), conv_(s_.p, w, tile, 0, 0, threads) {}
  std::string name() const override { return conv_.tile() == 4 ? "conv.winograd_f4x4" : "conv.winograd_f2x2"; }
  uint64_t scratch_bytes() const override { return conv_.scratch_bytes(); }
  void run(const KernelArgs& args) const override {
    const float* z = s_.has_residual ? args.input(3).data<float>() : nullptr;
    conv_.run(args.input(0).data<float>(), s_.bias.empty() ? nullptr : s_.bias.data(), z, s_.act,
              args.output(0).data<float>(), args.scratch, *args.pool);
  }

 private:
  ConvSetup s_;
  cpu::WinogradConv conv_;
};

class GemmConv final : public PreparedKernel {
 public:
  GemmConv(ConvSetup s, const float* w, int threads) : s_(std::move(s)) {
    const cpu::Conv2dParams& p = s_.p;
    pointwise_ = cpu::conv_needs_no_im2col(p);
    m_per_group_ = p.M / p.group;
    k_ = cpu::im2col_rows(p);
    for (int64_t g = 0; g < p.group; ++g) {
      packed_.push_back(cpu::pack_a(false, m_per_group_, k_, w + g * m_per_group_ * k_, k_));
    }
    // Output rows narrower than a 32-column panel: each panel row spans several of them, and gathering those
    // short runs with bounds checks was 11% of resnet18's 7x7 layers (per thread, at any thread count). Padding
    // the planes first made them 5-11% faster at one and two threads (conv_bench implicit:2 vs 1); below ~16M
    // multiply-adds per group the extra pass and join cost more than they save at two threads.
    const double macs = static_cast<double>(m_per_group_) * static_cast<double>(k_) * static_cast<double>(p.OH * p.OW);
    padded_ = !pointwise_ && p.OW < 32 && macs >= double(1 << 24) && cpu::im2col_padded_applicable(p);
    // Thin outputs with large weights (resnet18's 7x7 stage: M = 512, N = 49, K = 4608, 9.4 MB) split K between
    // the threads, each adding its own part, instead of splitting M: with M split each thread packed all of the
    // im2col B, and two threads ran only 1.6x faster than one (ORT's NCHWc kernel: 1.95x). The parts are summed
    // afterwards, which rounds differently from one thread's whole product: hence its own kernel name.
    const int64_t kc = cpu::gemm_tile_shape(packed_[0]).kc, blocks = (k_ + kc - 1) / kc;
    if (!pointwise_ && threads >= 2 && p.group == 1 && p.N == 1 && p.OH * p.OW <= 64 && blocks >= 2 * threads &&
        m_per_group_ * k_ * static_cast<int64_t>(sizeof(float)) >= (int64_t{4} << 20)) {
      k_parts_ = threads;
    }
  }
  std::string name() const override {
    return pointwise_ ? "conv.pointwise_gemm" : k_parts_ > 1 ? "conv.im2col_gemm_ksplit" : "conv.im2col_gemm";
  }
  uint64_t scratch_bytes() const override { return static_cast<uint64_t>(parts_offset() + parts_floats()) * sizeof(float); }
  void run(const KernelArgs& args) const override {
    const cpu::Conv2dParams& p = s_.p;
    const float* x = args.input(0).data<float>();
    const float* z = s_.has_residual ? args.input(3).data<float>() : nullptr;
    float* y = args.output(0).data<float>();
    const int64_t cols = p.OH * p.OW;
    const int64_t c_per_group = p.C / p.group;
    for (int64_t n = 0; n < p.N; ++n) {
      for (int64_t g = 0; g < p.group; ++g) {
        const float* x_group = x + (n * p.C + g * c_per_group) * p.H * p.W;
        const int64_t out_offset = (n * p.M + g * m_per_group_) * cols;
        cpu::GemmEpilogue epi;
        epi.bias = s_.bias.empty() ? nullptr : s_.bias.data() + g * m_per_group_;
        epi.bias_per_row = true;
        epi.residual = z != nullptr ? z + out_offset : nullptr;
        epi.ldr = cols;
        epi.act = s_.act;
        const cpu::PackedMatrix& w = packed_[static_cast<size_t>(g)];
        if (pointwise_) {
          // B is the input itself: sgemm's own packer copies its rows (a plain strided copy, nothing to gain).
          cpu::sgemm_packed_a(w, cols, false, x_group, cols, y + out_offset, cols, epi, *args.pool);
          continue;
        }
        auto* xpad = static_cast<float*>(args.scratch);
        if (padded_) {
          const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.H * p.W));
          args.pool->parallel_for(c_per_group, grain, [&](int64_t c0, int64_t c1) {
            cpu::im2col_pad_planes(p, x_group, c_per_group, c0, c1, xpad);
          });
        }
        const cpu::Im2colPanels plain(p, x_group);
        const cpu::PaddedIm2colPanels padded(p, xpad);
        const cpu::BPanelPacker& b = padded_ ? static_cast<const cpu::BPanelPacker&>(padded) : plain;
        if (k_parts_ > 1) {
          run_k_split(b, epi, y + out_offset, xpad + parts_offset(), *args.pool);
        } else {
          cpu::sgemm_packed_a_custom_b(w, cols, b, y + out_offset, cols, epi, *args.pool);
        }
      }
    }
  }

 private:
  int64_t xpad_floats() const { return padded_ ? cpu::im2col_padded_floats(s_.p, s_.p.C / s_.p.group) : 0; }
  int64_t parts_offset() const { return (xpad_floats() + 15) / 16 * 16; }  // 64-byte aligned partial sums
  int64_t parts_floats() const { return k_parts_ > 1 ? (k_parts_ - 1) * m_per_group_ * s_.p.OH * s_.p.OW : 0; }

  // One image, one group (the K split's conditions): part 0 goes to y, the others to `parts`, then y = act(sum of
  // the parts in order + bias + residual).
  void run_k_split(const cpu::BPanelPacker& b, const cpu::GemmEpilogue& epi, float* y, float* parts,
                   ThreadPool& pool) const {
    const int64_t cols = s_.p.OH * s_.p.OW, kc = cpu::gemm_tile_shape(packed_[0]).kc;
    const int64_t blocks = (k_ + kc - 1) / kc;
    pool.parallel_for(k_parts_, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t k0 = std::min(k_, t * blocks / k_parts_ * kc), k1 = std::min(k_, (t + 1) * blocks / k_parts_ * kc);
        float* c = t == 0 ? y : parts + (t - 1) * m_per_group_ * cols;
        cpu::sgemm_packed_a_custom_b_kslice(packed_[0], k0, k1, cols, b, c, cols);
      }
    });
    pool.parallel_for(m_per_group_, 8, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        float* row = y + m * cols;
        for (int64_t t = 1; t < k_parts_; ++t) {
          const float* part = parts + ((t - 1) * m_per_group_ + m) * cols;
          for (int64_t j = 0; j < cols; ++j) row[j] += part[j];
        }
        cpu::apply_gemm_epilogue(epi, m, m + 1, cols, y, cols);
      }
    });
  }

  ConvSetup s_;
  bool pointwise_ = false;
  bool padded_ = false;  // im2col from zero-padded copies of the input planes
  int64_t k_parts_ = 0;  // > 1: K split into this many parts (one per thread)
  int64_t m_per_group_ = 0, k_ = 0;
  std::vector<cpu::PackedMatrix> packed_;
};

// ConvTranspose as GEMM + col2im: per image and group, col = W_g^T x X_g ([(M/g)*kh*kw, H*W]), then every column
// entry is added into the output position its tap reaches, over an output pre-filled with the bias.
class GemmConvTranspose final : public PreparedKernel {
 public:
  GemmConvTranspose(const cpu::Conv2dParams& p, std::vector<float> bias, const float* w) : p_(p), bias_(std::move(bias)) {
    c_per_group_ = p.C / p.group;
    m_per_group_ = p.M / p.group;
    rows_ = m_per_group_ * p.kh * p.kw;
    for (int64_t g = 0; g < p.group; ++g) {
      // W is [C, M/group, kh, kw]: group g's rows are c in [g*C/group, (g+1)*C/group), read transposed.
      packed_.push_back(cpu::pack_a(true, rows_, c_per_group_, w + g * c_per_group_ * rows_, rows_));
    }
  }
  std::string name() const override { return "conv_transpose.gemm_col2im"; }
  uint64_t scratch_bytes() const override { return static_cast<uint64_t>(rows_ * p_.H * p_.W) * sizeof(float); }
  void run(const KernelArgs& args) const override {
    const float* x = args.input(0).data<float>();
    float* y = args.output(0).data<float>();
    auto* col = static_cast<float*>(args.scratch);
    const int64_t in_plane = p_.H * p_.W, out_plane = p_.OH * p_.OW;
    for (int64_t n = 0; n < p_.N; ++n) {
      float* y_image = y + n * p_.M * out_plane;
      for (int64_t m = 0; m < p_.M; ++m) {
        const float b = bias_.empty() ? 0.0f : bias_[static_cast<size_t>(m)];
        std::fill(y_image + m * out_plane, y_image + (m + 1) * out_plane, b);
      }
      for (int64_t g = 0; g < p_.group; ++g) {
        const float* x_group = x + (n * p_.C + g * c_per_group_) * in_plane;
        cpu::sgemm_packed_a(packed_[static_cast<size_t>(g)], in_plane, false, x_group, in_plane, col, in_plane,
                            cpu::GemmEpilogue{}, *args.pool);
        float* y_group = y_image + g * m_per_group_ * out_plane;
        args.pool->parallel_for(m_per_group_, 1, [&](int64_t m0, int64_t m1) {
          cpu::col2im_add(p_, col, m0, m1, y_group);
        });
      }
    }
  }

 private:
  cpu::Conv2dParams p_;
  std::vector<float> bias_;
  int64_t c_per_group_ = 0, m_per_group_ = 0, rows_ = 0;
  std::vector<cpu::PackedMatrix> packed_;
};

// The node's optional bias (input `index`: 2 for convs) into `bias`: false when it is given but not a constant of M
// floats (the fast kernels pack it at plan time), true otherwise (left empty when absent).
bool read_constant_bias(const NodeSignature& sig, int64_t M, std::vector<float>& bias, size_t index = 2) {
  if (!sig.has_input(index)) return true;
  const Tensor* b = sig.constant(index);
  if (b == nullptr || b->numel() != M) return false;
  bias.assign(b->data<float>(), b->data<float>() + b->numel());
  return true;
}

std::unique_ptr<PreparedKernel> prepare_conv_transpose(const NodeSignature& sig) {
  if (!all_float32(sig) || !sig.has_input(0) || !sig.has_input(1) || sig.output_types.empty() ||
      sig.output_types[0] == nullptr) {
    return nullptr;
  }
  const Tensor* w = sig.constant(1);
  if (w == nullptr) return nullptr;
  const Shape x_shape = sig.input_shape(0), y_shape = sig.output_shape(0);
  if (x_shape.size() < 3 || x_shape.size() > 4) return nullptr;
  auto p = to_2d(conv_params(*sig.node, x_shape, w->shape(), y_shape));
  if (!p || p->N * p->M * p->OH * p->OW * p->H * p->W == 0) return nullptr;
  std::vector<float> bias;
  if (!read_constant_bias(sig, p->M, bias)) return nullptr;
  return std::make_unique<GemmConvTranspose>(*p, std::move(bias), w->data<float>());
}

std::unique_ptr<PreparedKernel> prepare_conv(const NodeSignature& sig) {
  const Node& node = *sig.node;
  if (!all_float32(sig) || !sig.has_input(0) || !sig.has_input(1) || sig.output_types.empty() ||
      sig.output_types[0] == nullptr) {
    return nullptr;
  }
  const Tensor* w = sig.constant(1);
  if (w == nullptr) return nullptr;  // weights computed at run time: nothing to pre-pack
  const Shape x_shape = sig.input_shape(0), y_shape = sig.output_shape(0);
  if (x_shape.size() < 3 || x_shape.size() > 4) return nullptr;
  ConvSetup s;
  auto p2 = to_2d(conv_params(node, x_shape, w->shape(), y_shape));
  if (!p2 || p2->N * p2->M * p2->OH * p2->OW == 0) return nullptr;
  s.p = *p2;
  if (!read_constant_bias(sig, s.p.M, s.bias)) return nullptr;
  if (node.domain == kEdgeForgeDomain) {
    s.act = fused_activation(node);
    if (sig.has_input(3)) {
      if (sig.input_shape(3) != y_shape) return nullptr;
      s.has_residual = true;
    }
  }
  if (cpu::is_depthwise(s.p)) return std::make_unique<DepthwiseConv>(std::move(s), *w);
  if (cpu::direct_smallc_preferred(s.p)) {
    return std::make_unique<DirectSmallCKernel>(std::move(s), w->data<float>(), sig.threads);
  }
  if (cpu::direct_blocked_preferred(s.p, sig.threads)) {
    return std::make_unique<DirectBlockedKernel>(std::move(s), w->data<float>(), sig.threads);
  }
  if (cpu::direct_planes_preferred(s.p)) {
    return std::make_unique<DirectPlanesKernel>(std::move(s), w->data<float>(), sig.threads);
  }
  if (const int tile = cpu::winograd_preferred_tile(s.p)) {
    return std::make_unique<WinogradConvKernel>(std::move(s), w->data<float>(), tile, sig.threads);
  }
  return std::make_unique<GemmConv>(std::move(s), w->data<float>(), sig.threads);
}

// ai.edgeforge FusedConvMaxPool on SmallCConvMaxPool (the only convs conv-maxpool-fusion merges: few input
// channels); nullptr (the reference kernels, conv then pool) for anything else.
std::unique_ptr<PreparedKernel> prepare_conv_max_pool(const NodeSignature& sig) {
  if (!all_float32(sig) || !sig.has_input(0) || !sig.has_input(1) || sig.output_types.empty() ||
      sig.output_types[0] == nullptr || sig.has_input(3)) {
    return nullptr;
  }
  const Tensor* w = sig.constant(1);
  if (w == nullptr) return nullptr;
  const Shape x_shape = sig.input_shape(0), y_shape = sig.output_shape(0);
  if (x_shape.size() != 4 || w->shape().size() != 4 || y_shape.size() != 4) return nullptr;
  const ConvMaxPoolParts parts = split_conv_max_pool(*sig.node);
  const Shape conv_shape = conv_max_pool_conv_shape(*sig.node, x_shape, w->shape());
  const auto conv = to_2d(conv_params(parts.conv, x_shape, w->shape(), conv_shape));
  const auto pool = pool_geometry(parts.pool, conv_shape, y_shape);
  if (!conv || !pool || !cpu::conv_max_pool_applicable(*conv, *pool)) return nullptr;
  std::vector<float> bias;
  if (!read_constant_bias(sig, conv->M, bias)) return nullptr;
  // Two pooled-row ranges per thread: a thread that falls behind holds up half its share, at one recomputed
  // overlap row per range.
  const int64_t chunks = sig.threads <= 1 ? 1 : 2 * int64_t{sig.threads};
  auto kernel = std::make_shared<cpu::SmallCConvMaxPool>(*conv, w->data<float>(), bias.empty() ? nullptr : bias.data(),
                                                         *pool, chunks);
  const cpu::Activation act = fused_activation(parts.conv);
  const uint64_t scratch = kernel->scratch_bytes();
  return make_kernel(
      "conv.direct_smallc_maxpool",
      [kernel, act](const KernelArgs& args) {
        kernel->run(args.input(0).data<float>(), act, args.output(0).data<float>(), args.scratch, *args.pool);
      },
      scratch);
}

// ai.edgeforge FusedConvDepthwise on PointwiseDepthwiseConv (what conv-depthwise-fusion merges: a 1x1 conv and
// the depthwise conv reading it); nullptr (the reference kernels, one conv after the other) for anything else.
std::unique_ptr<PreparedKernel> prepare_conv_depthwise(const NodeSignature& sig) {
  if (!all_float32(sig) || !sig.has_input(0) || !sig.has_input(1) || !sig.has_input(3) || sig.output_types.empty() ||
      sig.output_types[0] == nullptr) {
    return nullptr;
  }
  const Tensor* w1 = sig.constant(1);
  const Tensor* w2 = sig.constant(3);
  if (w1 == nullptr || w2 == nullptr) return nullptr;
  const Shape x_shape = sig.input_shape(0), y_shape = sig.output_shape(0);
  if (x_shape.size() != 4 || w1->shape().size() != 4 || w2->shape().size() != 4 || y_shape.size() != 4) {
    return nullptr;
  }
  const ConvDepthwiseParts parts = split_conv_depthwise(*sig.node);
  const Shape mid_shape = conv_output_shape(parts.pointwise, x_shape, w1->shape());
  const auto pw = to_2d(conv_params(parts.pointwise, x_shape, w1->shape(), mid_shape));
  const auto dw = to_2d(conv_params(parts.depthwise, mid_shape, w2->shape(), y_shape));
  if (!pw || !dw || !cpu::pointwise_depthwise_applicable(*pw, *dw)) return nullptr;
  std::vector<float> b1, b2;
  if (!read_constant_bias(sig, pw->M, b1) || !read_constant_bias(sig, dw->M, b2, 4)) return nullptr;
  auto kernel = std::make_shared<cpu::PointwiseDepthwiseConv>(
      *pw, w1->data<float>(), b1.empty() ? nullptr : b1.data(), fused_activation(parts.pointwise), *dw,
      w2->data<float>(), b2.empty() ? nullptr : b2.data(), fused_activation(parts.depthwise));
  const uint64_t scratch = kernel->scratch_bytes();
  return make_kernel(
      "conv.pointwise_depthwise" + std::to_string(dw->kh) + "x" + std::to_string(dw->kw),
      [kernel](const KernelArgs& args) {
        kernel->run(args.input(0).data<float>(), args.output(0).data<float>(), args.scratch, *args.pool);
      },
      scratch);
}

}  // namespace

void add_conv_kernels(KernelTable& table) {
  table.add("", "Conv", prepare_conv);
  table.add(kEdgeForgeDomain, "FusedConv", prepare_conv);
  table.add(kEdgeForgeDomain, "FusedConvMaxPool", prepare_conv_max_pool);
  table.add(kEdgeForgeDomain, "FusedConvDepthwise", prepare_conv_depthwise);
  table.add("", "ConvTranspose", prepare_conv_transpose);
}

}  // namespace ef::cpu_provider
