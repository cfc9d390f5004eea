#include "tools/policy_command.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/time.h"
#include "tests/policy/org_fixture.h"
#include "tests/policy/test_pki.h"

namespace trustgate::tools {
namespace {

using json = nlohmann::json;
using policy::StoreType;
using policy::testing::DataFile;
using policy::testing::OrgStores;
using policy::testing::Pki;
using policy::testing::ScratchDir;
using policy::testing::WriteConfig;
using policy::testing::WriteFile;
using policy::testing::WriteStore;

struct CliRun {
  int rc = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(std::FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    s.append(buf, n);
  }
  std::fclose(f);
  return s;
}

CliRun RunCli(const std::vector<std::string>& args) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  CliRun r;
  r.rc = RunPolicyCli(args, out, err);
  r.out = ReadAll(out);
  r.err = ReadAll(err);
  return r;
}

json ParseOut(const CliRun& r) {
  json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

// Every diff/drift change object has exactly the contract's fields.
void ExpectChangeShape(const json& c) {
  for (const char* key :
       {"rule", "scope", "statement", "from", "to", "effect", "message"}) {
    ASSERT_TRUE(c.contains(key)) << key << " in " << c.dump();
    EXPECT_TRUE(c[key].is_string()) << key;
  }
  EXPECT_TRUE(c["allowed"].is_boolean());
  std::set<std::string> effects = {"weakens", "strengthens", "neutral"};
  EXPECT_EQ(effects.count(c["effect"].get<std::string>()), 1u);
}

std::set<std::string> RulesOf(const json& arr) {
  std::set<std::string> out;
  for (const json& x : arr) {
    out.insert(x["rule"].get<std::string>());
  }
  return out;
}

std::string Now() {
  return base::FormatRfc3339(
      std::chrono::time_point_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now()));
}

class PolicyCommandTest : public ::testing::Test {
 protected:
  std::string Config(const std::string& name, const std::string& policy,
                     OrgStores stores = OrgStores::kReferenced) {
    std::filesystem::path dir = dir_.path() / name;
    WriteConfig(dir, policy, stores);
    return dir.string();
  }

