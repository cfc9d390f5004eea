// Every OCI-layout case of ../shared/interop/notation-e2e/cases.json (real
// Notation-produced signatures, outcomes observed with notation v1.3): the
// trustgate binary must reach the same verdict and, for failures, fail the
// same validation; validations Notation only logs must be logged.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace trustgate::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path PackDir() { return SharedDir() / "interop" / "notation-e2e"; }

std::vector<json> OciCases() {
  std::vector<json> cases;
  std::string text = ReadFile(PackDir() / "cases.json");
  json all = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!all.is_array()) {
    return cases;
  }
  for (const json& c : all) {
    if (c.value("type", "") != "blob") {
      cases.push_back(c);
    }
  }
  return cases;
}

// The validation names of cases.json and of trustgate's output agree
// (integrity, authenticity, expiry, authenticTimestamp, revocation); the
// reason codes are their kebab-case forms.
std::string ReasonFor(const json& c) {
  std::string v = c.value("failed_validation", "");
  std::string detail =
      c.contains("failure_detail") && c["failure_detail"].is_string()
          ? c["failure_detail"].get<std::string>()
          : "";
  if (v == "noApplicablePolicy") {
    return "no-policy";
  }
  if (v == "noSignature") {
    return "unsigned";
  }
  if (v == "authenticity" && detail == "trustedIdentity") {
    return "trusted-identity";
  }
  if (v == "authenticTimestamp") {
    return "authentic-timestamp";
  }
  return v;
}

class NotationE2e : public ::testing::TestWithParam<json> {};

TEST_P(NotationE2e, SameVerdictAsNotation) {
  const json& c = GetParam();
  const std::string id = c["id"];
  TempDir tmp;
  const fs::path config = tmp.path() / "config";
  const fs::path mirror = tmp.path() / "mirror";
  fs::create_directories(config);

  // Trust policy (null = none exists).
  if (c["trust_policy"].is_string()) {
    fs::copy_file(PackDir() / c["trust_policy"].get<std::string>(),
                  config / "trustpolicy.oci.json");
  }
  // Named trust stores, as Notation lays them out.
  for (const auto& [store, files] : c["trust_stores"].items()) {
    const std::string type = store.substr(0, store.find(':'));
    const std::string name = store.substr(store.find(':') + 1);
    const fs::path dir = config / "truststore" / "x509" / type / name;
    fs::create_directories(dir);
    for (const json& file : files) {
      fs::path source = PackDir() / file.get<std::string>();
      fs::copy_file(source, dir / source.filename());
    }
  }
  // The layout, placed in a mirror at the case's repository URI.
  const std::string scope = c["scope"];
  fs::create_directories((mirror / scope).parent_path());
  fs::copy(PackDir() / c["layout"].get<std::string>(), mirror / scope,
           fs::copy_options::recursive);

  const std::string reference = c["reference"];
  const std::string target = reference.rfind("sha256:", 0) == 0
                                 ? scope + "@" + reference
                                 : scope + ":" + reference;
  CommandResult r = RunCommand(
      {Binary("TRUSTGATE_BIN"), "verify", "--mirror", mirror.string(),
       "--config", config.string(), "--no-index", "--format", "jsonl", target},
      tmp.path() / "scratch");
  SCOPED_TRACE(id + "\nstdout: " + r.out + "\nstderr: " + r.err);

  const std::string expect = c["expect"];
  if (c.value("failed_validation", json()).is_string() &&
      c["failed_validation"] == "trustPolicy") {
    EXPECT_EQ(r.exit_code, 2) << "an invalid or missing policy is a "
                                 "configuration error";
    EXPECT_TRUE(r.out.empty());
    return;
  }
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 1u);
  json verdict = json::parse(lines[0], nullptr, false);
  ASSERT_TRUE(verdict.is_object());
  EXPECT_EQ(verdict["verdict"], expect);
  if (expect == "failed") {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(verdict["reason"], ReasonFor(c));
  } else {
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(verdict["reason"], expect == "verified" ? "ok" : "skipped");
  }

  // Validations Notation logged (at the effective level) before its
  // decision are logged by us too, on the signature that decided.
  std::set<std::string> logged;
  if (c.contains("logged")) {
    for (const json& l : c["logged"]) {
      logged.insert(l.get<std::string>());
    }
  }
  if (!logged.empty()) {
    ASSERT_FALSE(verdict["signatures"].empty());
    const json& last = verdict["signatures"].back()["validations"];
    for (const std::string& name : logged) {
      std::string key = name == "trustedIdentity" ? "trustedIdentity" : name;
      EXPECT_EQ(last.value(key, ""), "logged") << "validation " << name;
    }
  }

  // Per-signature outcomes, where the case pins them down.
  if (c.contains("per_signature") && c["per_signature"].is_object() &&
      expect == "failed") {
    const json& per = c["per_signature"];
    EXPECT_EQ(verdict["signatures"].size(), per.size());
    for (const json& sig : verdict["signatures"]) {
      std::string digest = sig["digest"];
      ASSERT_TRUE(per.contains(digest)) << digest;
      json as_case = {{"failed_validation", per[digest]}};
      EXPECT_EQ(sig.value("reason", ""), ReasonFor(as_case)) << digest;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, NotationE2e, ::testing::ValuesIn(OciCases()),
                         [](const ::testing::TestParamInfo<json>& param_info) {
                           std::string name = param_info.param["id"];
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) {
                               ch = '_';
                             }
                           }
                           return name;
                         });

TEST(NotationE2ePack, HasAllSixtyNineLayoutCases) {
  EXPECT_EQ(OciCases().size(), 69u);
}

}  // namespace
}  // namespace trustgate::testing
