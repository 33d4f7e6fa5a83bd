// `edgeforge quantize`: being built (issue 5); registered here so the dispatcher and --help list it.
#include "cli_common.h"

namespace ef::cli {

CLI::App* add_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "(not built yet: issue 5)");
  cmd->allow_extras();
  cmd->callback([] { fail(ErrorCode::kUnsupported, "'quantize' is not built yet"); });
  return cmd;
}

}  // namespace ef::cli
