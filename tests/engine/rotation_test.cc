#include "engine/rotation.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/time.h"
#include "engine/index.h"
#include "engine/verdict.h"
#include "tests/policy/test_pki.h"
#include "tools/rotation_command.h"

namespace trustgate::engine {
namespace {

namespace fs = std::filesystem;
using policy::testing::MakeCert;
using policy::testing::SpecFor;
using policy::testing::TestCert;

constexpr char kApi[] = "registry.example.com/payments/api";
constexpr char kLedger[] = "registry.example.com/payments/ledger";
constexpr char kBase[] = "registry.example.com/platform/base";
constexpr char kLegacy[] = "registry.example.com/misc/legacy";
constexpr char kSkipped[] = "registry.example.com/misc/skipped";

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

// Fingerprint is the SHA-256 hex a trust store would record for `cert`.
std::string Fingerprint(const TestCert& cert) {
  auto parsed = ParseAnchorCertificates(base::AsBytes(cert.Pem()));
  EXPECT_TRUE(parsed.ok()) << parsed.detail();
  EXPECT_EQ(parsed->size(), 1u);
  return parsed->at(0).fingerprint;
}

// Sig is a signature as the verifier records it.
SignatureVerdict Sig(char digest, Reason reason, std::string store,
                     std::string anchor, std::vector<std::string> chain) {
  SignatureVerdict s;
  s.digest = Digest(digest);
  s.envelope = "jws";
  s.scheme = "notary.x509";
  s.identity = "CN=signer,O=Example Corp,ST=WA,C=US";
  s.reason = reason;
  s.trust_store = std::move(store);
  s.anchor = std::move(anchor);
  s.chain = std::move(chain);
  return s;
}

ArtifactVerdict Artifact(std::string repo, char digest, Verdict verdict,
                         std::string level, std::vector<SignatureVerdict> sigs,
                         std::vector<std::string> tags = {}) {
  ArtifactVerdict v;
  v.repository = std::move(repo);
  v.digest = Digest(digest);
  v.media_type = "application/vnd.oci.image.manifest.v1+json";
  v.tags = std::move(tags);
  v.verdict = verdict;
  v.reason = verdict == Verdict::kVerified  ? Reason::kOk
             : verdict == Verdict::kSkipped ? Reason::kSkipped
                                            : Reason::kExpiry;
  v.policy = "statement";
  v.level = std::move(level);
  v.signatures = std::move(sigs);
  v.verified_at = base::TimeFromUnixSeconds(1767225600);
  return v;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tg-rotation-XXXXXX");
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path File(const std::string& name) const { return path_ / name; }
  fs::path Write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
    return path_ / name;
  }

 private:
  fs::path path_;
};

// WriteIndex writes `verdicts` through the production write path, with the
// anchor recorded from SignatureVerdict::anchor as engine/run.cc does.
void WriteIndex(const std::string& path,
                const std::vector<ArtifactVerdict>& verdicts) {
  auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(index.ok()) << index.detail();
  RunInfo run;
  run.started_at = base::TimeFromUnixSeconds(1767225600);
  run.verification_time = run.started_at;
  run.policy_sha256 = std::string(64, '0');
  run.trust_store_generation = std::string(64, '1');
  auto run_id = index->BeginRun(run);
  ASSERT_TRUE(run_id.ok()) << run_id.detail();
  AnchorFn anchor =
      [](const SignatureVerdict& sv) -> std::optional<std::string> {
    if (sv.anchor.empty()) {
      return std::nullopt;
    }
    return sv.anchor;
  };
  auto status = index->WriteBatch(*run_id, verdicts, "inputs", anchor);
  ASSERT_TRUE(status.ok()) << status.detail();
  RunCounts counts;
  for (const ArtifactVerdict& v : verdicts) {
    counts.Add(v);
  }
  ASSERT_TRUE(
      index->FinishRun(*run_id, counts, RunStatus::kComplete, run.started_at)
          .ok());
}

// The organisation: payments (api, ledger) trusts ca:payments, whose old
// root is being rotated out for a new one; platform/base and one payments
// artifact rest on the shared-infrastructure store; misc/legacy was
// recorded without anchors (an older index).
class RotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_root_ = MakeCert(RootSpec("Payments Root 2024"));
    new_root_ = MakeCert(RootSpec("Payments Root 2026"));
    shared_root_ = MakeCert(RootSpec("Shared Infra Root"));
    unused_root_ = MakeCert(RootSpec("Unused Root"));
    old_ = Fingerprint(old_root_);
    new_ = Fingerprint(new_root_);
    shared_ = Fingerprint(shared_root_);
    const std::string leaf(64, 'f');

