#include "tools/rotation_command.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "base/time.h"
#include "engine/index.h"
#include "engine/rotation.h"
#include "tools/command_util.h"

namespace trustgate::tools {

using json = nlohmann::json;

struct RotationCommandArgs {
  // impact
  std::string impact_index;
  std::string remove_anchor;
  std::string remove_store;
  std::string impact_format = "text";
  // status
  std::string status_index;
  std::string anchor;
  std::string status_format = "text";
};

namespace {

constexpr int kExitOk = 0;
constexpr int kExitImpacted = 1;
constexpr int kExitBadInput = kExitUsage;

int BadInput(std::FILE* err, const std::string& command,
             const std::string& message) {
  return UsageError(err, "rotation " + command, message);
}

constexpr char kLimitsNote[] =
    "Limits: the index records only the signature that verified each "
    "artifact (trustgate, like notation, stops at the first passing "
    "signature) and the first trust store and anchor its chain matched. An "
    "artifact that also carries another valid signature, or whose chain "
    "also matches another store certificate, is reported as impacted "
    "(conservative): confirm with `trustgate verify` against a trust store "
    "without it. Only artifacts recorded in the index are considered.\n";

std::optional<engine::VerdictIndex> OpenIndex(std::FILE* err,
                                              const std::string& command,
                                              const std::string& path) {
  auto index = engine::VerdictIndex::Open(path, engine::OpenMode::kReadOnly);
  if (!index.ok()) {
    BadInput(err, command,
             "cannot read index " + path + " (" +
                 std::string(engine::ToString(index.code())) +
                 "): " + index.detail());
    return std::nullopt;
  }
  return std::move(index).value();
}

json AnchorsJson(const std::vector<engine::AnchorCertificate>& anchors,
                 bool with_expiry) {
  json arr = json::array();
  for (const engine::AnchorCertificate& a : anchors) {
    json j = {{"fingerprint", a.fingerprint}, {"subject", a.subject}};
    if (with_expiry) {
      j["notAfter"] = base::FormatRfc3339(a.not_after);
    }
    arr.push_back(std::move(j));
  }
  return arr;
}

std::string AnchorLines(const std::vector<engine::AnchorCertificate>& anchors,
                        std::string_view verb) {
  std::string out;
  for (const engine::AnchorCertificate& a : anchors) {
    out += std::string(verb) + " anchor " + a.fingerprint + " (" + a.subject +
           ", expires " + base::FormatRfc3339(a.not_after) + ")\n";
  }
  return out;
}

std::vector<std::string> Fingerprints(
    const std::vector<engine::AnchorCertificate>& anchors) {
  std::vector<std::string> out;
  out.reserve(anchors.size());
  for (const engine::AnchorCertificate& a : anchors) {
    out.push_back(a.fingerprint);
  }
  return out;
}

std::string ImpactText(const engine::ImpactReport& report,
                       const std::string& removed) {
  std::string out = removed;
  if (report.count == 0) {
    out += "No verified artifact would stop verifying (" +
           Plural(report.verified, "verified artifact", "verified artifacts") +
           " in the index checked).\n";
    return out;
  }
  out += Plural(report.count, "verified artifact", "verified artifacts") +
         " in " + Plural(report.impacted.size(), "repository", "repositories") +
         " would stop verifying (of " + std::to_string(report.verified) +
         " verified in the index):\n";
  for (const engine::ImpactedRepository& repo : report.impacted) {
    out += "\n" + repo.repository + ": " +
           Plural(repo.artifacts.size(), "artifact", "artifacts") + "\n";
    for (const engine::ImpactedArtifact& a : repo.artifacts) {
      out += "  " + a.digest;
      if (!a.tags.empty()) {
        out += " (";
        for (size_t i = 0; i < a.tags.size(); ++i) {
          out += (i == 0 ? "" : ", ") + a.tags[i];
        }
        out += ")";
      }
      out += "\n";
      if (a.signature.empty()) {
        out += "    no trust path recorded for it\n";
        continue;
      }
      out += "    signature " + a.signature;
      if (!a.trust_store.empty()) {
        out += " via " + a.trust_store;
      }
      out += a.anchor.empty() ? std::string(", anchor not recorded")
                              : ", anchor " + a.anchor;
      out += "\n";
    }
  }
  out += "\n";
  out += kLimitsNote;
  return out;
}

json ImpactJson(const engine::ImpactReport& report, json removed) {
  json impacted = json::array();
  for (const engine::ImpactedRepository& repo : report.impacted) {
    json artifacts = json::array();
    for (const engine::ImpactedArtifact& a : repo.artifacts) {
      artifacts.push_back({{"digest", a.digest},
                           {"tags", a.tags},
                           {"signature", a.signature},
                           {"anchor", a.anchor},
                           {"trustStore", a.trust_store}});
    }
    impacted.push_back(
        {{"repository", repo.repository}, {"artifacts", std::move(artifacts)}});
  }
  return json{{"impacted", std::move(impacted)},
              {"count", report.count},
              {"verified", report.verified},
              {"removed", std::move(removed)}};
}

}  // namespace

RotationCommands::RotationCommands(CLI::App& app, std::FILE* out,
                                   std::FILE* err)
    : args_(std::make_unique<RotationCommandArgs>()), out_(out), err_(err) {
  RotationCommandArgs& a = *args_;
  rotation_ = app.add_subcommand(
      "rotation",
      "what removing a trust anchor or store would break, from the index");
  rotation_->require_subcommand(1);

  impact_ = rotation_->add_subcommand(
      "impact",
      "list verified artifacts that would stop verifying after removing an "
      "anchor or a store (exit 1 if any)");
  impact_->add_option("--index", a.impact_index, "SQLite verdict index")
      ->required();
  CLI::Option* anchor = impact_->add_option(
      "--remove-anchor", a.remove_anchor,
      "certificate file (PEM, several allowed, or DER) of the anchor(s) to "
      "remove");
  CLI::Option* store = impact_->add_option(
      "--remove-store", a.remove_store,
      "trust store to remove: ca:<name> or signingAuthority:<name>");
  anchor->excludes(store);
  impact_->add_option("--format", a.impact_format, "text (default) | json");

  status_ = rotation_->add_subcommand(
      "status",
      "how many verified artifacts still depend on an anchor (can it go?)");
  status_->add_option("--index", a.status_index, "SQLite verdict index")
      ->required();
  status_
      ->add_option("--anchor", a.anchor,
                   "certificate file (PEM, several allowed, or DER) of the "
                   "anchor(s)")
      ->required();
  status_->add_option("--format", a.status_format, "text (default) | json");
}

RotationCommands::~RotationCommands() = default;

std::optional<int> RotationCommands::RunIfParsed() {
  if (impact_->parsed()) {
    return RunImpact();
  }
  if (status_->parsed()) {
    return RunStatus();
  }
  return std::nullopt;
}

int RotationCommands::RunImpact() {
  const RotationCommandArgs& a = *args_;
  std::optional<OutputFormat> format = ParseOutputFormat(a.impact_format);
  if (!format) {
    return BadInput(err_, "impact", BadFormatMessage(a.impact_format));
  }
  if (a.remove_anchor.empty() == a.remove_store.empty()) {
    return BadInput(err_, "impact",
                    "give exactly one of --remove-anchor CERT and "
                    "--remove-store NAME");
  }
  engine::RotationChange change;
  json removed;
  std::string removed_text;
  if (!a.remove_anchor.empty()) {
    auto anchors = engine::ReadAnchorCertificates(a.remove_anchor);
    if (!anchors.ok()) {
      return BadInput(err_, "impact", anchors.detail());
    }
    change = engine::RemoveAnchor{Fingerprints(*anchors)};
    removed = json{{"anchors", AnchorsJson(*anchors, false)}};
    removed_text = AnchorLines(*anchors, "Removing");
  } else {
    change = engine::RemoveStore{a.remove_store};
    removed = json{{"store", a.remove_store}};
    removed_text = "Removing trust store " + a.remove_store + "\n";
  }
  std::optional<engine::VerdictIndex> index =
      OpenIndex(err_, "impact", a.impact_index);
  if (!index) {
    return kExitBadInput;
  }
  auto report = engine::RotationImpact(*index, change);
  if (!report.ok()) {
    return BadInput(err_, "impact", report.detail());
  }
  if (*format == OutputFormat::kJson) {
    Print(out_, DumpJson(ImpactJson(*report, std::move(removed))));
  } else {
    Print(out_, ImpactText(*report, removed_text));
  }
  return report->count == 0 ? kExitOk : kExitImpacted;
}

int RotationCommands::RunStatus() {
  const RotationCommandArgs& a = *args_;
  std::optional<OutputFormat> format = ParseOutputFormat(a.status_format);
  if (!format) {
    return BadInput(err_, "status", BadFormatMessage(a.status_format));
  }
  auto anchors = engine::ReadAnchorCertificates(a.anchor);
  if (!anchors.ok()) {
    return BadInput(err_, "status", anchors.detail());
  }
  std::optional<engine::VerdictIndex> index =
      OpenIndex(err_, "status", a.status_index);
  if (!index) {
    return kExitBadInput;
  }
  std::vector<std::string> fingerprints = Fingerprints(*anchors);
  auto report = engine::RotationStatus(*index, fingerprints);
  if (!report.ok()) {
    return BadInput(err_, "status", report.detail());
  }
  if (*format == OutputFormat::kJson) {
    json repos = json::array();
    for (const engine::RepositoryDependence& r : report->repositories) {
      repos.push_back({{"repository", r.repository},
                       {"dependent", r.dependent},
                       {"using", r.using_anchor}});
    }
    Print(out_, DumpJson(json{{"anchors", AnchorsJson(*anchors, true)},
                              {"verified", report->verified},
                              {"dependent", report->dependent},
                              {"using", report->using_anchor},
                              {"canRemove", report->CanRemove()},
                              {"repositories", std::move(repos)}}));
    return kExitOk;
  }
  std::string out = AnchorLines(*anchors, "Status of");
  out +=
      Plural(report->using_anchor, "verified artifact", "verified artifacts") +
      " (of " + std::to_string(report->verified) + " in the index) rest on " +
      (anchors->size() == 1 ? "it" : "them") + "; " +
      std::to_string(report->dependent) + " would stop verifying without " +
      (anchors->size() == 1 ? "it" : "them") + ".\n";
  for (const engine::RepositoryDependence& r : report->repositories) {
    out += "  " + r.repository + ": " + std::to_string(r.dependent) +
           " dependent, " + std::to_string(r.using_anchor) + " using\n";
  }
  if (report->CanRemove()) {
    out += "It can be removed: no verified artifact depends on it any more.\n";
  } else {
    out +=
        "It cannot be removed yet: re-sign those artifacts under the new "
        "anchor (or confirm they verify without it), then ask again. "
        "`trustgate rotation impact --remove-anchor` lists them.\n";
    out += kLimitsNote;
  }
  Print(out_, out);
  return kExitOk;
}

std::unique_ptr<RotationCommands> AddRotationCommands(CLI::App& app,
                                                      std::FILE* out,
                                                      std::FILE* err) {
  return std::make_unique<RotationCommands>(app, out, err);
}

int RunRotationCli(const std::vector<std::string>& args, std::FILE* out,
                   std::FILE* err) {
  CLI::App app{"trustgate"};
  app.require_subcommand(1);
  std::unique_ptr<RotationCommands> commands =
      AddRotationCommands(app, out, err);
  return ParseAndRun(app, args, err, [&] { return commands->RunIfParsed(); });
}

}  // namespace trustgate::tools
