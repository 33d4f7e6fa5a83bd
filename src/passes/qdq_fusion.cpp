// QDQ fusion: a convolution written in QDQ form,
//   DequantizeLinear(x_q) -> Conv(., DequantizeLinear(w_q), [DequantizeLinear(b_q) | float bias]) [-> Relu|Clip]
//   -> QuantizeLinear
// becomes one standard QLinearConv reading and writing 8-bit tensors, so the CPU provider runs it on the integer
// kernels and activations stay 8-bit between consecutive quantized layers (the DequantizeLinear nodes left
// without readers are swept by dead-code elimination). The rewrite is exact up to the requantization rounding
// of QLinearConv itself, except for a float bias, which is rounded to int32 in units of x_scale * w_scale.
// A fused Relu or Clip is dropped only where the output quantization already saturates at its bounds (Relu with
// the zero point at the type's minimum), so it changes nothing.
// Residual adds become ai.edgeforge QLinearAdd (bit-identical to the float DQ -> Add -> Q it replaces; written
// back as that graph on export), and MaxPool / Pad / Concat between equal quantization parameters run on the
// 8-bit tensors directly (standard ONNX, exact), as do Flatten / Reshape. A classifier head DQ, DQ -> Gemm -> Q
// becomes a 1x1 QLinearConv between two Reshapes (the int8 matrix-vector kernel runs it).
// Runs first at level 2, before constant folding would turn DequantizeLinear(weights) into float initializers
// and the float fusions would claim the Conv.
#include <cmath>
#include <optional>

#include "ops/fused.h"
#include "ops/quant_family.h"
#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "passes/infer_types.h"
#include "passes/pass.h"

namespace ef {
namespace {

const Tensor* initializer(const Graph& g, int v) {
  if (v == kNoValue) return nullptr;
  const Tensor& t = g.values[static_cast<size_t>(v)].initializer;
  return t.defined() ? &t : nullptr;
}

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

int32_t int_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kInt8: return t.data<int8_t>()[i];
    case DType::kUInt8: return t.data<uint8_t>()[i];
    default: return t.data<int32_t>()[i];
  }
}

// A QuantizeLinear / DequantizeLinear node's scale and zero point, both initializers; the zero point is required
// (quantizers always write it) so its type says the 8-bit type.
struct QParams {
  int scale = kNoValue, zero_point = kNoValue;
  const Tensor* s = nullptr;
  const Tensor* zp = nullptr;
};

std::optional<QParams> qparams(const Graph& g, const Node& n) {
  if (n.inputs.size() != 3) return std::nullopt;
  QParams q{n.inputs[1], n.inputs[2], initializer(g, n.inputs[1]), initializer(g, n.inputs[2])};
  if (q.s == nullptr || q.zp == nullptr || q.s->dtype() != DType::kFloat32 || q.s->numel() != q.zp->numel()) {
    return std::nullopt;
  }
  return q;
}

// The DequantizeLinear node producing `v` (standard domain, single output), or -1.
int dequantize_of(const Graph& g, int v) {
  const int p = producer_of(g, v);
  if (p < 0) return -1;
  const Node& n = g.nodes[static_cast<size_t>(p)];
  return is_op(n, "DequantizeLinear") && n.outputs.size() == 1 ? p : -1;
}

// A float32 scalar from an initializer or a Constant node (not folded yet: this pass runs before folding).
std::optional<float> scalar_constant(const Graph& g, int v) {
  if (auto s = scalar_initializer(g, v)) return s;
  const int p = producer_of(g, v);
  if (p < 0 || !is_op(g.nodes[static_cast<size_t>(p)], "Constant")) return std::nullopt;
  const Tensor t = g.nodes[static_cast<size_t>(p)].attr_tensor("value");
  if (!t.defined() || t.dtype() != DType::kFloat32 || t.numel() != 1) return std::nullopt;
  return t.data<float>()[0];
}

