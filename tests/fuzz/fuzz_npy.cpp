// libFuzzer target: arbitrary bytes -> the .npy parser (src/io/npy.cpp). Depends on the library only.
// Any outcome but a tensor or an ef::Error (crash, sanitizer report, other exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    ef::Tensor t = ef::parse_npy(bytes, "fuzz input");
    // The parsed tensor must be self-consistent: round-trip it and touch every byte.
    std::string again = ef::serialize_npy(t);
    ef::Tensor back = ef::parse_npy(again, "round trip");
    if (back.nbytes() != t.nbytes()) __builtin_trap();
  } catch (const ef::Error&) {
  }
  return 0;
}
