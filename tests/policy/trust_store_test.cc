#include "policy/trust_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "tests/policy/test_pki.h"

namespace trustgate::policy {
namespace {

using testing::CertSpec;
using testing::MakeCert;
using testing::ScratchDir;
using testing::SpecFor;
using testing::TestCert;
using testing::WriteFile;

CertSpec Root(const std::string& cn) {
  CertSpec spec =
      SpecFor({{"C", "US"}, {"ST", "WA"}, {"O", "Acme"}, {"CN", cn}});
  spec.ca = true;
  return spec;
}

CertSpec Leaf(const std::string& cn) {
  return SpecFor({{"C", "US"}, {"ST", "WA"}, {"O", "Acme"}, {"CN", cn}});
}

// PolicyWith builds a policy referencing `refs` in one strict statement.
TrustPolicy PolicyWith(std::vector<StoreRef> refs) {
  TrustPolicy p;
  Statement st;
  st.name = "s";
  st.registry_scopes = {"*"};
  st.global = true;
  st.trust_stores = std::move(refs);
  p.statements.push_back(std::move(st));
  return p;
}

class TrustStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path StoreDir(StoreType type, const std::string& name) {
    return dir_.path() / "x509" / std::string(ToString(type)) / name;
  }

  TrustStore Load(std::vector<StoreRef> refs) {
    warnings_.clear();
    return TrustStore::Load(dir_.path(), PolicyWith(std::move(refs)),
                            &warnings_);
  }

  // LoadOne loads a single store and returns it (copied out).
  NamedStore LoadOne(StoreType type, const std::string& name) {
    TrustStore ts = Load({{type, name}});
    const NamedStore* s = ts.Find({type, name});
    EXPECT_NE(s, nullptr);
    return s != nullptr ? *s : NamedStore{};
  }

  ScratchDir dir_;
  std::vector<std::string> warnings_;
};

TEST_F(TrustStoreTest, LoadsPemDerAndMultiCertificatePem) {
  TestCert root1 = MakeCert(Root("root1"));
  TestCert root2 = MakeCert(Root("root2"));
  TestCert root3 = MakeCert(Root("root3"));
  TestCert root4 = MakeCert(Root("root4"));
  std::filesystem::path d = StoreDir(StoreType::kCa, "acme");
  WriteFile(d / "one.pem", root1.Pem());
  WriteFile(d / "two.cer", root2.Der());
  WriteFile(d / "bundle.crt", root3.Pem() + root4.Pem());
  NamedStore s = LoadOne(StoreType::kCa, "acme");
  ASSERT_FALSE(s.error) << s.error->detail;
  ASSERT_EQ(s.certificates.size(), 4u);
  for (size_t i = 1; i < s.certificates.size(); ++i) {
    EXPECT_LT(s.certificates[i - 1]->sha256(), s.certificates[i]->sha256());
  }
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(TrustStoreTest, SelfSignedLeafIsAcceptedInCaStore) {
  // As notation does (e2e.crt is a self-signed CA:FALSE leaf).
  TestCert leaf = MakeCert(Leaf("self-signed leaf"));
  WriteFile(StoreDir(StoreType::kCa, "e2e") / "e2e.crt", leaf.Pem());
  WriteFile(StoreDir(StoreType::kSigningAuthority, "e2e") / "e2e.crt",
            leaf.Pem());
  EXPECT_FALSE(LoadOne(StoreType::kCa, "e2e").error);
  EXPECT_FALSE(LoadOne(StoreType::kSigningAuthority, "e2e").error);
}

TEST_F(TrustStoreTest, IntermediateCaIsAcceptedInCaStore) {
  TestCert root = MakeCert(Root("root"));
  TestCert inter = MakeCert(Root("intermediate"), &root);
  WriteFile(StoreDir(StoreType::kCa, "acme") / "inter.pem", inter.Pem());
  EXPECT_FALSE(LoadOne(StoreType::kCa, "acme").error);
}

TEST_F(TrustStoreTest, NonCaNonSelfSignedIsRefused) {
  TestCert root = MakeCert(Root("root"));
  TestCert leaf = MakeCert(Leaf("leaf"), &root);
  WriteFile(StoreDir(StoreType::kCa, "acme") / "root.pem", root.Pem());
  WriteFile(StoreDir(StoreType::kCa, "acme") / "leaf.pem", leaf.Pem());
  NamedStore s = LoadOne(StoreType::kCa, "acme");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kBadStoreCertificate);
  EXPECT_TRUE(s.certificates.empty());
  // The same leaf inside a multi-certificate file also spoils the file.
  WriteFile(StoreDir(StoreType::kSigningAuthority, "acme") / "chain.pem",
            root.Pem() + leaf.Pem());
  NamedStore sa = LoadOne(StoreType::kSigningAuthority, "acme");
  ASSERT_TRUE(sa.error);
  EXPECT_EQ(sa.error->code, PolicyError::kBadStoreCertificate);
}

TEST_F(TrustStoreTest, TsaStoreTakesSelfSignedRootsOnly) {
  TestCert root = MakeCert(Root("tsa root"));
  WriteFile(StoreDir(StoreType::kTsa, "good") / "root.cer", root.Der());
  EXPECT_FALSE(LoadOne(StoreType::kTsa, "good").error);

  // An intermediate CA is a CA but not a root.
  TestCert inter = MakeCert(Root("tsa intermediate"), &root);
  WriteFile(StoreDir(StoreType::kTsa, "inter") / "inter.pem", inter.Pem());
  NamedStore s = LoadOne(StoreType::kTsa, "inter");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kBadStoreCertificate);