// Whether Relu / Clip after the conv is a no-op once its output is quantized with (scale, zp) to [lo, hi].
bool activation_absorbed(const Graph& g, const Node& act, float scale, int32_t zp, int32_t lo, int32_t hi) {
  auto q = [&](float v) { return std::nearbyint(static_cast<double>(v) / scale) + zp; };
  if (is_op(act, "Relu")) return zp == lo;
  if (!is_op(act, "Clip")) return false;
  float min_v = -INFINITY, max_v = INFINITY;
  if (act.version < 11) {
    min_v = act.attr_float("min", min_v);
    max_v = act.attr_float("max", max_v);
  } else {
    for (size_t i = 1; i < act.inputs.size(); ++i) {
      if (act.inputs[i] == kNoValue) continue;
      auto v = scalar_constant(g, act.inputs[i]);
      if (!v) return false;
      (i == 1 ? min_v : max_v) = *v;
    }
  }
  return (std::isinf(min_v) || q(min_v) <= lo) && (std::isinf(max_v) || q(max_v) >= hi);
}

// The 8-bit tensor and per-tensor parameters behind a DequantizeLinear-produced value, or nullopt.
struct Int8Source {
  int x = kNoValue;  // the 8-bit tensor
  QParams q;
};
std::optional<Int8Source> int8_source(const Graph& g, int v) {
  const int di = dequantize_of(g, v);
  if (di < 0) return std::nullopt;
  const Node& d = g.nodes[static_cast<size_t>(di)];
  auto q = qparams(g, d);
  if (!q || q->s->numel() != 1 || !is_8bit(q->zp->dtype())) return std::nullopt;
  if (g.values[static_cast<size_t>(d.inputs[0])].type.dtype != q->zp->dtype()) return std::nullopt;
  return Int8Source{d.inputs[0], *q};
}

// Same scale and zero point (values and type): Q(DQ(x)) == x, so ops that only move or select values commute.
bool same_qparams(const QParams& a, const QParams& b) {
  return a.zp->dtype() == b.zp->dtype() && a.s->data<float>()[0] == b.s->data<float>()[0] &&
         int_at(*a.zp, 0) == int_at(*b.zp, 0);
}

class QdqFusion : public Pass {
 public:
  const char* name() const override { return "qdq-fusion"; }
  int level() const override { return 2; }
  const char* precondition() const override {
    return "QuantizeLinear whose input is a Conv (optionally through a Relu/Clip the quantization saturates "
           "anyway) read only there, the Conv's x and w from DequantizeLinear with initializer scales and zero "
           "points (x per tensor; w int8 with zero zero points, per tensor or per output channel on axis 0), the "
           "bias absent, a float32 initializer or a DequantizeLinear of an int32 initializer; opset >= 10. Also "
           "QuantizeLinear of an Add (optionally through an absorbed Relu/Clip) of two per-tensor DequantizeLinear "
           "outputs, and of a MaxPool (opset >= 12) / Pad (opset >= 11) / Concat whose DequantizeLinear inputs "
           "have exactly the QuantizeLinear's scale and zero point (also Flatten / Reshape); and QuantizeLinear of a "
           "Gemm (alpha = beta = 1, transA = 0) of a per-tensor DequantizeLinear and a DequantizeLinear of 2-D int8 "
           "weights (zero zero points, per tensor or per output column), bias absent or of N elements";
  }

