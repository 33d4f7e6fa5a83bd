// Dynamic quantization rewrite (see dynamic.h).
#include "quant/dynamic.h"

namespace ef {

DynamicReport quantize_dynamic(Model& model, const QuantConfig& config) {
  fail(ErrorCode::kUnsupported, "dynamic quantization is not built yet");
}

}  // namespace ef