    std::vector<ArtifactVerdict> v;
    // api: one artifact on the old root, one on the new, one on shared.
    v.push_back(
        Artifact(kApi, 'a', Verdict::kVerified, "strict",
                 {Sig('1', Reason::kOk, "ca:payments", old_, {leaf, old_})},
                 {"v1.0", "stable"}));
    v.push_back(
        Artifact(kApi, 'b', Verdict::kVerified, "strict",
                 {Sig('2', Reason::kOk, "ca:payments", new_, {leaf, new_})}));
    v.push_back(Artifact(
        kApi, 'c', Verdict::kVerified, "strict",
        {Sig('3', Reason::kOk, "ca:shared-infra", shared_, {leaf, shared_})}));
    // ledger: two passing signatures, old and new root: survives either.
    v.push_back(
        Artifact(kLedger, 'd', Verdict::kVerified, "strict",
                 {Sig('4', Reason::kOk, "ca:payments", old_, {leaf, old_}),
                  Sig('5', Reason::kOk, "ca:payments", new_, {leaf, new_})}));
    // ledger: a failed signature on the old root, a passing one on the new.
    v.push_back(
        Artifact(kLedger, 'e', Verdict::kVerified, "strict",
                 {Sig('6', Reason::kExpiry, "ca:payments", old_, {leaf, old_}),
                  Sig('7', Reason::kOk, "ca:payments", new_, {leaf, new_})}));
    // ledger: failed on the old root: not verified today, not counted.
    v.push_back(Artifact(
        kLedger, 'f', Verdict::kFailed, "strict",
        {Sig('8', Reason::kExpiry, "ca:payments", old_, {leaf, old_})}));
    // platform/base: shared store; and an audit-level artifact on the old
    // payments root (authenticity only logged: never stops verifying).
    v.push_back(Artifact(
        kBase, 'g', Verdict::kVerified, "strict",
        {Sig('9', Reason::kOk, "ca:shared-infra", shared_, {leaf, shared_})}));
    v.push_back(
        Artifact(kBase, 'h', Verdict::kVerified, "audit",
                 {Sig('a', Reason::kOk, "ca:payments", old_, {leaf, old_})}));
    v.push_back(
        Artifact(kBase, 'i', Verdict::kVerified, "strict+authenticity=log",
                 {Sig('b', Reason::kOk, "ca:payments", old_, {leaf, old_})}));
    // legacy: no anchor recorded; the chain decides.
    v.push_back(
        Artifact(kLegacy, 'j', Verdict::kVerified, "permissive",
                 {Sig('c', Reason::kOk, "ca:payments", "", {leaf, old_})}));
    v.push_back(
        Artifact(kLegacy, 'k', Verdict::kVerified, "permissive",
                 {Sig('d', Reason::kOk, "ca:payments", "", {leaf, new_})}));
    // audit level, chain anchored nowhere (no store recorded).
    v.push_back(Artifact(kLegacy, 'l', Verdict::kVerified, "audit",
                         {Sig('e', Reason::kOk, "", "", {leaf, old_})}));
    // skipped: never counted.
    v.push_back(Artifact(kSkipped, 'm', Verdict::kSkipped, "skip", {}));
    index_path_ = dir_.File("index.db");
    WriteIndex(index_path_, v);
  }

  static policy::testing::CertSpec RootSpec(const std::string& cn) {
    auto spec =
        SpecFor({{"C", "US"}, {"ST", "WA"}, {"O", "Example Corp"}, {"CN", cn}});
    spec.ca = true;
    return spec;
  }

  VerdictIndex Open() {
    auto index = VerdictIndex::Open(index_path_, OpenMode::kReadOnly);
    EXPECT_TRUE(index.ok()) << index.detail();
    return std::move(index).value();
  }

  // Impacted flattens a report to repository -> digests.
  static std::map<std::string, std::vector<std::string>> Impacted(
      const ImpactReport& r) {
    std::map<std::string, std::vector<std::string>> out;
    for (const ImpactedRepository& repo : r.impacted) {
      for (const ImpactedArtifact& a : repo.artifacts) {
        out[repo.repository].push_back(a.digest);
      }
    }
    return out;
  }

  TempDir dir_;
  std::string index_path_;
  TestCert old_root_, new_root_, shared_root_, unused_root_;
  std::string old_, new_, shared_;
};

