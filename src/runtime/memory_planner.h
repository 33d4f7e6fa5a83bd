// Memory planning behind a small interface: given buffers with sizes and lifetimes (first and last node index
// that touch them), assign arena offsets so buffers alive at the same time never overlap.
#pragma once
#include <cstdint>
#include <vector>

namespace ef {

struct BufferRequest {
  uint64_t bytes = 0;
  int first_use = 0;  // node index that writes it
  int last_use = 0;   // last node index that reads it
};

struct MemoryPlan {
  std::vector<uint64_t> offsets;  // per request
  uint64_t arena_bytes = 0;
};

constexpr uint64_t kArenaAlignment = 64;

// Greedy by size (largest first), each at the lowest offset that fits between the buffers it overlaps in time.
MemoryPlan plan_memory_greedy(const std::vector<BufferRequest>& requests);
// Every buffer gets its own range: no reuse. Useful to rule the planner out when debugging.
MemoryPlan plan_memory_naive(const std::vector<BufferRequest>& requests);

}  // namespace ef
