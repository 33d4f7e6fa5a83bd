// Data-movement ops and Softmax on the CPU provider: Transpose (planned tiled/row copies), Slice, Concat and
// constant Pad (strided copies planned once), Softmax/LogSoftmax (vectorized, per slice). Any dtype for the copies.
#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/strided_copy.h"
#include "kernels/cpu/transpose.h"
#include "ops/shape_ops_family.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

bool copyable(DType t) { return dtype_is_supported(t) && dtype_size(t) > 0 && t != DType::kString; }

std::vector<int64_t> byte_strides(const Shape& shape, size_t elem) {
  std::vector<int64_t> s(shape.size());
  int64_t stride = static_cast<int64_t>(elem);
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = stride;
    stride *= shape[i];
  }
  return s;
}

std::unique_ptr<PreparedKernel> prepare_transpose(const NodeSignature& sig) {
  if (!sig.has_input(0) || !copyable(sig.input_dtype(0))) return nullptr;
  const Shape x = sig.input_shape(0);
  std::vector<int64_t> perm = sig.node->attr_ints("perm");
  if (perm.empty()) {
    for (size_t i = x.size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  }
  if (x.size() > static_cast<size_t>(cpu::kMaxTransposeRank) || shape_numel(x) == 0) return nullptr;
  // Inference accepted the perm with negative axes counted from the end; the planner wants them in [0, rank).
  for (int64_t& p : perm) {
    if (p < 0) p += static_cast<int64_t>(x.size());
  }
  cpu::TransposePlan plan = cpu::plan_transpose(x, perm, dtype_size(sig.input_dtype(0)));
  const char* form = plan.form == cpu::TransposeForm::kCopy      ? "copy"
                     : plan.form == cpu::TransposeForm::kRowCopy ? "rows"
                                                                 : "tiled";
  return make_kernel(std::string("transpose.") + form, [plan](const KernelArgs& args) {
    cpu::run_transpose(plan, args.input(0).raw(), args.output(0).raw(), *args.pool);
  });
}

std::unique_ptr<PreparedKernel> prepare_slice(const NodeSignature& sig) {
  const Node& n = *sig.node;
  if (!sig.has_input(0) || !copyable(sig.input_dtype(0))) return nullptr;
  std::vector<const Tensor*> params(5, nullptr);
  if (n.version >= 10) {
    for (size_t i = 1; i < 5 && i < sig.input_types.size(); ++i) {
      if (!sig.has_input(i)) continue;
      params[i] = sig.constant(i);
      if (params[i] == nullptr) return nullptr;  // computed at run time
    }
  }
  const Shape x = sig.input_shape(0);
  shape_ops::SliceAxes s = shape_ops::resolve_slice(n, params, x);
  if (s.count != sig.output_shape(0) || shape_numel(s.count) == 0) return nullptr;
  const size_t elem = dtype_size(sig.input_dtype(0));
  std::vector<int64_t> in_strides = byte_strides(x, elem);
  std::vector<int64_t> src(x.size());
  int64_t offset = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    offset += s.start[i] * in_strides[i];
    src[i] = s.step[i] * in_strides[i];
  }
  cpu::StridedCopy plan = cpu::plan_strided_copy(s.count, src, byte_strides(s.count, elem), elem);
  return make_kernel("slice.strided", [plan, offset](const KernelArgs& args) {
    cpu::run_strided_copy(plan, static_cast<const uint8_t*>(args.input(0).raw()) + offset, args.output(0).raw(),
                          *args.pool);
  });
}

std::unique_ptr<PreparedKernel> prepare_concat(const NodeSignature& sig) {
  const Node& n = *sig.node;
  if (sig.output_types.empty() || sig.output_types[0] == nullptr || !copyable(sig.output_types[0]->dtype)) {
    return nullptr;
  }
  const Shape y = sig.output_shape(0);
  int64_t axis = n.attr_int("axis", 0);
  if (axis < 0) axis += static_cast<int64_t>(y.size());
  if (axis < 0 || axis >= static_cast<int64_t>(y.size())) return nullptr;
  const size_t elem = dtype_size(sig.output_types[0]->dtype);
  struct Part {
    size_t input;
    int64_t dst_offset;  // bytes
    cpu::StridedCopy copy;
  };
  std::vector<Part> parts;
  int64_t at = 0;
  const std::vector<int64_t> y_strides = byte_strides(y, elem);
  for (size_t i = 0; i < sig.input_types.size(); ++i) {
    if (!sig.has_input(i)) continue;
    const Shape x = sig.input_shape(i);
    if (x.size() != y.size()) return nullptr;
    if (shape_numel(x) > 0) {
      parts.push_back({i, at * y_strides[static_cast<size_t>(axis)],
                       cpu::plan_strided_copy(x, byte_strides(x, elem), y_strides, elem)});
    }
    at += x[static_cast<size_t>(axis)];
  }
  if (at != y[static_cast<size_t>(axis)]) return nullptr;
  return make_kernel("concat.strided", [parts](const KernelArgs& args) {
    auto* dst = static_cast<uint8_t*>(args.output(0).raw());
    for (const Part& p : parts) {
      const void* src = args.input(p.input).raw();
      // The planner may have given this input its slice of the output as its buffer (runtime/planner.cpp,
      // nest_concat_inputs): its producer already wrote it in place.
      if (src == dst + p.dst_offset) continue;
      cpu::run_strided_copy(p.copy, src, dst + p.dst_offset, *args.pool);
    }
  });
}