  // A self-signed v3 leaf without cA (notation's test-nonCA).
  TestCert leaf = MakeCert(Leaf("tsa leaf"));
  WriteFile(StoreDir(StoreType::kTsa, "leaf") / "leaf.pem", leaf.Pem());
  s = LoadOne(StoreType::kTsa, "leaf");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kBadStoreCertificate);

  // Self-signed with its own key but issuer name != subject
  // (notation's test-nonSelfIssued).
  CertSpec renamed = Root("renamed");
  renamed.issuer_name = {{"C", "US"}, {"O", "Someone else"}};
  TestCert not_self_issued = MakeCert(renamed);
  WriteFile(StoreDir(StoreType::kTsa, "renamed") / "r.pem",
            not_self_issued.Pem());
  s = LoadOne(StoreType::kTsa, "renamed");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kBadStoreCertificate);
  // ... which a ca store accepts (it is a CA).
  WriteFile(StoreDir(StoreType::kCa, "renamed") / "r.pem",
            not_self_issued.Pem());
  EXPECT_FALSE(LoadOne(StoreType::kCa, "renamed").error);

  // A v1 self-signed certificate has no extensions and is a valid root.
  CertSpec v1 = Leaf("v1 root");
  v1.version = 1;
  TestCert v1_root = MakeCert(v1);
  WriteFile(StoreDir(StoreType::kTsa, "v1") / "v1.pem", v1_root.Pem());
  NamedStore v1_store = LoadOne(StoreType::kTsa, "v1");
  EXPECT_FALSE(v1_store.error) << v1_store.error->detail;

  // A self-signed SHA-1 root: Go's CheckSignatureFrom refuses SHA-1.
  CertSpec sha1 = Root("sha1 root");
  sha1.md = EVP_sha1();
  TestCert sha1_root = MakeCert(sha1);
  WriteFile(StoreDir(StoreType::kTsa, "sha1") / "r.pem", sha1_root.Pem());
  s = LoadOne(StoreType::kTsa, "sha1");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kBadStoreCertificate);
}

TEST_F(TrustStoreTest, SymlinksAreRefused) {
  TestCert root = MakeCert(Root("root"));
  std::filesystem::path d = StoreDir(StoreType::kCa, "acme");
  WriteFile(dir_.path() / "elsewhere" / "root.pem", root.Pem());
  std::filesystem::create_directories(d);
  std::filesystem::create_symlink(dir_.path() / "elsewhere" / "root.pem",
                                  d / "root.pem");
  NamedStore s = LoadOne(StoreType::kCa, "acme");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kSymlink);

  // A symlinked named-store directory.
  std::filesystem::create_directories(
      StoreDir(StoreType::kCa, "x").parent_path());
  std::filesystem::create_directory_symlink(dir_.path() / "elsewhere",
                                            StoreDir(StoreType::kCa, "linked"));
  NamedStore linked = LoadOne(StoreType::kCa, "linked");
  ASSERT_TRUE(linked.error);
  EXPECT_EQ(linked.error->code, PolicyError::kSymlink);
}

