// Shrinking a quantized model's file without changing what it computes (see compact.h).
#include "quant/compact.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "passes/fusion_util.h"
#include "passes/graph_edit.h"
#include "quant/qdq_rewrite.h"

namespace ef {
namespace {

std::vector<std::vector<int>> readers_of(const Graph& g) {
  std::vector<std::vector<int>> readers(g.values.size());
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    for (int v : g.nodes[ni].inputs) {
      if (v != kNoValue) readers[static_cast<size_t>(v)].push_back(static_cast<int>(ni));
    }
  }
  return readers;
}

bool splat(const Tensor& t) {
  const size_t size = dtype_size(t.dtype());
  const auto* p = static_cast<const unsigned char*>(t.raw());
  for (size_t i = size; i < t.nbytes(); i += size) {
    if (std::memcmp(p, p + i, size) != 0) return false;
  }
  return true;
}

// A constant DequantizeLinear input holding one repeated value (the zero channels BlazeFace concatenates) is made
// by ConstantOfShape at load instead of being stored element by element.
void splat_constants_from_shape(Graph& g) {
  constexpr int64_t kMinElements = 64;
  const auto readers = readers_of(g);
  const std::vector<bool> is_output = graph_output_mask(g);
  std::vector<Node> made;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Tensor t = g.values[v].initializer;
    if (!t.defined() || t.numel() < kMinElements || is_output[v] || readers[v].empty() || !splat(t)) continue;
    // Only as the data input: scales and zero points stay initializers, which is what lets the planner fold the
    // DequantizeLinear of a weight (and pack it) once.
    bool dq_data_only = true;
    for (int r : readers[v]) {
      const Node& reader = g.nodes[static_cast<size_t>(r)];
      dq_data_only &= reader.op_type == "DequantizeLinear" && reader.inputs[0] == static_cast<int>(v) &&
                      std::count(reader.inputs.begin(), reader.inputs.end(), static_cast<int>(v)) == 1;
    }
    if (!dq_data_only) continue;
    std::vector<int64_t> dims(t.shape().begin(), t.shape().end());
    const int shape = add_initializer(g, "shape", Tensor::from_vector(DType::kInt64, {static_cast<int64_t>(dims.size())}, dims));
    Attribute value;
    value.kind = Attribute::Kind::kTensor;
    value.t = Tensor::from_bytes(t.dtype(), {1}, t.raw(), dtype_size(t.dtype()));
    Node node = make_node(fresh_name(g, "splat"), "ConstantOfShape", 9, {shape}, {static_cast<int>(v)});
    node.attrs["value"] = value;
    made.push_back(std::move(node));
    g.values[v].initializer = Tensor();
    g.values[v].type = ValueType{t.dtype(), dims_of(t.shape())};
  }
  g.nodes.insert(g.nodes.begin(), std::make_move_iterator(made.begin()), std::make_move_iterator(made.end()));
  refresh_producers(g);
}

// Identical initializers (activation scales and zero points re-emitted for data-movement ops, weight zero points,
// shape vectors) are stored once.
void share_identical_initializers(Graph& g) {
  constexpr size_t kMaxBytes = 4096;
  std::map<std::tuple<DType, Shape, std::string>, int> first;
  std::map<int, int> same;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Tensor& t = g.values[v].initializer;
    if (!t.defined() || t.nbytes() > kMaxBytes) continue;
    const std::string bytes(static_cast<const char*>(t.raw()), t.nbytes());
    auto [it, inserted] = first.emplace(std::make_tuple(t.dtype(), t.shape(), bytes), static_cast<int>(v));
    if (!inserted) same[static_cast<int>(v)] = it->second;
  }
  for (Node& n : g.nodes) {
    for (int& v : n.inputs) {
      if (auto it = same.find(v); it != same.end()) v = it->second;
    }
  }
}

