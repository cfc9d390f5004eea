// Integration tests of verification plugins through the trustgate binary:
// mkmirror's AWS-Signer-style signatures verified with the test plugin
// (tests/plugins) installed as com.amazonaws.signer.notation.plugin, at
// every level, with every misbehaving variant, without the plugin, offline,
// and at batch scale with the index cache.

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace trustgate::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kAt = "2026-06-01T00:00:00Z";
constexpr const char* kPlugin = "com.amazonaws.signer.notation.plugin";
constexpr const char* kRepo = "registry.example.com/aws/app";

// InstallPlugin copies the test plugin to <dir>/<name>/notation-<name>.
void InstallPlugin(const fs::path& dir, const std::string& name = kPlugin) {
  const fs::path target = dir / name / ("notation-" + name);
  fs::create_directories(target.parent_path());
  fs::copy_file(Binary("TRUSTGATE_TEST_PLUGIN"), target,
                fs::copy_options::overwrite_existing);
  fs::permissions(target, fs::perms::owner_all | fs::perms::group_read |
                              fs::perms::group_exec);
}

// CountLines counts lines equal to `what` in `file` (the test plugin's
// log_file: one line per invocation, the command name).
size_t CountLines(const fs::path& file, const std::string& what) {
  size_t n = 0;
  for (const std::string& line : Lines(ReadFile(file))) {
    n += line == what ? 1 : 0;
  }
  return n;
}

struct Verified {
  CommandResult result;
  std::map<std::string, json> by_tag;  // tags[0] -> record
};

Verified ParseRun(CommandResult r) {
  Verified v;
  v.result = std::move(r);
  for (const std::string& line : Lines(v.result.out)) {
    json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << line;
    if (j.is_object() && !j["tags"].empty()) {
      v.by_tag[j["tags"][0].get<std::string>()] = j;
    }
  }
  return v;
}

// A test mirror with the AWS cases, shared by the suite.
class PluginMirror : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    CommandResult r = RunCommand({Binary("MKMIRROR_BIN"), "--preset", "test",
                                  "--seed", "7", "--out", root().string()},
                                 dir_->path() / "scratch");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    InstallPlugin(plugins());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path root() { return dir_->path() / "gen"; }
  static fs::path config() { return root() / "config"; }
  static fs::path plugins() { return dir_->path() / "plugins"; }
  static fs::path fixture() { return root() / "plugin-revocation.txt"; }

  // Verify runs trustgate on the aws/app repository (or `targets`) with the
  // plugin dir and the revocation fixture unless `extra` says otherwise.
  Verified Verify(std::vector<std::string> extra,
                  std::vector<std::string> targets = {kRepo}) {
    std::vector<std::string> argv = {Binary("TRUSTGATE_BIN"),
                                     "verify",
                                     "--mirror",
                                     (root() / "mirror").string(),
                                     "--at",
                                     kAt,
                                     "--format",
                                     "jsonl",
                                     "--offline",
                                     "--crl-dir",
                                     (root() / "revocation").string()};
    bool has_config = false;
    bool has_index = false;
    bool has_dir = false;
    for (const std::string& a : extra) {
      has_config = has_config || a == "--policy" || a == "--config";
      has_index = has_index || a == "--index";
      has_dir = has_dir || a == "--plugin-dir";
    }
    if (!has_config) {
      argv.insert(argv.end(), {"--config", config().string()});
    }
    if (!has_index) {
      argv.push_back("--no-index");
    }
    if (!has_dir) {
      argv.insert(argv.end(), {"--plugin-dir", plugins().string()});
    }
    argv.insert(argv.end(),
                {"--plugin-config", "revocation_file=" + fixture().string(),
                 "--plugin-config", "log_file=" + log().string()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), targets.begin(), targets.end());
    return ParseRun(RunCommand(argv, scratch_.path()));
  }

  // Level returns the arguments selecting a copy of the policy whose every
  // statement has `verification`.
  std::vector<std::string> Level(const json& verification) {
    json policy = json::parse(ReadFile(config() / "trustpolicy.oci.json"));
    for (json& statement : policy["trustPolicies"]) {
      statement["signatureVerification"] = verification;
      if (verification["level"] == "skip") {
        statement.erase("trustStores");
        statement.erase("trustedIdentities");
      }
    }
    fs::path file =
        scratch_.path() / ("policy-" + std::to_string(++n_) + ".json");
    WriteFile(file, policy.dump(2));
    return {"--policy", file.string(), "--trust-store",
            (config() / "truststore").string()};
  }

  static std::string Outcome(const Verified& v, const std::string& tag) {
    auto it = v.by_tag.find(tag);
    if (it == v.by_tag.end()) {
      return "absent";
    }
    return it->second["verdict"].get<std::string>() + "/" +
           it->second["reason"].get<std::string>();
  }
  static json Sig(const Verified& v, const std::string& tag) {
    auto it = v.by_tag.find(tag);
    if (it == v.by_tag.end() || it->second["signatures"].empty()) {
      return json::object();
    }
    return it->second["signatures"].back();
  }

  fs::path log() const { return scratch_.path() / "plugin.log"; }

  TempDir scratch_;
  int n_ = 0;
  static TempDir* dir_;
};
TempDir* PluginMirror::dir_ = nullptr;