constexpr uint64_t kVerifiedArtifacts = 11;

TEST_F(RotationTest, RemovingTheOldRootImpactsOnlyWhatRestsOnItAlone) {
  VerdictIndex index = Open();
  auto r = RotationImpact(index, RemoveAnchor{{old_}});
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->verified, kVerifiedArtifacts);
  EXPECT_EQ(r->count, 2u);
  using Map = std::map<std::string, std::vector<std::string>>;
  EXPECT_EQ(Impacted(*r),
            (Map{{kApi, {Digest('a')}}, {kLegacy, {Digest('j')}}}));
  // Grouped by repository, in order, with the recorded trust path.
  ASSERT_EQ(r->impacted.size(), 2u);
  EXPECT_EQ(r->impacted[0].repository, kLegacy);
  EXPECT_EQ(r->impacted[1].repository, kApi);
  const ImpactedArtifact& a = r->impacted[1].artifacts[0];
  EXPECT_EQ(a.tags, (std::vector<std::string>{"v1.0", "stable"}));
  EXPECT_EQ(a.signature, Digest('1'));
  EXPECT_EQ(a.anchor, old_);
  EXPECT_EQ(a.trust_store, "ca:payments");
  // The legacy row had no recorded anchor.
  EXPECT_EQ(r->impacted[0].artifacts[0].anchor, "");
}

TEST_F(RotationTest, RemovingBothRootsImpactsEveryPaymentsArtifact) {
  VerdictIndex index = Open();
  // Fingerprints in any case.
  std::string upper = new_;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  auto r = RotationImpact(index, RemoveAnchor{{old_, upper}});
  ASSERT_TRUE(r.ok()) << r.detail();
  using Map = std::map<std::string, std::vector<std::string>>;
  EXPECT_EQ(Impacted(*r), (Map{{kApi, {Digest('a'), Digest('b')}},
                               {kLedger, {Digest('d'), Digest('e')}},
                               {kLegacy, {Digest('j'), Digest('k')}}}));
  EXPECT_EQ(r->count, 6u);
}

TEST_F(RotationTest, RemovingTheSharedStoreReachesBothTeams) {
  VerdictIndex index = Open();
  auto r = RotationImpact(index, RemoveStore{"ca:shared-infra"});
  ASSERT_TRUE(r.ok()) << r.detail();
  using Map = std::map<std::string, std::vector<std::string>>;
  EXPECT_EQ(Impacted(*r), (Map{{kApi, {Digest('c')}}, {kBase, {Digest('g')}}}));
  EXPECT_EQ(r->count, 2u);
  EXPECT_EQ(r->impacted[0].artifacts[0].trust_store, "ca:shared-infra");
}

TEST_F(RotationTest, RemovingThePaymentsStore) {
  VerdictIndex index = Open();
  auto r = RotationImpact(index, RemoveStore{"ca:payments"});
  ASSERT_TRUE(r.ok()) << r.detail();
  using Map = std::map<std::string, std::vector<std::string>>;
  // Audit-level and authenticity=log artifacts keep verifying.
  EXPECT_EQ(Impacted(*r), (Map{{kApi, {Digest('a'), Digest('b')}},
                               {kLedger, {Digest('d'), Digest('e')}},
                               {kLegacy, {Digest('j'), Digest('k')}}}));
  auto none = RotationImpact(index, RemoveStore{"signingAuthority:aws"});
  ASSERT_TRUE(none.ok()) << none.detail();
  EXPECT_EQ(none->count, 0u);
  EXPECT_TRUE(none->impacted.empty());
  EXPECT_EQ(none->verified, kVerifiedArtifacts);
}

TEST_F(RotationTest, RefusesBadArguments) {
  VerdictIndex index = Open();
  EXPECT_EQ(RotationImpact(index, RemoveAnchor{}).code(),
            RotationError::kBadArgument);
  EXPECT_EQ(RotationImpact(index, RemoveAnchor{{"abc"}}).code(),
            RotationError::kBadArgument);
  EXPECT_EQ(RotationImpact(index, RemoveAnchor{{std::string(64, 'g')}}).code(),
            RotationError::kBadArgument);
  for (const char* store :
       {"tsa:public", "payments", "ca:", "x509:payments", "ca:bad/name", ""}) {
    EXPECT_EQ(RotationImpact(index, RemoveStore{store}).code(),
              RotationError::kBadArgument)
        << store;
  }
  std::vector<std::string> none;
  EXPECT_EQ(RotationStatus(index, none).code(), RotationError::kBadArgument);
}

