#include "tools/policy_command.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "base/time.h"
#include "policy/diff.h"
#include "policy/lint.h"
#include "policy/trust_store.h"
#include "tools/command_util.h"

namespace trustgate::tools {

namespace policy = trustgate::policy;
using json = nlohmann::json;

struct PolicyCommandArgs {
  // lint
  std::string config;
  std::string policy_file;
  std::string trust_store;
  std::string at;
  std::string lint_format = "text";
  // diff
  std::string old_input;
  std::string new_input;
  std::string diff_format = "text";
  std::vector<std::string> diff_allow;
  std::string diff_managed;
  // drift
  std::vector<std::string> drift_inputs;
  std::string drift_format = "text";
  std::vector<std::string> drift_allow;
  std::string drift_managed;
  bool drift_all = false;
};

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFindings = 1;
constexpr int kExitBadInput = kExitUsage;

int BadInput(std::FILE* err, const std::string& command,
             const std::string& message) {
  return UsageError(err, "policy " + command, message);
}

// ------------------------------------------------------------------ lint

json FindingJson(const policy::LintFinding& f) {
  return json{{"rule", f.rule},
              {"statement", f.statement},
              {"message", f.message},
              {"fix", f.fix}};
}

std::string FindingLine(std::string_view kind, const policy::LintFinding& f) {
  std::string line(kind);
  line.append(" [");
  line.append(f.rule);
  line.append("]");
  if (!f.statement.empty()) {
    line.append(" statement \"" + f.statement + "\"");
  }
  line.append(": ");
  line.append(f.message);
  line.push_back('\n');
  return line;
}

// ------------------------------------------------------------------ diff

json ChangeJson(const policy::PolicyChange& c) {
  return json{{"rule", c.rule},
              {"scope", c.scope},
              {"statement", c.statement},
              {"from", c.from},
              {"to", c.to},
              {"effect", std::string(policy::ToString(c.effect))},
              {"message", c.message},
              {"allowed", c.allowed}};
}

json ChangesJson(const std::vector<policy::PolicyChange>& changes) {
  json arr = json::array();
  for (const policy::PolicyChange& c : changes) {
    arr.push_back(ChangeJson(c));
  }
  return arr;
}

// ChangeLines prints one line per change, grouping the changes that are
// the same but for their scope (an anchor added to a store that five
// repositories trust is one line naming the five).
std::string ChangeLines(const std::vector<policy::PolicyChange>& changes,
                        std::string_view indent) {
  struct Group {
    const policy::PolicyChange* first;
    std::vector<std::string> scopes;
  };
  std::vector<Group> groups;
  for (const policy::PolicyChange& c : changes) {
    auto same = [&](const Group& g) {
      const policy::PolicyChange& f = *g.first;
      return f.rule == c.rule && f.statement == c.statement &&
             f.from == c.from && f.to == c.to && f.effect == c.effect &&
             f.message == c.message && f.allowed == c.allowed;
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end()) {
      groups.push_back(Group{&c, {}});
      it = groups.end() - 1;
    }
    it->scopes.push_back(c.scope == "*" ? std::string("(any other repository)")
                                        : c.scope);
  }
  std::string out;
  for (const Group& g : groups) {
    const policy::PolicyChange& c = *g.first;
    std::string effect(policy::ToString(c.effect));
    effect.resize(std::max<size_t>(effect.size(), 11), ' ');
    out.append(indent);
    out.append(effect);
    out.append(" [" + c.rule + "] ");
    for (size_t i = 0; i < g.scopes.size(); ++i) {
      out.append(i == 0 ? "" : ", ");
      out.append(g.scopes[i]);
    }
    out.append(": ");
    out.append(c.message);
    if (!c.statement.empty()) {
      out.append(" (statement \"" + c.statement + "\")");
    }
    if (c.allowed) {
      out.append(" (allowed)");
    }
    out.push_back('\n');
  }
  return out;
}

std::string Summary(const std::vector<policy::PolicyChange>& changes) {
  size_t weakens = 0;
  size_t strengthens = 0;
  size_t neutral = 0;
  size_t allowed = 0;
  for (const policy::PolicyChange& c : changes) {
    switch (c.effect) {
      case policy::Effect::kWeakens:
        ++weakens;
        allowed += c.allowed ? 1 : 0;
        break;
      case policy::Effect::kStrengthens:
        ++strengthens;
        break;
      case policy::Effect::kNeutral:
        ++neutral;
        break;
    }
  }
  if (changes.empty()) {
    return "no semantic change";
  }
  std::string s = std::to_string(changes.size()) + " change" +
                  (changes.size() == 1 ? "" : "s") + ": " +
                  std::to_string(weakens) + " weaken";
  if (allowed != 0) {
    s += " (" + std::to_string(allowed) + " allowed)";
  }
  s += ", " + std::to_string(strengthens) + " strengthen, " +
       std::to_string(neutral) + " neutral";
  return s;
}

// DiffSetup validates --allow and --managed-anchors shared by diff and
// drift.
struct DiffSetup {
  policy::DiffOptions options;
  std::set<policy::Fingerprint> managed;
};

std::optional<std::string> PrepareDiff(const std::vector<std::string>& allow,
                                       const std::string& managed_dir,
                                       DiffSetup* setup) {
  for (const std::string& rule : allow) {
    if (!policy::IsDiffRule(rule)) {
      std::string known;
      for (std::string_view r : policy::kDiffRules) {
        known += (known.empty() ? "" : ", ") + std::string(r);
      }
      return "--allow " + rule + " is not a diff rule id; use one of " + known;
    }
    setup->options.allow.insert(rule);
  }
  if (!managed_dir.empty()) {
    auto managed = policy::LoadManagedAnchors(managed_dir);
    if (!managed.ok()) {
      return "--managed-anchors: " + managed.detail();
    }
    setup->managed = std::move(managed).value();
  }
  return std::nullopt;
}

base::Time Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
}

}  // namespace

