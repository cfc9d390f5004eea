#include "engine/index.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "engine/report.h"
#include "engine/verdict.h"

namespace trustgate::engine {
namespace {

namespace fs = std::filesystem;

base::Time At(int64_t seconds) { return base::TimeFromUnixSeconds(seconds); }

// TempDir is a fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tg-index-XXXXXX");
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ / name; }
  std::set<std::string> Entries() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) {
      out.insert(e.path().filename());
    }
    return out;
  }

 private:
  fs::path path_;
};

// Raw is a plain SQLite connection for looking behind the API.
class Raw {
 public:
  explicit Raw(const std::string& path, int flags = SQLITE_OPEN_READWRITE) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, flags, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Raw() { sqlite3_close_v2(db_); }
  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  // Text returns the first column of the first row ("" when none).
  std::string Text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return out;
  }
  int64_t Int(const std::string& sql) { return std::stoll(Text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

ArtifactVerdict MakeVerdict(const std::string& repo, int n) {
  ArtifactVerdict v;
  v.repository = repo;
  char hex[65];
  std::snprintf(hex, sizeof(hex), "%064x", n);
  v.digest = std::string("sha256:") + hex;
  v.media_type = "application/vnd.oci.image.manifest.v1+json";
  v.tags = {"v" + std::to_string(n)};
  v.verdict = Verdict::kVerified;
  v.reason = Reason::kOk;
  v.policy = "payments";
  v.level = "strict";
  SignatureVerdict s;
  s.digest = "sha256:" + std::string(63, 'f') + std::to_string(n % 10);
  s.envelope = "jws";
  s.scheme = "notary.x509";
  s.identity = "CN=signer,O=Acme,ST=WA,C=US";
  s.signing_time = At(1700000000 + n);
  s.trust_store = "ca:payments";
  s.chain = {std::string(64, 'a'), std::string(64, 'b'), std::string(64, 'c')};
  for (auto& c : s.validations) {
    c.status = CheckStatus::kPass;
  }
  s.valid_until = At(1900000000);
  v.signatures = {s};
  v.blobs = {2, 0, 0};
  v.valid_until = At(1900000000);
  v.verified_at = At(1750000000);
  return v;
}

ArtifactVerdict MakeBare(const std::string& repo, int n) {
  ArtifactVerdict v;
  v.repository = repo;
  v.digest = "sha256:" + std::string(60, '0') + std::to_string(1000 + n);
  v.media_type = "application/vnd.oci.image.index.v1+json";
  v.verdict = Verdict::kFailed;
  v.reason = Reason::kUnsigned;
  v.error = "no signature";
  return v;
}

RunInfo SampleRun() {
  RunInfo r;
  r.started_at = At(1750000000);
  r.verification_time = At(1750000000);
  r.policy_sha256 = std::string(64, '9');
  r.trust_store_generation = "gen-1";
  r.mirror = "/srv/mirror";
  r.tool_version = "0.1.0";
  return r;
}

TEST(VerdictIndexTest, CreatesSchemaAndReopens) {
  TempDir dir;
  std::string path = dir.File("index.db");
  {
    auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(index.ok()) << index.detail();
    EXPECT_EQ(index->mode(), OpenMode::kReadWrite);
  }
  ASSERT_TRUE(fs::exists(path));
  {
    Raw raw(path, SQLITE_OPEN_READONLY);
    EXPECT_EQ(raw.Int("PRAGMA application_id"), 0x54474958);
    EXPECT_EQ(raw.Int("PRAGMA user_version"), kIndexSchemaVersion);
    EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.Text("SELECT value FROM meta WHERE key='schema_version'"),
              "1");
    for (const char* table : {"meta", "runs", "verdicts", "signatures"}) {
      EXPECT_EQ(raw.Int(std::string("SELECT count(*) FROM sqlite_schema "
                                    "WHERE type='table' AND name='") +
                        table + "'"),
                1)
          << table;
    }
    for (const char* index :
         {"verdicts_by_digest", "signatures_by_leaf", "signatures_by_anchor",
          "signatures_by_trust_store"}) {
      EXPECT_EQ(raw.Int(std::string("SELECT count(*) FROM sqlite_schema "
                                    "WHERE type='index' AND name='") +
                        index + "'"),
                1)
          << index;
    }
  }
  auto again = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(again.ok()) << again.detail();
  auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.detail();
}

TEST(VerdictIndexTest, EmptyExistingFileBecomesAnIndex) {
  TempDir dir;
  std::string path = dir.File("empty.db");
  { std::ofstream(path).flush(); }
  auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_FALSE(ro.ok());
  EXPECT_EQ(ro.code(), IndexError::kNotAnIndex);
  auto rw = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(rw.ok()) << rw.detail();
}

TEST(VerdictIndexTest, RefusesAnotherSqliteDatabaseAndLeavesItAlone) {
  TempDir dir;
  std::string path = dir.File("other.db");
  {
    Raw raw(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_EQ(raw.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (1);"),
              SQLITE_OK);
  }
  auto before = fs::file_size(path);
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    auto index = VerdictIndex::Open(path, mode);
    ASSERT_FALSE(index.ok());
    EXPECT_EQ(index.code(), IndexError::kNotAnIndex);
  }
  Raw raw(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_schema"), 1);
  EXPECT_EQ(raw.Int("PRAGMA application_id"), 0);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(fs::file_size(path), before);
}

TEST(VerdictIndexTest, RefusesGarbageFile) {
  TempDir dir;
  std::string path = dir.File("garbage.db");
  std::string garbage(8192, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) {
    garbage[i] = static_cast<char>((i * 131 + 7) & 0xff);
  }
  {
    std::ofstream out(path, std::ios::binary);
    out << garbage;
  }
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    auto index = VerdictIndex::Open(path, mode);
    ASSERT_FALSE(index.ok());
    EXPECT_EQ(index.code(), IndexError::kNotAnIndex) << index.detail();
  }
  std::ifstream in(path, std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  EXPECT_EQ(after, garbage);
}

TEST(VerdictIndexTest, RefusesNewerSchema) {
  TempDir dir;
  std::string path = dir.File("index.db");
  ASSERT_TRUE(VerdictIndex::Open(path, OpenMode::kReadWrite).ok());
  {
    Raw raw(path);
    ASSERT_EQ(raw.Exec("UPDATE meta SET value = '2' WHERE key = "
                       "'schema_version'"),
              SQLITE_OK);
  }
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    auto index = VerdictIndex::Open(path, mode);
    ASSERT_FALSE(index.ok());
    EXPECT_EQ(index.code(), IndexError::kNewerSchema);
  }
}

TEST(VerdictIndexTest, ReadOnlyCreatesNothing) {
  TempDir dir;
  std::string path = dir.File("missing.db");
  auto index = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.code(), IndexError::kCannotOpen);
  EXPECT_TRUE(dir.Entries().empty());

  // An existing index opened read-only refuses writes and adds no rows.
  std::string real = dir.File("index.db");
  ASSERT_TRUE(VerdictIndex::Open(real, OpenMode::kReadWrite).ok());
  auto ro = VerdictIndex::Open(real, OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.detail();
  EXPECT_EQ(ro->BeginRun(SampleRun()).code(), IndexError::kReadOnly);
  std::vector<ArtifactVerdict> one = {MakeVerdict("r", 1)};
  EXPECT_EQ(ro->WriteBatch(1, one, "in").code(), IndexError::kReadOnly);
  EXPECT_EQ(IndexWriter::Start(std::move(*ro), SampleRun(), {}).code(),
            IndexError::kReadOnly);
  Raw raw(real, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM runs"), 0);
}

// Read-only media: the directory and file cannot be written, so SQLite
// cannot create the WAL reader's -shm file; the index must still open.
TEST(VerdictIndexTest, ReadOnlyOnReadOnlyMedia) {
  TempDir dir;
  std::string path = dir.File("index.db");
  ArtifactVerdict v = MakeVerdict("repo", 5);
  {
    auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(index.ok());
    auto run = index->BeginRun(SampleRun());
    ASSERT_TRUE(run.ok());
    ASSERT_TRUE(index->WriteBatch(*run, {&v, 1}, "x").ok());
  }
  auto entries = dir.Entries();
  fs::path dir_path = fs::path(path).parent_path();
  fs::permissions(dir_path, fs::perms::owner_read | fs::perms::owner_exec |
                                fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read |
                                fs::perms::others_exec);
  fs::permissions(path, fs::perms::owner_read | fs::perms::group_read |
                            fs::perms::others_read);
  auto check = [&]() -> int {
    auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
    if (!ro.ok()) {
      return 1;
    }
    auto found = ro->Lookup(v.repository, v.digest);
    if (!found.ok() || !found->has_value() ||
        (*found)->record != ToJsonLine(v)) {
      return 2;
    }
    return 0;
  };
  int result = 0;
  if (geteuid() == 0) {
    // root ignores permissions: check as an unprivileged user in a child.
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (setresgid(65534, 65534, 65534) != 0 ||
          setresuid(65534, 65534, 65534) != 0) {
        _exit(3);
      }
      _exit(check());
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    result = WEXITSTATUS(status);
  } else {
    result = check();
  }
  fs::permissions(dir_path, fs::perms::owner_all);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  if (result == 3) {
    GTEST_SKIP() << "cannot drop privileges";
  }
  EXPECT_EQ(result, 0);
  EXPECT_EQ(dir.Entries(), entries);
}

TEST(VerdictIndexTest, WriteLookupExportRoundTrip) {
  TempDir dir;
  std::string path = dir.File("index.db");
  auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(index.ok()) << index.detail();
  auto run = index->BeginRun(SampleRun());
  ASSERT_TRUE(run.ok()) << run.detail();

  std::vector<ArtifactVerdict> verdicts = {
      MakeVerdict("registry.example.com/b", 2),
      MakeVerdict("registry.example.com/a", 2),  // same digest, other repo
      MakeVerdict("registry.example.com/a", 1), MakeBare("registry.x/c", 3)};
  AnchorFn anchor =
      [](const SignatureVerdict& s) -> std::optional<std::string> {
    if (s.chain.empty()) {
      return std::nullopt;
    }
    return s.chain.back();
  };
  auto status = index->WriteBatch(*run, verdicts, "inputs-1", anchor);
  ASSERT_TRUE(status.ok()) << status.detail();

  for (const ArtifactVerdict& v : verdicts) {
    auto found = index->Lookup(v.repository, v.digest);
    ASSERT_TRUE(found.ok()) << found.detail();
    ASSERT_TRUE(found->has_value());
    const StoredVerdict& s = **found;
    EXPECT_EQ(s.record, ToJsonLine(v));
    EXPECT_EQ(s.verdict, v.verdict);
    EXPECT_EQ(s.reason, v.reason);
    EXPECT_EQ(s.valid_until, v.valid_until);
    EXPECT_EQ(s.verified_at, v.verified_at);
    EXPECT_EQ(s.inputs, "inputs-1");
    EXPECT_EQ(s.run_id, *run);
    auto back = FromJsonLine(s.record);
    ASSERT_TRUE(back.ok()) << back.detail();
    EXPECT_EQ(ToJsonLine(*back), s.record);
  }
  auto missing = index->Lookup("registry.example.com/a", "sha256:00");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto both = index->LookupDigest(verdicts[0].digest);
  ASSERT_TRUE(both.ok()) << both.detail();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0].repository, "registry.example.com/a");
  EXPECT_EQ((*both)[1].repository, "registry.example.com/b");

  std::vector<std::pair<std::string, std::string>> order;
  std::vector<std::string> records;
  auto each = index->ForEachRecord([&](const StoredVerdict& s) {
    order.emplace_back(s.repository, s.digest);
    records.push_back(s.record);
    return true;
  });
  ASSERT_TRUE(each.ok()) << each.detail();
  ASSERT_EQ(order.size(), verdicts.size());
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  std::set<std::string> expected;
  for (const auto& v : verdicts) {
    expected.insert(ToJsonLine(v));
  }
  EXPECT_EQ(std::set<std::string>(records.begin(), records.end()), expected);

  // Early stop.
  int seen = 0;
  ASSERT_TRUE(index
                  ->ForEachRecord([&](const StoredVerdict&) {
                    ++seen;
                    return false;
                  })
                  .ok());
  EXPECT_EQ(seen, 1);

  // Signature rows carry the trust path.
  Raw raw(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM signatures"), 3);
  EXPECT_EQ(raw.Text("SELECT anchor_fingerprint FROM signatures LIMIT 1"),
            std::string(64, 'c'));
  EXPECT_EQ(raw.Text("SELECT leaf_fingerprint FROM signatures LIMIT 1"),
            std::string(64, 'a'));
  EXPECT_EQ(raw.Text("SELECT trust_store FROM signatures LIMIT 1"),
            "ca:payments");
  EXPECT_EQ(raw.Text("SELECT json_array_length(chain) FROM signatures LIMIT "
                     "1"),
            "3");
  EXPECT_EQ(raw.Text("SELECT policy IS NULL FROM verdicts WHERE repository = "
                     "'registry.x/c'"),
            "1");
  EXPECT_EQ(raw.Text("SELECT tags FROM verdicts WHERE repository = "
                     "'registry.example.com/b'"),
            "[\"v2\"]");
  // The rotation-impact query of index.h uses the anchor index.
  EXPECT_NE(raw.Text("EXPLAIN QUERY PLAN SELECT v.repository FROM signatures "
                     "s JOIN verdicts v ON v.repository = s.repository AND "
                     "v.digest = s.artifact_digest WHERE "
                     "s.anchor_fingerprint = 'x' AND v.verdict = 'verified'")
                .size(),
            0u);

  ASSERT_TRUE(index
                  ->FinishRun(*run, RunCounts{4, 3, 0, 1, 3},
                              RunStatus::kComplete, At(1750000100))
                  .ok());
  EXPECT_EQ(index->RunStatusOf(*run).value(), RunStatus::kComplete);
  EXPECT_EQ(raw.Int("SELECT failed FROM runs"), 1);
  EXPECT_EQ(index
                ->FinishRun(*run + 100, RunCounts{}, RunStatus::kComplete,
                            At(1750000100))
                .code(),
            IndexError::kBadArgument);
  EXPECT_EQ(index->RunStatusOf(*run + 100).code(), IndexError::kBadArgument);
}

TEST(VerdictIndexTest, UpsertReplacesVerdictAndSignatures) {
  TempDir dir;
  std::string path = dir.File("index.db");
  auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(index.ok());
  auto run1 = index->BeginRun(SampleRun());
  ASSERT_TRUE(run1.ok());
  ArtifactVerdict first = MakeVerdict("repo", 7);
  SignatureVerdict second_sig = first.signatures[0];
  second_sig.digest = "sha256:" + std::string(64, '2');
  first.signatures.push_back(second_sig);
  ASSERT_TRUE(index->WriteBatch(*run1, {&first, 1}, "a").ok());

  auto run2 = index->BeginRun(SampleRun());
  ASSERT_TRUE(run2.ok());
  ArtifactVerdict replaced = MakeVerdict("repo", 7);
  replaced.verdict = Verdict::kFailed;
  replaced.reason = Reason::kExpiry;
  replaced.error = "expired";
  replaced.valid_until.reset();
  replaced.signatures[0].reason = Reason::kExpiry;
  ASSERT_TRUE(index->WriteBatch(*run2, {&replaced, 1}, "b").ok());

  auto found = index->Lookup("repo", replaced.digest);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->verdict, Verdict::kFailed);
  EXPECT_EQ((*found)->reason, Reason::kExpiry);
  EXPECT_EQ((*found)->record, ToJsonLine(replaced));
  EXPECT_FALSE((*found)->valid_until.has_value());
  EXPECT_EQ((*found)->inputs, "b");
  EXPECT_EQ((*found)->run_id, *run2);
  Raw raw(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM verdicts"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM signatures"), 1);
  EXPECT_EQ(raw.Text("SELECT reason FROM signatures"), "expiry");
}

