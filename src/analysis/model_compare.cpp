// Reference-vs-candidate model comparison (see model_compare.h).
#include "analysis/model_compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "runtime/value_capture.h"

namespace ef {

namespace {

std::string io_str(const IoInfo& info) { return fmt::format("'{}' {}{}", info.name, dtype_name(info.dtype),
                                                            info.has_shape ? info.shape_str() : ""); }

const IoInfo* find_io(const std::vector<IoInfo>& list, const std::string& name) {
  for (const IoInfo& info : list) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

// Every name of `a` must be in `b` with the same dtype; known dims must agree when both declare them.
void check_side(const std::vector<IoInfo>& a, const std::vector<IoInfo>& b, const char* what, bool dims) {
  for (const IoInfo& x : a) {
    const IoInfo* y = find_io(b, x.name);
    EF_CHECK(y != nullptr, kInvalidArgument, "REF has {} {} but CAND has no {} of that name", what, io_str(x), what);
    EF_CHECK(x.dtype == y->dtype || x.dtype == DType::kUndefined || y->dtype == DType::kUndefined, kInvalidArgument,
             "{} differs: REF {} vs CAND {}", what, io_str(x), io_str(*y));
    if (!dims || !x.has_shape || !y->has_shape) continue;
    bool same = x.dims.size() == y->dims.size();
    for (size_t i = 0; same && i < x.dims.size(); ++i) same = x.dims[i] < 0 || y->dims[i] < 0 || x.dims[i] == y->dims[i];
    EF_CHECK(same, kInvalidArgument, "{} differs: REF {} vs CAND {}", what, io_str(x), io_str(*y));
  }
}

bool floating(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 || d == DType::kBFloat16;
}

// The candidate value standing for `name`: after a QuantizeLinear -> DequantizeLinear pair when one follows.
std::string dequantized_name(const Graph& g, int v) {
  for (const Node& q : g.nodes) {
    if (q.op_type != "QuantizeLinear" || q.inputs.empty() || q.inputs[0] != v) continue;
    for (const Node& dq : g.nodes) {
      if (dq.op_type == "DequantizeLinear" && !dq.inputs.empty() && dq.inputs[0] == q.outputs[0]) {
        return g.values[static_cast<size_t>(dq.outputs[0])].name;
      }
    }
  }
  return g.values[static_cast<size_t>(v)].name;
}

double capped(double sqnr) { return std::min(sqnr, kSqnrCapDb); }

}  // namespace

void check_same_interface(const Session& ref, const Session& cand) {
  check_side(ref.inputs(), cand.inputs(), "input", true);
  check_side(cand.inputs(), ref.inputs(), "input", true);
  check_side(ref.outputs(), cand.outputs(), "output", false);
  check_side(cand.outputs(), ref.outputs(), "output", false);
}

ModelComparison compare_outputs(Session& ref, Session& cand, size_t samples, const SampleSource& source,
                                double tolerance) {
  ModelComparison result;
  result.samples = samples;
  std::vector<DiffAccumulator> acc(ref.outputs().size(), DiffAccumulator(tolerance));
  for (size_t i = 0; i < samples; ++i) {
    NamedTensors inputs = source(i);
    NamedTensors r = ref.run_named(inputs);
    NamedTensors c = cand.run_named(inputs);
    std::map<std::string, const Tensor*> by_name;
    for (const auto& [name, t] : c) by_name[name] = &t;
    for (size_t k = 0; k < r.size(); ++k) {
      const Tensor& ct = *by_name.at(r[k].first);
      acc[k].add(r[k].second, ct, fmt::format("sample {}: output '{}'", i, r[k].first));
      if (k == 0) {
        for (int64_t a : argmax_last_axis(r[k].second)) result.ref_top1.push_back(a);
        for (int64_t a : argmax_last_axis(ct)) result.cand_top1.push_back(a);
      }
    }
  }
  for (size_t k = 0; k < acc.size(); ++k) result.outputs.push_back({ref.outputs()[k].name, acc[k].result()});
  return result;
}

LayerReport compare_layers(const Model& ref, const Model& cand, const SessionOptions& options, size_t samples,
                           const SampleSource& source) {
  const Graph& rg = *ref.graph;
  const Graph& cg = *cand.graph;
  std::vector<std::string> ref_names, cand_names;  // matched pairs (Constant outputs are not layers), reference topological order
  for (const std::string& name : computed_value_names(ref)) {
    const int cv = cg.find_value(name);
    if (cv == kNoValue || cg.values[static_cast<size_t>(cv)].producer < 0) continue;
    const int rv = rg.find_value(name);
    if (rg.nodes[static_cast<size_t>(rg.values[static_cast<size_t>(rv)].producer)].op_type == "Constant") continue;
    ref_names.push_back(name);
    cand_names.push_back(dequantized_name(cg, cv));
  }
  auto ref_session = Session::from_model(with_extra_outputs(ref, ref_names), options);
  auto cand_session = Session::from_model(with_extra_outputs(cand, cand_names), options);

  const size_t n = ref_names.size();
  std::vector<DiffAccumulator> acc(n);
  std::vector<bool> comparable(n, true);
  for (size_t i = 0; i < samples; ++i) {
    NamedTensors inputs = source(i);
    std::map<std::string, Tensor> r, c;
    for (auto& [name, t] : ref_session->run_named(inputs)) r[name] = t;
    for (auto& [name, t] : cand_session->run_named(inputs)) c[name] = t;
    for (size_t k = 0; k < n; ++k) {
      if (!comparable[k]) continue;
      const Tensor& a = r.at(ref_names[k]);
      const Tensor& b = c.at(cand_names[k]);
      comparable[k] = floating(a.dtype()) && floating(b.dtype()) && a.shape() == b.shape();
      if (comparable[k]) acc[k].add(a, b, ref_names[k]);
    }
  }

  LayerReport report;
  std::map<std::string, size_t> index_of;  // compared value name -> k
  for (size_t k = 0; k < n; ++k) {
    if (comparable[k]) {
      index_of[ref_names[k]] = k;
    } else {
      ++report.skipped;
    }
  }
  // SQNR reaching each value of the reference graph, in topological order: a compared value's own, otherwise the
  // worst of what reaches its producer (so an unmatched value -- renamed or fused away in the candidate -- passes
  // its inputs' error on instead of counting as exact). Graph inputs and weights count as exact.
  std::vector<double> level(rg.values.size(), std::numeric_limits<double>::infinity());
  for (const Node& node : rg.nodes) {
    double in_sqnr = std::numeric_limits<double>::infinity();
    for (int in : node.inputs) {
      if (in != kNoValue) in_sqnr = std::min(in_sqnr, level[static_cast<size_t>(in)]);
    }
    for (int out : node.outputs) {
      if (out == kNoValue) continue;
      auto it = index_of.find(rg.values[static_cast<size_t>(out)].name);
      if (it == index_of.end()) {
        level[static_cast<size_t>(out)] = in_sqnr;
        continue;
      }
      const size_t k = it->second;
      LayerComparison layer;
      layer.name = ref_names[k];
      layer.compared = cand_names[k];
      layer.diff = acc[k].result();
      layer.op_type = node.op_type;
      layer.input_sqnr_db = in_sqnr;
      layer.sqnr_drop_db = capped(in_sqnr) - capped(layer.diff.sqnr_db);
      if (std::isnan(layer.sqnr_drop_db)) layer.sqnr_drop_db = 0;  // -inf in and out: nothing left to lose
      level[static_cast<size_t>(out)] = layer.diff.sqnr_db;
      report.layers.push_back(layer);
    }
  }
  std::stable_sort(report.layers.begin(), report.layers.end(),
                   [](const LayerComparison& a, const LayerComparison& b) { return a.sqnr_drop_db > b.sqnr_drop_db; });
  return report;
}

}  // namespace ef