PolicyCommands::PolicyCommands(CLI::App& app, std::FILE* out, std::FILE* err)
    : args_(std::make_unique<PolicyCommandArgs>()), out_(out), err_(err) {
  PolicyCommandArgs& a = *args_;
  policy_ = app.add_subcommand(
      "policy",
      "trust policy safety: lint, semantic diff as a change gate, drift "
      "between environments");
  policy_->require_subcommand(1);

  lint_ = policy_->add_subcommand(
      "lint",
      "report spec violations (errors) and risky patterns (warnings) in a "
      "trust policy and its trust store; exit 0 clean, 1 warnings, 2 errors");
  lint_->add_option("--config", a.config,
                    "Notation config dir (trustpolicy.oci.json, truststore/); "
                    "default: $NOTATION_CONFIG, $XDG_CONFIG_HOME/notation, "
                    "~/.config/notation");
  lint_->add_option("--policy", a.policy_file,
                    "trust policy file (alone: the trust store is not "
                    "checked)");
  lint_->add_option("--trust-store", a.trust_store,
                    "trust store dir holding x509/{ca,signingAuthority,tsa}");
  lint_->add_option("--at", a.at,
                    "judge anchor expiry as of this RFC 3339 time (default: "
                    "now)");
  lint_->add_option("--format", a.lint_format, "text (default) | json");

  diff_ = policy_->add_subcommand(
      "diff",
      "semantic diff of two trust policies (config dirs or policy files); "
      "exit 1 if anything weakens");
  diff_->add_option("OLD", a.old_input, "the policy before the change")
      ->required();
  diff_->add_option("NEW", a.new_input, "the policy after the change")
      ->required();
  diff_->add_option("--format", a.diff_format, "text (default) | json");
  diff_
      ->add_option("--allow", a.diff_allow,
                   "rule ids whose weakening changes are accepted")
      ->delimiter(',')
      ->allow_extra_args(false);
  diff_->add_option("--managed-anchors", a.diff_managed,
                    "dir of the only certificates that may be added as "
                    "anchors without a weakening");

  drift_ = policy_->add_subcommand(
      "drift",
      "compare environments with a baseline: where each is weaker or covers "
      "repositories the baseline does not; exit 1 if any");
  drift_
      ->add_option("BASELINE", a.drift_inputs,
                   "the baseline, then one or more environments (config dirs "
                   "or policy files)")
      ->required();
  drift_->add_option("--format", a.drift_format, "text (default) | json");
  drift_
      ->add_option("--allow", a.drift_allow,
                   "rule ids whose weakening changes are accepted")
      ->delimiter(',')
      ->allow_extra_args(false);
  drift_->add_option("--managed-anchors", a.drift_managed,
                     "dir of the certificates environments may add");
  drift_->add_flag("--all", a.drift_all,
                   "list every difference, not only the weaker ones");
}

