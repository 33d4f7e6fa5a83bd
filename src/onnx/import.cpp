// ONNX ModelProto -> ef::Model.
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include "core/file_util.h"
#include "onnx/model_io.h"
#include "onnx/tensor_proto.h"

namespace ef {
namespace {

struct ImportContext {
  const Model* model;
  TensorLoadOptions tensors;
  const ImportOptions* options;
  int64_t node_count = 0;
};

ValueType import_type(const onnx::TypeProto& type, const std::string& what) {
  ValueType out;
  if (type.value_case() == onnx::TypeProto::VALUE_NOT_SET) return out;  // untyped value_info: nothing known
  EF_CHECK(type.has_tensor_type(), kUnsupported, "{} has a non-tensor type (sequence/map/optional/sparse)", what);
  const auto& tt = type.tensor_type();
  out.dtype = static_cast<DType>(tt.elem_type());
  EF_CHECK(tt.elem_type() >= 0 && tt.elem_type() <= 16, kInvalidModel, "{}: unknown element type {}", what,
           tt.elem_type());
  if (tt.has_shape()) {
    Dims dims;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        EF_CHECK(d.dim_value() >= 0, kInvalidModel, "{} has negative dimension {}", what, d.dim_value());
        dims.emplace_back(d.dim_value());
      } else {
        dims.push_back(Dim::symbol(d.dim_param()));
      }
    }
    out.dims = std::move(dims);
  }
  return out;
}

std::shared_ptr<Graph> import_graph(const onnx::GraphProto& gp, ImportContext& ctx,
                                    const std::unordered_set<std::string>* outer_names);

Attribute import_attribute(const onnx::AttributeProto& ap, ImportContext& ctx, const std::string& what,
                           const std::unordered_set<std::string>& scope) {
  Attribute a;
  using AP = onnx::AttributeProto;
  switch (ap.type()) {
    case AP::FLOAT: a.kind = Attribute::Kind::kFloat; a.f = ap.f(); break;
    case AP::INT: a.kind = Attribute::Kind::kInt; a.i = ap.i(); break;
    case AP::STRING: a.kind = Attribute::Kind::kString; a.s = ap.s(); break;
    case AP::TENSOR:
      a.kind = Attribute::Kind::kTensor;
      a.t = tensor_from_proto(ap.t(), ctx.tensors, what);
      break;
    case AP::GRAPH:
      a.kind = Attribute::Kind::kGraph;
      a.g = import_graph(ap.g(), ctx, &scope);
      break;
    case AP::FLOATS: a.kind = Attribute::Kind::kFloats; a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
    case AP::INTS: a.kind = Attribute::Kind::kInts; a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
    case AP::STRINGS: a.kind = Attribute::Kind::kStrings; a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
    case AP::TENSORS:
      a.kind = Attribute::Kind::kTensors;
      for (const auto& t : ap.tensors()) a.tensors.push_back(tensor_from_proto(t, ctx.tensors, what));
      break;
    case AP::GRAPHS:
      a.kind = Attribute::Kind::kGraphs;
      for (const auto& g : ap.graphs()) a.graphs.push_back(import_graph(g, ctx, &scope));
      break;
    case AP::UNDEFINED:
      // Pre-IR-v3 files carry no type tag: infer it from whichever field is set.
      if (ap.has_f()) { a.kind = Attribute::Kind::kFloat; a.f = ap.f(); break; }
      if (ap.has_i()) { a.kind = Attribute::Kind::kInt; a.i = ap.i(); break; }
      if (ap.has_s()) { a.kind = Attribute::Kind::kString; a.s = ap.s(); break; }
      if (ap.ints_size()) { a.kind = Attribute::Kind::kInts; a.ints.assign(ap.ints().begin(), ap.ints().end()); break; }
      if (ap.floats_size()) { a.kind = Attribute::Kind::kFloats; a.floats.assign(ap.floats().begin(), ap.floats().end()); break; }
      if (ap.has_t()) { a.kind = Attribute::Kind::kTensor; a.t = tensor_from_proto(ap.t(), ctx.tensors, what); break; }
      fail(ErrorCode::kInvalidModel, what + " has no type and no value");
    default:
      fail(ErrorCode::kUnsupported, fmt::format("{} has unsupported attribute type {}", what, static_cast<int>(ap.type())));
  }
  return a;
}

