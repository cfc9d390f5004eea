#pragma once

// `trustgate rotation impact | status` (issue 5, part 5): the command-line
// glue over engine/rotation.h.
//
//   trustgate rotation impact --index FILE
//                             (--remove-anchor CERT | --remove-store NAME)
//                             [--format text|json]
//     exit 0 nothing would stop verifying, 1 something would, 2 bad input
//   trustgate rotation status --index FILE --anchor CERT
//                             [--format text|json]
//     exit 0 (whatever the answer), 2 bad input
//
// CERT is a PEM (several certificates allowed: each is an anchor being
// removed / asked about) or DER file. NAME is "ca:<name>" or
// "signingAuthority:<name>".
//
// JSON shapes (stable; fields may be added):
//   impact: {"impacted":[{"repository","artifacts":[{"digest","tags",
//            "signature","anchor","trustStore"}]}],"count":N,
//            "verified":M,"removed":{"anchors":[{"fingerprint","subject"}]}
//            | {"store":NAME}}
//   status: {"anchors":[{"fingerprint","subject","notAfter"}],"verified":M,
//            "dependent":D,"using":U,"canRemove":bool,
//            "repositories":[{"repository","dependent","using"}]}
// "signature", "anchor" and "trustStore" are "" when the index recorded
// none for the artifact.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trustgate::tools {

struct RotationCommandArgs;

// RotationCommands owns the options of the `rotation` subcommand tree.
class RotationCommands {
 public:
  // Registers `rotation` (with impact, status) on `app`. Reports go to
  // `out`, diagnostics to `err` (both borrowed; they must outlive this).
  RotationCommands(CLI::App& app, std::FILE* out, std::FILE* err);
  ~RotationCommands();
  RotationCommands(const RotationCommands&) = delete;
  RotationCommands& operator=(const RotationCommands&) = delete;

  // RunIfParsed runs the rotation subcommand that the parsed command line
  // selected and returns its exit status; nullopt when the command line
  // selected no rotation subcommand. Call after app.parse() succeeded.
  std::optional<int> RunIfParsed();

 private:
  int RunImpact();
  int RunStatus();

  std::unique_ptr<RotationCommandArgs> args_;
  std::FILE* out_;
  std::FILE* err_;
  CLI::App* rotation_ = nullptr;
  CLI::App* impact_ = nullptr;
  CLI::App* status_ = nullptr;
};

// AddRotationCommands registers `rotation impact|status` on `app` (the
// trustgate main app) and returns the object to run after parsing:
//   auto rotation = trustgate::tools::AddRotationCommands(app);
//   ... app.parse(argc, argv) ...
//   if (auto rc = rotation->RunIfParsed()) return *rc;
std::unique_ptr<RotationCommands> AddRotationCommands(CLI::App& app,
                                                      std::FILE* out = stdout,
                                                      std::FILE* err = stderr);

// RunRotationCli runs one command line in-process: `args` is argv without
// the program name, starting at "rotation" (e.g. {"rotation", "impact",
// "--index", file, "--remove-store", "ca:old"}). A command-line usage
// error exits 2.
int RunRotationCli(const std::vector<std::string>& args, std::FILE* out,
                   std::FILE* err);

}  // namespace trustgate::tools
