// Sensitivity-ranked exclusion of layers until the output SQNR drop fits the budget (see accuracy.h).
#include "quant/accuracy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "analysis/compare.h"
#include "quant/qparams.h"

namespace ef {
namespace {

// FP32 outputs rounded to 8 bits over their own range: the best SQNR an INT8 output can reach.
std::vector<double> ideal_sqnr(const std::vector<NamedTensors>& fp) {
  std::vector<double> out;
  for (size_t o = 0; o < fp[0].size(); ++o) {
    TensorStats stats(false);
    for (const NamedTensors& s : fp) {
      if (s[o].second.dtype() == DType::kFloat32) stats.add(s[o].second.data<float>(), s[o].second.numel());
    }
    const QuantParams p = activation_params({stats.min(), stats.max()}, DType::kUInt8, false);
    DiffAccumulator acc;
    for (const NamedTensors& s : fp) {
      const Tensor& t = s[o].second;
      if (t.dtype() != DType::kFloat32) continue;
      Tensor fake = Tensor::zeros(DType::kFloat32, t.shape());
      for (int64_t i = 0; i < t.numel(); ++i) {
        double q = std::clamp(std::nearbyint(static_cast<double>(t.data<float>()[i]) / p.scale[0]) + p.zero_point[0], 0.0, 255.0);
        fake.data<float>()[i] = static_cast<float>((q - p.zero_point[0]) * p.scale[0]);
      }
      acc.add(t, fake, s[o].first);
    }
    out.push_back(std::min(acc.result().sqnr_db, 200.0));
  }
  return out;
}

class Evaluator {
 public:
  Evaluator(const Model& prepared, size_t samples, const std::function<NamedTensors(size_t)>& sample) {
    SessionOptions opts;
    opts.optimization_level = 0;
    auto fp = Session::from_model(prepared, opts);
    for (size_t i = 0; i < samples; ++i) {
      inputs_.push_back(sample(i));
      fp_.push_back(fp->run_named(inputs_.back()));
    }
    ideal_ = ideal_sqnr(fp_);
  }

  // Worst output's SQNR drop of `model` against FP32.
  double drop(const Model& model) {
    ++evaluated_;
    auto session = Session::from_model(model);
    std::vector<DiffAccumulator> acc(fp_[0].size());
    for (size_t i = 0; i < inputs_.size(); ++i) {
      NamedTensors got = session->run_named(inputs_[i]);
      for (size_t o = 0; o < got.size() && o < acc.size(); ++o) {
        if (got[o].second.dtype() == DType::kFloat32) acc[o].add(fp_[i][o].second, got[o].second, got[o].first);
      }
    }
    double worst = -std::numeric_limits<double>::infinity();
    for (size_t o = 0; o < acc.size(); ++o) {
      const double sqnr = std::min(acc[o].result().sqnr_db, 200.0);
      worst = std::max(worst, ideal_[o] - sqnr);
    }
    return worst;
  }

  int evaluated() const { return evaluated_; }

 private:
  std::vector<NamedTensors> inputs_;
  std::vector<NamedTensors> fp_;
  std::vector<double> ideal_;
  int evaluated_ = 0;
};

}  // namespace

Model quantize_with_config(const Model& prepared, const RangeMap& ranges, const QuantConfig& config, QdqReport* qdq,
                           std::vector<std::string>* excluded) {
  Model m = prepared;
  m.graph = std::make_shared<Graph>(*prepared.graph);
  const QdqPlan plan = plan_qdq(*m.graph, config);
  QdqReport report = apply_qdq(m, plan, ranges, config);
  drop_unused_values(*m.graph);
  if (qdq) *qdq = std::move(report);
  if (excluded) *excluded = plan.excluded;
  return m;
}

Model quantize_accuracy_aware(const Model& prepared, const RangeMap& ranges, const QuantConfig& config,
                              const AccuracyOptions& options, size_t available,
                              const std::function<NamedTensors(size_t)>& sample, AccuracyReport& report,
                              QdqReport& qdq) {
  EF_CHECK(options.max_sqnr_drop_db >= 0 || options.keep_fp32 >= 0, kInvalidArgument,
           "--keep-fp32 auto needs --max-sqnr-drop DB");
  EF_CHECK(available > 0, kInvalidArgument,
           "accuracy-aware quantization measures on calibration samples: give --calib (a ranges file has none)");
  report.samples = std::min(options.samples, available);
  report.target_drop_db = options.max_sqnr_drop_db;
  Evaluator eval(prepared, report.samples, sample);

  Model best = quantize_with_config(prepared, ranges, config, &qdq);
  report.baseline_drop_db = report.final_drop_db = eval.drop(best);
  auto done = [&](size_t kept) {
    if (options.keep_fp32 >= 0) return kept >= static_cast<size_t>(options.keep_fp32);
    return report.final_drop_db <= options.max_sqnr_drop_db;
  };
  if (!done(0)) {
    // Candidates: the compute nodes the plan quantizes (data movement and folded activations follow them).
    const QdqPlan plan = plan_qdq(*prepared.graph, config);
    for (size_t i = 0; i < prepared.graph->nodes.size(); ++i) {
      const Node& n = prepared.graph->nodes[i];
      if (!plan.quantized[i] || op_role(*prepared.graph, n).kind != OpRole::Kind::kCompute) continue;
      QuantConfig one = config;
      one.exclude_nodes.insert(n.name);
      report.ranking.push_back({n.name, eval.drop(quantize_with_config(prepared, ranges, one))});
    }
    std::stable_sort(report.ranking.begin(), report.ranking.end(),
                     [](const LayerSensitivity& a, const LayerSensitivity& b) { return a.drop_db < b.drop_db; });
    QuantConfig kept = config;
    for (const LayerSensitivity& layer : report.ranking) {
      if (done(report.kept_fp32.size())) break;
      kept.exclude_nodes.insert(layer.node);
      report.kept_fp32.push_back(layer.node);
      best = quantize_with_config(prepared, ranges, kept, &qdq);
      report.final_drop_db = eval.drop(best);
    }
  }
  report.target_met = options.max_sqnr_drop_db < 0 || report.final_drop_db <= options.max_sqnr_drop_db;
  report.models_evaluated = eval.evaluated();
  return best;
}

}  // namespace ef