// Since-version of the schema `op_type` follows under the model's opset for its domain. A node with more or fewer
// inputs or outputs than the schema allows is malformed (kernels index their outputs by the schema's count).
int resolve_version(const Model& model, const std::string& domain, const std::string& op_type,
                    const std::string& what, int num_inputs, int num_outputs) {
  std::string d = domain == "ai.onnx" ? "" : domain;
  int64_t opset = model.opset(d);
  EF_CHECK(opset > 0, kInvalidModel, "{} uses domain '{}' which the model does not import", what,
           d.empty() ? "ai.onnx" : d);
  if (d.empty() || d == "ai.onnx.ml" || d == "ai.onnx.preview.training") {
    const onnx::OpSchema* schema =
        onnx::OpSchemaRegistry::Schema(op_type, static_cast<int>(opset), d.empty() ? onnx::ONNX_DOMAIN : d);
    if (schema != nullptr) {
      EF_CHECK(num_inputs >= schema->min_input() && num_inputs <= schema->max_input(), kInvalidModel,
               "{} has {} inputs; {} takes {}..{}", what, num_inputs, op_type, schema->min_input(),
               schema->max_input());
      EF_CHECK(num_outputs >= schema->min_output() && num_outputs <= schema->max_output(), kInvalidModel,
               "{} has {} outputs; {} gives {}..{}", what, num_outputs, op_type, schema->min_output(),
               schema->max_output());
      return schema->since_version();
    }
  }
  return static_cast<int>(opset);  // custom domains version with their opset; unknown ops fail at session creation
}

// Orders nodes so every input is produced before use; rejects cycles.
void topological_sort(Graph& g) {
  size_t n = g.nodes.size();
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < n; ++i) {
    for (int v : g.nodes[i].outputs) {
      if (v != kNoValue) producer[static_cast<size_t>(v)] = static_cast<int>(i);
    }
  }
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (size_t i = 0; i < n; ++i) {
    for (int v : g.nodes[i].inputs) {
      if (v == kNoValue) continue;
      int p = producer[static_cast<size_t>(v)];
      if (p >= 0) {
        ++pending[i];
        consumers[static_cast<size_t>(p)].push_back(static_cast<int>(i));
      }
    }
  }
  std::vector<int> order;
  order.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) order.push_back(static_cast<int>(i));
  }
  for (size_t k = 0; k < order.size(); ++k) {
    for (int c : consumers[static_cast<size_t>(order[k])]) {
      if (--pending[static_cast<size_t>(c)] == 0) order.push_back(c);
    }
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i) {
      EF_CHECK(pending[i] == 0, kInvalidModel, "graph '{}' has a cycle through {}", g.name, g.nodes[i].label());
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(g.nodes[static_cast<size_t>(i)]));
  g.nodes = std::move(sorted);
  for (size_t i = 0; i < n; ++i) {
    for (int v : g.nodes[i].outputs) {
      if (v != kNoValue) g.values[static_cast<size_t>(v)].producer = static_cast<int>(i);
    }
  }
}