  int run(Graph& g, PassContext& ctx) override {
    if (ctx.opset < 10) return 0;
    infer_types(g);
    const std::vector<int> readers = reader_counts(g);
    std::vector<bool> removed(g.nodes.size(), false);
    std::vector<std::pair<size_t, Node>> appended;  // by increasing node index
    int count = 0;
    for (size_t qi = 0; qi < g.nodes.size(); ++qi) {
      const Node& qn = g.nodes[qi];
      if (!is_op(qn, "QuantizeLinear") || qn.outputs.size() != 1) continue;
      auto yq = qparams(g, qn);
      if (!yq || yq->s->numel() != 1 || !is_8bit(yq->zp->dtype())) continue;
      const bool y_signed = yq->zp->dtype() == DType::kInt8;
      const int32_t lo = y_signed ? -128 : 0, hi = y_signed ? 127 : 255;
      if (const int done = fuse_int8_op(g, ctx, readers, removed, qi, *yq, lo, hi); done != 0) {
        if (done < 0) break;  // rewrite budget spent
        ++count;
        continue;
      }
      if (const int done = fuse_gemm(g, ctx, readers, removed, qi, *yq, appended); done != 0) {
        if (done < 0) break;  // rewrite budget spent
        ++count;
        continue;
      }
      // Optional activation between Conv and Q.
      int ci = producer_of(g, qn.inputs[0]);
      int ai = -1;
      if (ci < 0 || removed[static_cast<size_t>(ci)] || !single_use(g, readers, qn.inputs[0])) continue;
      if (!is_op(g.nodes[static_cast<size_t>(ci)], "Conv")) {
        const Node& act = g.nodes[static_cast<size_t>(ci)];
        if (!activation_absorbed(g, act, yq->s->data<float>()[0], int_at(*yq->zp, 0), lo, hi)) continue;
        ai = ci;
        ci = producer_of(g, act.inputs[0]);
        if (ci < 0 || removed[static_cast<size_t>(ci)] || !single_use(g, readers, act.inputs[0])) continue;
      }
      const Node& conv = g.nodes[static_cast<size_t>(ci)];
      if (!is_op(conv, "Conv") || conv.inputs.size() < 2 || conv.outputs.size() != 1) continue;
      const int dxi = dequantize_of(g, conv.inputs[0]), dwi = dequantize_of(g, conv.inputs[1]);
      if (dxi < 0 || dwi < 0) continue;
      const Node& dx = g.nodes[static_cast<size_t>(dxi)];
      const Node& dw = g.nodes[static_cast<size_t>(dwi)];
      auto xq = qparams(g, dx);
      auto wq = qparams(g, dw);
      if (!xq || !wq || xq->s->numel() != 1 || !is_8bit(xq->zp->dtype())) continue;
      if (g.values[static_cast<size_t>(dx.inputs[0])].type.dtype != xq->zp->dtype()) continue;
      const Tensor* w = initializer(g, dw.inputs[0]);
      if (w == nullptr || w->dtype() != DType::kInt8 || w->rank() < 3 || wq->zp->dtype() != DType::kInt8) continue;
      const int64_t M = w->dim(0);
      if (wq->s->numel() != 1 && (wq->s->numel() != M || dw.attr_int("axis", 1) != 0)) continue;
      bool zero_zp = true;
      for (int64_t i = 0; i < wq->zp->numel(); ++i) zero_zp &= int_at(*wq->zp, i) == 0;
      if (!zero_zp) continue;
      // Bias as int32 in units of x_scale * w_scale[m].
      const float xs = xq->s->data<float>()[0];
      auto w_scale = [&](int64_t m) { return wq->s->data<float>()[wq->s->numel() == 1 ? 0 : m]; };
      int bias = kNoValue;
      if (conv.inputs.size() > 2 && conv.inputs[2] != kNoValue) {
        auto b = int32_bias(g, conv.inputs[2], M, xs, w_scale);
        if (!b) continue;
        bias = *b;
      }
      if (!ctx.allow_rewrite()) break;
      std::vector<int> inputs = {dx.inputs[0], xq->scale, xq->zero_point, dw.inputs[0], wq->scale, wq->zero_point,
                                 yq->scale,    yq->zero_point};
      if (bias != kNoValue) inputs.push_back(bias);
      Node fused = make_node(conv.name.empty() ? qn.name : conv.name, "QLinearConv", 10, std::move(inputs),
                             qn.outputs);
      fused.attrs = conv.attrs;
      removed[static_cast<size_t>(ci)] = true;
      if (ai >= 0) removed[static_cast<size_t>(ai)] = true;
      g.nodes[qi] = std::move(fused);
      ++count;
    }
    // Nodes a rewrite placed right after node i (in order), merged in before the sweep.
    if (!appended.empty()) {
      std::vector<Node> nodes;
      std::vector<bool> gone;
      size_t next = 0;
      for (size_t i = 0; i < g.nodes.size(); ++i) {
        nodes.push_back(std::move(g.nodes[i]));
        gone.push_back(removed[i]);
        for (; next < appended.size() && appended[next].first == i; ++next) {
          nodes.push_back(std::move(appended[next].second));
          gone.push_back(false);
        }
      }
      g.nodes = std::move(nodes);
      removed = std::move(gone);
    }
    return finish_rewrites(g, removed, count);
  }