TEST(VerdictIndexTest, FailedBatchKeepsNothing) {
  TempDir dir;
  std::string path = dir.File("index.db");
  auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(index.ok());
  auto run = index->BeginRun(SampleRun());
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(index->LimitSizeForTesting(40).ok());
  std::vector<ArtifactVerdict> many;
  for (int i = 0; i < 2000; ++i) {
    many.push_back(MakeVerdict("repo", i));
  }
  auto status = index->WriteBatch(*run, many, "x");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), IndexError::kFull);
  int rows = 0;
  ASSERT_TRUE(index
                  ->ForEachRecord([&](const StoredVerdict&) {
                    ++rows;
                    return true;
                  })
                  .ok());
  EXPECT_EQ(rows, 0);
  // The connection is still usable for a small batch.
  std::vector<ArtifactVerdict> one = {MakeVerdict("repo", 1)};
  EXPECT_TRUE(index->WriteBatch(*run, one, "x").ok());
}

TEST(IndexWriterTest, TenThousandVerdictsFromFourThreads) {
  TempDir dir;
  std::string path = dir.File("index.db");
  auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(index.ok()) << index.detail();
  IndexWriter::Options options;
  options.inputs_fingerprint = "fp";
  options.queue_capacity = 1000;
  auto writer = IndexWriter::Start(std::move(*index), SampleRun(), options);
  ASSERT_TRUE(writer.ok()) << writer.detail();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;
  std::vector<std::thread> threads;
  std::atomic<int> pushed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int n = t * kPerThread + i;
        ArtifactVerdict v = (n % 5 == 0)
                                ? MakeBare("repo" + std::to_string(t), n)
                                : MakeVerdict("repo", n);
        if ((*writer)->Push(std::move(v))) {
          ++pushed;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(pushed.load(), kThreads * kPerThread);
  int64_t run_id = (*writer)->run_id();
  auto closed = (*writer)->Close(RunStatus::kComplete, At(1750000200));
  ASSERT_TRUE(closed.ok()) << closed.detail();
  EXPECT_EQ((*writer)->counts().artifacts, 10000u);
  EXPECT_EQ((*writer)->counts().failed, 2000u);
  EXPECT_EQ((*writer)->Close(RunStatus::kComplete, At(0)).code(),
            IndexError::kBadArgument);
  EXPECT_FALSE((*writer)->Push(MakeVerdict("late", 1)));
  writer->reset();

  auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.detail();
  EXPECT_EQ(ro->RunStatusOf(run_id).value(), RunStatus::kComplete);
  std::set<std::pair<std::string, std::string>> keys;
  ASSERT_TRUE(ro->ForEachRecord([&](const StoredVerdict& s) {
                  keys.emplace(s.repository, s.digest);
                  EXPECT_EQ(s.inputs, "fp");
                  return true;
                }).ok());
  EXPECT_EQ(keys.size(), 10000u);
  for (int n : {0, 1, 4999, 9999}) {
    ArtifactVerdict v =
        (n % 5 == 0) ? MakeBare("repo" + std::to_string(n / kPerThread), n)
                     : MakeVerdict("repo", n);
    auto found = ro->Lookup(v.repository, v.digest);
    ASSERT_TRUE(found.ok() && found->has_value()) << n;
    EXPECT_EQ((*found)->record, ToJsonLine(v));
  }
  Raw raw(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.Int("SELECT artifacts FROM runs WHERE id = " +
                    std::to_string(run_id)),
            10000);
  EXPECT_EQ(raw.Text("SELECT status FROM runs"), "complete");
}

TEST(IndexWriterTest, FlushesOnTimerWithoutFullBatch) {
  TempDir dir;
  std::string path = dir.File("index.db");
  auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(index.ok());
  IndexWriter::Options options;
  options.flush_interval = std::chrono::milliseconds(20);
  auto writer = IndexWriter::Start(std::move(*index), SampleRun(), options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Push(MakeVerdict("repo", 1)));
  auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok());
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto found = ro->Lookup("repo", MakeVerdict("repo", 1).digest);
    ASSERT_TRUE(found.ok()) << found.detail();
    seen = found->has_value();
  }
  EXPECT_TRUE(seen);
  // The run is still open.
  EXPECT_EQ(ro->RunStatusOf((*writer)->run_id()).value(), RunStatus::kRunning);
  ASSERT_TRUE((*writer)->Close(RunStatus::kComplete, At(1)).ok());
}

