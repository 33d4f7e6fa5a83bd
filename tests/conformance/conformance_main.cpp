// Runs ONNX backend test cases (model.onnx + test_data_set_*/input_N.pb, output_N.pb) through a Session and
// compares like ONNX's backend runner: rtol 1e-3, atol 1e-7 for floats (NaN == NaN), exact for integers and bools.
// Each case runs in a forked child with a time limit, so a crash or hang is a reported failure, not a lost run.
// --in-process runs them in this process instead, for sanitizer builds: there a crash is a failure of the whole run
// anyway, LSan then checks the cases for leaks at exit (a child leaves with _exit), and forking a process of an
// ASan build costs ~0.3 s per case (932 node cases: 263 s forked, 2 s in process).
// With --expect, results are checked against the committed expectation file: a case that stops passing, or
// starts passing without being recorded, fails the run.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "edgeforge/session.h"
#include "onnx/model_io.h"
#include "onnx/tensor_proto.h"
#include "passes/pass.h"

namespace fs = std::filesystem;
using namespace ef;

namespace {

struct Result {
  std::string status;  // pass | fail | unsupported
  std::string reason;
};

std::vector<std::string> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> files;
  for (int i = 0;; ++i) {
    fs::path p = dir / fmt::format("{}_{}.pb", prefix, i);
    if (!fs::exists(p)) break;
    files.push_back(p.string());
  }
  return files;
}

std::string compare(const Tensor& got, const Tensor& want, const std::string& name) {
  if (got.dtype() != want.dtype()) {
    return fmt::format("output '{}': dtype {} vs expected {}", name, dtype_name(got.dtype()), dtype_name(want.dtype()));
  }
  if (got.shape() != want.shape()) {
    return fmt::format("output '{}': shape {} vs expected {}", name, shape_str(got.shape()), shape_str(want.shape()));
  }
  bool is_float = dtype_is_float(want.dtype());
  int64_t bad = 0;
  int64_t first_bad = -1;
  double worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    bool ok;
    if (is_float) {
      double a = got.value_as_double(i);
      double b = want.value_as_double(i);
      if (std::isnan(a) || std::isnan(b)) {
        ok = std::isnan(a) && std::isnan(b);
      } else if (std::isinf(a) || std::isinf(b)) {
        ok = a == b;
      } else {
        double diff = std::fabs(a - b);
        ok = diff <= 1e-7 + 1e-3 * std::fabs(b);
        worst = std::max(worst, diff);
      }
    } else {
      ok = std::memcmp(static_cast<const uint8_t*>(got.raw()) + i * dtype_size(got.dtype()),
                       static_cast<const uint8_t*>(want.raw()) + i * dtype_size(want.dtype()),
                       dtype_size(want.dtype())) == 0;
    }
    if (!ok) {
      if (first_bad < 0) first_bad = i;
      ++bad;
    }
  }
  if (bad == 0) return "";
  return fmt::format("output '{}': {} of {} elements differ (first at {}: got {} expected {}; max abs diff {:.3g})",
                     name, bad, want.numel(), first_bad, got.value_as_double(first_bad),
                     want.value_as_double(first_bad), worst);
}

// ONNX 1.12's test generator stored bfloat16 test tensors with the UINT16 type tag (the payload is the bf16 bit
// pattern). Where the model declares bfloat16, the data is taken as what it is.
Tensor bfloat16_quirk(const Tensor& t, DType declared) {
  if (declared != DType::kBFloat16 || t.dtype() != DType::kUInt16) return t;
  return Tensor::from_bytes(DType::kBFloat16, t.shape(), t.raw(), t.nbytes());
}

// --optimize LEVEL: each case's model is run through the optimizer at that level first (0: as written), so the
// suite checks that optimization keeps every passing case passing.
int g_optimize_level = 0;
// --reference-kernels: run every node on its reference kernel (the oracle) instead of the fast CPU kernels.
bool g_reference_kernels = false;

