// Mutation test driver: mutates every seed model with ModelMutator and loads + runs each mutant in a forked child
// under a time limit (tests/fuzz/load_and_run.h). A mutant must end in success or one clean ef::Error; a crash,
// sanitizer report, leak (LSan), other exception or timeout fails the test and is saved with its seed and log.
// Depends on the library, model_mutator and POSIX fork/waitpid.
//
//   edgeforge_mutate [--count N] [--seed S] [--timeout SEC] [--jobs J] [--save DIR] [--replay] PATH...
//   PATH: .onnx files or folders searched recursively for them. Prints counts per outcome.
//   --replay: run each model once as it is, unmutated (saved mutants, after a fix).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "fuzz/load_and_run.h"
#include "model_mutator.h"

namespace fs = std::filesystem;

namespace {

// Child exit codes: success, a clean ef::Error (64 + its code), anything else thrown. Every other status (signal,
// sanitizer exit code 1, LSan 23) is a finding.
constexpr int kExitOk = 0;
constexpr int kExitEfError = 64;
constexpr int kExitOtherException = 90;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

[[noreturn]] void run_child(const std::string& bytes, const std::string& log_path, std::vector<std::string>& seeds) {
  // The child inherits every seed model (public models: 100+ MB); freeing them keeps LSan's exit-time heap scan
  // to what the mutant allocated (it was most of the time per mutant under ASan).
  std::vector<std::string>().swap(seeds);
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    dup2(fd, STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    close(fd);
  }
  if (!kAsan) {
    // Backstop against allocations the limits miss: they become std::bad_alloc (a finding), not a swapping
    // machine. ASan reserves terabytes of shadow address space, so it relies on its own allocator checks.
    rlimit as{uint64_t{6} << 30, uint64_t{6} << 30};
    setrlimit(RLIMIT_AS, &as);
  }
  int code = kExitOk;
  try {
    ef::robustness::load_and_run(bytes, ef::robustness::small_limits());
  } catch (const ef::Error& e) {
    std::fprintf(stderr, "ef::Error: %s\n", e.what());
    code = kExitEfError + static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    code = kExitOtherException;
  } catch (...) {
    std::fprintf(stderr, "unexpected non-standard exception\n");
    code = kExitOtherException;
  }
  std::fflush(nullptr);
  std::exit(code);  // not _exit: LSan checks for leaks at exit
}

struct Running {
  pid_t pid;
  size_t index;
  std::string model;
  ef::robustness::Mutant mutant;
  uint64_t seed;
  std::string log;
  std::chrono::steady_clock::time_point start;
};

}  // namespace