 private:
  // DQ(x), DQ(W) [, bias] -> Gemm -> Q, the classifier head of a QDQ model, becomes
  //   Reshape(x_q to [B, K, 1, 1]) -> QLinearConv(W as [N, K, 1, 1], 1x1) -> Reshape to [B, N]
  // (standard ONNX, so the reference QLinearConv defines it and the CPU provider runs it as an int8
  // matrix-vector product instead of a float Gemm over the weights dequantized to 4x the bytes). Like the conv
  // rewrite it is exact up to QLinearConv's requantization rounding (one step at most, as ONNX Runtime's QGemm).
  // x per tensor; W int8 with zero zero points, per tensor or per output column; alpha = beta = 1, transA = 0;
  // the bias absent, float or DQ(int32), of N elements. Returns 1 / 0 / -1 as fuse_int8_op.
  static int fuse_gemm(Graph& g, PassContext& ctx, const std::vector<int>& readers, std::vector<bool>& removed,
                       size_t qi, const QParams& yq, std::vector<std::pair<size_t, Node>>& appended) {
    const int gi = producer_of(g, g.nodes[qi].inputs[0]);
    if (gi < 0 || removed[static_cast<size_t>(gi)] || !single_use(g, readers, g.nodes[qi].inputs[0])) return 0;
    const Node& gemm = g.nodes[static_cast<size_t>(gi)];
    if (!is_op(gemm, "Gemm") || gemm.inputs.size() < 2 || gemm.outputs.size() != 1) return 0;
    const bool has_bias = gemm.inputs.size() > 2 && gemm.inputs[2] != kNoValue;
    if (gemm.attr_float("alpha", 1.0f) != 1.0f || (has_bias && gemm.attr_float("beta", 1.0f) != 1.0f) ||
        gemm.attr_int("transA", 0) != 0) {
      return 0;
    }
    const bool trans_b = gemm.attr_int("transB", 0) != 0;
    auto x = int8_source(g, gemm.inputs[0]);
    const int dwi = dequantize_of(g, gemm.inputs[1]);
    if (!x || dwi < 0) return 0;
    const Node& dw = g.nodes[static_cast<size_t>(dwi)];
    auto wq = qparams(g, dw);
    const Tensor* w = initializer(g, dw.inputs[0]);
    if (!wq || w == nullptr || w->dtype() != DType::kInt8 || w->rank() != 2 || wq->zp->dtype() != DType::kInt8) {
      return 0;
    }
    const int64_t N = w->dim(trans_b ? 0 : 1), K = w->dim(trans_b ? 1 : 0);
    int64_t axis = dw.attr_int("axis", 1);
    if (axis < 0) axis += 2;
    if (wq->s->numel() != 1 && (wq->s->numel() != N || wq->s->rank() != 1 || axis != (trans_b ? 0 : 1))) return 0;
    for (int64_t i = 0; i < wq->zp->numel(); ++i) {
      if (int_at(*wq->zp, i) != 0) return 0;
    }
    const ValueType& xt = g.values[static_cast<size_t>(x->x)].type;
    if (xt.rank() != 2 || ((*xt.dims)[1].value >= 0 && (*xt.dims)[1].value != K)) return 0;
    const DType x_type = xt.dtype, y_type = yq.zp->dtype();  // read before g.values may reallocate
    // The weights as [N, K, 1, 1], copied before any initializer is added (that may reallocate g.values).
    Tensor w4 = Tensor::zeros(DType::kInt8, {N, K, 1, 1});
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k) w4.data<int8_t>()[n * K + k] = w->data<int8_t>()[trans_b ? n * K + k : k * N + n];
    }
    const float xs = x->q.s->data<float>()[0];
    std::vector<float> w_scales(wq->s->data<float>(), wq->s->data<float>() + wq->s->numel());
    int bias = kNoValue;
    if (has_bias) {
      auto b = int32_bias(g, gemm.inputs[2], N, xs, [&](int64_t m) { return w_scales[w_scales.size() == 1 ? 0 : m]; });
      if (!b || g.values[static_cast<size_t>(*b)].initializer.rank() != 1) return 0;
      bias = *b;
    }
    if (!ctx.allow_rewrite()) return -1;
    const Node& qn = g.nodes[qi];
    const std::string name = gemm.name.empty() ? qn.name : gemm.name;
    const int x4 = add_intermediate(g, name + "_x4", x_type), y4 = add_intermediate(g, name + "_y4", y_type);
    const int x_shape = add_initializer(g, name + "_x4_shape", Tensor::from_vector<int64_t>(DType::kInt64, {4}, {0, K, 1, 1}));
    const int y_shape = add_initializer(g, name + "_y_shape", Tensor::from_vector<int64_t>(DType::kInt64, {2}, {0, N}));
    const int w_value = add_initializer(g, name + "_w4", std::move(w4));
    const int reshape_version = standard_version("Reshape", ctx.opset);
    std::vector<int> inputs = {x4, x->q.scale, x->q.zero_point, w_value, wq->scale, wq->zero_point, yq.scale,
                               yq.zero_point};
    if (bias != kNoValue) inputs.push_back(bias);
    Node reshape_in = make_node(name + "_to_1x1", "Reshape", reshape_version, {x->x, x_shape}, {x4});
    Node conv = make_node(name, "QLinearConv", 10, std::move(inputs), {y4});
    Node reshape_out = make_node(name + "_from_1x1", "Reshape", reshape_version, {y4, y_shape}, g.nodes[qi].outputs);
    g.nodes[static_cast<size_t>(gi)] = std::move(reshape_in);  // x_q is ready where the Gemm was
    g.nodes[qi] = std::move(conv);
    appended.emplace_back(qi, std::move(reshape_out));
    return 1;
  }

  // DQ(a), DQ(b) -> Add [-> Relu | Clip absorbed] -> Q becomes ai.edgeforge QLinearAdd; DQ -> MaxPool / Pad /
  // Concat -> Q with every DQ's parameters equal to Q's becomes the same op on the 8-bit tensors (exact: those ops
  // only move or select values, and Q(DQ(x)) == x). Returns 1 when it rewrote Q node qi, 0 when no pattern
  // applies, -1 when the rewrite budget is spent.
  static int fuse_int8_op(Graph& g, PassContext& ctx, const std::vector<int>& readers, std::vector<bool>& removed,
                          size_t qi, const QParams& yq, int32_t lo, int32_t hi) {
    const Node& qn = g.nodes[qi];
    auto usable = [&](int node, int value) {
      return node >= 0 && !removed[static_cast<size_t>(node)] && single_use(g, readers, value);
    };
    int oi = producer_of(g, qn.inputs[0]);
    if (!usable(oi, qn.inputs[0])) return 0;
    int ai = -1;
    if (is_op(g.nodes[static_cast<size_t>(oi)], "Relu") || is_op(g.nodes[static_cast<size_t>(oi)], "Clip")) {
      const Node& act = g.nodes[static_cast<size_t>(oi)];
      if (!activation_absorbed(g, act, yq.s->data<float>()[0], int_at(*yq.zp, 0), lo, hi)) return 0;
      ai = oi;
      oi = producer_of(g, act.inputs[0]);
      if (!usable(oi, act.inputs[0]) || !is_op(g.nodes[static_cast<size_t>(oi)], "Add")) return 0;
    }
    const Node& op = g.nodes[static_cast<size_t>(oi)];
    const bool add = is_op(op, "Add"), concat = is_op(op, "Concat");
    const bool maxpool = is_op(op, "MaxPool") && ctx.opset >= 12;  // 8-bit MaxPool since opset 12
    const bool pad = is_op(op, "Pad") && ctx.opset >= 11;          // pads as an input since opset 11
    const bool reshape = is_op(op, "Flatten") || is_op(op, "Reshape");  // any type since opset 9 / 5
    if (!(add || concat || maxpool || pad || reshape) || op.outputs.size() != 1 || op.inputs.empty()) return 0;
    std::vector<Int8Source> src;
    const size_t data_inputs = add || concat ? op.inputs.size() : 1;
    for (size_t i = 0; i < data_inputs; ++i) {
      auto s = op.inputs[i] == kNoValue ? std::nullopt : int8_source(g, op.inputs[i]);
      if (!s || (!add && !same_qparams(s->q, yq))) return 0;
      src.push_back(*s);
    }
    if (add && src.size() != 2) return 0;
    std::optional<float> pad_value = 0.0f;
    if (pad && op.inputs.size() > 2 && op.inputs[2] != kNoValue) pad_value = scalar_constant(g, op.inputs[2]);
    if (!pad_value) return 0;
    if (!ctx.allow_rewrite()) return -1;
    Node fused;
    const std::string name = op.name.empty() ? qn.name : op.name;
    if (add) {
      fused = make_node(name, "QLinearAdd", kEdgeForgeOpset,
                        {src[0].x, src[0].q.scale, src[0].q.zero_point, src[1].x, src[1].q.scale,
                         src[1].q.zero_point, yq.scale, yq.zero_point},
                        qn.outputs, kEdgeForgeDomain);
    } else {
      fused = op;
      fused.outputs = qn.outputs;
      for (size_t i = 0; i < src.size(); ++i) fused.inputs[i] = src[i].x;
      if (pad) {
        // The padding value as the 8-bit value DQ -> Pad -> Q would produce for it.
        const int32_t q = quantize_value(static_cast<double>(*pad_value / yq.s->data<float>()[0]),
                                         int_at(*yq.zp, 0), QuantRange{lo, hi});
        Tensor t = Tensor::zeros(yq.zp->dtype(), {});
        static_cast<uint8_t*>(t.raw())[0] = static_cast<uint8_t>(q);
        if (fused.inputs.size() < 3) fused.inputs.resize(3, kNoValue);
        fused.inputs[2] = add_initializer(g, name + "_pad_value_q", std::move(t));
      }
    }
    removed[static_cast<size_t>(oi)] = true;
    if (ai >= 0) removed[static_cast<size_t>(ai)] = true;
    g.nodes[qi] = std::move(fused);
    return 1;
  }

  // The conv bias `v` as an int32 initializer in units of x_scale * w_scale[m]: DequantizeLinear(int32) reused as
  // is when its scales are exactly those, else rescaled; a float32 initializer quantized. nullopt: not a bias
  // this pass understands. Adds a new initializer where needed (may reallocate g.values).
  template <typename WScale>
  static std::optional<int> int32_bias(Graph& g, int v, int64_t M, float xs, WScale w_scale) {
    std::vector<double> real(static_cast<size_t>(M));
    const int di = dequantize_of(g, v);
    int source = kNoValue;
    bool exact = true;
    if (di >= 0) {
      const Node& db = g.nodes[static_cast<size_t>(di)];
      if (db.inputs.size() < 2) return std::nullopt;
      const Tensor* b = initializer(g, db.inputs[0]);
      const Tensor* s = initializer(g, db.inputs[1]);
      const Tensor* zp = db.inputs.size() > 2 ? initializer(g, db.inputs[2]) : nullptr;
      if (b == nullptr || s == nullptr || b->dtype() != DType::kInt32 || b->numel() != M ||
          s->dtype() != DType::kFloat32 || (s->numel() != 1 && s->numel() != M) ||
          (db.inputs.size() > 2 && db.inputs[2] != kNoValue && zp == nullptr)) {
        return std::nullopt;
      }
      for (int64_t m = 0; m < M; ++m) {
        if (zp != nullptr && int_at(*zp, zp->numel() == 1 ? 0 : m) != 0) return std::nullopt;
        const float sm = s->data<float>()[s->numel() == 1 ? 0 : m];
        exact &= sm == xs * w_scale(m);
        real[static_cast<size_t>(m)] = static_cast<double>(b->data<int32_t>()[m]) * sm;
      }
      source = db.inputs[0];
    } else {
      const Tensor* b = float_initializer(g, v);
      if (b == nullptr || b->numel() != M) return std::nullopt;
      for (int64_t m = 0; m < M; ++m) real[static_cast<size_t>(m)] = b->data<float>()[m];
      exact = false;
    }
    if (exact) return source;
    Tensor q = Tensor::zeros(DType::kInt32, {M});
    for (int64_t m = 0; m < M; ++m) {
      const double r = std::nearbyint(real[static_cast<size_t>(m)] / (static_cast<double>(xs) * w_scale(m)));
      if (!(std::abs(r) < 2147483647.0)) return std::nullopt;
      q.data<int32_t>()[m] = static_cast<int32_t>(r);
    }
    return add_initializer(g, g.values[static_cast<size_t>(v)].name + "_int32", std::move(q));
  }
};

}  // namespace

std::unique_ptr<Pass> make_qdq_fusion() { return std::make_unique<QdqFusion>(); }

}  // namespace ef