// Constant-mode Pad with non-negative constant pads over float32 or 8-bit (the pads of a QDQ graph that
// qdq-fusion moved onto the 8-bit tensors): fill, then copy the input into the interior.
std::unique_ptr<PreparedKernel> prepare_pad(const NodeSignature& sig) {
  const Node& n = *sig.node;
  const DType t = sig.has_input(0) ? sig.input_dtype(0) : DType::kUndefined;
  const bool byte = (t == DType::kUInt8 || t == DType::kInt8) && n.version >= 11;
  if ((t != DType::kFloat32 && !byte) || n.attr_string("mode", "constant") != "constant") return nullptr;
  const Shape x = sig.input_shape(0), y = sig.output_shape(0);
  std::vector<int64_t> pads;
  float value = 0.0f;
  uint8_t byte_value = 0;
  if (n.version < 11) {
    pads = n.attr_ints(n.version < 2 ? "paddings" : "pads");
    value = n.attr_float("value", 0.0f);
  } else {
    const Tensor* p = sig.constant(1);
    if (p == nullptr || p->dtype() != DType::kInt64) return nullptr;
    pads.assign(p->data<int64_t>(), p->data<int64_t>() + p->numel());
    if (sig.has_input(2)) {
      const Tensor* v = sig.constant(2);
      if (v == nullptr || v->numel() != 1 || v->dtype() != t) return nullptr;
      if (byte) {
        byte_value = static_cast<const uint8_t*>(v->raw())[0];
      } else {
        value = v->data<float>()[0];
      }
    }
  }
  const size_t r = x.size(), elem = byte ? 1 : sizeof(float);
  if (pads.size() != 2 * r || shape_numel(x) == 0) return nullptr;
  int64_t offset = 0;
  const std::vector<int64_t> y_strides = byte_strides(y, elem);
  for (size_t i = 0; i < r; ++i) {
    if (pads[i] < 0 || pads[i + r] < 0 || x[i] + pads[i] + pads[i + r] != y[i]) return nullptr;
    offset += pads[i] * y_strides[i];
  }
  cpu::StridedCopy copy = cpu::plan_strided_copy(x, byte_strides(x, elem), y_strides, elem);
  return make_kernel("pad.constant", [copy, offset, value, byte, byte_value](const KernelArgs& args) {
    Tensor& out = args.output(0);
    if (byte) {
      std::memset(out.raw(), byte_value, static_cast<size_t>(out.numel()));
    } else {
      std::fill(out.data<float>(), out.data<float>() + out.numel(), value);
    }
    cpu::run_strided_copy(copy, args.input(0).raw(), static_cast<uint8_t*>(out.raw()) + offset, *args.pool);
  });
}

std::unique_ptr<PreparedKernel> prepare_softmax(const NodeSignature& sig) {
  const Node& n = *sig.node;
  if (!sig.has_input(0) || !all_float32(sig)) return nullptr;
  const Shape x = sig.input_shape(0);
  if (x.empty() || shape_numel(x) == 0) return nullptr;
  const int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = n.attr_int("axis", n.version >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return nullptr;
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t d = x[static_cast<size_t>(i)];
    if (i < axis) {
      outer *= d;
    } else if (i == axis || n.version < 13) {
      len *= d;  // before opset 13 the op normalizes over the flattened tail
    } else {
      inner *= d;
    }
  }
  const auto kind = n.op_type == "Softmax" ? cpu::SoftmaxKind::kSoftmax : cpu::SoftmaxKind::kLogSoftmax;
  return make_kernel("softmax." + n.op_type, [=](const KernelArgs& args) {
    cpu::softmax(kind, args.input(0).data<float>(), args.output(0).data<float>(), outer, len, inner, *args.pool);
  });
}

}  // namespace

void add_data_movement_kernels(KernelTable& table) {
  table.add("", "Transpose", prepare_transpose);
  table.add("", "Slice", prepare_slice);
  table.add("", "Concat", prepare_concat);
  table.add("", "Pad", prepare_pad);
  table.add("", "Softmax", prepare_softmax);
  table.add("", "LogSoftmax", prepare_softmax);
}

}  // namespace ef::cpu_provider