std::shared_ptr<Graph> import_graph(const onnx::GraphProto& gp, ImportContext& ctx,
                                    const std::unordered_set<std::string>* outer_names) {
  auto g = std::make_shared<Graph>();
  g->name = gp.name();
  g->doc = gp.doc_string();
  std::unordered_map<std::string, int> by_name;
  std::unordered_set<std::string> produced;
  auto define = [&](const std::string& name, const std::string& what) {
    EF_CHECK(!name.empty(), kInvalidModel, "{} has an empty name", what);
    auto it = by_name.find(name);
    if (it != by_name.end()) return it->second;
    int id = g->add_value(name);
    by_name[name] = id;
    return id;
  };
  for (const auto& sp : gp.sparse_initializer()) {
    fail(ErrorCode::kUnsupported, fmt::format("sparse initializer '{}' is not supported", sp.values().name()));
  }
  for (const auto& tp : gp.initializer()) {
    std::string what = fmt::format("initializer '{}'", tp.name());
    EF_CHECK(!by_name.count(tp.name()), kInvalidModel, "{} is defined twice", what);
    int id = define(tp.name(), what);
    Value& v = g->values[static_cast<size_t>(id)];
    v.initializer = tensor_from_proto(tp, ctx.tensors, what);
    v.type = ValueType{v.initializer.dtype(), dims_of(v.initializer.shape())};
    produced.insert(tp.name());
  }
  for (const auto& vi : gp.input()) {
    std::string what = fmt::format("graph input '{}'", vi.name());
    if (produced.count(vi.name())) continue;  // IR < 4 lists initializers as inputs too: they stay constants
    int id = define(vi.name(), what);
    g->values[static_cast<size_t>(id)].type = import_type(vi.type(), what);
    // Subgraph (Loop/Scan body) inputs may leave their type to the enclosing op; top-level inputs may not.
    EF_CHECK(outer_names != nullptr || g->values[static_cast<size_t>(id)].type.dtype != DType::kUndefined,
             kInvalidModel, "{} has no type", what);
    g->inputs.push_back(id);
    produced.insert(vi.name());
  }
  // Names visible to nested subgraphs: everything defined in this graph plus what the enclosing graphs see.
  std::unordered_set<std::string> scope = outer_names ? *outer_names : std::unordered_set<std::string>{};
  std::unordered_set<std::string> node_outputs;
  for (const auto& n : gp.node()) {
    for (const auto& o : n.output()) node_outputs.insert(o);
  }
  scope.insert(node_outputs.begin(), node_outputs.end());
  for (const auto& name : produced) scope.insert(name);

  for (int ni = 0; ni < gp.node_size(); ++ni) {
    const auto& np = gp.node(ni);
    EF_CHECK(++ctx.node_count <= ctx.options->max_nodes, kOutOfMemory, "the model has more than {} nodes",
             ctx.options->max_nodes);
    Node node;
    node.name = np.name().empty() ? fmt::format("{}_{}", np.op_type(), ni) : np.name();
    node.op_type = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    node.doc = np.doc_string();
    EF_CHECK(!node.op_type.empty(), kInvalidModel, "node '{}' has no op_type", node.name);
    node.version = resolve_version(*ctx.model, node.domain, node.op_type, node.label(), np.input_size(),
                                   np.output_size());
    for (const auto& ap : np.attribute()) {
      std::string what = fmt::format("{} attribute '{}'", node.label(), ap.name());
      EF_CHECK(!node.attrs.count(ap.name()), kInvalidModel, "{} is given twice", what);
      node.attrs[ap.name()] = import_attribute(ap, ctx, what, scope);
    }
    for (const auto& in : np.input()) {
      if (in.empty()) {
        node.inputs.push_back(kNoValue);
        continue;
      }
      auto it = by_name.find(in);
      if (it == by_name.end() && !node_outputs.count(in)) {
        EF_CHECK(outer_names && outer_names->count(in), kInvalidModel,
                 "{}: input '{}' is not produced by any node, initializer or graph input (missing initializer?)",
                 node.label(), in);
        int id = define(in, in);
        g->values[static_cast<size_t>(id)].is_outer = true;
        produced.insert(in);
        node.inputs.push_back(id);
        continue;
      }
      node.inputs.push_back(define(in, in));
    }
    for (const auto& out : np.output()) {
      if (out.empty()) {
        node.outputs.push_back(kNoValue);
        continue;
      }
      EF_CHECK(!produced.count(out), kInvalidModel, "{}: output '{}' is already defined elsewhere in the graph",
               node.label(), out);
      produced.insert(out);
      node.outputs.push_back(define(out, out));
    }
    g->nodes.push_back(std::move(node));
  }
  // Outer-scope captures used only inside nested subgraphs do not show up as inputs here; nothing to record.
  for (const auto& vi : gp.value_info()) {
    auto it = by_name.find(vi.name());
    if (it == by_name.end()) continue;
    try {
      Value& v = g->values[static_cast<size_t>(it->second)];
      if (v.type.dtype == DType::kUndefined) v.type = import_type(vi.type(), "value '" + vi.name() + "'");
    } catch (const Error&) {
      // value_info is advisory; a non-tensor annotation on an intermediate is ignored, not fatal
    }
  }
  for (const auto& vo : gp.output()) {
    std::string what = fmt::format("graph output '{}'", vo.name());
    auto it = by_name.find(vo.name());
    int id;
    if (it == by_name.end()) {
      EF_CHECK(outer_names && outer_names->count(vo.name()), kInvalidModel,
               "{} is not produced by any node, initializer or input", what);
      id = define(vo.name(), what);
      g->values[static_cast<size_t>(id)].is_outer = true;
    } else {
      id = it->second;
    }
    ValueType declared = import_type(vo.type(), what);
    Value& v = g->values[static_cast<size_t>(id)];
    if (v.type.dtype == DType::kUndefined) v.type = declared;
    g->outputs.push_back(id);
  }
  for (const Node& n : g->nodes) {
    for (int in : n.inputs) {
      if (in == kNoValue) continue;
      EF_CHECK(produced.count(g->values[static_cast<size_t>(in)].name), kInvalidModel,
               "{}: input '{}' is never produced", n.label(), g->values[static_cast<size_t>(in)].name);
    }
  }
  topological_sort(*g);
  return g;
}

}  // namespace

