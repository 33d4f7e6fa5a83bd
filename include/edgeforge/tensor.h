// The one tensor type: dtype + dense row-major shape + a (possibly shared, possibly borrowed) byte buffer.
// Copying a Tensor shares its storage (like a shared_ptr); use clone() for a deep copy.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgeforge/dtype.h"
#include "edgeforge/error.h"

namespace ef {

using Shape = std::vector<int64_t>;

// Number of elements of `shape`; throws kInvalidArgument on negative dims or overflow past 2^62.
int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[1,3,224,224]"

class Tensor {
 public:
  Tensor() = default;

  // Allocates zero-filled, 64-byte aligned storage.
  static Tensor zeros(DType dtype, Shape shape);
  // Wraps memory owned by someone else; the caller keeps it alive while the tensor is used.
  static Tensor borrow(DType dtype, Shape shape, void* data);
  // Copies `nbytes` from `src` into new storage.
  static Tensor from_bytes(DType dtype, Shape shape, const void* src, size_t nbytes);
  template <typename T>
  static Tensor from_vector(DType dtype, Shape shape, const std::vector<T>& values) {
    return from_bytes(dtype, std::move(shape), values.data(), values.size() * sizeof(T));
  }
  template <typename T>
  static Tensor scalar(DType dtype, T value) {
    return from_bytes(dtype, {}, &value, sizeof(T));
  }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_[i]; }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() { return static_cast<T*>(data_); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(data_); }

  Tensor clone() const;
  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Reads element i (flat index) as double / int64, whatever the dtype; for scalars-from-tensors in shape logic.
  double value_as_double(int64_t i) const;
  int64_t value_as_int(int64_t i) const;
  // All elements as int64 (for shape-like inputs: Reshape's shape, Slice's starts, ...).
  std::vector<int64_t> to_int64_vector() const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
};

}  // namespace ef
