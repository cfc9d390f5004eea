// Integration tests of incremental re-verification, the reader choice,
// the simple-path comparison and faults (SIGINT, kill -9, a full index)
// of `trustgate verify` on mirrors made by mkmirror.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_util.h"

namespace trustgate::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Inside every generated certificate's validity (mkmirror's --now is
// 2026-01-01T00:00:00Z).
constexpr const char* kAt = "2026-06-01T00:00:00Z";

// Report is one `--format json` run: the document's artifact lines (each
// exactly the jsonl record), by key, and the summary.
struct Report {
  CommandResult result;
  std::vector<std::string> lines;
  std::map<std::string, json> by_key;
  json summary;
  uint64_t reused() const { return summary.value("reused", uint64_t{0}); }
  uint64_t reverified() const {
    return summary.value("reverified", uint64_t{0});
  }
};

Report ParseReport(CommandResult r) {
  Report report;
  report.result = std::move(r);
  json doc = json::parse(report.result.out, nullptr, false);
  EXPECT_TRUE(doc.is_object())
      << report.result.out.substr(0, 400) << report.result.err;
  if (!doc.is_object()) {
    return report;
  }
  report.summary = doc["summary"];
  for (const std::string& line : Lines(report.result.out)) {
    if (line.front() != '{' || line.rfind("{\"artifacts\"", 0) == 0) {
      continue;
    }
    std::string l = line;
    if (l.back() == ',') {
      l.pop_back();
    }
    report.lines.push_back(l);
  }
  for (const json& a : doc["artifacts"]) {
    report.by_key[a["repository"].get<std::string>() + "@" +
                  a["digest"].get<std::string>()] = a;
  }
  EXPECT_EQ(report.lines.size(), report.by_key.size());
  return report;
}

std::string Sha256Of(const fs::path& file, const fs::path& scratch) {
  CommandResult r = RunCommand({"sha256sum", file.string()}, scratch);
  return r.out.substr(0, 64);
}