Model load_model_from_bytes(const std::string& bytes, const std::string& base_dir, const ImportOptions& options) {
  EF_CHECK(bytes.size() <= options.max_model_bytes, kOutOfMemory, "model is {} bytes, above the {} byte limit",
           bytes.size(), options.max_model_bytes);
  onnx::ModelProto mp;
  if (bytes.empty() || !mp.ParseFromString(bytes)) {
    fail(ErrorCode::kInvalidModel, "cannot parse the ONNX model: " + diagnose_unparseable_model(bytes));
  }
  Model model;
  model.ir_version = mp.ir_version();
  model.producer_name = mp.producer_name();
  model.producer_version = mp.producer_version();
  model.domain = mp.domain();
  model.model_version = mp.model_version();
  model.doc = mp.doc_string();
  for (const auto& kv : mp.metadata_props()) model.metadata.emplace_back(kv.key(), kv.value());
  EF_CHECK(mp.has_graph(), kInvalidModel, "the model has no graph (ir_version {}): {}", mp.ir_version(),
           diagnose_unparseable_model(bytes));
  for (const auto& os : mp.opset_import()) {
    std::string d = os.domain() == "ai.onnx" ? "" : os.domain();
    EF_CHECK(os.version() > 0, kInvalidModel, "opset import for domain '{}' has version {}", d, os.version());
    model.opsets[d] = os.version();
  }
  if (mp.opset_import_size() == 0) model.opsets[""] = 1;  // IR v1/v2 files predate opset imports
  int64_t std_opset = model.opset("");
  EF_CHECK(std_opset <= kMaxSupportedOpset, kUnsupported,
           "the model uses ONNX opset {}, newer than the newest supported opset {}", std_opset, kMaxSupportedOpset);
  TensorLoadOptions tensors{base_dir, options.max_tensor_bytes, options.max_tensor_elements};
  TensorLoadOptions::Budget budget{options.max_initializer_bytes, 0};
  if (options.max_initializer_bytes > 0) tensors.budget = &budget;
  ImportContext ctx{&model, tensors, &options};
  model.graph = import_graph(mp.graph(), ctx, nullptr);
  return model;
}

Model load_model(const std::string& path, const ImportOptions& options) {
  std::string bytes = read_file_bytes(path, options.max_model_bytes);
  std::string base = std::filesystem::path(path).parent_path().string();
  Model model = load_model_from_bytes(bytes, base.empty() ? "." : base, options);
  model.path = path;
  return model;
}

}  // namespace ef
