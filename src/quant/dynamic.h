// Dynamic quantization: weights stored as int8, activations quantized at run time. Each MatMul / Gemm with a float
// constant weight becomes the pattern ONNX Runtime's dynamic quantizer emits:
//   x -> DynamicQuantizeLinear -> (x_q, x_scale, x_zp)
//   MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(float) -> Mul(x_scale * W_scale) [-> Add(bias) for Gemm]
// Conv stays float (ConvInteger has no per-channel weight scale in ONNX, and ORT's CPU kernels run the QDQ form
// faster). The weight scale is per output column with --per-channel.
#pragma once
#include <string>
#include <vector>

#include "quant/qdq_plan.h"

namespace ef {

struct DynamicReport {
  std::vector<std::string> nodes;     // labels of the nodes rewritten
  std::vector<std::string> excluded;  // left float by the exclusions
};

DynamicReport quantize_dynamic(Model& model, const QuantConfig& config);

}  // namespace ef
