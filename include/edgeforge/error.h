// Public error type. EdgeForge reports every failure -- bad model, bad input, unsupported feature -- as an
// ef::Error exception carrying a code and a message that names the element at fault. The library never aborts
// on bad input; the CLI catches Error at the top and prints one line.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace ef {

enum class ErrorCode {
  kInvalidModel,     // the model file or graph is malformed
  kInvalidArgument,  // caller input (shape, dtype, name, option) is wrong
  kUnsupported,      // valid ONNX we do not implement
  kOutOfMemory,      // a resource limit would be exceeded
  kIo,               // a file could not be read or written
  kInternal,         // a bug in EdgeForge
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

  // Returns a copy with `context` prepended ("node 'conv1' (Conv): <message>").
  Error with_context(const std::string& context) const { return Error(code_, context + ": " + what()); }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, std::string message) { throw Error(code, std::move(message)); }

}  // namespace ef

// Checks a precondition on model or caller data; throws ef::Error with the given code and message otherwise.
#define EF_CHECK(cond, code, ...)                                         \
  do {                                                                    \
    if (!(cond)) ::ef::fail(::ef::ErrorCode::code, ::fmt::format(__VA_ARGS__)); \
  } while (0)