struct Named {
  std::string name;
  json verification;
};

const std::vector<Named>& Levels() {
  static const std::vector<Named> levels = {
      {"strict", {{"level", "strict"}}},
      {"permissive", {{"level", "permissive"}}},
      {"audit", {{"level", "audit"}}},
      {"strict+revocation=skip",
       {{"level", "strict"}, {"override", {{"revocation", "skip"}}}}},
  };
  return levels;
}

// With the plugin installed the whole test mirror is as mkmirror built it
// (expected-plugin.jsonl): the AWS cases by the plugin, the rest unchanged.
TEST_F(PluginMirror, EveryArtifactAsExpectedWithThePlugin) {
  Verified v = Verify({}, {});
  EXPECT_EQ(v.result.exit_code, 1) << v.result.err;
  size_t n = 0;
  for (const std::string& line :
       Lines(ReadFile(root() / "expected-plugin.jsonl"))) {
    json e = json::parse(line);
    SCOPED_TRACE(e["case"].get<std::string>());
    EXPECT_EQ(Outcome(v, e["tag"]), e["verdict"].get<std::string>() + "/" +
                                        e["reason"].get<std::string>());
    ++n;
  }
  EXPECT_EQ(v.by_tag.size(), n);
  const json sig = Sig(v, "aws-good-jws");
  EXPECT_EQ(sig["validations"]["plugin"], "pass");
  EXPECT_EQ(sig["validations"]["trustedIdentity"], "pass");
  EXPECT_EQ(sig["validations"]["revocation"], "pass");
  EXPECT_EQ(sig["scheme"], "notary.x509.signingAuthority");
  EXPECT_EQ(sig["chain"].size(), 4u);
  EXPECT_EQ(sig["plugin"]["name"], kPlugin);
  EXPECT_EQ(sig["plugin"]["version"], "1.2.0");
  EXPECT_EQ(sig["plugin"]["capabilities"].size(), 2u);
  EXPECT_EQ(sig["plugin"]["cached"], false);
  // Metadata once per run, verify-signature once per signature that got
  // that far (not for the min-version, untrusted-root and expired cases).
  EXPECT_EQ(CountLines(log(), "get-plugin-metadata"), 1u);
  EXPECT_EQ(CountLines(log(), "verify-signature"), 5u);
}

// Without it, every AWS case fails `plugin` (expected.jsonl), and the
// message names the plugin and the directory it is expected in.
TEST_F(PluginMirror, MissingPluginFailsWithWhereToInstallIt) {
  TempDir empty;
  Verified v = Verify({"--plugin-dir", empty.path().string()});
  EXPECT_EQ(v.result.exit_code, 1);
  ASSERT_EQ(v.by_tag.size(), 8u);
  for (const auto& [tag, record] : v.by_tag) {
    SCOPED_TRACE(tag);
    EXPECT_EQ(record["reason"], "plugin");
    const json sig = record["signatures"].back();
    EXPECT_EQ(sig["validations"]["plugin"], "fail");
    EXPECT_EQ(sig["findings"].back()["code"], "plugin-not-installed");
    const std::string error = record["error"];
    EXPECT_NE(error.find(kPlugin), std::string::npos) << error;
    EXPECT_NE(error.find((empty.path() / kPlugin).string()), std::string::npos)
        << error;
  }
}