int main(int argc, char** argv) {
  int64_t count = 1000;
  uint64_t seed = 1;
  double timeout_s = 20;
  int jobs = 1;
  bool replay = false;
  std::string save_dir = "mutation-failures";
  std::vector<fs::path> models;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "edgeforge_mutate: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--count") count = std::stoll(value());
    else if (a == "--seed") seed = std::stoull(value());
    else if (a == "--timeout") timeout_s = std::stod(value());
    else if (a == "--jobs") jobs = std::max(1, std::stoi(value()));
    else if (a == "--save") save_dir = value();
    else if (a == "--replay") replay = true;
    else if (fs::is_directory(a)) {
      for (const auto& e : fs::recursive_directory_iterator(a)) {
        if (e.is_regular_file() && e.path().extension() == ".onnx") models.push_back(e.path());
      }
    } else if (fs::is_regular_file(a)) models.push_back(a);
    else {
      std::cerr << "edgeforge_mutate: no such model or folder '" << a << "'\n";
      return 2;
    }
  }
  std::sort(models.begin(), models.end());
  if (models.empty()) {
    std::cerr << "edgeforge_mutate: no .onnx models given\n";
    return 2;
  }
  std::vector<std::string> seeds;
  std::set<std::string> ops;
  for (const fs::path& p : models) {
    seeds.push_back(read_bytes(p));
    for (const std::string& op : ef::robustness::op_types_of(seeds.back())) ops.insert(op);
  }
  if (replay) count = static_cast<int64_t>(seeds.size());
  ef::robustness::ModelMutator mutator(std::vector<std::string>(ops.begin(), ops.end()));
  fs::create_directories(save_dir);
  const std::string tmp_dir = (fs::temp_directory_path() / fmt::format("ef-mutate-{}", getpid())).string();
  fs::create_directories(tmp_dir);

  std::map<std::string, int64_t> outcomes;
  int64_t failures = 0;
  std::vector<Running> running;
  size_t next = 0;
  size_t reported = 0;
  const auto started = std::chrono::steady_clock::now();
  auto finish = [&](Running& r, int status, bool timed_out) {
    std::string outcome;
    bool bad = false;
    if (timed_out) {
      outcome = "timeout";
      bad = true;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == kExitOk) {
      outcome = "ok";
    } else if (WIFEXITED(status) && WEXITSTATUS(status) >= kExitEfError && WEXITSTATUS(status) < kExitEfError + 16) {
      outcome = std::string("error:") + ef::error_code_name(static_cast<ef::ErrorCode>(WEXITSTATUS(status) - kExitEfError));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == kExitOtherException) {
      outcome = "unexpected-exception";
      bad = true;
    } else if (WIFSIGNALED(status)) {
      outcome = fmt::format("signal-{}", WTERMSIG(status));
      bad = true;
    } else {
      outcome = fmt::format("exit-{}", WEXITSTATUS(status));  // sanitizer or leak report
      bad = true;
    }
    ++outcomes[outcome];
    if (replay) std::cout << r.model << " -> " << outcome << "\n";
    // An internal error is clean (no crash) but names a bug: bad input must be reported as invalid or
    // unsupported. It is saved for triage like a failure, without failing the run.
    const bool internal = outcome == "error:internal error";
    if (bad || internal) {
      if (bad) ++failures;
      std::string base = fmt::format("{}/{}-{}", save_dir, bad ? "mutant" : "internal", r.index);
      { std::ofstream(base + ".onnx", std::ios::binary) << r.mutant.bytes; }
      std::ofstream info(base + ".txt");
      info << "outcome: " << outcome << "\nseed model: " << r.model << "\nmutation seed: " << r.seed
           << "\nmutations: " << r.mutant.description << "\n\n" << read_bytes(r.log);
      std::cerr << fmt::format("{} #{} {}: {} ({}) -> {}.onnx\n", bad ? "FAIL" : "internal", r.index, outcome,
                               r.model, r.mutant.description, base);
    }
    fs::remove(r.log);
  };
  while (next < static_cast<size_t>(count) || !running.empty()) {
    while (running.size() < static_cast<size_t>(jobs) && next < static_cast<size_t>(count)) {
      Running r;
      r.index = next++;
      const size_t m = r.index % seeds.size();
      r.model = models[m].string();
      r.seed = seed * 1'000'003 + r.index;
      r.mutant = replay ? ef::robustness::Mutant{seeds[m], "none (replay)"} : mutator.mutate(seeds[m], r.seed);
      r.log = fmt::format("{}/{}.log", tmp_dir, r.index);
      std::fflush(nullptr);
      r.pid = fork();
      if (r.pid < 0) {
        perror("fork");
        return 2;
      }
      if (r.pid == 0) run_child(r.mutant.bytes, r.log, seeds);
      r.start = std::chrono::steady_clock::now();
      running.push_back(std::move(r));
    }
    bool progressed = false;
    for (size_t k = 0; k < running.size();) {
      int status = 0;
      pid_t done = waitpid(running[k].pid, &status, WNOHANG);
      bool timed_out = false;
      if (done == 0) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - running[k].start).count();
        if (elapsed < timeout_s) {
          ++k;
          continue;
        }
        kill(running[k].pid, SIGKILL);
        waitpid(running[k].pid, &status, 0);
        timed_out = true;
      }
      finish(running[k], status, timed_out);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
      progressed = true;
    }
    if (!progressed) std::this_thread::sleep_for(std::chrono::microseconds(500));
    if (next >= reported + 1000) {
      reported = next;
      std::cerr << fmt::format("... {} mutants started, {} failures\n", next, failures);
    }
  }
  fs::remove_all(tmp_dir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << fmt::format("mutation test: {} mutants of {} models (seed {}) in {:.1f}s{}\n", count, models.size(),
                           seed, seconds, kAsan ? " under ASan" : "");
  for (const auto& [outcome, n] : outcomes) std::cout << fmt::format("  {:<28} {}\n", outcome, n);
  std::cout << fmt::format("  failures (crash/hang/sanitizer/other exception): {}\n", failures);
  return failures == 0 ? 0 : 1;
}
