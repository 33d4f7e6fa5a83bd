// Seeded ONNX model mutator: see model_mutator.h.
#include "model_mutator.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <functional>
#include <limits>
#include <random>
#include <set>

namespace ef::robustness {
namespace {

using Rng = std::mt19937_64;

size_t pick(Rng& rng, size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }

// Values that break code assuming "small positive": empty, negative, off-by-one, 32-bit and 64-bit overflow.
int64_t extreme(Rng& rng) {
  static const int64_t kValues[] = {0,       -1,          1,           2,
                                    -2,      3,           1000,        -1000,
                                    1 << 20, INT32_MAX,   int64_t{1} << 31, int64_t{1} << 40,
                                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
  return kValues[pick(rng, std::size(kValues))];
}

void collect_graphs(onnx::GraphProto* g, std::vector<onnx::GraphProto*>& out) {
  out.push_back(g);
  for (auto& n : *g->mutable_node()) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) collect_graphs(a.mutable_g(), out);
      for (auto& sub : *a.mutable_graphs()) collect_graphs(&sub, out);
    }
  }
}

struct Target {
  onnx::ModelProto& model;
  std::vector<onnx::GraphProto*> graphs;
  Rng& rng;
  std::string& log;

  onnx::GraphProto& graph() { return *graphs[pick(rng, graphs.size())]; }
  void note(const std::string& s) { log += (log.empty() ? "" : "; ") + s; }

  // Every tensor whose contents a mutation may edit: initializers and Constant-like tensor attributes.
  std::vector<onnx::TensorProto*> tensors() {
    std::vector<onnx::TensorProto*> out;
    for (onnx::GraphProto* g : graphs) {
      for (auto& t : *g->mutable_initializer()) out.push_back(&t);
      for (auto& n : *g->mutable_node()) {
        for (auto& a : *n.mutable_attribute()) {
          if (a.has_t()) out.push_back(a.mutable_t());
        }
      }
    }
    return out;
  }
  std::vector<onnx::ValueInfoProto*> value_infos() {
    std::vector<onnx::ValueInfoProto*> out;
    for (onnx::GraphProto* g : graphs) {
      for (auto& v : *g->mutable_input()) out.push_back(&v);
      for (auto& v : *g->mutable_output()) out.push_back(&v);
      for (auto& v : *g->mutable_value_info()) out.push_back(&v);
    }
    return out;
  }
  std::vector<onnx::NodeProto*> nodes() {
    std::vector<onnx::NodeProto*> out;
    for (onnx::GraphProto* g : graphs) {
      for (auto& n : *g->mutable_node()) out.push_back(&n);
    }
    return out;
  }
};

template <typename Field>
bool delete_one(Field* field, Rng& rng) {
  if (field->empty()) return false;
  field->erase(field->begin() + static_cast<std::ptrdiff_t>(pick(rng, static_cast<size_t>(field->size()))));
  return true;
}

bool delete_field(Target& t) {
  onnx::GraphProto& g = t.graph();
  switch (pick(t.rng, 10)) {
    case 0: t.note("delete a node"); return delete_one(g.mutable_node(), t.rng);
    case 1: t.note("delete an initializer"); return delete_one(g.mutable_initializer(), t.rng);
    case 2: t.note("delete a graph input"); return delete_one(g.mutable_input(), t.rng);
    case 3: t.note("delete a graph output"); return delete_one(g.mutable_output(), t.rng);
    case 4: t.note("delete a value_info"); return delete_one(g.mutable_value_info(), t.rng);
    case 5: t.note("delete an opset import"); return delete_one(t.model.mutable_opset_import(), t.rng);
    default: break;
  }
  std::vector<onnx::NodeProto*> nodes = t.nodes();
  if (nodes.empty()) return false;
  onnx::NodeProto& n = *nodes[pick(t.rng, nodes.size())];
  switch (pick(t.rng, 4)) {
    case 0: t.note(fmt::format("delete an attribute of {}", n.op_type())); return delete_one(n.mutable_attribute(), t.rng);
    case 1: t.note(fmt::format("delete an input of {}", n.op_type())); return delete_one(n.mutable_input(), t.rng);
    case 2: t.note(fmt::format("delete an output of {}", n.op_type())); return delete_one(n.mutable_output(), t.rng);
    default: {
      std::vector<onnx::TensorProto*> ts = t.tensors();
      if (ts.empty()) return false;
      onnx::TensorProto& tp = *ts[pick(t.rng, ts.size())];
      if (pick(t.rng, 2) == 0 && tp.has_raw_data()) {
        t.note(fmt::format("clear raw_data of '{}'", tp.name()));
        tp.clear_raw_data();
        return true;
      }
      t.note(fmt::format("delete a dim of tensor '{}'", tp.name()));
      return delete_one(tp.mutable_dims(), t.rng);
    }
  }
}