TEST_F(PluginMirror, DefaultPluginDirIsConfigPlugins) {
  TempDir copy;
  fs::copy(config(), copy.path() / "config", fs::copy_options::recursive);
  InstallPlugin(copy.path() / "config" / "plugins");
  std::vector<std::string> argv = {Binary("TRUSTGATE_BIN"),
                                   "verify",
                                   "--mirror",
                                   (root() / "mirror").string(),
                                   "--config",
                                   (copy.path() / "config").string(),
                                   "--at",
                                   kAt,
                                   "--format",
                                   "jsonl",
                                   "--no-index",
                                   "--offline",
                                   "--plugin-config",
                                   "revocation_file=" + fixture().string(),
                                   std::string(kRepo) + ":aws-good-jws"};
  Verified v = ParseRun(RunCommand(argv, scratch_.path()));
  EXPECT_EQ(v.result.exit_code, 0) << v.result.err;
  EXPECT_EQ(Outcome(v, "aws-good-jws"), "verified/ok");
}

// The plugin's answers at each level: TRUSTED_IDENTITY is judged with the
// authenticity action, REVOCATION_CHECK with the revocation action, and a
// revocation skip leaves REVOCATION_CHECK out of the request.
TEST_F(PluginMirror, PluginResultsAtEveryLevel) {
  // tag -> outcome per level (strict, permissive, audit, revocation skip).
  const std::map<std::string, std::vector<std::string>> want = {
      {"aws-good-jws",
       {"verified/ok", "verified/ok", "verified/ok", "verified/ok"}},
      {"aws-good-cose",
       {"verified/ok", "verified/ok", "verified/ok", "verified/ok"}},
      {"aws-other-profile",
       {"failed/trusted-identity", "failed/trusted-identity", "verified/ok",
        "failed/trusted-identity"}},
      {"aws-revoked-job",
       {"failed/revocation", "verified/ok", "verified/ok", "verified/ok"}},
      {"aws-revocation-unknown",
       {"failed/revocation", "verified/ok", "verified/ok", "verified/ok"}},
      {"aws-min-version-too-high",
       {"failed/plugin", "failed/plugin", "failed/plugin", "failed/plugin"}},
  };
  for (size_t l = 0; l < Levels().size(); ++l) {
    const Named& level = Levels()[l];
    SCOPED_TRACE(level.name);
    Verified v = Verify(Level(level.verification));
    for (const auto& [tag, outcomes] : want) {
      EXPECT_EQ(Outcome(v, tag), outcomes[l]) << tag << "\n" << v.result.err;
    }
    const json other = Sig(v, "aws-other-profile");
    const json revoked = Sig(v, "aws-revoked-job");
    if (level.name == "strict") {
      EXPECT_EQ(other["validations"]["trustedIdentity"], "fail");
      EXPECT_EQ(other["validations"]["plugin"], "fail");
      EXPECT_EQ(revoked["validations"]["revocation"], "fail");
      EXPECT_EQ(Sig(v, "aws-min-version-too-high")["findings"][0]["code"],
                "plugin-version-too-low");
    } else if (level.name == "permissive") {
      EXPECT_EQ(revoked["validations"]["revocation"], "logged");
      EXPECT_EQ(revoked["validations"]["plugin"], "logged");
    } else if (level.name == "audit") {
      EXPECT_EQ(other["validations"]["trustedIdentity"], "logged");
      EXPECT_EQ(other["validations"]["plugin"], "logged");
    } else {
      EXPECT_EQ(revoked["validations"]["revocation"], "skipped");
      EXPECT_EQ(revoked["validations"]["plugin"], "pass");
    }
  }
  // Level skip: nothing is read, the plugin never runs.
  fs::remove(log());
  Verified skipped = Verify(Level({{"level", "skip"}}));
  EXPECT_EQ(Outcome(skipped, "aws-good-jws"), "skipped/skipped");
  EXPECT_EQ(CountLines(log(), "verify-signature"), 0u);
}