TEST_F(RotationTest, StatusCountsDependentAndUsingArtifacts) {
  VerdictIndex index = Open();
  std::vector<std::string> anchors = {old_};
  auto s = RotationStatus(index, anchors);
  ASSERT_TRUE(s.ok()) << s.detail();
  EXPECT_EQ(s->verified, kVerifiedArtifacts);
  // Resting on the old root: a, d, h, i, j (not l: no store recorded).
  EXPECT_EQ(s->using_anchor, 5u);
  // Only a and j verify through nothing else.
  EXPECT_EQ(s->dependent, 2u);
  EXPECT_FALSE(s->CanRemove());
  std::map<std::string, std::pair<uint64_t, uint64_t>> per_repo;
  for (const RepositoryDependence& r : s->repositories) {
    per_repo[r.repository] = {r.dependent, r.using_anchor};
  }
  using Map = std::map<std::string, std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(per_repo, (Map{{kApi, {1, 1}},
                           {kLedger, {0, 1}},
                           {kBase, {0, 2}},
                           {kLegacy, {1, 1}}}));

  std::vector<std::string> unused = {Fingerprint(unused_root_)};
  auto free = RotationStatus(index, unused);
  ASSERT_TRUE(free.ok()) << free.detail();
  EXPECT_EQ(free->using_anchor, 0u);
  EXPECT_EQ(free->dependent, 0u);
  EXPECT_TRUE(free->CanRemove());
  EXPECT_TRUE(free->repositories.empty());
}

TEST(RotationIndex, VerifiedWithoutRecordedSignatureIsImpacted) {
  TempDir dir;
  std::string path = dir.File("index.db");
  WriteIndex(path, {Artifact(kApi, 'a', Verdict::kVerified, "strict", {})});
  auto index = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(index.ok()) << index.detail();
  auto r = RotationImpact(*index, RemoveStore{"ca:payments"});
  ASSERT_TRUE(r.ok()) << r.detail();
  ASSERT_EQ(r->count, 1u);
  EXPECT_EQ(r->impacted[0].artifacts[0].signature, "");
  std::vector<std::string> anchors = {std::string(64, 'a')};
  auto s = RotationStatus(*index, anchors);
  ASSERT_TRUE(s.ok()) << s.detail();
  EXPECT_EQ(s->dependent, 1u);
  EXPECT_FALSE(s->CanRemove());
}

TEST(RotationIndex, EmptyIndexImpactsNothing) {
  TempDir dir;
  std::string path = dir.File("index.db");
  WriteIndex(path, {});
  auto index = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(index.ok()) << index.detail();
  auto r = RotationImpact(*index, RemoveStore{"ca:payments"});
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->count, 0u);
  EXPECT_EQ(r->verified, 0u);
}

TEST(RotationIndex, DamagedRowsAreCorruptNotCrashes) {
  TempDir dir;
  std::string path = dir.File("index.db");
  const std::string anchor(64, 'a');
  WriteIndex(path, {Artifact(kApi, 'a', Verdict::kVerified, "strict",
                             {Sig('1', Reason::kOk, "ca:payments", "",
                                  {std::string(64, 'f'), anchor})})});
  auto damage = [&](const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  };
  std::vector<std::string> anchors = {anchor};
  {
    damage("UPDATE signatures SET chain = '{not json'");
    auto index = VerdictIndex::Open(path, OpenMode::kReadOnly);
    ASSERT_TRUE(index.ok()) << index.detail();
    EXPECT_EQ(RotationImpact(*index, RemoveAnchor{anchors}).code(),
              RotationError::kCorrupt);
  }
  {
    damage("UPDATE signatures SET chain = '[\"x\"]'");
    damage("UPDATE verdicts SET tags = '[1, 2]'");
    auto index = VerdictIndex::Open(path, OpenMode::kReadOnly);
    ASSERT_TRUE(index.ok()) << index.detail();
    // Not impacted: the tags are never read.
    auto r = RotationImpact(*index, RemoveAnchor{anchors});
    ASSERT_TRUE(r.ok()) << r.detail();
    EXPECT_EQ(r->count, 0u);
    // Impacted: the tags are read and refused.
    EXPECT_EQ(RotationImpact(*index, RemoveStore{"ca:payments"}).code(),
              RotationError::kCorrupt);
  }
}