// An int32 bias's scale is by construction input scale x weight scale (float products, as qparams computes them):
// a Mul of the two initializers (folded at load by every runtime) replaces the stored vector.
void bias_scales_as_products(Graph& g) {
  const std::vector<bool> is_output = graph_output_mask(g);
  auto dq_scale = [&](int v) -> int {
    const int p = v == kNoValue ? -1 : g.values[static_cast<size_t>(v)].producer;
    if (p < 0 || g.nodes[static_cast<size_t>(p)].op_type != "DequantizeLinear") return kNoValue;
    const int s = g.nodes[static_cast<size_t>(p)].inputs[1];
    return g.values[static_cast<size_t>(s)].initializer.defined() ? s : kNoValue;
  };
  std::vector<Node> made;
  std::map<std::pair<int, int>, int> products;
  for (const Node& n : g.nodes) {
    if ((n.op_type != "Conv" && n.op_type != "Gemm") || n.inputs.size() < 3) continue;
    const int bp = n.inputs[2] == kNoValue ? -1 : g.values[static_cast<size_t>(n.inputs[2])].producer;
    if (bp < 0) continue;
    Node& bias_dq = g.nodes[static_cast<size_t>(bp)];
    const int sx = dq_scale(n.inputs[0]), sw = dq_scale(n.inputs[1]), sb = dq_scale(n.inputs[2]);
    if (bias_dq.op_type != "DequantizeLinear" || sx == kNoValue || sw == kNoValue || sb == kNoValue) continue;
    const Tensor& x = g.values[static_cast<size_t>(sx)].initializer;
    const Tensor& w = g.values[static_cast<size_t>(sw)].initializer;
    const Tensor& b = g.values[static_cast<size_t>(sb)].initializer;
    if (x.numel() != 1 || b.numel() < 2 || w.numel() != b.numel() || is_output[static_cast<size_t>(sb)]) continue;
    bool exact = true;
    for (int64_t c = 0; c < b.numel(); ++c) exact &= x.data<float>()[0] * w.data<float>()[c] == b.data<float>()[c];
    if (!exact) continue;
    auto [it, inserted] = products.emplace(std::make_pair(sx, sw), kNoValue);
    if (inserted) {
      it->second = g.add_value(fresh_name(g, "bias_scale"), ValueType{DType::kFloat32, dims_of(b.shape())});
      made.push_back(make_node("", "Mul", 13, {sw, sx}, {it->second}));
    }
    bias_dq.inputs[1] = it->second;
  }
  g.nodes.insert(g.nodes.begin(), std::make_move_iterator(made.begin()), std::make_move_iterator(made.end()));
  refresh_producers(g);
}

// Conv attributes equal to their ONNX defaults are not written: unit strides and dilations, zero pads, group 1, and
// kernel_shape (readers take it from W). Per node they are a few dozen bytes: ~2% of a small quantized model
// (BlazeFace). All-zero weight zero points stay: QDQ fusers (ours, ONNX Runtime's) look for the 3-input
// DequantizeLinear; without it the convolutions ran in float.
void drop_default_conv_attributes(Graph& g) {
  auto all_equal = [](const std::vector<int64_t>& v, int64_t x) {
    return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
  };
  for (Node& n : g.nodes) {
    if (n.domain.empty() && n.op_type == "Conv") {
      for (const char* name : {"strides", "dilations", "pads", "kernel_shape", "group"}) {
        auto it = n.attrs.find(name);
        if (it == n.attrs.end()) continue;
        const Attribute& a = it->second;
        const std::string key = name;
        const bool drop = key == "group"          ? a.kind == Attribute::Kind::kInt && a.i == 1
                          : key == "kernel_shape" ? n.inputs.size() > 1 && n.inputs[1] != kNoValue
                          : a.kind == Attribute::Kind::kInts && all_equal(a.ints, key == "pads" ? 0 : 1);
        if (drop) n.attrs.erase(it);
      }
    }
  }
}

std::string base36(size_t n) {
  static const char* kDigits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), kDigits[n % 36]);
    n /= 36;
  } while (n);
  return s;
}

// Names the original model does not have (Q/DQ values, quantized initializers, the optimizer's derived tensors)
// become short ones, and nodes lose theirs (optional in ONNX; readers number them). Each Q/DQ pair repeats its names about ten
// times in the file, and exporters' scope paths are 40-80 characters long.
void shorten_generated_names(Graph& g, const Graph& original, bool strip_names) {
  std::set<std::string> keep;
  if (!strip_names) {
    for (const Value& v : original.values) keep.insert(v.name);
  }
  for (int v : g.inputs) keep.insert(g.values[static_cast<size_t>(v)].name);
  for (int v : g.outputs) keep.insert(g.values[static_cast<size_t>(v)].name);
  const std::vector<bool> captured = captured_mask(g);
  std::set<std::string> taken;
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (keep.count(g.values[v].name) || captured[v]) taken.insert(g.values[v].name);
  }
  size_t next = 0;
  for (size_t v = 0; v < g.values.size(); ++v) {
    Value& value = g.values[v];
    if (value.name.empty() || keep.count(value.name) || captured[v]) continue;
    std::string name;
    do {
      name = "_" + base36(next++);
    } while (taken.count(name));
    taken.insert(name);
    value.name = name;
  }
  for (Node& n : g.nodes) n.name.clear();
}

}  // namespace

void compact_quantized_model(Model& model, const Graph& original, bool strip_names) {
  Graph& g = *model.graph;
  share_identical_initializers(g);  // first, so that equal constants become one ConstantOfShape
  splat_constants_from_shape(g);
  share_identical_initializers(g);  // the shape vectors just made
  bias_scales_as_products(g);
  drop_default_conv_attributes(g);
  drop_unused_values(g);
  shorten_generated_names(g, original, strip_names);
}

}  // namespace ef
