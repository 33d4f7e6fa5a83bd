// ef::Model -> ONNX ModelProto. Writes standard ONNX that onnx::checker accepts.
#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "core/file_util.h"
#include "onnx/model_io.h"
#include "onnx/tensor_proto.h"

namespace ef {
namespace {

void export_type(const ValueType& t, onnx::TypeProto* tp) {
  auto* tt = tp->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(t.dtype));
  if (!t.dims) return;
  auto* shape = tt->mutable_shape();
  for (const Dim& d : *t.dims) {
    auto* dp = shape->add_dim();
    if (d.known()) {
      dp->set_dim_value(d.value);
    } else if (!d.param.empty()) {
      dp->set_dim_param(d.param);
    }
  }
}

void export_graph(const Graph& g, onnx::GraphProto* gp, bool initializers_as_inputs);

void export_attribute(const std::string& name, const Attribute& a, onnx::AttributeProto* ap) {
  using AP = onnx::AttributeProto;
  ap->set_name(name);
  switch (a.kind) {
    case Attribute::Kind::kFloat: ap->set_type(AP::FLOAT); ap->set_f(a.f); break;
    case Attribute::Kind::kInt: ap->set_type(AP::INT); ap->set_i(a.i); break;
    case Attribute::Kind::kString: ap->set_type(AP::STRING); ap->set_s(a.s); break;
    case Attribute::Kind::kTensor: ap->set_type(AP::TENSOR); tensor_to_proto(a.t, "", ap->mutable_t()); break;
    case Attribute::Kind::kGraph: ap->set_type(AP::GRAPH); export_graph(*a.g, ap->mutable_g(), false); break;
    case Attribute::Kind::kFloats:
      ap->set_type(AP::FLOATS);
      for (float f : a.floats) ap->add_floats(f);
      break;
    case Attribute::Kind::kInts:
      ap->set_type(AP::INTS);
      for (int64_t i : a.ints) ap->add_ints(i);
      break;
    case Attribute::Kind::kStrings:
      ap->set_type(AP::STRINGS);
      for (const auto& s : a.strings) ap->add_strings(s);
      break;
    case Attribute::Kind::kTensors:
      ap->set_type(AP::TENSORS);
      for (const auto& t : a.tensors) tensor_to_proto(t, "", ap->add_tensors());
      break;
    case Attribute::Kind::kGraphs:
      ap->set_type(AP::GRAPHS);
      for (const auto& sub : a.graphs) export_graph(*sub, ap->add_graphs(), false);
      break;
  }
}

// Before IR version 4 every initializer must also be listed as a graph input (onnx::checker enforces it); our graph
// keeps only true inputs in Graph::inputs, so they are added back for such models.
void export_graph(const Graph& g, onnx::GraphProto* gp, bool initializers_as_inputs) {
  gp->set_name(g.name.empty() ? "graph" : g.name);
  if (!g.doc.empty()) gp->set_doc_string(g.doc);
  auto name_of = [&](int v) { return v == kNoValue ? std::string() : g.values[static_cast<size_t>(v)].name; };
  for (const Value& v : g.values) {
    if (v.initializer.defined()) tensor_to_proto(v.initializer, v.name, gp->add_initializer());
  }
  for (int v : g.inputs) {
    auto* vi = gp->add_input();
    vi->set_name(name_of(v));
    export_type(g.values[static_cast<size_t>(v)].type, vi->mutable_type());
  }
  if (initializers_as_inputs) {
    for (const Value& v : g.values) {
      if (!v.initializer.defined()) continue;
      auto* vi = gp->add_input();
      vi->set_name(v.name);
      export_type(ValueType{v.initializer.dtype(), dims_of(v.initializer.shape())}, vi->mutable_type());
    }
  }
  for (int v : g.outputs) {
    auto* vi = gp->add_output();
    vi->set_name(name_of(v));
    const ValueType& t = g.values[static_cast<size_t>(v)].type;
    if (t.dtype != DType::kUndefined) export_type(t, vi->mutable_type());
  }
  for (const Node& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    if (!n.doc.empty()) np->set_doc_string(n.doc);
    for (int v : n.inputs) np->add_input(name_of(v));
    // Trailing omitted inputs are dropped: ONNX treats a missing trailing input and an empty name alike.
    while (np->input_size() > 0 && np->input(np->input_size() - 1).empty()) np->mutable_input()->RemoveLast();
    for (int v : n.outputs) np->add_output(name_of(v));
    for (const auto& [key, attr] : n.attrs) export_attribute(key, attr, np->add_attribute());
  }
}

}  // namespace

std::string export_model_bytes(const Model& model) {
  onnx::ModelProto mp;
  mp.set_ir_version(model.ir_version > 0 ? model.ir_version : 8);
  if (!model.producer_name.empty()) mp.set_producer_name(model.producer_name);
  if (!model.producer_version.empty()) mp.set_producer_version(model.producer_version);
  if (!model.domain.empty()) mp.set_domain(model.domain);
  if (model.model_version) mp.set_model_version(model.model_version);
  if (!model.doc.empty()) mp.set_doc_string(model.doc);
  for (const auto& [k, v] : model.metadata) {
    auto* kv = mp.add_metadata_props();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& [domain, version] : model.opsets) {
    auto* os = mp.add_opset_import();
    os->set_domain(domain);
    os->set_version(version);
  }
  export_graph(*model.graph, mp.mutable_graph(), model.ir_version > 0 && model.ir_version < 4);
  try {
    onnx::checker::check_model(mp);
  } catch (const std::exception& e) {
    fail(ErrorCode::kInternal, fmt::format("exported model fails onnx::checker: {}", e.what()));
  }
  std::string bytes;
  EF_CHECK(mp.SerializeToString(&bytes), kInternal, "cannot serialize the model (larger than 2 GiB?)");
  return bytes;
}

void save_model(const Model& model, const std::string& path) { write_file_bytes(path, export_model_bytes(model)); }

}  // namespace ef
