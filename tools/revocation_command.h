#pragma once

// `trustgate revocation prefetch` (issue 3 part 4): seed an air-gapped
// mirror's --crl-dir from a connected host. The command-line glue over
// engine::PrefetchRevocationData.
//
//   trustgate revocation prefetch --mirror DIR --crl-dir OUT
//                                 [--config DIR] [--registry HOST]
//                                 [--at TIME] [--crl-timeout SECONDS]
//                                 [--ocsp-timeout SECONDS]
//
// It walks every signature of the mirror (envelope chains, and the TSA
// chains of timestamp tokens, completed with the `tsa` roots of the
// configuration when it loads), fetches every CRL (with its delta CRL) and
// OCSP response their non-root certificates name into OUT, and prints one
// line per URL:
//
//   fetched <kind> <url> -> <file>
//   FAILED  <kind> <url>: <why> (for <certificate subject>)
//
// then a summary line. <kind> is crl, delta-crl or ocsp. File names:
// `crl-<hex SHA-256 of the URL>.crl` (DER) and `ocsp-<hex SHA-256 of the
// responder URL, a newline and the DER request>.der`; any name works for
// `trustgate verify --crl-dir` (CRLs are matched by issuer, OCSP responses
// by CertID), these ones also match a CRL to its exact URL.
// Exit 0 when everything was fetched, 1 when something failed, 2 on a usage
// error or an unreadable mirror / unwritable OUT.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trustgate::tools {

struct RevocationCommandArgs;

// RevocationCommands owns the options of the `revocation` subcommand tree.
class RevocationCommands {
 public:
  // Registers `revocation` (with prefetch) on `app`. The report goes to
  // `out`, warnings and errors to `err` (both borrowed; they must outlive
  // this).
  RevocationCommands(CLI::App& app, std::FILE* out, std::FILE* err);
  ~RevocationCommands();
  RevocationCommands(const RevocationCommands&) = delete;
  RevocationCommands& operator=(const RevocationCommands&) = delete;

  // RunIfParsed runs the revocation subcommand the parsed command line
  // selected and returns its exit status; nullopt when it selected none.
  // Call after app.parse() succeeded.
  std::optional<int> RunIfParsed();

 private:
  int RunPrefetch();

  std::unique_ptr<RevocationCommandArgs> args_;
  std::FILE* out_;
  std::FILE* err_;
  CLI::App* revocation_ = nullptr;
  CLI::App* prefetch_ = nullptr;
};

// AddRevocationCommands registers `revocation prefetch` on `app` (the
// trustgate main app) and returns the object to run after parsing:
//   auto revocation = trustgate::tools::AddRevocationCommands(app);
//   ... app.parse(argc, argv) ...
//   if (auto rc = revocation->RunIfParsed()) return *rc;
std::unique_ptr<RevocationCommands> AddRevocationCommands(
    CLI::App& app, std::FILE* out = stdout, std::FILE* err = stderr);

// RunRevocationCli runs one command line in-process: `args` is argv
// without the program name, starting at "revocation" (e.g. {"revocation",
// "prefetch", "--mirror", dir, "--crl-dir", out}). Usage errors exit 2.
int RunRevocationCli(const std::vector<std::string>& args, std::FILE* out,
                     std::FILE* err);

}  // namespace trustgate::tools