bool set_dim(Target& t) {
  int64_t v = extreme(t.rng);
  if (pick(t.rng, 2) == 0) {
    std::vector<onnx::TensorProto*> ts = t.tensors();
    if (ts.empty()) return false;
    onnx::TensorProto& tp = *ts[pick(t.rng, ts.size())];
    if (tp.dims_size() == 0) {
      tp.add_dims(v);
    } else {
      tp.set_dims(static_cast<int>(pick(t.rng, static_cast<size_t>(tp.dims_size()))), v);
    }
    t.note(fmt::format("tensor '{}' dim = {}", tp.name(), v));
    return true;
  }
  std::vector<onnx::ValueInfoProto*> vis = t.value_infos();
  if (vis.empty()) return false;
  onnx::ValueInfoProto& vi = *vis[pick(t.rng, vis.size())];
  if (!vi.type().has_tensor_type()) return false;
  auto* shape = vi.mutable_type()->mutable_tensor_type()->mutable_shape();
  switch (pick(t.rng, 4)) {
    case 0: t.note(fmt::format("'{}' gets one more dim = {}", vi.name(), v)); shape->add_dim()->set_dim_value(v); return true;
    case 1: t.note(fmt::format("'{}' loses a dim", vi.name())); return delete_one(shape->mutable_dim(), t.rng);
    default: break;
  }
  if (shape->dim_size() == 0) return false;
  auto* d = shape->mutable_dim(static_cast<int>(pick(t.rng, static_cast<size_t>(shape->dim_size()))));
  if (pick(t.rng, 5) == 0) {
    d->set_dim_param("N");
    t.note(fmt::format("'{}' dim = symbolic", vi.name()));
  } else {
    d->set_dim_value(v);
    t.note(fmt::format("'{}' dim = {}", vi.name(), v));
  }
  return true;
}

bool set_int_attr(Target& t) {
  std::vector<onnx::AttributeProto*> attrs;
  for (onnx::NodeProto* n : t.nodes()) {
    for (auto& a : *n->mutable_attribute()) {
      if (a.type() == onnx::AttributeProto::INT || a.type() == onnx::AttributeProto::INTS ||
          a.type() == onnx::AttributeProto::FLOAT) {
        attrs.push_back(&a);
      }
    }
  }
  if (attrs.empty()) return false;
  onnx::AttributeProto& a = *attrs[pick(t.rng, attrs.size())];
  int64_t v = extreme(t.rng);
  if (a.type() == onnx::AttributeProto::FLOAT) {
    static const float kFloats[] = {0.f, -1.f, 1e30f, -1e30f, std::numeric_limits<float>::infinity(),
                                    std::numeric_limits<float>::quiet_NaN(), 1e-30f};
    a.set_f(kFloats[pick(t.rng, std::size(kFloats))]);
    t.note(fmt::format("float attribute '{}' = {}", a.name(), a.f()));
  } else if (a.type() == onnx::AttributeProto::INT) {
    a.set_i(v);
    t.note(fmt::format("attribute '{}' = {}", a.name(), v));
  } else if (a.ints_size() == 0 || pick(t.rng, 4) == 0) {
    a.add_ints(v);
    t.note(fmt::format("attribute '{}' gets one more value {}", a.name(), v));
  } else {
    a.set_ints(static_cast<int>(pick(t.rng, static_cast<size_t>(a.ints_size()))), v);
    t.note(fmt::format("attribute '{}' entry = {}", a.name(), v));
  }
  return true;
}

