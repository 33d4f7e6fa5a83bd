#include "edgeforge/tensor.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <cstring>
#include <new>

#include "core/dispatch.h"
#include "core/half.h"

namespace ef {

namespace {
constexpr int64_t kMaxElements = int64_t{1} << 62;

std::shared_ptr<void> allocate_aligned(size_t nbytes) {
  size_t rounded = (nbytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) fail(ErrorCode::kOutOfMemory, fmt::format("cannot allocate {} bytes", nbytes));
  std::memset(p, 0, rounded);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}
}  // namespace

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    EF_CHECK(d >= 0, kInvalidArgument, "negative dimension {} in shape {}", d, shape_str(shape));
    if (d == 0) return 0;
    EF_CHECK(n <= kMaxElements / d, kInvalidArgument, "shape {} has too many elements", shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

Tensor Tensor::zeros(DType dtype, Shape shape) {
  EF_CHECK(dtype_is_supported(dtype), kUnsupported, "tensors of type {} are not supported", dtype_name(dtype));
  Tensor t;
  t.numel_ = shape_numel(shape);
  EF_CHECK(static_cast<uint64_t>(t.numel_) <= (uint64_t{1} << 40) / dtype_size(dtype), kOutOfMemory,
           "tensor of shape {} ({}) is larger than 1 TiB", shape_str(shape), dtype_name(dtype));
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.storage_ = allocate_aligned(t.nbytes());
  t.data_ = t.storage_.get();
  return t;
}

Tensor Tensor::borrow(DType dtype, Shape shape, void* data) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor Tensor::from_bytes(DType dtype, Shape shape, const void* src, size_t nbytes) {
  Tensor t = zeros(dtype, std::move(shape));
  EF_CHECK(nbytes == t.nbytes(), kInvalidArgument, "tensor of shape {} ({}) needs {} bytes, got {}",
           shape_str(t.shape_), dtype_name(dtype), t.nbytes(), nbytes);
  if (nbytes) std::memcpy(t.data_, src, nbytes);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  return from_bytes(dtype_, shape_, data_, nbytes());
}

Tensor Tensor::reshaped(Shape shape) const {
  int64_t n = shape_numel(shape);
  EF_CHECK(n == numel_, kInvalidArgument, "cannot reshape {} to {}", shape_str(shape_), shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

double Tensor::value_as_double(int64_t i) const {
  return visit_dtype(dtype_, [&](auto tag) -> double {
    using T = typename decltype(tag)::type;
    return to_double(data<T>()[i]);
  });
}

int64_t Tensor::value_as_int(int64_t i) const {
  if (dtype_is_float(dtype_)) {
    // Saturating: a float index or size from model data may be NaN or huge, and the plain cast would be UB.
    double v = value_as_double(i);
    if (std::isnan(v)) return 0;
    if (v >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
    if (v <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(v);
  }
  return visit_dtype(dtype_, [&](auto tag) -> int64_t {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T>) {
      return static_cast<int64_t>(data<T>()[i]);
    } else {
      return int64_t{0};  // unreachable: float types are handled above
    }
  });
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) out[static_cast<size_t>(i)] = value_as_int(i);
  return out;
}

}  // namespace ef
