// Inference BatchNormalization as a per-channel affine map (coefficients computed once at plan time) and
// nearest-neighbour Resize by integer factors on the two innermost axes (the FPN upsampling of detection models);
// other Resize modes stay on the reference kernel.
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "providers/cpu/kernel_table.h"

namespace ef::cpu_provider {
namespace {

// Channel planes handed to one thread at a time in the affine map.
constexpr int64_t kPlaneGrain = 4;

std::unique_ptr<PreparedKernel> prepare_batch_norm(const NodeSignature& sig) {
  const Node& n = *sig.node;
  if (n.version < 7 || n.attr_int("training_mode", 0) != 0 || !all_float32(sig)) return nullptr;
  for (size_t k = 1; k < sig.output_types.size(); ++k) {
    if (sig.output_types[k] != nullptr) return nullptr;  // running statistics: training mode
  }
  const Shape x = sig.input_shape(0);
  if (x.size() < 2 || sig.input_types.size() != 5) return nullptr;
  const int64_t channels = x[1];
  const Tensor *scale = sig.constant(1), *bias = sig.constant(2), *mean = sig.constant(3), *var = sig.constant(4);
  for (const Tensor* t : {scale, bias, mean, var}) {
    if (t == nullptr || t->numel() != channels) return nullptr;
  }
  const double eps = n.attr_float("epsilon", 1e-5f);
  std::vector<float> a(static_cast<size_t>(channels)), b(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var->data<float>()[c]) + eps);
    a[static_cast<size_t>(c)] = static_cast<float>(scale->data<float>()[c] * inv);
    b[static_cast<size_t>(c)] =
        static_cast<float>(bias->data<float>()[c] - mean->data<float>()[c] * scale->data<float>()[c] * inv);
  }
  const int64_t planes = x[0] * channels, plane = shape_numel(x) / std::max<int64_t>(planes, 1);
  return make_in_place_kernel("batchnorm.affine", 0, [=](const KernelArgs& args) {
    const float* src = args.input(0).data<float>();
    float* dst = args.output(0).data<float>();
    args.pool->parallel_for(planes, kPlaneGrain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const float ac = a[static_cast<size_t>(p % channels)], bc = b[static_cast<size_t>(p % channels)];
        const float* s = src + p * plane;
        float* d = dst + p * plane;
        for (int64_t i = 0; i < plane; ++i) d[i] = s[i] * ac + bc;
      }
    });
  });
}

// Nearest Resize whose source index is floor(out / k) for an integer factor k on each axis: asymmetric coordinates
// with floor rounding, and the scales (when given) exactly the integer factors.
std::unique_ptr<PreparedKernel> prepare_resize(const NodeSignature& sig) {
  const Node& n = *sig.node;
  if (n.version < 11 || !sig.has_input(0) || sig.output_types.empty() || sig.output_types[0] == nullptr) return nullptr;
  if (sig.input_dtype(0) != DType::kFloat32 || sig.output_types[0]->dtype != DType::kFloat32) return nullptr;
  if (n.attr_string("mode", "nearest") != "nearest" ||
      n.attr_string("coordinate_transformation_mode", "half_pixel") != "asymmetric" ||
      n.attr_string("nearest_mode", "round_prefer_floor") != "floor") {
    return nullptr;
  }
  const Shape x = sig.input_shape(0), y = sig.output_shape(0);
  if (x.size() < 2 || x.size() != y.size() || shape_numel(y) == 0) return nullptr;
  const size_t r = x.size();
  for (size_t i = 0; i + 2 < r; ++i) {
    if (x[i] != y[i]) return nullptr;
  }
  if (y[r - 2] % x[r - 2] != 0 || y[r - 1] % x[r - 1] != 0) return nullptr;
  const int64_t kh = y[r - 2] / x[r - 2], kw = y[r - 1] / x[r - 1];
  if (sig.has_input(2) && sig.input_shape(2) != Shape{0}) {
    const Tensor* scales = sig.constant(2);
    if (scales == nullptr || scales->dtype() != DType::kFloat32 || scales->numel() != static_cast<int64_t>(r)) {
      return nullptr;
    }
    for (size_t i = 0; i < r; ++i) {
      const double want = i + 2 < r ? 1.0 : static_cast<double>(i + 2 == r ? kh : kw);
      if (static_cast<double>(scales->data<float>()[i]) != want) return nullptr;
    }
  }
  const int64_t planes = shape_numel(x) / (x[r - 2] * x[r - 1]), H = x[r - 2], W = x[r - 1];
  return make_kernel("resize.nearest_integer", [=](const KernelArgs& args) {
    const float* src = args.input(0).data<float>();
    float* dst = args.output(0).data<float>();
    const int64_t OW = W * kw;
    args.pool->parallel_for(planes * H, 8, [&](int64_t r0, int64_t r1) {
      for (int64_t row = r0; row < r1; ++row) {
        const float* s = src + row * W;
        float* d = dst + row * kh * OW;  // output rows row*kh .. row*kh + kh - 1 of the same plane
        for (int64_t j = 0; j < W; ++j) {
          for (int64_t t = 0; t < kw; ++t) d[j * kw + t] = s[j];
        }
        for (int64_t t = 1; t < kh; ++t) std::copy(d, d + OW, d + t * OW);
      }
    });
  });
}

}  // namespace

void add_image_kernels(KernelTable& table) {
  table.add("", "BatchNormalization", prepare_batch_norm);
  table.add("", "Resize", prepare_resize);
}

}  // namespace ef::cpu_provider