// Every way a plugin can misbehave fails the signature with reason
// `plugin` at every level; none passes.
TEST_F(PluginMirror, MisbehavingPluginsFailAtEveryLevel) {
  const std::map<std::string, std::string> modes = {
      {"mode=hang", "plugin-timeout"},
      {"mode=crash", "plugin-crashed"},
      {"mode=garbage", "plugin-malformed-response"},
      {"mode=error", "plugin-error"},
      {"mode=exit2", "plugin-exit-status"},
      {"mode=huge", "plugin-output-too-large"},
      {"mode=omit", "plugin-unprocessed-attribute"},
      {"mode=wrongcaps", "plugin-result-mismatch"},
      {"mode=extracaps", "plugin-result-mismatch"},
      {"metadata_mode=garbage", "plugin-malformed-response"},
      {"metadata_mode=crash", "plugin-crashed"},
  };
  for (const Named& level : Levels()) {
    for (const auto& [mode, code] : modes) {
      SCOPED_TRACE(level.name + " " + mode);
      std::vector<std::string> args = Level(level.verification);
      args.insert(
          args.end(),
          {"--plugin-config", mode, "--plugin-timeout", "1s", "--plugin-config",
           "pid_file=" + (scratch_.path() / "pids").string()});
      Verified v = Verify(args, {std::string(kRepo) + ":aws-good-jws"});
      EXPECT_EQ(v.result.exit_code, 1) << v.result.err;
      EXPECT_EQ(Outcome(v, "aws-good-jws"), "failed/plugin");
      const json sig = Sig(v, "aws-good-jws");
      EXPECT_EQ(sig["validations"]["plugin"], "fail");
      ASSERT_FALSE(sig["findings"].empty());
      EXPECT_EQ(sig["findings"].back()["code"], code);
    }
  }
}

// Offline, the plugin's call to the revocation service fails: enforced
// under strict, logged under permissive, not made with a revocation skip.
TEST_F(PluginMirror, OfflineRevocationCallFailsPerLevel) {
  const std::vector<std::string> offline = {
      "--plugin-config",
      "revocation_file=" + (scratch_.path() / "unreachable").string(),
      "--plugin-config",
      "request_file=" + (scratch_.path() / "request.json").string()};
  auto run = [&](const json& verification) {
    std::vector<std::string> args = Level(verification);
    args.insert(args.end(), offline.begin(), offline.end());
    return Verify(args, {std::string(kRepo) + ":aws-good-jws"});
  };
  Verified strict = run({{"level", "strict"}});
  EXPECT_EQ(Outcome(strict, "aws-good-jws"), "failed/revocation");
  EXPECT_EQ(Sig(strict, "aws-good-jws")["validations"]["revocation"], "fail");

  Verified permissive = run({{"level", "permissive"}});
  EXPECT_EQ(Outcome(permissive, "aws-good-jws"), "verified/ok");
  EXPECT_EQ(Sig(permissive, "aws-good-jws")["validations"]["revocation"],
            "logged");

  Verified skip =
      run({{"level", "strict"}, {"override", {{"revocation", "skip"}}}});
  EXPECT_EQ(Outcome(skip, "aws-good-jws"), "verified/ok");
  EXPECT_EQ(Sig(skip, "aws-good-jws")["validations"]["revocation"], "skipped");
  const json request =
      json::parse(ReadFile(scratch_.path() / "request.json"), nullptr, false);
  ASSERT_TRUE(request.is_object());
  EXPECT_EQ(request["trustPolicy"]["signatureVerification"],
            json::array({"SIGNATURE_VERIFIER.TRUSTED_IDENTITY"}));
  EXPECT_EQ(request["trustPolicy"]["trustedIdentities"],
            json::array({"arn:aws:signer:us-west-2:123456789012:/"
                         "signing-profiles/trustgate_release"}));
}

