// The graph optimizer's pass interface and the PassManager that runs an ordered list of passes to a fixed point.
//
// A pass rewrites one Graph in place and returns how many rewrites it made (0 = nothing to do), so the manager
// knows when the pipeline has converged and can report per-pass counts. Passes work on the top-level graph only;
// subgraph bodies (If/Loop/Scan) are left as written, and any value a subgraph captures by name is never renamed,
// bypassed or removed. Depends on core, ir, ops and runtime/node_runner; never on onnx/ or the CLI.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace ef {

// Shared state for one PassManager run.
struct PassContext {
  // Constant folding never materializes a node whose outputs hold more elements than this in total.
  int64_t fold_max_elements = int64_t{1} << 20;
  // Remaining rewrites allowed in this run (< 0: unlimited). Lets a user bisect a miscompile down to one rewrite.
  int64_t rewrites_left = -1;
  // The model's standard-domain opset: standard nodes a rewrite creates follow their schema at this opset (a rewrite
  // whose target op does not exist there is skipped).
  int64_t opset = 13;

  // Every pass calls this right before each rewrite and skips the rewrite when it returns false.
  bool allow_rewrite() {
    if (rewrites_left == 0) return false;
    if (rewrites_left > 0) --rewrites_left;
    return true;
  }
  bool budget_exhausted() const { return rewrites_left == 0; }
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual const char* name() const = 0;
  // 1: basic (semantics-preserving cleanups any runtime benefits from); 2: extended (fusions, layout).
  virtual int level() const = 0;
  // What the pass assumes about the graph beyond verify_graph()'s invariants (for docs and --list output).
  virtual const char* precondition() const = 0;
  // Rewrites `graph`; returns the number of rewrites made. Must leave Value::producer consistent and the graph
  // valid for verify_graph(); must throw ef::Error rather than crash on graphs it does not understand.
  virtual int run(Graph& graph, PassContext& ctx) = 0;
};

struct PassOptions {
  int level = 1;
  int max_iterations = 10;     // rounds over the pass list before giving up on a fixed point
  int64_t max_rewrites = -1;   // < 0: unlimited
  int64_t fold_max_elements = int64_t{1} << 20;
  int64_t opset = 13;  // standard-domain opset of the model (optimize_model takes it from the Model)
};

struct PassCount {
  std::string name;
  int64_t rewrites = 0;
};

struct PassReport {
  std::vector<PassCount> passes;  // pipeline order, summed over iterations
  int iterations = 0;
  int64_t total_rewrites = 0;
  bool converged = false;        // the last round changed nothing
  bool budget_exhausted = false;  // max_rewrites stopped further rewrites
};

class PassManager {
 public:
  explicit PassManager(std::vector<std::unique_ptr<Pass>> passes) : passes_(std::move(passes)) {}
  // Runs the passes in order, repeatedly until a round makes no rewrite or max_iterations is reached. Verifies
  // the graph before the first pass and after every pass that changed something; an invalid graph after a pass
  // is a kInternal error naming the pass. Unreferenced values are dropped at the end.
  PassReport run(Graph& graph, const PassOptions& options) const;
  const std::vector<std::unique_ptr<Pass>>& passes() const { return passes_; }

 private:
  std::vector<std::unique_ptr<Pass>> passes_;
};

// The ordered pass list for a level (pipeline.cpp): level 2 runs everything level 1 does plus extended passes.
std::vector<std::unique_ptr<Pass>> passes_for_level(int level);

// Convenience: passes_for_level(options.level) run by a PassManager on model.graph, with options.opset taken from
// the model. Declares the ai.edgeforge opset import when fused nodes remain.
PassReport optimize_model(Model& model, const PassOptions& options);

// Expands every ai.edgeforge node (FusedConv, FusedGemm, Gelu) back into standard nodes (Conv/Gemm, Add, the
// activation's standard op or decomposition) valid under the model's standard opset, and drops the ai.edgeforge
// opset import. Returns the number of fused nodes expanded. Throws kUnsupported when the opset lacks an op needed.
int unfuse_model(Model& model);

// Fixes graph input dims before optimizing (`edgeforge optimize --input-shape`): each named input must exist and
// the shape must agree with its declared rank and known dims. Inference then proves the shapes that depend on them.
void fix_input_shapes(Graph& graph, const std::map<std::string, Shape>& shapes);

// Pass factories, one per file in src/passes/.
std::unique_ptr<Pass> make_identity_elimination();
std::unique_ptr<Pass> make_noop_elimination();
std::unique_ptr<Pass> make_constant_folding();
std::unique_ptr<Pass> make_duplicate_initializer_elimination();
std::unique_ptr<Pass> make_common_subexpression_elimination();
std::unique_ptr<Pass> make_dead_node_elimination();
std::unique_ptr<Pass> make_unused_initializer_elimination();
std::unique_ptr<Pass> make_conv_batchnorm_folding();
std::unique_ptr<Pass> make_convtranspose_batchnorm_folding();
std::unique_ptr<Pass> make_gemm_batchnorm_folding();
std::unique_ptr<Pass> make_conv_affine_folding();
std::unique_ptr<Pass> make_matmul_add_fusion();
std::unique_ptr<Pass> make_scale_shift_merging();
std::unique_ptr<Pass> make_transpose_merging();
std::unique_ptr<Pass> make_reshape_merging();
std::unique_ptr<Pass> make_pad_folding();
std::unique_ptr<Pass> make_concat_zeros_to_pad();
std::unique_ptr<Pass> make_hardsigmoid_fusion();
std::unique_ptr<Pass> make_gelu_fusion();
std::unique_ptr<Pass> make_layernorm_fusion();
std::unique_ptr<Pass> make_residual_add_fusion();
std::unique_ptr<Pass> make_activation_fusion();
std::unique_ptr<Pass> make_conv_maxpool_fusion();
std::unique_ptr<Pass> make_conv_depthwise_fusion();
std::unique_ptr<Pass> make_qdq_fusion();
std::unique_ptr<Pass> make_qconv_add_fusion();

}  // namespace ef