TEST_F(TrustStoreTest, SubDirectoriesAreIgnoredWithAWarning) {
  TestCert root = MakeCert(Root("root"));
  TestCert other = MakeCert(Root("other"));
  std::filesystem::path d = StoreDir(StoreType::kCa, "acme");
  WriteFile(d / "root.pem", root.Pem());
  WriteFile(d / "sub-dir" / "cert-3.pem", other.Pem());
  NamedStore s = LoadOne(StoreType::kCa, "acme");
  ASSERT_FALSE(s.error) << s.error->detail;
  EXPECT_EQ(s.certificates.size(), 1u);
  EXPECT_EQ(warnings_.size(), 1u);
  // Null warnings sink is allowed.
  TrustStore ts = TrustStore::Load(
      dir_.path(), PolicyWith({{StoreType::kCa, "acme"}}), nullptr);
  EXPECT_FALSE(ts.Find({StoreType::kCa, "acme"})->error);
}

TEST_F(TrustStoreTest, OtherFilesAreReadAsNotationDoes) {
  TestCert root = MakeCert(Root("root"));
  std::filesystem::path d = StoreDir(StoreType::kCa, "acme");
  // A certificate with another extension loads (with a warning).
  WriteFile(d / "root.der", root.Der());
  NamedStore s = LoadOne(StoreType::kCa, "acme");
  ASSERT_FALSE(s.error) << s.error->detail;
  EXPECT_EQ(warnings_.size(), 1u);
  // Any file that is not a certificate spoils the store, whatever its name.
  WriteFile(d / "README.txt", "these are our roots\n");
  s = LoadOne(StoreType::kCa, "acme");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kBadCertificate);
  std::filesystem::remove(d / "README.txt");
  WriteFile(d / "broken.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n"
            "-----END CERTIFICATE-----\n");
  s = LoadOne(StoreType::kCa, "acme");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kBadCertificate);
  std::filesystem::remove(d / "broken.pem");
  WriteFile(d / "empty.pem", "");
  s = LoadOne(StoreType::kCa, "acme");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, PolicyError::kBadCertificate);
}

TEST_F(TrustStoreTest, MissingEmptyAndNonDirectoryStores) {
  NamedStore missing = LoadOne(StoreType::kCa, "invalid_store");
  ASSERT_TRUE(missing.error);
  EXPECT_EQ(missing.error->code, PolicyError::kNotFound);

  std::filesystem::create_directories(StoreDir(StoreType::kCa, "empty"));
  NamedStore empty = LoadOne(StoreType::kCa, "empty");
  ASSERT_TRUE(empty.error);
  EXPECT_EQ(empty.error->code, PolicyError::kEmptyStore);

  // Only sub-directories: still empty.
  TestCert root = MakeCert(Root("root"));
  WriteFile(StoreDir(StoreType::kCa, "nested") / "sub" / "root.pem",
            root.Pem());
  NamedStore nested = LoadOne(StoreType::kCa, "nested");
  ASSERT_TRUE(nested.error);
  EXPECT_EQ(nested.error->code, PolicyError::kEmptyStore);

  WriteFile(StoreDir(StoreType::kCa, "file"), root.Pem());
  NamedStore file = LoadOne(StoreType::kCa, "file");
  ASSERT_TRUE(file.error);
  EXPECT_EQ(file.error->code, PolicyError::kNotDirectory);

  // Names that escape the store type directory are refused.
  NamedStore dotdot = LoadOne(StoreType::kCa, "..");
  ASSERT_TRUE(dotdot.error);
}

TEST_F(TrustStoreTest, OneBadStoreDoesNotSpoilOthers) {
  TestCert root = MakeCert(Root("root"));
  WriteFile(StoreDir(StoreType::kCa, "good") / "root.pem", root.Pem());
  TrustStore ts = Load({{StoreType::kCa, "good"},
                        {StoreType::kCa, "missing"},
                        {StoreType::kCa, "good"}});
  ASSERT_EQ(ts.stores().size(), 2u);  // deduplicated
  EXPECT_FALSE(ts.Find({StoreType::kCa, "good"})->error);
  EXPECT_TRUE(ts.Find({StoreType::kCa, "missing"})->error);
  EXPECT_EQ(ts.Find({StoreType::kTsa, "good"}), nullptr);
  // Same name, different type: a different store.
  EXPECT_EQ(ts.Find({StoreType::kSigningAuthority, "good"}), nullptr);
}

