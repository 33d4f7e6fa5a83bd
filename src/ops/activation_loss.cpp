// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opsets 12, 13). Both view the scores as [N, C, D] with
// D the product of the trailing dims and the labels as [N, D]:
//   loss[n][d] = -weight[c] * logp[n][c][d] with c = label[n][d]; 0 where label == ignore_index,
// then reduce: none (shape of the labels), sum, or mean = sum / sum of the weights of the counted elements
// (with no weights every counted element weighs 1, so ignored elements leave the denominator too).
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ops/activation_family.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

enum class Reduction { kNone, kSum, kMean };

Reduction parse_reduction(const Node& node) {
  std::string r = node.attr_string("reduction", "mean");
  if (r == "none") return Reduction::kNone;
  if (r == "sum") return Reduction::kSum;
  EF_CHECK(r == "mean", kInvalidModel, "{}: reduction must be none, sum or mean, got '{}'", node.label(), r);
  return Reduction::kMean;
}

void infer_loss(InferContext& ctx) {
  const Node& node = ctx.node();
  Reduction reduction = parse_reduction(node);
  DType dt = ctx.input_dtype(0);
  EF_CHECK(dt == DType::kUndefined || dtype_is_float(dt), kInvalidModel, "{}: scores must be floating point, got {}",
           node.label(), dtype_name(dt));
  DType lt = ctx.input_dtype(1);
  EF_CHECK(lt == DType::kUndefined || lt == DType::kInt32 || lt == DType::kInt64, kInvalidModel,
           "{}: labels must be int32 or int64, got {}", node.label(), dtype_name(lt));
  const ValueType& scores = ctx.input_type(0);
  const ValueType& labels = ctx.input_type(1);
  if (scores.has_rank()) {
    EF_CHECK(scores.rank() >= 2, kInvalidModel, "{}: scores must have rank >= 2 ([N, C, ...]), got {}", node.label(),
             scores.str());
  }
  if (scores.has_rank() && labels.has_rank()) {
    EF_CHECK(labels.rank() + 1 == scores.rank(), kInvalidModel, "{}: labels {} must have rank {} to match scores {}",
             node.label(), labels.str(), scores.rank() - 1, scores.str());
  }
  std::optional<Dims> loss_dims;
  if (reduction != Reduction::kNone) {
    loss_dims = Dims{};
  } else if (labels.has_rank()) {
    loss_dims = labels.dims;
  } else if (scores.has_rank()) {
    loss_dims = *scores.dims;
    loss_dims->erase(loss_dims->begin() + 1);
  }
  ctx.set_output(0, dt, loss_dims);
  if (ctx.has_output(1)) ctx.set_output(1, dt, scores.dims);
}

// Computes the loss from log-probabilities `logp` laid out [N, C, D] and writes output 0.
void compute_loss(KernelContext& ctx, const std::vector<double>& logp) {
  const Node& node = ctx.node();
  const Tensor& scores = ctx.input(0);
  const Tensor& labels = ctx.input(1);
  const Shape& s = scores.shape();
  int64_t n = s[0];
  int64_t c = s[1];
  Shape expect_labels = s;
  expect_labels.erase(expect_labels.begin() + 1);
  EF_CHECK(labels.shape() == expect_labels, kInvalidModel, "{}: labels shape {} does not match scores shape {}",
           node.label(), shape_str(labels.shape()), shape_str(s));
  EF_CHECK(labels.dtype() == DType::kInt32 || labels.dtype() == DType::kInt64, kInvalidModel,
           "{}: labels must be int32 or int64, got {}", node.label(), dtype_name(labels.dtype()));
  int64_t d_size = n == 0 ? 0 : labels.numel() / n;
  std::vector<double> weights;
  if (ctx.has_input(2)) {
    const Tensor& w = ctx.input(2);
    EF_CHECK(w.shape() == Shape{c}, kInvalidModel, "{}: weights must have shape [{}], got {}", node.label(), c,
             shape_str(w.shape()));
    EF_CHECK(w.dtype() == scores.dtype(), kInvalidModel, "{}: weights type {} differs from scores type {}",
             node.label(), dtype_name(w.dtype()), dtype_name(scores.dtype()));
    for (int64_t i = 0; i < c; ++i) weights.push_back(w.value_as_double(i));
  }
  bool has_ignore = node.has_attr("ignore_index");
  int64_t ignore_index = node.attr_int("ignore_index", 0);
  Reduction reduction = parse_reduction(node);

  std::vector<int64_t> label_values = labels.to_int64_vector();
  std::vector<double> loss(label_values.size(), 0.0);
  double loss_sum = 0;
  double weight_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t d = 0; d < d_size; ++d) {
      size_t li = static_cast<size_t>(i * d_size + d);
      int64_t label = label_values[li];
      if (has_ignore && label == ignore_index) continue;
      EF_CHECK(label >= 0 && label < c, kInvalidArgument, "{}: label {} at position {} is outside [0, {})",
               node.label(), label, li, c);
      double w = weights.empty() ? 1.0 : weights[static_cast<size_t>(label)];
      loss[li] = -w * logp[static_cast<size_t>((i * c + label) * d_size + d)];
      loss_sum += loss[li];
      weight_sum += w;
    }
  }
  Tensor& out = ctx.output(0);
  visit_float_dtype(scores.dtype(), node, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = out.data<T>();
    if (reduction == Reduction::kNone) {
      for (size_t i = 0; i < loss.size(); ++i) po[i] = float_from_double<T>(loss[i]);
    } else {
      // A mean over no counted element is 0/0 = NaN, as in the ONNX reference implementation.
      po[0] = float_from_double<T>(reduction == Reduction::kSum ? loss_sum : loss_sum / weight_sum);
    }
  });
}

std::vector<double> scores_as_double(const Tensor& scores, const Node& node) {
  std::vector<double> v(static_cast<size_t>(scores.numel()));
  visit_float_dtype(scores.dtype(), node, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = scores.data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = to_double(p[i]);
  });
  return v;
}

void check_scores_rank(const KernelContext& ctx) {
  EF_CHECK(ctx.input(0).rank() >= 2, kInvalidModel, "{}: scores must have rank >= 2 ([N, C, ...]), got {}",
           ctx.node().label(), shape_str(ctx.input(0).shape()));
}

void nll_kernel(KernelContext& ctx) {
  check_scores_rank(ctx);
  compute_loss(ctx, scores_as_double(ctx.input(0), ctx.node()));
}

void sce_kernel(KernelContext& ctx) {
  check_scores_rank(ctx);
  const Tensor& scores = ctx.input(0);
  std::vector<double> x = scores_as_double(scores, ctx.node());
  std::vector<double> logp(x.size());
  int64_t n = scores.dim(0);
  int64_t c = scores.dim(1);
  int64_t d_size = n * c == 0 ? 0 : scores.numel() / (n * c);
  softmax_along_axis(SoftmaxMode::kLogSoftmax, x.data(), logp.data(), n, c, d_size);
  compute_loss(ctx, logp);
  if (ctx.has_output(1)) {
    Tensor& out = ctx.output(1);
    visit_float_dtype(scores.dtype(), ctx.node(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* po = out.data<T>();
      for (size_t i = 0; i < logp.size(); ++i) po[i] = float_from_double<T>(logp[i]);
    });
  }
}

}  // namespace

void register_loss_ops(OpRegistry& r) {
  r.add({"", "NegativeLogLikelihoodLoss", 12, 13, infer_loss, nll_kernel});
  r.add({"", "SoftmaxCrossEntropyLoss", 12, 13, infer_loss, sce_kernel});
}

}  // namespace ef