TEST(AnchorCertificates, ReadsEveryCertificateOfAPemFile) {
  TestCert a = MakeCert(SpecFor({{"C", "US"}, {"O", "A"}, {"CN", "a"}}));
  TestCert b = MakeCert(SpecFor({{"C", "US"}, {"O", "B"}, {"CN", "b"}}));
  TempDir dir;
  fs::path pem = dir.Write("two.pem", a.Pem() + b.Pem() + a.Pem());
  auto certs = ReadAnchorCertificates(pem);
  ASSERT_TRUE(certs.ok()) << certs.detail();
  ASSERT_EQ(certs->size(), 2u);  // the repeated one counted once
  EXPECT_EQ(certs->at(0).fingerprint, Fingerprint(a));
  EXPECT_EQ(certs->at(1).fingerprint, Fingerprint(b));
  base::Bytes der = b.Der();
  fs::path der_file = dir.Write("b.cer", std::string(der.begin(), der.end()));
  auto from_der = ReadAnchorCertificates(der_file);
  ASSERT_TRUE(from_der.ok()) << from_der.detail();
  ASSERT_EQ(from_der->size(), 1u);
  EXPECT_EQ(from_der->at(0).fingerprint, Fingerprint(b));

  EXPECT_EQ(ReadAnchorCertificates(dir.Write("junk.pem", "hello")).code(),
            RotationError::kBadCertificate);
  EXPECT_EQ(ReadAnchorCertificates(dir.File("absent.pem")).code(),
            RotationError::kUnreadableFile);
  fs::create_directory(dir.File("dir.pem"));
  EXPECT_EQ(ReadAnchorCertificates(dir.File("dir.pem")).code(),
            RotationError::kUnreadableFile);
}

// ------------------------------------------------------------------- CLI

// Cli runs one command line in-process and keeps what it printed.
struct CliResult {
  int rc = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    s.append(buf, n);
  }
  std::fclose(f);
  return s;
}

CliResult Cli(const std::vector<std::string>& args) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  CliResult r;
  r.rc = tools::RunRotationCli(args, out, err);
  r.out = ReadAll(out);
  r.err = ReadAll(err);
  return r;
}

class RotationCliTest : public RotationTest {
 protected:
  void SetUp() override {
    RotationTest::SetUp();
    old_pem_ = dir_.Write("old.pem", old_root_.Pem());
    both_pem_ = dir_.Write("both.pem", old_root_.Pem() + new_root_.Pem());
    unused_pem_ = dir_.Write("unused.pem", unused_root_.Pem());
  }
  fs::path old_pem_, both_pem_, unused_pem_;
};