TEST(IndexWriterTest, DiskFullIsReportedNotFatal) {
  TempDir dir;
  std::string path = dir.File("index.db");
  auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(index->LimitSizeForTesting(60).ok());
  IndexWriter::Options options;
  options.batch_size = 64;
  auto writer = IndexWriter::Start(std::move(*index), SampleRun(), options);
  ASSERT_TRUE(writer.ok()) << writer.detail();
  int dropped = 0;
  for (int i = 0; i < 5000; ++i) {
    if (!(*writer)->Push(MakeVerdict("repo", i))) {
      ++dropped;
    }
  }
  auto closed = (*writer)->Close(RunStatus::kComplete, At(2));
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.code(), IndexError::kFull);
  EXPECT_TRUE((*writer)->failed());
  EXPECT_LT((*writer)->counts().artifacts, 5000u);
  EXPECT_GT(dropped, 0);
  writer->reset();
  // What was committed before the error is intact and readable.
  auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.detail();
  int rows = 0;
  ASSERT_TRUE(ro->ForEachRecord([&](const StoredVerdict& s) {
                  ++rows;
                  EXPECT_TRUE(FromJsonLine(s.record).ok());
                  return true;
                }).ok());
  EXPECT_LT(rows, 5000);
}

TEST(IndexWriterTest, DestructorMarksRunInterrupted) {
  TempDir dir;
  std::string path = dir.File("index.db");
  int64_t run_id = 0;
  {
    auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(index.ok());
    auto writer = IndexWriter::Start(std::move(*index), SampleRun(), {});
    ASSERT_TRUE(writer.ok());
    run_id = (*writer)->run_id();
    ASSERT_TRUE((*writer)->Push(MakeVerdict("repo", 3)));
  }
  auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(ro->RunStatusOf(run_id).value(), RunStatus::kInterrupted);
  auto found = ro->Lookup("repo", MakeVerdict("repo", 3).digest);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
}

