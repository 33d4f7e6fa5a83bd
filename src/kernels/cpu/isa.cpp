#include "kernels/cpu/isa.h"

#include <hwy/targets.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "kernels/cpu/sgemm.h"

namespace ef::cpu {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string active_isa() { return sgemm_target_name(); }

bool avx512_in_use() { return active_isa().rfind("AVX3", 0) == 0; }

std::vector<std::string> available_isas() { return sgemm_targets(); }

bool limit_isa(std::string_view name) {
  int64_t bit = 0;
  for (int i = 0; i < 63 && bit == 0; ++i) {
    if (same_name(hwy::TargetName(int64_t{1} << i), name)) bit = int64_t{1} << i;
  }
  if (bit == 0) return false;
  bool available = false;
  for (const std::string& isa : available_isas()) available |= same_name(isa, name);
  if (!available) return false;
  // Highway: lower bits are better targets; disable every target better than the requested one.
  hwy::DisableTargets(bit - 1);
  return set_max_isa(name);
}

}  // namespace ef::cpu