  ScratchDir dir_;
};

// ------------------------------------------------------------------ lint

TEST_F(PolicyCommandTest, LintExitCodesAndJson) {
  std::string production =
      Config("production", DataFile("org/production.json"));
  std::string development =
      Config("development", DataFile("org/development.json"));
  std::string broken =
      Config("broken", DataFile("bad/multiple_errors.json"), OrgStores::kNone);

  CliRun clean = RunCli({"policy", "lint", "--config", production, "--at",
                         Now(), "--format", "json"});
  EXPECT_EQ(clean.rc, 0) << clean.out << clean.err;
  json c = ParseOut(clean);
  EXPECT_TRUE(c["errors"].is_array());
  EXPECT_TRUE(c["warnings"].empty());
  EXPECT_EQ(c["storesChecked"], true);

  CliRun warned = RunCli({"policy", "lint", "--config", development, "--at",
                          Now(), "--format", "json"});
  EXPECT_EQ(warned.rc, 1) << warned.out << warned.err;
  json w = ParseOut(warned);
  EXPECT_TRUE(w["errors"].empty());
  ASSERT_FALSE(w["warnings"].empty());
  for (const json& f : w["warnings"]) {
    for (const char* key : {"rule", "statement", "message", "fix"}) {
      ASSERT_TRUE(f.contains(key)) << f.dump();
      EXPECT_TRUE(f[key].is_string());
    }
  }
  EXPECT_EQ(
      RulesOf(w["warnings"]),
      (std::set<std::string>{"broad-global", "no-tsa", "revocation-relaxed",
                             "shared-store", "wildcard-identity"}));

  CliRun failed =
      RunCli({"policy", "lint", "--config", broken, "--format", "json"});
  EXPECT_EQ(failed.rc, 2);
  json f = ParseOut(failed);
  EXPECT_EQ(f["errors"].size(), 5u);
  EXPECT_EQ(RulesOf(f["errors"]),
            (std::set<std::string>{"duplicate-name", "global-scope-duplicate",
                                   "identity-missing-attribute",
                                   "integrity-override", "scope-overlap"}));
}

TEST_F(PolicyCommandTest, LintTextAndOptionForms) {
  std::string development =
      Config("development", DataFile("org/development.json"));
  CliRun text = RunCli({"policy", "lint", "--config", development});
  EXPECT_EQ(text.rc, 1);
  EXPECT_NE(text.out.find("[revocation-relaxed]"), std::string::npos)
      << text.out;

  // --policy with --trust-store, and --policy alone.
  CliRun both = RunCli({"policy", "lint", "--policy",
                        development + "/trustpolicy.oci.json", "--trust-store",
                        development + "/truststore", "--format", "json"});
  EXPECT_EQ(both.rc, 1);
  EXPECT_EQ(ParseOut(both)["storesChecked"], true);
  CliRun alone =
      RunCli({"policy", "lint", "--policy",
              development + "/trustpolicy.oci.json", "--format", "json"});
  EXPECT_EQ(alone.rc, 1);
  EXPECT_EQ(ParseOut(alone)["storesChecked"], false);

  // The emergency file: a warning without expiry.
  std::string emergency =
      Config("emergency", DataFile("org/emergency_no_expiry.json"));
  CliRun e =
      RunCli({"policy", "lint", "--config", emergency, "--format", "json"});
  EXPECT_EQ(e.rc, 1);
  EXPECT_EQ(RulesOf(ParseOut(e)["warnings"]),
            (std::set<std::string>{"emergency-no-expiry"}));
}

TEST_F(PolicyCommandTest, LintUsageErrors) {
  std::string production =
      Config("production", DataFile("org/production.json"));
  EXPECT_EQ(
      RunCli({"policy", "lint", "--config", production, "--at", "yesterday"})
          .rc,
      2);
  EXPECT_EQ(
      RunCli({"policy", "lint", "--config", production, "--format", "yaml"}).rc,
      2);
  EXPECT_EQ(RunCli({"policy", "lint", "--bogus"}).rc, 2);
  EXPECT_EQ(RunCli({"policy"}).rc, 2);
  // A directory where the policy file is expected: an error finding.
  CliRun dir = RunCli({"policy", "lint", "--policy", production});
  EXPECT_EQ(dir.rc, 2);
}

// ------------------------------------------------------------------ diff

TEST_F(PolicyCommandTest, DiffExitCodesAndJson) {
  json prod = json::parse(DataFile("org/production.json"));
  std::string before = Config("before", prod.dump());
  std::string same = Config("same", prod.dump());
  prod["trustPolicies"][0]["signatureVerification"]["level"] = "audit";
  std::string after = Config("after", prod.dump());

  CliRun none = RunCli({"policy", "diff", before, same, "--format", "json"});
  EXPECT_EQ(none.rc, 0) << none.err;
  json n = ParseOut(none);
  EXPECT_TRUE(n["changes"].is_array());
  EXPECT_TRUE(n["changes"].empty());
  EXPECT_EQ(n["weakens"], false);

  CliRun weaker = RunCli({"policy", "diff", before, after, "--format", "json"});
  EXPECT_EQ(weaker.rc, 1) << weaker.err;
  json w = ParseOut(weaker);
  EXPECT_EQ(w["weakens"], true);
  ASSERT_EQ(w["changes"].size(), 2u);
  for (const json& c : w["changes"]) {
    ExpectChangeShape(c);
    EXPECT_EQ(c["rule"], "level-lowered");
    EXPECT_EQ(c["effect"], "weakens");
    EXPECT_EQ(c["from"], "strict");
    EXPECT_EQ(c["to"], "audit");
    EXPECT_EQ(c["statement"], "payments");
  }

  CliRun stronger =
      RunCli({"policy", "diff", after, before, "--format", "json"});
  EXPECT_EQ(stronger.rc, 0);
  EXPECT_EQ(ParseOut(stronger)["changes"][0]["effect"], "strengthens");

  CliRun allowed = RunCli({"policy", "diff", before, after, "--allow",
                           "level-lowered", "--format", "json"});
  EXPECT_EQ(allowed.rc, 0) << allowed.err;
  json a = ParseOut(allowed);
  EXPECT_EQ(a["weakens"], false);
  EXPECT_EQ(a["changes"][0]["allowed"], true);

  // Text output, and policy files instead of config dirs.
  CliRun text = RunCli({"policy", "diff", before + "/trustpolicy.oci.json",
                        after + "/trustpolicy.oci.json"});
  EXPECT_EQ(text.rc, 1);
  EXPECT_NE(text.out.find("[level-lowered]"), std::string::npos) << text.out;
}

TEST_F(PolicyCommandTest, DiffAllowForms) {
  json prod = json::parse(DataFile("org/production.json"));
  std::string before = Config("before", prod.dump());
  prod["trustPolicies"][0]["signatureVerification"]["level"] = "permissive";
  prod["trustPolicies"][0]["trustedIdentities"] = {"*"};
  std::string after = Config("after", prod.dump());
  EXPECT_EQ(
      RunCli({"policy", "diff", before, after, "--allow", "level-lowered"}).rc,
      1);
  EXPECT_EQ(RunCli({"policy", "diff", before, after, "--allow", "level-lowered",
                    "--allow", "identity-broadened"})
                .rc,
            0);
  EXPECT_EQ(RunCli({"policy", "diff", "--allow",
                    "level-lowered,identity-broadened", before, after})
                .rc,
            0);
  EXPECT_EQ(
      RunCli({"policy", "diff", before, after, "--allow", "no-such-rule"}).rc,
      2);
}

TEST_F(PolicyCommandTest, DiffBadInput) {
  std::string good = Config("good", DataFile("org/production.json"));
  std::string bad =
      Config("bad", DataFile("bad/multiple_errors.json"), OrgStores::kNone);
  CliRun invalid = RunCli({"policy", "diff", good, bad});
  EXPECT_EQ(invalid.rc, 2);
  EXPECT_NE(invalid.err.find("integrity-override"), std::string::npos)
      << invalid.err;
  std::filesystem::create_directory_symlink(good, dir_.path() / "link");
  EXPECT_EQ(
      RunCli({"policy", "diff", good, (dir_.path() / "link").string()}).rc, 2);
  EXPECT_EQ(
      RunCli({"policy", "diff", good, (dir_.path() / "none").string()}).rc, 2);
  EXPECT_EQ(RunCli({"policy", "diff", good}).rc, 2);
  EXPECT_EQ(RunCli({"policy", "diff", good, good, "--format", "xml"}).rc, 2);
  EXPECT_EQ(
      RunCli({"policy", "diff", good, good, "--managed-anchors", good + "/x"})
          .rc,
      2);
}

TEST_F(PolicyCommandTest, DiffManagedAnchors) {
  std::string policy = DataFile("org/production.json");
  std::string before = Config("before", policy);
  std::string after = Config("after", policy);
  WriteStore(std::filesystem::path(after) / "truststore", StoreType::kCa,
             "payments", {&Pki().payments, &Pki().payments_previous});
  std::filesystem::path managed = dir_.path() / "managed";
  WriteFile(managed / "payments-2022.pem", Pki().payments_previous.Pem());
  std::filesystem::path other = dir_.path() / "other";
  WriteFile(other / "platform.pem", Pki().platform.Pem());

  CliRun plain = RunCli({"policy", "diff", before, after, "--format", "json"});
  EXPECT_EQ(plain.rc, 1);
  EXPECT_EQ(RulesOf(ParseOut(plain)["changes"]),
            (std::set<std::string>{"anchor-added"}));
  CliRun ok = RunCli({"policy", "diff", before, after, "--managed-anchors",
                      managed.string(), "--format", "json"});
  EXPECT_EQ(ok.rc, 0) << ok.err;
  EXPECT_EQ(ParseOut(ok)["changes"][0]["effect"], "neutral");
  CliRun rogue = RunCli({"policy", "diff", before, after, "--managed-anchors",
                         other.string(), "--format", "json"});
  EXPECT_EQ(rogue.rc, 1);
  EXPECT_EQ(RulesOf(ParseOut(rogue)["changes"]),
            (std::set<std::string>{"unmanaged-anchor"}));
}

// ----------------------------------------------------------------- drift

TEST_F(PolicyCommandTest, DriftThreeEnvironments) {
  std::string production =
      Config("production", DataFile("org/production.json"));
  std::string staging = Config("staging", DataFile("org/staging.json"));
  std::string development =
      Config("development", DataFile("org/development.json"));
  std::string dr = Config("dr", DataFile("org/production.json"));

  CliRun r = RunCli({"policy", "drift", production, staging, development, dr,
                     "--format", "json"});
  EXPECT_EQ(r.rc, 1) << r.err;
  json j = ParseOut(r);
  EXPECT_EQ(j["baseline"], production);
  EXPECT_EQ(j["weakens"], true);
  ASSERT_EQ(j["environments"].size(), 3u);
  const json& envs = j["environments"];
  EXPECT_EQ(envs[0]["name"], staging);
  EXPECT_EQ(envs[1]["name"], development);
  EXPECT_EQ(envs[2]["name"], dr);
  EXPECT_EQ(envs[0]["weakens"], true);
  EXPECT_EQ(envs[1]["weakens"], true);
  EXPECT_EQ(envs[2]["weakens"], false);
  EXPECT_TRUE(envs[2]["changes"].empty());
  for (size_t i = 0; i < 2; ++i) {
    for (const json& c : envs[i]["changes"]) {
      ExpectChangeShape(c);
      EXPECT_EQ(c["effect"], "weakens");
    }
  }
  EXPECT_EQ(RulesOf(envs[0]["changes"]),
            (std::set<std::string>{"level-lowered", "store-added",
                                   "timestamp-relaxed"}));
  std::set<std::string> dev = RulesOf(envs[1]["changes"]);
  for (const char* rule : {"level-lowered", "override-relaxed",
                           "identity-broadened", "store-added"}) {
    EXPECT_EQ(dev.count(rule), 1u) << rule;
  }

  // --all adds what is merely different; allowing every weakening rule of
  // both environments makes drift pass.
  CliRun all = RunCli({"policy", "drift", production, development, "--all",
                       "--format", "json"});
  std::set<std::string> every =
      RulesOf(ParseOut(all)["environments"][0]["changes"]);
  EXPECT_EQ(every.count("scope-moved"), 1u);
  EXPECT_EQ(every.count("store-removed"), 1u);
  CliRun allowed = RunCli({"policy", "drift", production, staging, "--allow",
                           "level-lowered,store-added,timestamp-relaxed"});
  EXPECT_EQ(allowed.rc, 0) << allowed.out << allowed.err;
}

TEST_F(PolicyCommandTest, DriftCoversRepositoriesTheBaselineDoesNot) {
  json prod = json::parse(DataFile("org/production.json"));
  prod["trustPolicies"].erase(3);  // no global statement in the baseline
  json env = prod;
  env["trustPolicies"].push_back(
      json{{"name", "sandbox"},
           {"registryScopes", {"registry.example.com/sandbox/tools"}},
           {"signatureVerification", {{"level", "skip"}}}});
  std::string baseline = Config("baseline", prod.dump());
  std::string sandbox = Config("sandbox", env.dump());
  CliRun r = RunCli({"policy", "drift", baseline, sandbox, "--format", "json"});
  EXPECT_EQ(r.rc, 1);
  json j = ParseOut(r);
  ASSERT_EQ(j["environments"][0]["changes"].size(), 1u);
  const json& c = j["environments"][0]["changes"][0];
  EXPECT_EQ(c["rule"], "scope-covered");
  EXPECT_EQ(c["scope"], "registry.example.com/sandbox/tools");
  EXPECT_EQ(c["effect"], "weakens");
}

TEST_F(PolicyCommandTest, DriftBadInput) {
  std::string production =
      Config("production", DataFile("org/production.json"));
  EXPECT_EQ(RunCli({"policy", "drift", production}).rc, 2);
  EXPECT_EQ(RunCli({"policy", "drift", production,
                    (dir_.path() / "missing").string()})
                .rc,
            2);
}

// ---------------------------------------------------------- registration

TEST(PolicyCommandRegistrationTest, CoexistsWithOtherSubcommands) {
  CLI::App app{"trustgate"};
  app.require_subcommand(1);
  bool other_ran = false;
  app.add_subcommand("verify", "")->callback([&] { other_ran = true; });
  std::unique_ptr<PolicyCommands> policy = AddPolicyCommands(app);
  std::vector<std::string> args = {"verify"};
  app.parse(args);
  EXPECT_TRUE(other_ran);
  EXPECT_FALSE(policy->RunIfParsed().has_value());
}

}  // namespace
}  // namespace trustgate::tools