Result run_case(const fs::path& dir) {
  std::unique_ptr<Session> session;
  try {
    SessionOptions options;
    options.num_threads = 1;
    options.optimization_level = 0;  // the runner optimizes (or not) itself, per --optimize
    options.reference_kernels = g_reference_kernels;
    Model model = load_model((dir / "model.onnx").string());
    if (g_optimize_level > 0) {
      PassOptions passes;
      passes.level = g_optimize_level;
      optimize_model(model, passes);
    }
    session = Session::from_model(std::move(model), options);
  } catch (const Error& e) {
    return {e.code() == ErrorCode::kUnsupported ? "unsupported" : "fail", fmt::format("load: {}", e.what())};
  }
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0) {
      sets.push_back(entry.path());
    }
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {"fail", "no test_data_set_* folder"};
  for (const fs::path& set : sets) {
    NamedTensors inputs;
    std::vector<Tensor> expected;
    try {
      auto input_files = numbered_files(set, "input");
      if (input_files.size() > session->inputs().size()) {
        return {"fail", fmt::format("{} input files for {} model inputs", input_files.size(), session->inputs().size())};
      }
      for (size_t i = 0; i < input_files.size(); ++i) {
        inputs.emplace_back(session->inputs()[i].name,
                            bfloat16_quirk(read_tensor_pb(input_files[i]), session->inputs()[i].dtype));
      }
      for (size_t i = 0; auto& f : numbered_files(set, "output")) {
        DType declared = i < session->outputs().size() ? session->outputs()[i].dtype : DType::kUndefined;
        expected.push_back(bfloat16_quirk(read_tensor_pb(f), declared));
        ++i;
      }
    } catch (const Error& e) {
      return {"unsupported", fmt::format("test data is not a plain tensor (sequence/optional?): {}", e.what())};
    }
    std::vector<Tensor> got;
    try {
      got = session->run(inputs);
    } catch (const Error& e) {
      return {e.code() == ErrorCode::kUnsupported ? "unsupported" : "fail", fmt::format("run: {}", e.what())};
    }
    if (got.size() != expected.size()) {
      return {"fail", fmt::format("{} outputs, expected {}", got.size(), expected.size())};
    }
    for (size_t i = 0; i < got.size(); ++i) {
      std::string diff = compare(got[i], expected[i], session->outputs()[i].name);
      if (!diff.empty()) return {"fail", set.filename().string() + ": " + diff};
    }
    // Plan-time inference must agree with what ran wherever it claimed to know a dim.
    std::vector<IoInfo> planned = session->planned_outputs();
    for (size_t i = 0; i < planned.size() && i < got.size(); ++i) {
      bool agrees = planned[i].dtype == got[i].dtype() || planned[i].dtype == DType::kUndefined;
      if (planned[i].has_shape) {
        agrees &= planned[i].dims.size() == got[i].rank();
        for (size_t d = 0; agrees && d < planned[i].dims.size(); ++d) {
          agrees &= planned[i].dims[d] < 0 || planned[i].dims[d] == got[i].dim(d);
        }
      }
      if (!agrees) {
        return {"fail", fmt::format("output '{}': inference planned {}{}, the run produced {}{}", planned[i].name,
                                    dtype_name(planned[i].dtype), planned[i].shape_str(), dtype_name(got[i].dtype()),
                                    shape_str(got[i].shape()))};
      }
    }
  }
  return {"pass", ""};
}

// Runs one case here (--in-process): an exception other than ef::Error is a failure, as it is in a child.
Result run_here(const fs::path& dir) {
  try {
    return run_case(dir);
  } catch (const std::exception& e) {
    return {"fail", fmt::format("unexpected exception: {}", e.what())};
  }
}

// Runs one case in a child process: a crash or a hang becomes a failure with a reason.
Result run_isolated(const fs::path& dir, int timeout_s) {
  int fds[2];
  if (pipe(fds) != 0) return run_case(dir);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(static_cast<unsigned>(timeout_s));
    Result r = run_case(dir);
    std::string msg = r.status + "\n" + r.reason;
    std::replace(msg.begin() + static_cast<long>(r.status.size()) + 1, msg.end(), '\n', ' ');
    ssize_t ignored = write(fds[1], msg.data(), msg.size());
    (void)ignored;
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGALRM) return {"fail", fmt::format("timed out after {} s", timeout_s)};
    return {"fail", fmt::format("crashed with signal {} ({})", sig, strsignal(sig))};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) return {"fail", fmt::format("exited with {}", WEXITSTATUS(status))};
  size_t nl = out.find('\n');
  if (nl == std::string::npos) return {"fail", "no result from the test process"};
  return {out.substr(0, nl), out.substr(nl + 1)};
}

