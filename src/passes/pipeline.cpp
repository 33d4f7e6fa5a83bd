// The ordered pass list per optimization level. Order matters for how fast the pipeline converges, not for
// correctness: cheap bypasses first expose constants to folding, folding exposes duplicates to merging, and the
// dead-code passes sweep up what the others left behind.
#include "passes/pass.h"

namespace ef {

std::vector<std::unique_ptr<Pass>> passes_for_level(int level) {
  EF_CHECK(level == 1 || level == 2, kInvalidArgument, "optimization level must be 1 or 2, got {}", level);
  std::vector<std::unique_ptr<Pass>> passes;
  passes.push_back(make_identity_elimination());
  passes.push_back(make_noop_elimination());
  passes.push_back(make_constant_folding());
  // Fusions run after folding so weights computed by constant subgraphs are initializers they can fold into.
  if (level >= 2) passes.push_back(make_conv_batchnorm_folding());
  passes.push_back(make_duplicate_initializer_elimination());
  passes.push_back(make_common_subexpression_elimination());
  passes.push_back(make_dead_node_elimination());
  passes.push_back(make_unused_initializer_elimination());
  return passes;
}

}  // namespace ef
