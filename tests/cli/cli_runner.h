// Runs the real `edgeforge` binary from a test and captures its exit code and combined output.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace ef::test {

struct CommandResult {
  int exit_code;
  std::string output;  // stdout (+ stderr)
};

// `with_stderr` false drops stderr (for commands whose stdout must parse as JSON).
inline CommandResult run_cli(const std::string& args, bool with_stderr = true) {
  std::string cmd = std::string(EF_CLI_PATH) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace ef::test