TEST(IndexWriterTest, ReuseRowsAndRepositoryRowsForIncrementalRuns) {
  TempDir dir;
  std::string path = dir.File("index.db");
  ArtifactVerdict a = MakeVerdict("repo", 1);
  ArtifactVerdict b = MakeVerdict("repo", 2);
  {
    auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(index.ok());
    auto writer = IndexWriter::Start(std::move(*index), SampleRun(), {});
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Push(a, "key-a", At(1800000000)));
    ASSERT_TRUE((*writer)->Push(b, "", std::nullopt));  // transient
    RepositoryRecord record;
    record.repository = "repo";
    record.key = "repo-key";
    record.digests = {a.digest, b.digest};
    record.warnings = {"a \"warning\""};
    record.verified_at = At(1750000000);
    record.reuse_until = At(1800000000);
    ASSERT_TRUE((*writer)->PushRepository(record));
    (*writer)->CountReused(Verdict::kFailed);
    ASSERT_TRUE((*writer)->Close(RunStatus::kComplete, At(1750000100)).ok());
  }
  auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok());
  auto ra = ro->LookupReusable("repo", a.digest);
  ASSERT_TRUE(ra.ok());
  ASSERT_TRUE(ra->has_value());
  EXPECT_EQ((*ra)->key, "key-a");
  EXPECT_EQ((*ra)->reuse_until, At(1800000000));
  EXPECT_EQ((*ra)->verified_at, a.verified_at);
  EXPECT_EQ((*ra)->record, ToJsonLine(a));
  EXPECT_EQ((*ra)->verdict, Verdict::kVerified);
  // A verdict pushed without a key is never reusable.
  auto rb = ro->LookupReusable("repo", b.digest);
  ASSERT_TRUE(rb.ok());
  EXPECT_FALSE(rb->has_value());
  auto all = ro->LookupReusableIn("repo");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->at(a.digest).key, "key-a");
  auto repo = ro->LookupRepository("repo");
  ASSERT_TRUE(repo.ok());
  ASSERT_TRUE(repo->has_value());
  EXPECT_EQ((*repo)->key, "repo-key");
  EXPECT_EQ((*repo)->digests, (std::vector<std::string>{a.digest, b.digest}));
  EXPECT_EQ((*repo)->warnings, std::vector<std::string>{"a \"warning\""});
  EXPECT_EQ((*repo)->reuse_until, At(1800000000));
  Raw raw(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.Int("SELECT verified FROM runs"), 2);
  EXPECT_EQ(raw.Int("SELECT failed FROM runs"), 1);  // the reused one

  // Writing any verdict of the repository invalidates its row in the same
  // transaction; other repositories keep theirs.
  {
    auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(index.ok());
    auto writer = IndexWriter::Start(std::move(*index), SampleRun(), {});
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Push(a, "key-a2", std::nullopt));
    ASSERT_TRUE((*writer)->Close(RunStatus::kComplete, At(1750000200)).ok());
  }
  auto ro2 = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(ro2.ok());
  auto gone = ro2->LookupRepository("repo");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  auto ra2 = ro2->LookupReusable("repo", a.digest);
  ASSERT_TRUE(ra2.ok() && ra2->has_value());
  EXPECT_EQ((*ra2)->key, "key-a2");
  EXPECT_FALSE((*ra2)->reuse_until.has_value());
}