// Integer constants feed shapes, axes, indices, trip counts (Reshape, Slice, Gather, TopK, Loop, Expand, ...).
bool set_const_data(Target& t) {
  std::vector<onnx::TensorProto*> ints;
  for (onnx::TensorProto* tp : t.tensors()) {
    if (tp->data_type() == onnx::TensorProto::INT64 || tp->data_type() == onnx::TensorProto::INT32) ints.push_back(tp);
  }
  if (ints.empty()) return false;
  onnx::TensorProto& tp = *ints[pick(t.rng, ints.size())];
  int64_t v = extreme(t.rng);
  const bool is64 = tp.data_type() == onnx::TensorProto::INT64;
  const size_t elem = is64 ? 8 : 4;
  if (tp.has_raw_data()) {
    std::string& raw = *tp.mutable_raw_data();
    if (raw.size() < elem) return false;
    size_t i = pick(t.rng, raw.size() / elem);
    for (size_t b = 0; b < elem; ++b) raw[i * elem + b] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * b));
  } else if (is64 && tp.int64_data_size() > 0) {
    tp.set_int64_data(static_cast<int>(pick(t.rng, static_cast<size_t>(tp.int64_data_size()))), v);
  } else if (!is64 && tp.int32_data_size() > 0) {
    tp.set_int32_data(static_cast<int>(pick(t.rng, static_cast<size_t>(tp.int32_data_size()))),
                      static_cast<int32_t>(v));
  } else {
    return false;
  }
  t.note(fmt::format("integer constant '{}' element = {}", tp.name(), v));
  return true;
}

bool set_dtype(Target& t) {
  int dtype = static_cast<int>(pick(t.rng, 23)) - 1;  // -1 .. 21: invalid, undefined, every ONNX type, unknown
  switch (pick(t.rng, 3)) {
    case 0: {
      std::vector<onnx::TensorProto*> ts = t.tensors();
      if (ts.empty()) return false;
      onnx::TensorProto& tp = *ts[pick(t.rng, ts.size())];
      tp.set_data_type(dtype);
      t.note(fmt::format("tensor '{}' data_type = {}", tp.name(), dtype));
      return true;
    }
    case 1: {
      std::vector<onnx::ValueInfoProto*> vis = t.value_infos();
      if (vis.empty()) return false;
      onnx::ValueInfoProto& vi = *vis[pick(t.rng, vis.size())];
      vi.mutable_type()->mutable_tensor_type()->set_elem_type(dtype);
      t.note(fmt::format("'{}' elem_type = {}", vi.name(), dtype));
      return true;
    }
    default: {
      std::vector<onnx::AttributeProto*> attrs;
      for (onnx::NodeProto* n : t.nodes()) {
        for (auto& a : *n->mutable_attribute()) attrs.push_back(&a);
      }
      if (attrs.empty()) return false;
      onnx::AttributeProto& a = *attrs[pick(t.rng, attrs.size())];
      if (a.name() == "to" || a.name() == "dtype" || pick(t.rng, 2) == 0) {
        a.set_i(dtype);  // Cast 'to', EyeLike/RandomNormal 'dtype'; elsewhere a stray int beside the real value
        t.note(fmt::format("attribute '{}' i = {}", a.name(), dtype));
      } else {
        a.set_type(static_cast<onnx::AttributeProto::AttributeType>(pick(t.rng, 15)));
        t.note(fmt::format("attribute '{}' type = {}", a.name(), static_cast<int>(a.type())));
      }
      return true;
    }
  }
}

bool make_cycle(Target& t) {
  onnx::GraphProto& g = t.graph();
  if (g.node_size() == 0) return false;
  int i = static_cast<int>(pick(t.rng, static_cast<size_t>(g.node_size())));
  int j = i + static_cast<int>(pick(t.rng, static_cast<size_t>(g.node_size() - i)));
  const onnx::NodeProto& later = g.node(j);
  if (later.output_size() == 0) return false;
  const std::string& out = later.output(static_cast<int>(pick(t.rng, static_cast<size_t>(later.output_size()))));
  onnx::NodeProto* n = g.mutable_node(i);
  if (n->input_size() == 0) {
    n->add_input(out);
  } else {
    n->set_input(static_cast<int>(pick(t.rng, static_cast<size_t>(n->input_size()))), out);
  }
  t.note(fmt::format("node {} ({}) reads '{}' of node {}", i, n->op_type(), out, j));
  return true;
}

bool duplicate_name(Target& t) {
  onnx::GraphProto& g = t.graph();
  std::vector<std::string> names;
  for (const auto& v : g.input()) names.push_back(v.name());
  for (const auto& v : g.initializer()) names.push_back(v.name());
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) names.push_back(o);
  }
  if (names.empty()) return false;
  const std::string name = names[pick(t.rng, names.size())];
  switch (pick(t.rng, 4)) {
    case 0: {  // a node output shadows another value
      if (g.node_size() == 0) return false;
      onnx::NodeProto* n = g.mutable_node(static_cast<int>(pick(t.rng, static_cast<size_t>(g.node_size()))));
      if (n->output_size() == 0) return false;
      n->set_output(0, name);
      t.note(fmt::format("{} output 0 renamed to existing '{}'", n->op_type(), name));
      return true;
    }
    case 1: {  // the same node twice
      if (g.node_size() == 0) return false;
      *g.add_node() = g.node(static_cast<int>(pick(t.rng, static_cast<size_t>(g.node_size()))));
      t.note("a node duplicated");
      return true;
    }
    case 2: {
      if (g.initializer_size() == 0) return false;
      g.mutable_initializer(static_cast<int>(pick(t.rng, static_cast<size_t>(g.initializer_size()))))->set_name(name);
      t.note(fmt::format("an initializer renamed to existing '{}'", name));
      return true;
    }
    default: {
      if (g.input_size() == 0) return false;
      *g.add_input() = g.input(static_cast<int>(pick(t.rng, static_cast<size_t>(g.input_size()))));
      t.note("a graph input duplicated");
      return true;
    }
  }
}