// A generated mirror copied into a test's own directory (tests change it).
class Incremental : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gen_ = new TempDir();
    CommandResult t =
        RunCommand({Binary("MKMIRROR_BIN"), "--preset", "test", "--seed", "7",
                    "--out", (gen_->path() / "test").string()},
                   gen_->path() / "scratch");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    CommandResult b =
        RunCommand({Binary("MKMIRROR_BIN"), "--preset", "bench", "--seed", "3",
                    "--artifacts", "40", "--repos", "4", "--out",
                    (gen_->path() / "bench").string()},
                   gen_->path() / "scratch");
    ASSERT_EQ(b.exit_code, 0) << b.err;
  }
  static void TearDownTestSuite() {
    delete gen_;
    gen_ = nullptr;
  }

  // Use copies `preset` ("test" | "bench") into this test's directory.
  void Use(const std::string& preset) {
    fs::copy(gen_->path() / preset, dir_.path() / "gen",
             fs::copy_options::recursive);
  }
  fs::path mirror() const { return dir_.path() / "gen" / "mirror"; }
  fs::path config() const { return dir_.path() / "gen" / "config"; }
  fs::path index() const { return dir_.path() / "index.db"; }

  std::vector<std::string> Argv(const std::vector<std::string>& extra,
                                const std::string& format = "json") {
    std::vector<std::string> argv = {Binary("TRUSTGATE_BIN"),
                                     "verify",
                                     "--mirror",
                                     mirror().string(),
                                     "--offline",
                                     "--format",
                                     format};
    bool has_config = false;
    bool has_at = false;
    bool has_index = false;
    for (const std::string& a : extra) {
      has_config = has_config || a == "--policy" || a == "--config";
      has_at = has_at || a == "--at";
      has_index = has_index || a == "--index" || a == "--no-index";
    }
    if (!has_config) {
      argv.insert(argv.end(), {"--config", config().string()});
    }
    if (!has_at) {
      argv.insert(argv.end(), {"--at", kAt});
    }
    if (!has_index) {
      argv.insert(argv.end(), {"--index", index().string()});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  Report Verify(const std::vector<std::string>& extra = {}) {
    return ParseReport(RunCommand(Argv(extra), dir_.path() / "scratch"));
  }

  std::string Sql(const std::string& query) {
    CommandResult r =
        RunCommand({"sqlite3", index().string(), query}, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // Blob returns the path of `digest`'s blob in `repository`.
  fs::path Blob(const std::string& repository, const std::string& digest) {
    std::string path = repository.substr(repository.find('/') + 1);
    return mirror() / "registry.example.com" / path / "blobs" / "sha256" /
           digest.substr(7);
  }

  TempDir dir_;
  static TempDir* gen_;
};

TempDir* Incremental::gen_ = nullptr;

// Expect `after` to hold the same line as `before` for every artifact
// except `changed` (keys "repository@digest").
void ExpectSameExcept(const Report& before, const Report& after,
                      const std::set<std::string>& changed) {
  ASSERT_EQ(before.by_key.size(), after.by_key.size());
  for (const auto& [key, j] : before.by_key) {
    if (changed.count(key) == 0) {
      EXPECT_EQ(after.by_key.at(key), j) << key;
    }
  }
}

TEST_F(Incremental, UnchangedMirrorIsReusedByteForByte) {
  Use("bench");
  Report first = Verify();
  ASSERT_EQ(first.result.exit_code, 0) << first.result.err;
  EXPECT_EQ(first.reused(), 0u);
  EXPECT_EQ(first.reverified(), 40u);
  Report second = Verify();
  ASSERT_EQ(second.result.exit_code, 0) << second.result.err;
  EXPECT_EQ(second.reused(), 40u);
  EXPECT_EQ(second.reverified(), 0u);
  EXPECT_EQ(second.summary["signaturesVerified"], 0);
  EXPECT_EQ(first.lines, second.lines);  // byte-identical records
  // jsonl (written from the stored records) equals the json elements.
  CommandResult jsonl = RunCommand(Argv({}, "jsonl"), dir_.path() / "scratch");
  EXPECT_EQ(jsonl.exit_code, 0);
  EXPECT_EQ(Lines(jsonl.out), first.lines);
  // The repositories are recorded for the fast path.
  EXPECT_EQ(Sql("SELECT count(*) FROM repositories"), "4\n");
  EXPECT_EQ(Sql("SELECT status FROM runs ORDER BY id DESC LIMIT 1"),
            "complete\n");
  // --full verifies everything again and gives the same verdicts.
  Report full = Verify({"--full"});
  EXPECT_EQ(full.reused(), 0u);
  EXPECT_EQ(full.reverified(), 40u);
  EXPECT_EQ(full.lines, first.lines);
}

TEST_F(Incremental, TestMirrorReusesAllButTransientVerdicts) {
  Use("test");
  Report first = Verify();
  ASSERT_EQ(first.result.exit_code, 1) << first.result.err;
  // Transient: revocation unknown (offline), plugin, malformed, bad blobs.
  uint64_t transient = 0;
  for (const auto& [key, j] : first.by_key) {
    std::string reason = j["reason"];
    bool unknown = j.dump().find("\"unknown\"") != std::string::npos;
    if (reason == "plugin" || reason == "malformed" ||
        reason == "blob-integrity" || unknown ||
        j.dump().find("\"plugin\"") != std::string::npos) {
      ++transient;
    }
  }
  Report second = Verify();
  EXPECT_EQ(second.lines, first.lines);
  EXPECT_GT(second.reused(), 0u);
  EXPECT_LE(second.reverified(), transient);
  EXPECT_EQ(second.reused() + second.reverified(), first.by_key.size());
}

TEST_F(Incremental, ChangedCrlDirReverifies) {
  Use("test");
  const fs::path crl_dir = dir_.path() / "gen" / "revocation";
  const std::vector<std::string> args = {"--crl-dir", crl_dir.string()};
  Report first = Verify(args);
  Report second = Verify(args);
  EXPECT_GT(second.reused(), 0u);
  EXPECT_EQ(second.lines, first.lines);
  // A file dropped into the directory (a new CRL, say) changes the inputs.
  WriteFile(crl_dir / "new.crl", "not yet a CRL");
  Report third = Verify(args);
  EXPECT_EQ(third.reused(), 0u);
  EXPECT_EQ(third.reverified(), first.by_key.size());
  // Unchanged again: reused again.
  EXPECT_EQ(Verify(args).reused(), second.reused());
}

TEST_F(Incremental, PolicyChangeReverifiesEverything) {
  Use("bench");
  Report first = Verify();
  ASSERT_EQ(first.result.exit_code, 0) << first.result.err;
  // Same meaning, other bytes: the policy fingerprint changes.
  fs::path policy = config() / "trustpolicy.oci.json";
  json p = json::parse(ReadFile(policy));
  fs::path changed = dir_.path() / "policy.json";
  WriteFile(changed, p.dump(4));
  std::vector<std::string> args = {"--policy", changed.string(),
                                   "--trust-store",
                                   (config() / "truststore").string()};
  Report second = Verify(args);
  EXPECT_EQ(second.reused(), 0u);
  EXPECT_EQ(second.reverified(), 40u);
  EXPECT_EQ(second.lines, first.lines);
  Report third = Verify(args);
  EXPECT_EQ(third.reused(), 40u);
}

TEST_F(Incremental, TrustStoreChangeReverifiesEverything) {
  Use("bench");
  Report first = Verify();
  ASSERT_EQ(first.result.exit_code, 0) << first.result.err;
  // Another certificate in a trust store the policy names.
  fs::path store;
  for (const auto& type :
       fs::directory_iterator(config() / "truststore" / "x509")) {
    for (const auto& named : fs::directory_iterator(type.path())) {
      store = named.path();
    }
  }
  ASSERT_FALSE(store.empty());
  // A root of another organisation (the test preset's PKI).
  fs::path cert;
  for (const auto& f : fs::recursive_directory_iterator(
           gen_->path() / "test" / "config" / "truststore" / "x509" / "ca")) {
    if (f.is_regular_file()) {
      cert = f.path();
    }
  }
  ASSERT_FALSE(cert.empty());
  fs::copy_file(cert, store / "other-root.crt");
  Report second = Verify();
  EXPECT_EQ(second.reused(), 0u);
  EXPECT_EQ(second.reverified(), 40u);
}

TEST_F(Incremental, NoBlobsToggleAndAtPastExpiryReverify) {
  Use("bench");
  ASSERT_EQ(Verify().result.exit_code, 0);
  Report no_blobs = Verify({"--no-blobs"});
  EXPECT_EQ(no_blobs.reused(), 0u);
  EXPECT_EQ(no_blobs.reverified(), 40u);
  EXPECT_EQ(Verify({"--no-blobs"}).reused(), 40u);
  EXPECT_EQ(Verify().reused(), 0u);  // back with blobs: verified again
  // Past the certificates' expiry the stored verdicts do not hold.
  Report late = Verify({"--at", "2099-01-01T00:00:00Z"});
  EXPECT_EQ(late.reused(), 0u);
  EXPECT_EQ(late.reverified(), 40u);
  EXPECT_EQ(late.result.exit_code, 1);
  // Earlier than the time a verdict was verified as of: verified again.
  Report early = Verify({"--at", "2026-03-01T00:00:00Z"});
  EXPECT_EQ(early.reused(), 0u);
  EXPECT_EQ(early.result.exit_code, 0);
  // Later again, but before expiry: reused.
  EXPECT_EQ(Verify({"--at", "2026-04-01T00:00:00Z"}).reused(), 40u);
}

TEST_F(Incremental, CorruptedBlobReverifiesOnlyItsArtifacts) {
  Use("bench");
  Report first = Verify();
  ASSERT_EQ(first.result.exit_code, 0) << first.result.err;
  // Tamper with one layer in place (same size).
  const json& a = first.by_key.begin()->second;
  std::string key = first.by_key.begin()->first;
  fs::path manifest = Blob(a["repository"], a["digest"]);
  json m = json::parse(ReadFile(manifest));
  fs::path layer = Blob(a["repository"], m["layers"][0]["digest"]);
  std::string bytes = ReadFile(layer);
  ASSERT_FALSE(bytes.empty());
  bytes[0] = static_cast<char>(bytes[0] ^ 0x55);
  WriteFile(layer, bytes);
  Report second = Verify();
  EXPECT_EQ(second.result.exit_code, 1);
  EXPECT_EQ(second.reverified(), 1u);
  EXPECT_EQ(second.reused(), 39u);
  EXPECT_EQ(second.by_key[key]["reason"], "blob-integrity");
  ExpectSameExcept(first, second, {key});
  // --full hashes again and agrees.
  Report full = Verify({"--full"});
  EXPECT_EQ(full.reverified(), 40u);
  EXPECT_EQ(full.lines, second.lines);
}

TEST_F(Incremental, AddedSignatureReverifiesOnlyItsArtifact) {
  Use("bench");
  Report first = Verify();
  ASSERT_EQ(first.result.exit_code, 0) << first.result.err;
  // Copy artifact A's signature manifest as a new signature of artifact B
  // (same repository): B gets one more signature (it fails, B's own
  // still passes), nothing else changes.
  auto it = first.by_key.begin();
  const json a = it->second;
  const json b = std::next(it)->second;
  ASSERT_EQ(a["repository"], b["repository"]);
  std::string key_b = std::next(it)->first;
  fs::path sig = Blob(a["repository"], a["signatures"][0]["digest"]);
  json s = json::parse(ReadFile(sig));
  fs::path b_manifest = Blob(b["repository"], b["digest"]);
  s["subject"]["digest"] = b["digest"];
  s["subject"]["size"] = fs::file_size(b_manifest);
  std::string bytes = s.dump();
  fs::path tmp = dir_.path() / "sig.json";
  WriteFile(tmp, bytes);
  std::string hex = Sha256Of(tmp, dir_.path());
  fs::copy_file(tmp, sig.parent_path() / hex);
  fs::path index_json =
      sig.parent_path().parent_path().parent_path() / "index.json";
  json index = json::parse(ReadFile(index_json));
  json desc = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
               {"digest", "sha256:" + hex},
               {"size", bytes.size()},
               {"artifactType", "application/vnd.cncf.notary.signature"}};
  index["manifests"].push_back(desc);
  WriteFile(index_json, index.dump());
  Report second = Verify();
  EXPECT_EQ(second.result.exit_code, 0) << second.result.err;
  EXPECT_EQ(second.reverified(), 1u);
  EXPECT_EQ(second.reused(), 39u);
  EXPECT_EQ(second.by_key[key_b]["verdict"], "verified");
  ExpectSameExcept(first, second, {key_b});
  // A changed signature manifest file (in place): its artifact only.
  std::string damaged = ReadFile(sig);
  damaged[damaged.size() / 2] = ' ';
  WriteFile(sig, damaged);
  Report third = Verify();
  EXPECT_EQ(third.reverified(), 1u);
  EXPECT_EQ(third.by_key[it->first]["verdict"], "failed");
}

TEST_F(Incremental, ReaderChoicesAndJobsGiveIdenticalVerdicts) {
  Use("test");
  Report pread = Verify({"--no-index", "--io", "pread", "--jobs", "1"});
  ASSERT_FALSE(pread.lines.empty());
  // The simple path: one worker, pread, no index, against the pipeline
  // with several workers.
  Report jobs4 = Verify({"--no-index", "--io", "auto", "--jobs", "4"});
  EXPECT_EQ(jobs4.lines, pread.lines);
  Report uring = Verify({"--no-index", "--io", "uring", "--jobs", "2"});
  if (uring.result.exit_code == 2) {
    GTEST_SKIP() << "io_uring cannot be set up here: " << uring.result.err;
  }
  EXPECT_EQ(uring.lines, pread.lines);
  CommandResult bad = RunCommand(Argv({"--io", "mmap"}), dir_.path());
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(Incremental, FullIndexIsAClearErrorWithExitTwo) {
  Use("bench");
  std::vector<std::string> argv = Argv({});
  argv.insert(argv.begin(), {"env", "TRUSTGATE_TEST_INDEX_MAX_PAGES=40"});
  CommandResult r = RunCommand(argv, dir_.path() / "scratch");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("NOT stored"), std::string::npos) << r.err;
  // What the index holds is consistent, and less than the run saw.
  EXPECT_EQ(Sql("PRAGMA integrity_check"), "ok\n");
  int stored = std::stoi(Sql("SELECT count(*) FROM verdicts"));
  EXPECT_LT(stored, 40);
  EXPECT_EQ(Sql("SELECT status FROM runs ORDER BY id DESC LIMIT 1"),
            "interrupted\n");
  // Without the limit the next run completes and reuses what is stored.
  Report next = Verify();
  EXPECT_EQ(next.result.exit_code, 0) << next.result.err;
  EXPECT_EQ(next.reused(), static_cast<uint64_t>(stored));
}

TEST_F(Incremental, LargeRepositoryInChunksMatchesTheSimplePath) {
  // One repository above the pipeline's eager limit (1024 artifacts): it
  // is verified in chunks; verdicts equal one worker's, and are reused.
  CommandResult r = RunCommand({Binary("MKMIRROR_BIN"), "--preset", "bench",
                                "--seed", "9", "--artifacts", "1300", "--repos",
                                "1", "--out", (dir_.path() / "gen").string()},
                               dir_.path() / "scratch");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Report simple = Verify({"--no-index", "--jobs", "1", "--io", "pread"});
  ASSERT_EQ(simple.result.exit_code, 0) << simple.result.err;
  ASSERT_EQ(simple.lines.size(), 1300u);
  Report first = Verify({"--jobs", "3"});
  EXPECT_EQ(first.lines, simple.lines);
  Report second = Verify({"--jobs", "3"});
  EXPECT_EQ(second.reused(), 1300u);
  EXPECT_EQ(second.lines, simple.lines);
  EXPECT_EQ(Sql("SELECT count(*) FROM repositories"), "1\n");
}

// Started runs `argv` in the background with stdout to `out`.
pid_t Start(const std::vector<std::string>& argv, const fs::path& out) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// A mirror big enough to be mid-run when killed.
class LargeMirror : public Incremental {
 protected:
  void SetUp() override {
    CommandResult r =
        RunCommand({Binary("MKMIRROR_BIN"), "--preset", "bench", "--seed", "5",
                    "--artifacts", "8000", "--repos", "4", "--out",
                    (dir_.path() / "gen").string()},
                   dir_.path() / "scratch");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // WaitForCommitted polls the index until some verdicts are committed
  // (or the process ended); returns the count seen.
  int WaitForCommitted(pid_t pid) {
    for (int i = 0; i < 6000; ++i) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        ADD_FAILURE() << "the run ended before it could be interrupted";
        return -1;
      }
      if (fs::exists(index())) {
        CommandResult r = RunCommand(
            {"sqlite3", index().string(), "SELECT count(*) FROM verdicts"},
            dir_.path());
        if (r.exit_code == 0 && !r.out.empty() && std::stoi(r.out) > 0) {
          return std::stoi(r.out);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
  }
};

TEST_F(LargeMirror, KillNineKeepsTheIndexAndTheNextRunContinues) {
  std::vector<std::string> argv = Argv({"--jobs", "1"}, "jsonl");
  pid_t pid = Start(argv, dir_.path() / "killed.jsonl");
  ASSERT_GT(pid, 0);
  ASSERT_GT(WaitForCommitted(pid), 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(Sql("PRAGMA integrity_check"), "ok\n");
  int committed = std::stoi(Sql("SELECT count(*) FROM verdicts"));
  ASSERT_GT(committed, 0);
  EXPECT_EQ(Sql("SELECT status FROM runs"), "running\n");
  // Every verdict committed before the kill is reused; the rest is
  // verified; all are as expected.
  Report next = Verify({"--jobs", "2"});
  ASSERT_EQ(next.result.exit_code, 0) << next.result.err;
  EXPECT_EQ(next.reused(), static_cast<uint64_t>(committed));
  EXPECT_EQ(next.by_key.size(), 8000u);
  for (const auto& [key, j] : next.by_key) {
    ASSERT_EQ(j["verdict"], "verified") << key;
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM verdicts"), "8000\n");
  // And a third run is a pure re-use.
  EXPECT_EQ(Verify({"--jobs", "2"}).reused(), 8000u);
}

TEST_F(LargeMirror, SigintStopsCleanlyAndMarksTheRunInterrupted) {
  std::vector<std::string> argv = Argv({"--jobs", "1"}, "jsonl");
  fs::path out = dir_.path() / "interrupted.jsonl";
  pid_t pid = Start(argv, out);
  ASSERT_GT(pid, 0);
  ASSERT_GT(WaitForCommitted(pid), 0);
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_EQ(Sql("SELECT status FROM runs"), "interrupted\n");
  // Every line written is a complete final verdict, and all are stored.
  std::string text = ReadFile(out);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::vector<std::string> lines = Lines(text);
  EXPECT_LT(lines.size(), 8000u);
  for (const std::string& line : lines) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(j["verdict"], "verified");
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM verdicts"),
            std::to_string(lines.size()) + "\n");
  Report next = Verify({"--jobs", "2"});
  EXPECT_EQ(next.result.exit_code, 0);
  EXPECT_EQ(next.reused(), lines.size());
  EXPECT_EQ(next.by_key.size(), 8000u);
}

TEST_F(LargeMirror, SigtermLeavesNoCompleteLookingJsonDocument) {
  std::vector<std::string> argv = Argv({"--jobs", "1"}, "json");
  fs::path out = dir_.path() / "terminated.json";
  pid_t pid = Start(argv, out);
  ASSERT_GT(pid, 0);
  ASSERT_GT(WaitForCommitted(pid), 0);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 143);
  EXPECT_EQ(Sql("SELECT status FROM runs"), "interrupted\n");
  // The document is left open: no summary, not valid JSON.
  std::string text = ReadFile(out);
  EXPECT_EQ(text.find("\"summary\""), std::string::npos);
  EXPECT_TRUE(json::parse(text, nullptr, false).is_discarded());
}

}  // namespace
}  // namespace trustgate::testing