TEST_F(RotationCliTest, ImpactExitsOneWhenSomethingBreaks) {
  CliResult text = Cli({"rotation", "impact", "--index", index_path_,
                        "--remove-anchor", old_pem_.string()});
  EXPECT_EQ(text.rc, 1) << text.err;
  EXPECT_FALSE(text.out.empty());

  CliResult json_result =
      Cli({"rotation", "impact", "--index", index_path_, "--remove-anchor",
           both_pem_.string(), "--format", "json"});
  EXPECT_EQ(json_result.rc, 1) << json_result.err;
  auto j = nlohmann::json::parse(json_result.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json_result.out;
  EXPECT_EQ(j["count"], 6);
  EXPECT_EQ(j["verified"], kVerifiedArtifacts);
  ASSERT_EQ(j["removed"]["anchors"].size(), 2u);
  ASSERT_EQ(j["impacted"].size(), 3u);
  const auto& api = j["impacted"][1];
  EXPECT_EQ(api["repository"], kApi);
  ASSERT_EQ(api["artifacts"].size(), 2u);
  const auto& first = api["artifacts"][0];
  EXPECT_EQ(first["digest"], Digest('a'));
  EXPECT_EQ(first["tags"], nlohmann::json({"v1.0", "stable"}));
  EXPECT_EQ(first["signature"], Digest('1'));
  EXPECT_EQ(first["anchor"], old_);
  EXPECT_EQ(first["trustStore"], "ca:payments");

  CliResult store =
      Cli({"rotation", "impact", "--index", index_path_, "--remove-store",
           "ca:shared-infra", "--format", "json"});
  EXPECT_EQ(store.rc, 1) << store.err;
  auto js = nlohmann::json::parse(store.out, nullptr, false);
  ASSERT_FALSE(js.is_discarded());
  EXPECT_EQ(js["count"], 2);
  EXPECT_EQ(js["removed"]["store"], "ca:shared-infra");
}

TEST_F(RotationCliTest, ImpactExitsZeroWhenNothingBreaks) {
  for (const char* format : {"text", "json"}) {
    CliResult r =
        Cli({"rotation", "impact", "--index", index_path_, "--remove-anchor",
             unused_pem_.string(), "--format", format});
    EXPECT_EQ(r.rc, 0) << r.err;
  }
  CliResult store = Cli({"rotation", "impact", "--index", index_path_,
                         "--remove-store", "signingAuthority:aws-signer"});
  EXPECT_EQ(store.rc, 0) << store.err;
}

TEST_F(RotationCliTest, BadInputExitsTwo) {
  fs::path junk = dir_.Write("junk.pem", "not a certificate");
  fs::path not_index = dir_.Write("not-an-index.db", "hello, world");
  fs::create_directory(dir_.File("a-dir"));
  const std::vector<std::vector<std::string>> cases = {
      // neither / both removals
      {"rotation", "impact", "--index", index_path_},
      {"rotation", "impact", "--index", index_path_, "--remove-anchor",
       old_pem_.string(), "--remove-store", "ca:payments"},
      // missing --index, unknown index file, not an index
      {"rotation", "impact", "--remove-store", "ca:payments"},
      {"rotation", "impact", "--index", dir_.File("absent.db").string(),
       "--remove-store", "ca:payments"},
      {"rotation", "impact", "--index", not_index.string(), "--remove-store",
       "ca:payments"},
      // certificate files that are not
      {"rotation", "impact", "--index", index_path_, "--remove-anchor",
       junk.string()},
      {"rotation", "impact", "--index", index_path_, "--remove-anchor",
       dir_.File("a-dir").string()},
      {"rotation", "impact", "--index", index_path_, "--remove-anchor",
       dir_.File("absent.pem").string()},
      // stores
      {"rotation", "impact", "--index", index_path_, "--remove-store",
       "tsa:public"},
      {"rotation", "impact", "--index", index_path_, "--remove-store",
       "payments"},
      // format, unknown subcommand, no subcommand
      {"rotation", "impact", "--index", index_path_, "--remove-store",
       "ca:payments", "--format", "xml"},
      {"rotation", "rollback"},
      {"rotation"},
      // status without --anchor, with a bad one, a bad index
      {"rotation", "status", "--index", index_path_},
      {"rotation", "status", "--index", index_path_, "--anchor", junk.string()},
      {"rotation", "status", "--index", not_index.string(), "--anchor",
       old_pem_.string()},
      {"rotation", "status", "--index", index_path_, "--anchor",
       old_pem_.string(), "--format", "yaml"},
  };
  for (const auto& args : cases) {
    CliResult r = Cli(args);
    std::string line;
    for (const std::string& a : args) {
      line += a + " ";
    }
    EXPECT_EQ(r.rc, 2) << line << "\n" << r.out;
    EXPECT_FALSE(r.err.empty()) << line;
  }
}

TEST_F(RotationCliTest, StatusExitsZeroAndCounts) {
  CliResult r = Cli({"rotation", "status", "--index", index_path_, "--anchor",
                     old_pem_.string(), "--format", "json"});
  EXPECT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["dependent"], 2);
  EXPECT_EQ(j["using"], 5);
  EXPECT_EQ(j["verified"], kVerifiedArtifacts);
  EXPECT_EQ(j["canRemove"], false);
  ASSERT_EQ(j["anchors"].size(), 1u);
  EXPECT_EQ(j["anchors"][0]["fingerprint"], old_);
  ASSERT_EQ(j["repositories"].size(), 4u);

  CliResult text = Cli({"rotation", "status", "--index", index_path_,
                        "--anchor", unused_pem_.string()});
  EXPECT_EQ(text.rc, 0) << text.err;
  CliResult free = Cli({"rotation", "status", "--index", index_path_,
                        "--anchor", unused_pem_.string(), "--format", "json"});
  EXPECT_EQ(free.rc, 0) << free.err;
  auto jf = nlohmann::json::parse(free.out, nullptr, false);
  ASSERT_FALSE(jf.is_discarded());
  EXPECT_EQ(jf["canRemove"], true);
  EXPECT_EQ(jf["dependent"], 0);
}

}  // namespace
}  // namespace trustgate::engine
