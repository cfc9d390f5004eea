#include "tools/revocation_command.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <utility>

#include "base/time.h"
#include "engine/revocation.h"
#include "policy/trust_store.h"
#include "tools/command_util.h"

namespace trustgate::tools {

struct RevocationCommandArgs {
  std::string mirror;
  std::string out_dir;
  std::string config;
  std::string registry;
  std::string at;
  double crl_timeout = 5.0;
  double ocsp_timeout = 2.0;
};

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;

int Usage(std::FILE* err, const std::string& message) {
  return UsageError(err, "revocation prefetch", message);
}

std::optional<std::chrono::milliseconds> Timeout(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 3600) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::llround(seconds * 1000)));
}

}  // namespace

RevocationCommands::RevocationCommands(CLI::App& app, std::FILE* out,
                                       std::FILE* err)
    : args_(std::make_unique<RevocationCommandArgs>()), out_(out), err_(err) {
  RevocationCommandArgs& a = *args_;
  revocation_ = app.add_subcommand(
      "revocation", "revocation data for air-gapped mirrors: prefetch");
  revocation_->require_subcommand(1);
  prefetch_ = revocation_->add_subcommand(
      "prefetch",
      "fetch every CRL and OCSP response the mirror's signing and TSA "
      "certificates name into a --crl-dir for `trustgate verify --offline`; "
      "exit 0 all fetched, 1 some failed");
  prefetch_->add_option("--mirror", a.mirror, "mirror root")->required();
  prefetch_
      ->add_option("--crl-dir", a.out_dir,
                   "output directory (created; existing files are replaced)")
      ->required();
  prefetch_->add_option(
      "--config", a.config,
      "Notation config dir whose tsa trust stores complete TSA chains "
      "(default: $NOTATION_CONFIG, $XDG_CONFIG_HOME/notation, "
      "~/.config/notation; optional)");
  prefetch_->add_option("--registry", a.registry,
                        "registry host prefixed to repository names");
  prefetch_->add_option(
      "--at", a.at,
      "OCSP responses must be current at this RFC 3339 time (default: now)");
  prefetch_->add_option("--crl-timeout", a.crl_timeout,
                        "seconds per CRL request (default 5, as Notation)");
  prefetch_->add_option("--ocsp-timeout", a.ocsp_timeout,
                        "seconds per OCSP request (default 2, as Notation)");
}

RevocationCommands::~RevocationCommands() = default;

std::optional<int> RevocationCommands::RunIfParsed() {
  if (revocation_ == nullptr || !revocation_->parsed()) {
    return std::nullopt;
  }
  if (prefetch_->parsed()) {
    return RunPrefetch();
  }
  return Usage(err_, "choose prefetch");
}

int RevocationCommands::RunPrefetch() {
  const RevocationCommandArgs& a = *args_;
  engine::PrefetchOptions options;
  options.mirror = a.mirror;
  options.out_dir = a.out_dir;
  options.registry_host = a.registry;
  if (!a.config.empty()) {
    options.config_dir = std::filesystem::path(a.config);
  } else {
    // Notation's own configuration, when there is one (no warning when
    // there is none: it only completes TSA chains).
    std::filesystem::path dir = policy::DefaultConfigDir();
    std::error_code ec;
    if (std::filesystem::exists(dir / "trustpolicy.oci.json", ec) ||
        std::filesystem::exists(dir / "trustpolicy.json", ec)) {
      options.config_dir = dir;
    }
  }
  if (a.at.empty() || a.at == "now") {
    options.at = std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  } else if (auto at = base::ParseRfc3339(a.at)) {
    options.at = *at;
  } else {
    return Usage(err_, "--at must be an RFC 3339 time, not \"" + a.at + "\"");
  }
  auto crl_timeout = Timeout(a.crl_timeout);
  auto ocsp_timeout = Timeout(a.ocsp_timeout);
  if (!crl_timeout || !ocsp_timeout) {
    return Usage(err_, "timeouts are seconds above 0 and at most 3600");
  }
  options.crl_timeout = *crl_timeout;
  options.ocsp_timeout = *ocsp_timeout;

  auto report = engine::PrefetchRevocationData(options);
  if (!report.ok()) {
    return Usage(err_, report.detail());
  }
  for (const std::string& w : report->warnings) {
    Print(err_, "trustgate revocation prefetch: warning: " + w + "\n");
  }
  std::string text;
  for (const engine::PrefetchItem& item : report->items) {
    std::string kind(engine::ToString(item.kind));
    if (item.ok) {
      text += "fetched " + kind + " " + item.url + " -> " + item.file + "\n";
    } else {
      text += "FAILED  " + kind + " " +
              (item.url.empty() ? std::string("-") : item.url) + ": " +
              item.detail + " (for " + item.subject + ")\n";
    }
  }
  const uint64_t failed = report->failed();
  const uint64_t fetched = report->items.size() - failed;
  text += std::to_string(fetched) + " fetched, " + std::to_string(failed) +
          " failed (" +
          Plural(report->certificates, "certificate", "certificates") + ", " +
          Plural(report->signatures, "signature", "signatures") + ", " +
          Plural(report->repositories, "repository", "repositories") +
          ") into " + a.out_dir + "\n";
  Print(out_, text);
  return failed == 0 ? kExitOk : kExitFailed;
}

std::unique_ptr<RevocationCommands> AddRevocationCommands(CLI::App& app,
                                                          std::FILE* out,
                                                          std::FILE* err) {
  return std::make_unique<RevocationCommands>(app, out, err);
}

int RunRevocationCli(const std::vector<std::string>& args, std::FILE* out,
                     std::FILE* err) {
  CLI::App app{"trustgate"};
  app.require_subcommand(1);
  std::unique_ptr<RevocationCommands> commands =
      AddRevocationCommands(app, out, err);
  return ParseAndRun(app, args, err, [&] { return commands->RunIfParsed(); });
}

}  // namespace trustgate::tools