bool swap_op(Target& t, const std::vector<std::string>& op_types) {
  std::vector<onnx::NodeProto*> nodes = t.nodes();
  if (nodes.empty() || op_types.empty()) return false;
  onnx::NodeProto& n = *nodes[pick(t.rng, nodes.size())];
  std::string was = n.op_type();
  n.set_op_type(op_types[pick(t.rng, op_types.size())]);
  t.note(fmt::format("{} became {}", was, n.op_type()));
  return true;
}

bool change_opset(Target& t) {
  static const int64_t kVersions[] = {0, -1, 1, 6, 7, 9, 11, 13, 15, 17, 18, 100};
  int64_t v = kVersions[pick(t.rng, std::size(kVersions))];
  if (t.model.opset_import_size() == 0) {
    t.model.add_opset_import()->set_version(v);
  } else {
    t.model.mutable_opset_import(0)->set_version(v);
  }
  t.note(fmt::format("opset = {}", v));
  return true;
}

}  // namespace

Mutant ModelMutator::mutate(const std::string& model_bytes, uint64_t seed) const {
  Rng rng(seed);
  Mutant m;
  onnx::ModelProto model;
  const bool parsed = model.ParseFromString(model_bytes) && model.has_graph();
  Target t{model, {}, rng, m.description};
  if (parsed) collect_graphs(model.mutable_graph(), t.graphs);
  int flips = 0;
  size_t truncate_at = std::string::npos;
  const int count = 1 + static_cast<int>(pick(rng, 3));
  for (int k = 0; k < count; ++k) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      size_t kind = parsed ? pick(rng, 12) : 9 + pick(rng, 2);
      bool done = false;
      switch (kind) {
        case 0: done = delete_field(t); break;
        case 1: case 11: done = set_dim(t); break;
        case 2: done = set_int_attr(t); break;
        case 3: done = set_const_data(t); break;
        case 4: done = set_dtype(t); break;
        case 5: done = make_cycle(t); break;
        case 6: done = duplicate_name(t); break;
        case 7: done = swap_op(t, op_types_); break;
        case 8: done = change_opset(t); break;
        case 9: flips += 1 + static_cast<int>(pick(rng, 8)); done = true; break;
        default: truncate_at = 0; done = true; break;  // position chosen once the size is known
      }
      if (done) break;
    }
    if (parsed) {  // a deletion may have dropped a subgraph: re-collect before the next mutation
      t.graphs.clear();
      collect_graphs(model.mutable_graph(), t.graphs);
    }
  }
  m.bytes = parsed ? model.SerializeAsString() : model_bytes;
  for (int f = 0; f < flips && !m.bytes.empty(); ++f) {
    size_t pos = pick(rng, m.bytes.size());
    int bit = static_cast<int>(pick(rng, 8));
    m.bytes[pos] = static_cast<char>(m.bytes[pos] ^ (1 << bit));
    t.note(fmt::format("bit {} of byte {} flipped", bit, pos));
  }
  if (truncate_at == 0 && !m.bytes.empty()) {
    truncate_at = pick(rng, m.bytes.size());
    m.bytes.resize(truncate_at);
    t.note(fmt::format("truncated to {} bytes", truncate_at));
  }
  return m;
}

std::vector<std::string> op_types_of(const std::string& model_bytes) {
  onnx::ModelProto model;
  std::vector<std::string> out;
  if (!model.ParseFromString(model_bytes) || !model.has_graph()) return out;
  std::vector<onnx::GraphProto*> graphs;
  collect_graphs(model.mutable_graph(), graphs);
  std::set<std::string> seen;
  for (onnx::GraphProto* g : graphs) {
    for (const auto& n : g->node()) {
      if (seen.insert(n.op_type()).second) out.push_back(n.op_type());
    }
  }
  return out;
}

}  // namespace ef::robustness
