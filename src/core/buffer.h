// An owned array that is NOT zero-filled on allocation. Large work buffers (n x n factors,
// m x n weights) are first written by parallel loops; std::vector's serial value-initialization
// would touch every page on one thread first and cost as much as the pass that follows.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

namespace vqr {

template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t n) : data_(n ? new T[n] : nullptr), size_(n) {}
  Buffer(const Buffer &other) : Buffer(other.size_) {
    if (size_) std::memcpy(data_.get(), other.data_.get(), size_ * sizeof(T));
  }
  Buffer &operator=(const Buffer &other) {
    if (this != &other) *this = Buffer(other);
    return *this;
  }
  Buffer(Buffer &&) noexcept = default;
  Buffer &operator=(Buffer &&) noexcept = default;

  T *data() { return data_.get(); }
  const T *data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T &operator[](size_t i) { return data_[i]; }
  const T &operator[](size_t i) const { return data_[i]; }
  void reset() {
    data_.reset();
    size_ = 0;
  }

 private:
  std::unique_ptr<T[]> data_;
  size_t size_ = 0;
};

}  // namespace vqr