PolicyCommands::~PolicyCommands() = default;

std::optional<int> PolicyCommands::RunIfParsed() {
  if (policy_ == nullptr || !policy_->parsed()) {
    return std::nullopt;
  }
  if (lint_->parsed()) {
    return RunLint();
  }
  if (diff_->parsed()) {
    return RunDiff();
  }
  if (drift_->parsed()) {
    return RunDrift();
  }
  return BadInput(err_, "", "choose lint, diff or drift");
}

int PolicyCommands::RunLint() {
  const PolicyCommandArgs& a = *args_;
  auto format = ParseOutputFormat(a.lint_format);
  if (!format) {
    return BadInput(err_, "lint", BadFormatMessage(a.lint_format));
  }
  base::Time at;
  if (a.at.empty() || a.at == "now") {
    at = Now();
  } else {
    auto parsed = base::ParseRfc3339(a.at);
    if (!parsed) {
      return BadInput(err_, "lint",
                      "--at \"" + a.at +
                          "\" is not an RFC 3339 time (e.g. "
                          "2026-11-24T12:00:00Z)");
    }
    at = *parsed;
  }
  policy::LintSource source;
  if (!a.policy_file.empty()) {
    source.policy_file = a.policy_file;
  }
  if (!a.trust_store.empty()) {
    source.trust_store_dir = a.trust_store;
  }
  if (!a.config.empty()) {
    source.config_dir = a.config;
  } else if (a.policy_file.empty()) {
    // As verify: the policy comes from Notation's config dir.
    source.config_dir = policy::DefaultConfigDir();
  }
  policy::LintReport report = policy::LintFiles(source, at);

  if (*format == OutputFormat::kJson) {
    json errors = json::array();
    json warnings = json::array();
    for (const policy::LintFinding& f : report.errors) {
      errors.push_back(FindingJson(f));
    }
    for (const policy::LintFinding& f : report.warnings) {
      warnings.push_back(FindingJson(f));
    }
    json doc = {{"policy", report.policy_source},
                {"storesChecked", report.stores_checked},
                {"errors", std::move(errors)},
                {"warnings", std::move(warnings)}};
    Print(out_, DumpJson(doc));
  } else {
    std::string text;
    for (const policy::LintFinding& f : report.errors) {
      text += FindingLine("error", f);
    }
    for (const policy::LintFinding& f : report.warnings) {
      text += FindingLine("warning", f);
    }
    text += report.policy_source.empty() ? std::string("policy")
                                         : report.policy_source;
    text += ": " + std::to_string(report.errors.size()) + " error" +
            (report.errors.size() == 1 ? "" : "s") + ", " +
            std::to_string(report.warnings.size()) + " warning" +
            (report.warnings.size() == 1 ? "" : "s");
    if (!report.stores_checked && report.errors.empty()) {
      text += " (no trust store given: store rules were not checked)";
    }
    text += "\n";
    Print(out_, text);
  }
  return report.ExitCode();
}

