// `edgeforge`: one binary for the edge-deployment workflow. Each subcommand lives in its own file; this one only
// dispatches and turns every ef::Error into one line on stderr and a non-zero exit.
#include <iostream>

#include "cli_common.h"

int main(int argc, char** argv) {
  CLI::App app{"EdgeForge: inspect, run, benchmark, optimize, quantize and compare ONNX models on CPU."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgeforge 0.1.0");
  ef::cli::add_inspect(app);
  ef::cli::add_run(app);
  ef::cli::add_bench(app);
  ef::cli::add_optimize(app);
  ef::cli::add_quantize(app);
  ef::cli::add_compare(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ef::Error& e) {
    std::cerr << "edgeforge: error: " << e.what() << "\n";
    return static_cast<int>(e.code()) + 2;
  } catch (const std::exception& e) {
    std::cerr << "edgeforge: internal error: " << e.what() << "\n";
    return 10;
  }
  return 0;
}