std::map<std::string, Result> read_expectations(const std::string& path) {
  std::map<std::string, Result> exp;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string name, status;
    ss >> name >> status;
    std::string reason;
    std::getline(ss, reason);
    if (!reason.empty() && reason[0] == ' ') reason.erase(0, 1);
    exp[name] = {status, reason};
  }
  return exp;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "/usr/share/libonnx-testdata/data";
  std::vector<std::string> suites;
  std::string filter, expect, write_expect;
  bool verbose = false;
  int timeout_s = 120;
  bool in_process = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data") data = next();
    else if (a == "--suite") suites.push_back(next());
    else if (a == "--filter") filter = next();
    else if (a == "--expect") expect = next();
    else if (a == "--write-expect") write_expect = next();
    else if (a == "--timeout") timeout_s = std::stoi(next());
    else if (a == "--optimize") g_optimize_level = std::stoi(next());
    else if (a == "--reference-kernels") g_reference_kernels = true;
    else if (a == "--in-process") in_process = true;
    else if (a == "-v" || a == "--verbose") verbose = true;
    else {
      std::cerr << "usage: edgeforge_conformance [--data DIR] [--suite NAME]... [--filter SUBSTR] [-v]\n"
                   "       [--expect FILE] [--write-expect FILE] [--timeout S] [--optimize LEVEL]\n"
                   "       [--reference-kernels] [--in-process]\n";
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (suites.empty()) suites = {"node", "pytorch-converted", "pytorch-operator", "simple"};
  std::map<std::string, Result> expected = expect.empty() ? std::map<std::string, Result>{} : read_expectations(expect);
  std::map<std::string, Result> results;
  int pass = 0, fail = 0, unsupported = 0;
  std::vector<std::string> problems;
  for (const std::string& suite : suites) {
    fs::path root = fs::path(data) / suite;
    if (!fs::is_directory(root)) {
      std::cerr << "no such suite folder: " << root << "\n";
      return 2;
    }
    std::vector<fs::path> cases;
    for (const auto& e : fs::directory_iterator(root)) {
      if (e.is_directory() && e.path().filename().string().find(filter) != std::string::npos) cases.push_back(e.path());
    }
    std::sort(cases.begin(), cases.end());
    for (const fs::path& c : cases) {
      std::string name = suite + "/" + c.filename().string();
      Result r = in_process ? run_here(c) : run_isolated(c, timeout_s);
      results[name] = r;
      (r.status == "pass" ? pass : r.status == "unsupported" ? unsupported : fail)++;
      if (verbose || (r.status != "pass" && expect.empty() && write_expect.empty())) {
        std::cout << (r.status == "pass" ? "PASS " : r.status == "fail" ? "FAIL " : "UNSUP ") << name
                  << (r.reason.empty() ? "" : "  " + r.reason) << "\n";
      }
      if (!expect.empty()) {
        auto it = expected.find(name);
        if (it == expected.end()) {
          problems.push_back(fmt::format("{}: not in the expectation file (now {})", name, r.status));
        } else if (it->second.status == "pass" && r.status != "pass") {
          problems.push_back(fmt::format("REGRESSION {}: expected pass, got {}: {}", name, r.status, r.reason));
        } else if (it->second.status != "pass" && r.status == "pass" && g_optimize_level == 0) {
          // (Under --optimize only regressions count: the expectations describe the unoptimized runtime.)
          problems.push_back(fmt::format("NEWLY PASSING {}: record it in the expectation file "
                                         "(scripts/conformance-update)", name));
        }
      }
    }
  }
  if (!write_expect.empty()) {
    std::map<std::string, Result> merged = read_expectations(write_expect);
    for (const auto& [k, v] : results) merged[k] = v;
    std::ofstream out(write_expect);
    out << "# ONNX backend conformance expectations: <suite>/<case> pass|fail|unsupported [reason]\n"
           "# Regenerate with scripts/conformance-update; CTest fails on any change.\n";
    for (const auto& [k, v] : merged) out << k << " " << v.status << (v.reason.empty() ? "" : " " + v.reason) << "\n";
  }
  for (const auto& p : problems) std::cout << p << "\n";
  std::cout << fmt::format("conformance: {} passed, {} failed, {} unsupported, {} total\n", pass, fail, unsupported,
                           pass + fail + unsupported);
  return problems.empty() ? 0 : 1;
}