TEST(VerdictIndexTest, ReadOnlyOpenWhileWriterHoldsTheWal) {
  TempDir dir;
  std::string path = dir.File("index.db");
  auto writer = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(writer.ok());
  auto run = writer->BeginRun(SampleRun());
  ASSERT_TRUE(run.ok());
  std::vector<ArtifactVerdict> committed = {MakeVerdict("repo", 1)};
  ASSERT_TRUE(writer->WriteBatch(*run, committed, "x").ok());

  // Another connection holds the write lock with uncommitted rows in the
  // WAL.
  Raw holder(path);
  ASSERT_EQ(holder.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
  ASSERT_EQ(holder.Exec("INSERT INTO verdicts (repository, digest, "
                        "media_type, verdict, reason, tags, verified_at, "
                        "run_id, inputs, record) VALUES ('pending', "
                        "'sha256:00', 'm', 'failed', 'malformed', '[]', 0, 1, "
                        "'', '{}')"),
            SQLITE_OK);

  auto start = std::chrono::steady_clock::now();
  auto ro = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.detail();
  auto found = ro->Lookup("repo", committed[0].digest);
  ASSERT_TRUE(found.ok()) << found.detail();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->record, ToJsonLine(committed[0]));
  auto pending = ro->Lookup("pending", "sha256:00");
  ASSERT_TRUE(pending.ok()) << pending.detail();
  EXPECT_FALSE(pending->has_value());
  // Readers never waited on the writer's lock.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));

  ASSERT_EQ(holder.Exec("COMMIT"), SQLITE_OK);
  pending = ro->Lookup("pending", "sha256:00");
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->has_value());
}

}  // namespace
}  // namespace trustgate::engine
