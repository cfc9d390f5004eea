#pragma once

// `trustgate policy lint | diff | drift` (issue 5, parts 1-3): the
// command-line glue over policy/lint.h and policy/diff.h.
//
//   trustgate policy lint [--config DIR | --policy FILE --trust-store DIR]
//                         [--at TIME] [--format text|json]
//     exit 0 clean, 1 warnings only, 2 errors
//   trustgate policy diff OLD NEW [--format text|json] [--allow RULE...]
//                         [--managed-anchors DIR]
//     exit 0 nothing weakens (or only allowed rules), 1 something weakens,
//     2 bad input
//   trustgate policy drift BASELINE ENV... [--format text|json]
//                         [--allow RULE...] [--managed-anchors DIR] [--all]
//     exit as diff, over every environment
//
// JSON shapes (stable):
//   lint:  {"policy", "storesChecked", "errors":[F...], "warnings":[F...]}
//          F = {"rule","statement","message","fix"}
//   diff:  {"changes":[C...], "weakens":bool}
//          C = {"rule","scope","statement","from","to","effect","message",
//               "allowed"}
//   drift: {"baseline", "environments":[{"name","changes":[C...],
//           "weakens":bool}], "weakens":bool}

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trustgate::tools {

struct PolicyCommandArgs;

// PolicyCommands owns the options of the `policy` subcommand tree.
class PolicyCommands {
 public:
  // Registers `policy` (with lint, diff, drift) on `app`. Reports go to
  // `out`, diagnostics to `err` (both borrowed; they must outlive this).
  PolicyCommands(CLI::App& app, std::FILE* out, std::FILE* err);
  ~PolicyCommands();
  PolicyCommands(const PolicyCommands&) = delete;
  PolicyCommands& operator=(const PolicyCommands&) = delete;

  // RunIfParsed runs the policy subcommand that the parsed command line
  // selected and returns its exit status; nullopt when the command line
  // selected no policy subcommand. Call after app.parse() succeeded.
  std::optional<int> RunIfParsed();

 private:
  int RunLint();
  int RunDiff();
  int RunDrift();

  std::unique_ptr<PolicyCommandArgs> args_;
  std::FILE* out_;
  std::FILE* err_;
  CLI::App* policy_ = nullptr;
  CLI::App* lint_ = nullptr;
  CLI::App* diff_ = nullptr;
  CLI::App* drift_ = nullptr;
};

// AddPolicyCommands registers `policy lint|diff|drift` on `app` (the
// trustgate main app) and returns the object to run after parsing:
//   auto policy = trustgate::tools::AddPolicyCommands(app);
//   ... app.parse(argc, argv) ...
//   if (auto rc = policy->RunIfParsed()) return *rc;
std::unique_ptr<PolicyCommands> AddPolicyCommands(CLI::App& app,
                                                  std::FILE* out = stdout,
                                                  std::FILE* err = stderr);

// RunPolicyCli runs one command line in-process: `args` is argv without
// the program name, starting at "policy" (e.g. {"policy", "lint",
// "--config", dir}). A command-line usage error exits 2.
int RunPolicyCli(const std::vector<std::string>& args, std::FILE* out,
                 std::FILE* err);

}  // namespace trustgate::tools