TEST_F(TrustStoreTest, GenerationTracksCertificates) {
  TestCert root1 = MakeCert(Root("root1"));
  TestCert root2 = MakeCert(Root("root2"));
  std::filesystem::path d = StoreDir(StoreType::kCa, "acme");
  WriteFile(d / "a.pem", root1.Pem());
  TrustStore first = Load({{StoreType::kCa, "acme"}});
  TrustStore again = Load({{StoreType::kCa, "acme"}});
  EXPECT_EQ(first.generation(), again.generation());
  // Same certificate under another file name or encoding: same generation.
  std::filesystem::remove(d / "a.pem");
  WriteFile(d / "renamed.cer", root1.Der());
  EXPECT_EQ(Load({{StoreType::kCa, "acme"}}).generation(), first.generation());
  WriteFile(d / "b.pem", root2.Pem());
  TrustStore added = Load({{StoreType::kCa, "acme"}});
  EXPECT_NE(added.generation(), first.generation());
  // A missing store vs an empty one vs a broken one.
  TrustStore missing = Load({{StoreType::kCa, "other"}});
  std::filesystem::create_directories(StoreDir(StoreType::kCa, "other"));
  TrustStore empty = Load({{StoreType::kCa, "other"}});
  EXPECT_NE(missing.generation(), empty.generation());
  // The store's name is part of it.
  WriteFile(StoreDir(StoreType::kTsa, "acme") / "a.pem", root1.Pem());
  std::filesystem::remove(d / "b.pem");
  EXPECT_NE(Load({{StoreType::kTsa, "acme"}}).generation(),
            Load({{StoreType::kCa, "acme"}}).generation());
}

TEST_F(TrustStoreTest, NotationE2eCertificates) {
  // e2e.crt: self-signed CA:FALSE leaf; the TSA roots are real roots.
  std::filesystem::path pack =
      testing::SharedDir() / "interop" / "notation-e2e" / "config";
  std::filesystem::path d = StoreDir(StoreType::kCa, "e2e");
  std::filesystem::create_directories(d);
  std::filesystem::copy_file(pack / "localkeys" / "e2e.crt", d / "e2e.crt");
  std::filesystem::path t = StoreDir(StoreType::kTsa, "e2e");
  std::filesystem::create_directories(t);
  std::filesystem::copy_file(pack / "timestamp" / "globalsignTSARoot.cer",
                             t / "globalsignTSARoot.cer");
  std::filesystem::copy_file(pack / "timestamp" / "DigiCertTSARootSHA384.cer",
                             t / "DigiCertTSARootSHA384.cer");
  TrustStore ts = Load({{StoreType::kCa, "e2e"}, {StoreType::kTsa, "e2e"}});
  const NamedStore* ca = ts.Find({StoreType::kCa, "e2e"});
  const NamedStore* tsa = ts.Find({StoreType::kTsa, "e2e"});
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(tsa, nullptr);
  EXPECT_FALSE(ca->error) << ca->error->detail;
  EXPECT_EQ(ca->certificates.size(), 1u);
  EXPECT_FALSE(tsa->error) << tsa->error->detail;
  EXPECT_EQ(tsa->certificates.size(), 2u);
  // The e2e leaf is not a root: a tsa store refuses it.
  std::filesystem::path bad = StoreDir(StoreType::kTsa, "leaf");
  std::filesystem::create_directories(bad);
  std::filesystem::copy_file(pack / "localkeys" / "e2e.crt", bad / "e2e.crt");
  NamedStore leaf_tsa = LoadOne(StoreType::kTsa, "leaf");
  ASSERT_TRUE(leaf_tsa.error);
  EXPECT_EQ(leaf_tsa.error->code, PolicyError::kBadStoreCertificate);
}

class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    const char* v = std::getenv(name);
    if (v != nullptr) {
      saved_ = v;
    }
  }
  ~EnvGuard() {
    if (saved_) {
      setenv(name_, saved_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

TEST(DefaultConfigDir, FollowsNotation) {
  EnvGuard a("NOTATION_CONFIG");
  EnvGuard b("XDG_CONFIG_HOME");
  EnvGuard c("HOME");
  setenv("NOTATION_CONFIG", "/etc/notation-here", 1);
  setenv("XDG_CONFIG_HOME", "/xdg", 1);
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(DefaultConfigDir(), std::filesystem::path("/etc/notation-here"));
  unsetenv("NOTATION_CONFIG");
  EXPECT_EQ(DefaultConfigDir(), std::filesystem::path("/xdg/notation"));
  setenv("XDG_CONFIG_HOME", "", 1);
  EXPECT_EQ(DefaultConfigDir(),
            std::filesystem::path("/home/u/.config/notation"));
  setenv("XDG_CONFIG_HOME", "relative", 1);
  EXPECT_EQ(DefaultConfigDir(), std::filesystem::path(".notation"));
  unsetenv("XDG_CONFIG_HOME");
  unsetenv("HOME");
  EXPECT_EQ(DefaultConfigDir(), std::filesystem::path(".notation"));
}

}  // namespace
}  // namespace trustgate::policy