TEST_F(PluginMirror, BadPluginFlagsAreUsageErrors) {
  const std::vector<std::vector<std::string>> bad = {
      {"--plugin-timeout", "soon"},
      {"--plugin-timeout", "0"},
      {"--plugin-timeout", "10"},
      {"--plugin-cache-ttl", "1d2d"},
      {"--plugin-cache-ttl", "-1h"},
      {"--plugin-jobs", "-1"},
      {"--plugin-jobs", "100000"},
      {"--plugin-jobs", "many"},
      {"--plugin-config", "novalue"},
      {"--plugin-config", "=value"},
      {"--plugin-dir", "/nonexistent/plugins"}};
  for (const auto& args : bad) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    Verified v = Verify(args);
    EXPECT_EQ(v.result.exit_code, 2) << v.result.err;
    EXPECT_TRUE(v.by_tag.empty());
  }
}

// A mirror of AWS-Signer-style signatures at batch scale: the plugin runs
// once per signature, not at all on a re-run within the TTL (answers from
// the index), and again once per signature with --plugin-cache-ttl 0.
TEST(PluginScale, OncePerSignatureAndCachedOnTheRerun) {
  const char* env = std::getenv("TRUSTGATE_PLUGIN_SCALE_COUNT");
  const int count = env != nullptr ? std::atoi(env) : 10000;
  ASSERT_GT(count, 0);
  TempDir dir;
  const fs::path out = dir.path() / "gen";
  CommandResult made =
      RunCommand({Binary("MKMIRROR_BIN"), "--preset", "bench", "--signer",
                  "aws", "--artifacts", std::to_string(count), "--layer-size",
                  "64", "--out", out.string()},
                 dir.path() / "scratch");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  InstallPlugin(dir.path() / "plugins");
  const fs::path log = dir.path() / "plugin.log";
  const fs::path index = dir.path() / "index.db";
  auto verify = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        Binary("TRUSTGATE_BIN"),
        "verify",
        "--mirror",
        (out / "mirror").string(),
        "--config",
        (out / "config").string(),
        "--plugin-dir",
        (dir.path() / "plugins").string(),
        "--plugin-config",
        "revocation_file=" + (out / "plugin-revocation.txt").string(),
        "--plugin-config",
        "log_file=" + log.string(),
        "--index",
        index.string(),
        "--at",
        kAt,
        "--offline",
        "--format",
        "jsonl"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, dir.path() / "scratch");
  };
  auto count_verified = [](const CommandResult& r, bool* all_cached) {
    size_t n = 0;
    *all_cached = true;
    for (const std::string& line : Lines(r.out)) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && j["verdict"] == "verified") {
        ++n;
        *all_cached =
            *all_cached && j["signatures"].back()["plugin"]["cached"] == true;
      }
    }
    return n;
  };
  const size_t n = static_cast<size_t>(count);
  bool cached = false;

  CommandResult first = verify({});
  ASSERT_EQ(first.exit_code, 0) << first.err.substr(0, 2000);
  EXPECT_EQ(count_verified(first, &cached), n);
  EXPECT_FALSE(cached);
  EXPECT_EQ(CountLines(log, "verify-signature"), n);
  EXPECT_EQ(CountLines(log, "get-plugin-metadata"), 1u);

  // A re-run reuses the stored verdicts (incremental): no plugin process.
  CommandResult again = verify({});
  ASSERT_EQ(again.exit_code, 0) << again.err.substr(0, 2000);
  EXPECT_EQ(count_verified(again, &cached), n);
  EXPECT_EQ(CountLines(log, "verify-signature"), n);
  EXPECT_EQ(CountLines(log, "get-plugin-metadata"), 1u);

  // --full verifies every signature again, and the plugin's answers come
  // from the index cache: still no plugin process, metadata included.
  CommandResult full = verify({"--full"});
  ASSERT_EQ(full.exit_code, 0) << full.err.substr(0, 2000);
  EXPECT_EQ(count_verified(full, &cached), n);
  EXPECT_TRUE(cached);
  EXPECT_EQ(CountLines(log, "verify-signature"), n);
  EXPECT_EQ(CountLines(log, "get-plugin-metadata"), 1u);

  CommandResult uncached = verify({"--plugin-cache-ttl", "0"});
  ASSERT_EQ(uncached.exit_code, 0) << uncached.err.substr(0, 2000);
  EXPECT_EQ(count_verified(uncached, &cached), n);
  EXPECT_FALSE(cached);
  EXPECT_EQ(CountLines(log, "verify-signature"), 2 * n);
}

}  // namespace
}  // namespace trustgate::testing
