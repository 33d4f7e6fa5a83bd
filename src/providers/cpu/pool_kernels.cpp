// MaxPool (values only), AveragePool, GlobalAveragePool and GlobalMaxPool over float32 NCHW (1-D and 2-D windows;
// global pools any rank) on the vectorized pooling kernels; MaxPool also over uint8 / int8 (kernels/cpu/qpool.h);
// ReduceMean over trailing axes (a global average pool spelled as a reduction, as in shufflenet's head) on the
// global-average kernel.
#include "core/thread_pool.h"
#include "kernels/cpu/conv_params.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/qpool.h"
#include "ops/conv_pool_family.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {

std::optional<cpu::Conv2dParams> pool_geometry(const Node& n, const Shape& x, const Shape& y) {
  const size_t nd = x.size() - 2;
  std::vector<int64_t> kernel = n.attr_ints("kernel_shape");
  if ((nd != 1 && nd != 2) || kernel.size() != nd) return std::nullopt;
  WindowAttrs window = read_window_attrs(n, kernel);
  for (size_t i = 0; i < nd; ++i) {
    // Resolves SAME/VALID pads into window.axes and confirms the planned output size.
    if (window_axis_output(n, i, x[i + 2], window) != y[i + 2]) return std::nullopt;
  }
  std::vector<int64_t> in(x.begin() + 2, x.end()), out(y.begin() + 2, y.end());
  return window_2d(x[0], x[1], x[1], 1, in, out, window.axes);
}

namespace {

// MaxPool (values only) over uint8 / int8: the pools of a QDQ graph that qdq-fusion moved onto 8-bit tensors.
std::unique_ptr<PreparedKernel> prepare_max_pool_8bit(const NodeSignature& sig) {
  const Node& n = *sig.node;
  const DType t = sig.input_dtype(0);
  if (n.op_type != "MaxPool" || sig.output_types.size() != 1 || sig.output_types[0] == nullptr ||
      sig.output_types[0]->dtype != t) {
    return nullptr;
  }
  const Shape x = sig.input_shape(0), y = sig.output_shape(0);
  if (x.size() < 3 || shape_numel(y) == 0) return nullptr;
  auto p = pool_geometry(n, x, y);
  if (!p) return nullptr;
  const bool is_signed = t == DType::kInt8;
  return make_kernel("pool.max_8bit", [p = *p, is_signed](const KernelArgs& args) {
    cpu::max_pool2d_8bit(p, static_cast<const uint8_t*>(args.input(0).raw()), is_signed,
                         static_cast<uint8_t*>(args.output(0).raw()), *args.pool);
  });
}

std::unique_ptr<PreparedKernel> prepare_pool(const NodeSignature& sig) {
  const Node& n = *sig.node;
  if (sig.has_input(0) && (sig.input_dtype(0) == DType::kUInt8 || sig.input_dtype(0) == DType::kInt8)) {
    return prepare_max_pool_8bit(sig);
  }
  if (!sig.has_input(0) || sig.output_types.empty() || sig.output_types[0] == nullptr || !all_float32(sig)) {
    return nullptr;
  }
  for (size_t k = 1; k < sig.output_types.size(); ++k) {
    if (sig.output_types[k] != nullptr) return nullptr;  // MaxPool's Indices: reference kernel
  }
  const Shape x = sig.input_shape(0), y = sig.output_shape(0);
  if (x.size() < 3 || shape_numel(y) == 0) return nullptr;
  if (n.op_type == "GlobalAveragePool" || n.op_type == "GlobalMaxPool") {
    const int64_t planes = x[0] * x[1], plane = shape_numel(x) / std::max<int64_t>(planes, 1);
    const bool avg = n.op_type == "GlobalAveragePool";
    return make_kernel(avg ? "pool.global_average" : "pool.global_max", [=](const KernelArgs& args) {
      if (avg) {
        cpu::global_average_pool(planes, plane, args.input(0).data<float>(), args.output(0).data<float>(),
                                 *args.pool);
      } else {
        cpu::global_max_pool(planes, plane, args.input(0).data<float>(), args.output(0).data<float>(), *args.pool);
      }
    });
  }
  auto p = pool_geometry(n, x, y);
  if (!p) return nullptr;
  if (n.op_type == "MaxPool") {
    if (n.attr_int("storage_order", 0) != 0 && sig.output_types.size() > 1) return nullptr;
    return make_kernel("pool.max", [p = *p](const KernelArgs& args) {
      cpu::max_pool2d(p, args.input(0).data<float>(), args.output(0).data<float>(), *args.pool);
    });
  }
  const bool include_pad = n.attr_int("count_include_pad", 0) != 0;
  return make_kernel("pool.average", [p = *p, include_pad](const KernelArgs& args) {
    cpu::average_pool2d(p, include_pad, args.input(0).data<float>(), args.output(0).data<float>(), *args.pool);
  });
}

// ReduceMean (axes as an attribute) whose reduced axes all lie after its kept ones, ignoring axes of size 1: each
// output is then the mean of one contiguous run of the input. Anything else (and bad axes, for the reference
// kernel's error) stays on the reference kernel.
std::unique_ptr<PreparedKernel> prepare_reduce_mean(const NodeSignature& sig) {
  const Node& n = *sig.node;
  if (n.version >= 18 || sig.node->inputs.size() != 1 || !sig.has_input(0) || sig.output_types.size() != 1 ||
      sig.output_types[0] == nullptr || !all_float32(sig)) {
    return nullptr;
  }
  const Shape x = sig.input_shape(0), y = sig.output_shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  std::vector<int64_t> axes = n.attr_ints("axes");
  std::vector<bool> reduced(x.size(), axes.empty());
  for (int64_t a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank || reduced[static_cast<size_t>(a)]) return nullptr;
    reduced[static_cast<size_t>(a)] = true;
  }
  bool seen_reduced = false;
  for (size_t d = 0; d < x.size(); ++d) {
    if (x[d] == 1) continue;
    if (reduced[d]) {
      seen_reduced = true;
    } else if (seen_reduced) {
      return nullptr;
    }
  }
  const int64_t outer = shape_numel(y), total = shape_numel(x);
  if (outer == 0 || total == 0 || total % outer != 0) return nullptr;
  const int64_t inner = total / outer;
  return make_kernel("reduce.mean_trailing", [=](const KernelArgs& args) {
    cpu::global_average_pool(outer, inner, args.input(0).data<float>(), args.output(0).data<float>(), *args.pool);
  });
}

}  // namespace

void add_pool_kernels(KernelTable& table) {
  for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"}) {
    table.add("", op, prepare_pool);
  }
  table.add("", "ReduceMean", prepare_reduce_mean);
}

}  // namespace ef::cpu_provider
