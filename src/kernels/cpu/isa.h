// Which SIMD instruction set the CPU kernels use. Every kernel dispatches at run time (Highway) to the best target
// this CPU supports; limit_isa caps that process-wide, e.g. to test the AVX2 or SSE4 code paths on an AVX-512
// machine (`edgeforge ... --isa AVX2`). Depends on Highway and kernels/cpu/sgemm.h.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ef::cpu {

// The best target in use now, as Highway names it ("AVX3_DL", "AVX3", "AVX2", "SSE4", "NEON", "EMU128", ...).
std::string active_isa();
// True when the kernels may use AVX-512 now: the target in use is one of Highway's AVX3 family (limit_isa can cap
// it below that). Hand-written AVX-512 paths check this and the CPU features they need beyond AVX-512F.
bool avx512_in_use();
// Targets this binary has code for and this CPU can run, best first.
std::vector<std::string> available_isas();
// Limits every kernel to the best available target no better than `name` (case-insensitive). Returns false,
// changing nothing, when `name` is not one of available_isas(). Call at start-up, before sessions are created.
bool limit_isa(std::string_view name);

}  // namespace ef::cpu