int PolicyCommands::RunDiff() {
  const PolicyCommandArgs& a = *args_;
  auto format = ParseOutputFormat(a.diff_format);
  if (!format) {
    return BadInput(err_, "diff", BadFormatMessage(a.diff_format));
  }
  DiffSetup setup;
  if (auto problem = PrepareDiff(a.diff_allow, a.diff_managed, &setup)) {
    return BadInput(err_, "diff", *problem);
  }
  if (!a.diff_managed.empty()) {
    setup.options.managed_anchors = &setup.managed;
  }
  auto before = policy::LoadPolicyInput(a.old_input);
  if (!before.ok()) {
    return BadInput(err_, "diff", "OLD: " + before.detail());
  }
  auto after = policy::LoadPolicyInput(a.new_input);
  if (!after.ok()) {
    return BadInput(err_, "diff", "NEW: " + after.detail());
  }
  std::vector<policy::PolicyChange> changes =
      policy::DiffPolicies(before->Side(), after->Side(), setup.options);
  const bool weakens = policy::Weakens(changes);
  if (*format == OutputFormat::kJson) {
    Print(out_, DumpJson(json{{"changes", ChangesJson(changes)},
                              {"weakens", weakens}}));
  } else {
    std::string text = ChangeLines(changes, "");
    text += a.old_input + " -> " + a.new_input + ": " + Summary(changes);
    if (!before->store.has_value() || !after->store.has_value()) {
      text += " (anchors not compared: give config dirs to compare them)";
    }
    text += weakens ? "; the change weakens the policy\n" : "\n";
    Print(out_, text);
  }
  return weakens ? kExitFindings : kExitOk;
}

int PolicyCommands::RunDrift() {
  const PolicyCommandArgs& a = *args_;
  auto format = ParseOutputFormat(a.drift_format);
  if (!format) {
    return BadInput(err_, "drift", BadFormatMessage(a.drift_format));
  }
  if (a.drift_inputs.size() < 2) {
    return BadInput(err_, "drift",
                    "give the baseline and at least one environment");
  }
  DiffSetup setup;
  if (auto problem = PrepareDiff(a.drift_allow, a.drift_managed, &setup)) {
    return BadInput(err_, "drift", *problem);
  }
  if (!a.drift_managed.empty()) {
    setup.options.managed_anchors = &setup.managed;
  }
  std::vector<policy::LoadedPolicy> loaded;
  for (const std::string& input : a.drift_inputs) {
    auto one = policy::LoadPolicyInput(input);
    if (!one.ok()) {
      return BadInput(err_, "drift", input + ": " + one.detail());
    }
    loaded.push_back(std::move(one).value());
  }
  const policy::DriftSelection selection =
      a.drift_all ? policy::DriftSelection::kAll
                  : policy::DriftSelection::kWeaker;
  json environments = json::array();
  std::string text;
  bool any_weakens = false;
  for (size_t i = 1; i < loaded.size(); ++i) {
    std::vector<policy::PolicyChange> changes = policy::DriftChanges(
        loaded[0].Side(), loaded[i].Side(), setup.options, selection);
    bool weakens = policy::Weakens(changes);
    any_weakens = any_weakens || weakens;
    environments.push_back(json{{"name", a.drift_inputs[i]},
                                {"changes", ChangesJson(changes)},
                                {"weakens", weakens}});
    text += a.drift_inputs[i] + " against " + a.drift_inputs[0] + ": " +
            (changes.empty() ? std::string("no drift") : Summary(changes)) +
            (weakens ? "; weaker than the baseline" : "") + "\n";
    text += ChangeLines(changes, "  ");
  }
  if (*format == OutputFormat::kJson) {
    Print(out_, DumpJson(json{{"baseline", a.drift_inputs[0]},
                              {"environments", std::move(environments)},
                              {"weakens", any_weakens}}));
  } else {
    Print(out_, text);
  }
  return any_weakens ? kExitFindings : kExitOk;
}

std::unique_ptr<PolicyCommands> AddPolicyCommands(CLI::App& app, std::FILE* out,
                                                  std::FILE* err) {
  return std::make_unique<PolicyCommands>(app, out, err);
}

int RunPolicyCli(const std::vector<std::string>& args, std::FILE* out,
                 std::FILE* err) {
  CLI::App app{"trustgate"};
  app.require_subcommand(1);
  std::unique_ptr<PolicyCommands> commands = AddPolicyCommands(app, out, err);
  return ParseAndRun(app, args, err, [&] { return commands->RunIfParsed(); });
}

}  // namespace trustgate::tools
