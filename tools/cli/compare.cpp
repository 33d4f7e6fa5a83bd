// `edgeforge compare`: being built (issue 5); registered here so the dispatcher and --help list it.
#include "cli_common.h"

namespace ef::cli {

CLI::App* add_compare(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "(not built yet: issue 5)");
  cmd->allow_extras();
  cmd->callback([] { fail(ErrorCode::kUnsupported, "'compare' is not built yet"); });
  return cmd;
}

}  // namespace ef::cli
