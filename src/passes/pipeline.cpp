// The ordered pass list per optimization level. Order matters for how fast the pipeline converges, not for
// correctness: cheap bypasses first expose constants to folding, folding exposes duplicates to merging, and the
// dead-code passes sweep up what the others left behind.
#include "passes/pass.h"

namespace ef {

std::vector<std::unique_ptr<Pass>> passes_for_level(int level) {
  EF_CHECK(level == 1 || level == 2, kInvalidArgument, "optimization level must be 1 or 2, got {}", level);
  std::vector<std::unique_ptr<Pass>> passes;
  // QDQ patterns first: constant folding would turn DequantizeLinear(weights) into float initializers and the
  // float fusions would claim their Conv.
  if (level >= 2) {
    passes.push_back(make_qdq_fusion());
    passes.push_back(make_qconv_add_fusion());  // on qdq-fusion's QLinearConv and QLinearAdd
  }
  passes.push_back(make_identity_elimination());
  passes.push_back(make_noop_elimination());
  passes.push_back(make_constant_folding());
  if (level >= 2) {
    // Fusions run after folding so weights computed by constant subgraphs are initializers they can fold into.
    // Weight folds (BN, per-channel affine) come before anything creates fused nodes, which they do not look into;
    // residual fusion comes before activation fusion so Conv + Add + Relu ends as one node.
    passes.push_back(make_conv_batchnorm_folding());
    passes.push_back(make_convtranspose_batchnorm_folding());
    passes.push_back(make_gemm_batchnorm_folding());
    passes.push_back(make_conv_affine_folding());
    passes.push_back(make_matmul_add_fusion());
    // Pattern fusions before scale-shift merging, which would otherwise absorb their constant steps (the / 6 of
    // hard-sigmoid, GELU's * 0.5) into longer chains.
    passes.push_back(make_hardsigmoid_fusion());
    passes.push_back(make_gelu_fusion());
    passes.push_back(make_layernorm_fusion());
    passes.push_back(make_scale_shift_merging());
    passes.push_back(make_transpose_merging());
    passes.push_back(make_reshape_merging());
    passes.push_back(make_pad_folding());
    passes.push_back(make_concat_zeros_to_pad());
    passes.push_back(make_residual_add_fusion());
    passes.push_back(make_activation_fusion());
    passes.push_back(make_conv_maxpool_fusion());  // after activation fusion: Conv + Relu + MaxPool as one node
    passes.push_back(make_conv_depthwise_fusion());  // likewise: both convs keep their activations
  }
  passes.push_back(make_duplicate_initializer_elimination());
  passes.push_back(make_common_subexpression_elimination());
  passes.push_back(make_dead_node_elimination());
  passes.push_back(make_unused_initializer_elimination());
  return passes;
}

}  // namespace ef
