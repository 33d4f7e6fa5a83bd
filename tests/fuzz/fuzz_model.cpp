// libFuzzer target: arbitrary bytes -> ONNX import -> session creation (type/shape inference, folding, kernel
// choice, memory plan) -> one run on small inputs, under small resource limits (load_and_run.h).
// The contract under test: bad input ends in an ef::Error, never a crash, a sanitizer report, another exception
// type, a huge allocation or a hang (libFuzzer's -timeout / -rss_limit_mb catch the last two).
#include <cstddef>
#include <cstdint>
#include <string>

#include "load_and_run.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ef::SessionOptions options = ef::robustness::small_limits();
  try {
    ef::robustness::load_and_run(std::string(reinterpret_cast<const char*>(data), size), options);
  } catch (const ef::Error&) {
  }
  return 0;
}
