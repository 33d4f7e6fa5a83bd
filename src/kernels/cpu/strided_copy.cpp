#include "kernels/cpu/strided_copy.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "core/thread_pool.h"
#include "kernels/cpu/transpose.h"

namespace ef::cpu {
namespace {

// Runs shorter than this go through memcpy (call overhead matters more than bandwidth).
constexpr int64_t kVectorCopyBytes = 256;
// Bytes moved per parallel work unit.
constexpr int64_t kBytesPerChunk = 1 << 16;

void copy_run(const StridedCopy& p, const uint8_t* src, uint8_t* dst) {
  const int64_t bytes = p.run_len * static_cast<int64_t>(p.elem_size);
  if (p.src_step == static_cast<int64_t>(p.elem_size)) {
    if (bytes >= kVectorCopyBytes) {
      copy_bytes(dst, src, static_cast<size_t>(bytes));
    } else {
      std::memcpy(dst, src, static_cast<size_t>(bytes));
    }
    return;
  }
  for (int64_t i = 0; i < p.run_len; ++i) std::memcpy(dst + i * static_cast<int64_t>(p.elem_size), src + i * p.src_step, p.elem_size);
}

}  // namespace

int64_t StridedCopy::runs() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

StridedCopy plan_strided_copy(std::vector<int64_t> dims, std::vector<int64_t> src_strides,
                              std::vector<int64_t> dst_strides, size_t elem_size) {
  StridedCopy p;
  p.elem_size = elem_size;
  // Drop size-1 dims: they never move the pointers.
  std::vector<int64_t> d, s, t;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    d.push_back(dims[i]);
    s.push_back(src_strides[i]);
    t.push_back(dst_strides[i]);
  }
  if (d.empty()) {
    p.run_len = 1;
    p.src_step = static_cast<int64_t>(elem_size);
    return p;
  }
  // Merge dim i into i+1 while (i, i+1) walk both sides as one longer dim.
  std::vector<int64_t> md{d.back()}, ms{s.back()}, mt{t.back()};
  for (size_t k = d.size() - 1; k-- > 0;) {
    if (s[k] == ms.front() * md.front() && t[k] == mt.front() * md.front()) {
      md.front() *= d[k];
    } else {
      md.insert(md.begin(), d[k]);
      ms.insert(ms.begin(), s[k]);
      mt.insert(mt.begin(), t[k]);
    }
  }
  p.run_len = md.back();
  p.src_step = ms.back();
  md.pop_back();
  ms.pop_back();
  mt.pop_back();
  if (md.size() > kMaxStridedCopyRank) throw std::invalid_argument("strided copy: too many dimensions");
  p.dims = md;
  p.src_strides = ms;
  p.dst_strides = mt;
  return p;
}

void run_strided_copy(const StridedCopy& p, const void* src, void* dst, ThreadPool& pool) {
  const int64_t runs = p.runs();
  const int64_t run_bytes = std::max<int64_t>(1, p.run_len * static_cast<int64_t>(p.elem_size));
  const int64_t grain = std::max<int64_t>(1, kBytesPerChunk / run_bytes);
  const auto* s0 = static_cast<const uint8_t*>(src);
  auto* d0 = static_cast<uint8_t*>(dst);
  const size_t rank = p.dims.size();
  pool.parallel_for(runs, grain, [&](int64_t begin, int64_t end) {
    // Odometer position of run `begin`.
    std::array<int64_t, kMaxStridedCopyRank> idx{};
    int64_t rest = begin;
    for (size_t k = rank; k-- > 0;) {
      idx[k] = rest % p.dims[k];
      rest /= p.dims[k];
    }
    int64_t so = 0, to = 0;
    for (size_t k = 0; k < rank; ++k) {
      so += idx[k] * p.src_strides[k];
      to += idx[k] * p.dst_strides[k];
    }
    for (int64_t r = begin; r < end; ++r) {
      copy_run(p, s0 + so, d0 + to);
      for (size_t k = rank; k-- > 0;) {
        so += p.src_strides[k];
        to += p.dst_strides[k];
        if (++idx[k] < p.dims[k]) break;
        so -= p.src_strides[k] * p.dims[k];
        to -= p.dst_strides[k] * p.dims[k];
        idx[k] = 0;
      }
    }
  });
}

}  // namespace ef::cpu
