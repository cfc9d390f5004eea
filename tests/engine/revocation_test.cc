// RevocationChecker and prefetch against real components: a real HTTP
// server on 127.0.0.1 serving CRLs and OCSP responses built with OpenSSL,
// real --crl-dir files, Notation's cache format, the SQLite index, and a
// real mirror written with the mkmirror library.

#include "engine/revocation.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "crypto/base64.h"
#include "engine/index.h"
#include "tests/crypto/test_pki.h"
#include "tests/crypto/test_revocation.h"
#include "tests/support/http_server.h"
#include "tests/support/test_util.h"
#include "tools/mkmirror/envelope_writer.h"
#include "tools/mkmirror/layout_writer.h"
#include "tools/mkmirror/pki.h"
#include "tools/mkmirror/timestamp_writer.h"
#include "tools/revocation_command.h"

namespace trustgate::engine {
namespace {

namespace fs = std::filesystem;
namespace testpki = crypto::testpki;
namespace testrev = crypto::testrev;
using crypto::CertificatePtr;
using crypto::CryptoError;
using crypto::RevocationMethod;
using crypto::RevocationStatus;
using testing::HttpServer;

base::Time At(const char* text) { return *base::ParseRfc3339(text); }
const base::Time kAt = At("2025-06-01T00:00:00Z");

std::string Str(const base::Bytes& b) {
  return std::string(b.begin(), b.end());
}

testrev::CrlEntrySpec Revoked(long serial) {
  testrev::CrlEntrySpec e;
  e.serial = serial;
  e.revocation_time = "20250302000000Z";
  e.reason = 1;  // keyCompromise
  return e;
}

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_key_ = testpki::Key(testpki::KeyKind::kP256, 300);
    int_key_ = testpki::Key(testpki::KeyKind::kP256, 301);
    leaf_key_ = testpki::Key(testpki::KeyKind::kP256, 302);
    root_ = testpki::Build(testpki::RootSpec(root_key_, "root"));
    testpki::CertSpec inter = testpki::RootSpec(int_key_, "intermediate");
    inter.issuer = root_.x509.get();
    inter.issuer_key = root_key_;
    inter.serial = 2;
    inter_ = testpki::Build(inter);
  }

  // Leaf issues a code-signing leaf from the intermediate.
  testpki::Built Leaf(long serial,
                      std::vector<std::pair<int, std::string>> extensions) {
    testpki::CertSpec spec;
    spec.key = leaf_key_;
    spec.issuer = inter_.x509.get();
    spec.issuer_key = int_key_;
    spec.serial = serial;
    spec.subject.back().second = "leaf " + std::to_string(serial);
    spec.extra_extensions = std::move(extensions);
    return testpki::Build(spec);
  }

  std::vector<CertificatePtr> Chain(const testpki::Built& leaf) const {
    return {leaf.cert, inter_.cert, root_.cert};
  }

  // Crl is a CRL of the intermediate revoking `revoked`.
  base::Bytes Crl(std::vector<long> revoked,
                  std::optional<std::string> next_update = "20991231000000Z",
                  std::vector<std::string> freshest = {}) const {
    testrev::CrlSpec spec;
    spec.issuer = inter_.x509.get();
    spec.key = int_key_;
    spec.this_update = "20250101000000Z";
    spec.next_update = std::move(next_update);
    spec.freshest_urls = std::move(freshest);
    for (long serial : revoked) {
      testrev::CrlEntrySpec e;
      e.serial = serial;
      e.revocation_time = "20250102000000Z";
      e.reason = 1;  // keyCompromise
      spec.entries.push_back(e);
    }
    return testrev::BuildCrl(spec);
  }

  base::Bytes Ocsp(const testpki::Built& leaf, testrev::OcspCertStatus status,
                   std::string next_update = "20991231000000Z") const {
    testrev::OcspSpec spec;
    spec.cert = leaf.x509.get();
    spec.issuer = inter_.x509.get();
    spec.signer_cert = inter_.x509.get();
    spec.signer_key = int_key_;
    // Signed by the issuer itself: no certificates in the response
    // (x/crypto requires an embedded signer to be issued by the issuer).
    spec.include_signer_cert = false;
    spec.status = status;
    spec.this_update = "20250101000000Z";
    spec.next_update = std::move(next_update);
    return testrev::BuildOcspResponse(spec);
  }

  HttpServer::Response Body(const base::Bytes& bytes) const {
    HttpServer::Response r;
    r.body = Str(bytes);
    return r;
  }

  RevocationOptions Options() const {
    RevocationOptions o;
    o.crl_timeout = std::chrono::milliseconds(3000);
    o.ocsp_timeout = std::chrono::milliseconds(3000);
    return o;
  }

  // Check checks `leaf` (issued by the intermediate) at kAt, with no
  // authentic signing time.
  CertificateRevocation Check(RevocationChecker& checker,
                              const testpki::Built& leaf) const {
    return checker.CheckCertificate(*leaf.cert, *inter_.cert, kAt,
                                    std::nullopt);
  }

  std::unique_ptr<RevocationChecker> Make(const RevocationOptions& options) {
    auto checker = RevocationChecker::Create(options);
    EXPECT_TRUE(checker.ok()) << checker.detail();
    return checker.ok() ? std::move(checker).value() : nullptr;
  }

  HttpServer server_;
  testing::TempDir tmp_;
  EVP_PKEY* root_key_ = nullptr;
  EVP_PKEY* int_key_ = nullptr;
  EVP_PKEY* leaf_key_ = nullptr;
  testpki::Built root_;
  testpki::Built inter_;
};

// --- HTTP: CRLs ---

TEST_F(RevocationTest, CrlOverHttpGoodAndRevoked) {
  server_.Serve("/int.crl", Body(Crl({66})));
  testpki::Built good =
      Leaf(65, {testrev::CdpExtension(server_.Url("/int.crl"))});
  testpki::Built bad =
      Leaf(66, {testrev::CdpExtension(server_.Url("/int.crl"))});
  auto checker = Make(Options());

  ChainRevocation ok = checker->CheckChain(Chain(good), kAt, std::nullopt);
  EXPECT_EQ(ok.status, RevocationStatus::kGood);
  ASSERT_EQ(ok.certificates.size(), 2u);  // the root is not checked
  EXPECT_EQ(ok.certificates[0].status, RevocationStatus::kGood);
  EXPECT_EQ(ok.certificates[0].method, RevocationMethod::kCrl);
  EXPECT_EQ(ok.certificates[0].source, RevocationSource::kHttp);
  EXPECT_TRUE(ok.certificates[0].revocable);
  ASSERT_TRUE(ok.certificates[0].next_update.has_value());
  EXPECT_EQ(*ok.next_update, At("2099-12-31T00:00:00Z"));
  // The intermediate names nothing: not revocable, good.
  EXPECT_EQ(ok.certificates[1].status, RevocationStatus::kGood);
  EXPECT_EQ(ok.certificates[1].method, RevocationMethod::kNone);
  EXPECT_FALSE(ok.certificates[1].revocable);

  ChainRevocation revoked = checker->CheckChain(Chain(bad), kAt, std::nullopt);
  EXPECT_EQ(revoked.status, RevocationStatus::kRevoked);
  EXPECT_EQ(revoked.certificates[0].status, RevocationStatus::kRevoked);
  EXPECT_EQ(revoked.certificates[0].source, RevocationSource::kHttp);
  // One download for both certificates, and the second check is memoised.
  EXPECT_EQ(server_.Count("/int.crl"), 1);
  checker->CheckChain(Chain(bad), kAt, std::nullopt);
  EXPECT_EQ(server_.Count("/int.crl"), 1);
  EXPECT_EQ(checker->stats().http_requests, 1u);
}

TEST_F(RevocationTest, NonRevocableChainMakesNoRequest) {
  testpki::Built leaf = Leaf(70, {});
  auto checker = Make(Options());
  ChainRevocation r = checker->CheckChain(Chain(leaf), kAt, std::nullopt);
  EXPECT_EQ(r.status, RevocationStatus::kGood);
  EXPECT_FALSE(r.next_update.has_value());
  EXPECT_EQ(server_.TotalRequests(), 0);
  // A lone self-signed certificate has nothing to check.
  std::vector<CertificatePtr> lone{root_.cert};
  EXPECT_EQ(checker->CheckChain(lone, kAt, std::nullopt).status,
            RevocationStatus::kGood);
}

TEST_F(RevocationTest, NonHttpDistributionPointIsUnknown) {
  testpki::Built leaf =
      Leaf(71, {testrev::CdpExtension("ldap://example.com/int.crl")});
  auto checker = Make(Options());
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kUnsupportedRevocationUrl);
  EXPECT_EQ(checker->stats().http_requests, 0u);
}

TEST_F(RevocationTest, SlowEndpointTimesOut) {
  HttpServer::Response slow = Body(Crl({}));
  slow.delay = std::chrono::milliseconds(5000);
  server_.Serve("/slow.crl", slow);
  testpki::Built leaf =
      Leaf(72, {testrev::CdpExtension(server_.Url("/slow.crl"))});
  RevocationOptions options = Options();
  options.crl_timeout = std::chrono::milliseconds(300);
  auto checker = Make(options);
  auto start = std::chrono::steady_clock::now();
  ChainRevocation r = checker->CheckChain(Chain(leaf), kAt, std::nullopt);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.certificates[0].source, RevocationSource::kHttp);
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
  EXPECT_EQ(checker->stats().http_failures, 1u);
}

TEST_F(RevocationTest, HttpErrorStatusesFail) {
  HttpServer::Response missing;
  missing.status = 404;
  HttpServer::Response broken = Body(Crl({}));  // a good body, but a 500
  broken.status = 500;
  server_.Serve("/missing.crl", missing);
  server_.Serve("/broken.crl", broken);
  auto checker = Make(Options());
  for (const char* path : {"/missing.crl", "/broken.crl"}) {
    SCOPED_TRACE(path);
    testpki::Built leaf = Leaf(path[1] == 'm' ? 73 : 74,
                               {testrev::CdpExtension(server_.Url(path))});
    CertificateRevocation r = Check(*checker, leaf);
    EXPECT_EQ(r.status, RevocationStatus::kUnknown);
    EXPECT_EQ(server_.Count(path), 1);
  }
  EXPECT_EQ(checker->stats().http_failures, 2u);
}

TEST_F(RevocationTest, GarbageBodyIsUnknown) {
  HttpServer::Response garbage;
  garbage.body = "this is not a CRL";
  server_.Serve("/garbage.crl", garbage);
  testpki::Built leaf =
      Leaf(75, {testrev::CdpExtension(server_.Url("/garbage.crl"))});
  auto checker = Make(Options());
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kMalformed);
  EXPECT_EQ(checker->stats().http_failures, 0u);  // the download worked
}

TEST_F(RevocationTest, OversizeBodiesAreRefused) {
  // A CRL body above the configured bound (Notation's is 32 MiB).
  base::Bytes crl = Crl({});
  server_.Serve("/big.crl", Body(crl));
  testpki::Built leaf =
      Leaf(76, {testrev::CdpExtension(server_.Url("/big.crl"))});
  RevocationOptions options = Options();
  options.max_crl_bytes = crl.size() - 1;
  auto checker = Make(options);
  EXPECT_EQ(Check(*checker, leaf).status, RevocationStatus::kUnknown);
  EXPECT_EQ(checker->stats().http_failures, 1u);
  // Exactly at the bound is accepted.
  options.max_crl_bytes = crl.size();
  auto exact = Make(options);
  EXPECT_EQ(Check(*exact, leaf).status, RevocationStatus::kGood);

  // An OCSP answer above Notation's real 20480-byte bound.
  HttpServer::Response huge;
  huge.body.assign(crypto::kMaxOcspResponseSize + 1, 'x');
  server_.ServePrefix("/ocsp-huge", huge);
  testpki::Built ocsp_leaf =
      Leaf(77, {testrev::OcspAiaExtension(server_.Url("/ocsp-huge"))});
  auto third = Make(Options());
  CertificateRevocation r = Check(*third, ocsp_leaf);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(third->stats().http_failures, 1u);
}

TEST_F(RevocationTest, RedirectsAreFollowedOverHttpOnly) {
  HttpServer::Response to_http;
  to_http.status = 302;
  to_http.location = server_.Url("/real.crl");
  HttpServer::Response to_https;
  to_https.status = 302;
  to_https.location = "https://127.0.0.1:1/real.crl";
  server_.Serve("/moved.crl", to_http);
  server_.Serve("/tls.crl", to_https);
  server_.Serve("/real.crl", Body(Crl({})));
  testpki::Built a =
      Leaf(78, {testrev::CdpExtension(server_.Url("/moved.crl"))});
  testpki::Built b = Leaf(79, {testrev::CdpExtension(server_.Url("/tls.crl"))});
  auto checker = Make(Options());
  EXPECT_EQ(Check(*checker, a).status, RevocationStatus::kGood);
  EXPECT_EQ(Check(*checker, b).status, RevocationStatus::kUnknown);
}

TEST_F(RevocationTest, DeltaCrlFromFreshestCrl) {
  std::string delta_url = server_.Url("/delta.crl");
  testrev::CrlSpec delta;
  delta.issuer = inter_.x509.get();
  delta.key = int_key_;
  delta.this_update = "20250301000000Z";
  delta.number = 2;
  delta.delta_base = 1;
  delta.entries.push_back(Revoked(81));
  server_.Serve("/base.crl", Body(Crl({}, "20991231000000Z", {delta_url})));
  server_.Serve("/delta.crl", Body(testrev::BuildCrl(delta)));
  testpki::Built good =
      Leaf(80, {testrev::CdpExtension(server_.Url("/base.crl"))});
  testpki::Built bad =
      Leaf(81, {testrev::CdpExtension(server_.Url("/base.crl"))});
  auto checker = Make(Options());
  EXPECT_EQ(Check(*checker, good).status, RevocationStatus::kGood);
  EXPECT_EQ(Check(*checker, bad).status, RevocationStatus::kRevoked);
  EXPECT_EQ(server_.Count("/base.crl"), 1);
  EXPECT_EQ(server_.Count("/delta.crl"), 1);
}

TEST_F(RevocationTest, MissingDeltaCrlIsUnknown) {
  server_.Serve("/base2.crl",
                Body(Crl({}, "20991231000000Z", {server_.Url("/gone.crl")})));
  testpki::Built leaf =
      Leaf(82, {testrev::CdpExtension(server_.Url("/base2.crl"))});
  auto checker = Make(Options());
  EXPECT_EQ(Check(*checker, leaf).status, RevocationStatus::kUnknown);
  EXPECT_EQ(server_.Count("/gone.crl"), 1);
}

// --- HTTP: OCSP ---

TEST_F(RevocationTest, OcspGoodAndRevoked) {
  testpki::Built good =
      Leaf(90, {testrev::OcspAiaExtension(server_.Url("/ocsp/a"))});
  testpki::Built bad =
      Leaf(91, {testrev::OcspAiaExtension(server_.Url("/ocsp/b"))});
  server_.ServePrefix("/ocsp/a",
                      Body(Ocsp(good, testrev::OcspCertStatus::kGood)));
  server_.ServePrefix("/ocsp/b",
                      Body(Ocsp(bad, testrev::OcspCertStatus::kRevoked)));
  auto checker = Make(Options());
  CertificateRevocation ok = Check(*checker, good);
  EXPECT_EQ(ok.status, RevocationStatus::kGood) << ok.detail;
  EXPECT_EQ(ok.method, RevocationMethod::kOcsp);
  EXPECT_EQ(ok.source, RevocationSource::kHttp);
  CertificateRevocation revoked = Check(*checker, bad);
  EXPECT_EQ(revoked.status, RevocationStatus::kRevoked);
  EXPECT_EQ(revoked.method, RevocationMethod::kOcsp);
  // A short request goes by GET with the request in the path (RFC 6960
  // Appendix A.1, as notation-core-go does).
  std::vector<HttpServer::Request> requests = server_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_GT(requests[0].path.size(), std::string("/ocsp/a/").size());
}

TEST_F(RevocationTest, OcspUnknownFallsBackToCrl) {
  HttpServer::Response failing;
  failing.status = 500;
  server_.ServePrefix("/ocsp/down", failing);
  server_.Serve("/fallback.crl", Body(Crl({})));
  testpki::Built leaf =
      Leaf(92, {testrev::OcspAiaExtension(server_.Url("/ocsp/down")),
                testrev::CdpExtension(server_.Url("/fallback.crl"))});
  auto checker = Make(Options());
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kGood);
  EXPECT_EQ(r.method, RevocationMethod::kCrl);
  EXPECT_TRUE(r.ocsp_fallback);
  ASSERT_EQ(r.lookups.size(), 2u);
  EXPECT_EQ(r.lookups[0].method, RevocationMethod::kOcsp);
  EXPECT_EQ(r.lookups[1].method, RevocationMethod::kCrl);

  // The responder's own "unknown" falls back too; "good" does not.
  testpki::Built other =
      Leaf(93, {testrev::OcspAiaExtension(server_.Url("/ocsp/unknown")),
                testrev::CdpExtension(server_.Url("/fallback.crl"))});
  server_.ServePrefix("/ocsp/unknown",
                      Body(Ocsp(other, testrev::OcspCertStatus::kUnknown)));
  CertificateRevocation u = Check(*checker, other);
  EXPECT_EQ(u.status, RevocationStatus::kGood);
  EXPECT_TRUE(u.ocsp_fallback);
  EXPECT_EQ(server_.Count("/fallback.crl"), 1);
}

TEST_F(RevocationTest, OcspWithoutCrlStaysUnknown) {
  HttpServer::Response garbage;
  garbage.body = "garbage";
  server_.ServePrefix("/ocsp/garbage", garbage);
  testpki::Built leaf =
      Leaf(94, {testrev::OcspAiaExtension(server_.Url("/ocsp/garbage"))});
  auto checker = Make(Options());
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.method, RevocationMethod::kOcsp);
  EXPECT_FALSE(r.ocsp_fallback);
}

// --- single flight, offline ---

TEST_F(RevocationTest, ConcurrentCertificatesShareOneFetch) {
  HttpServer::Response slowish = Body(Crl({105}));
  slowish.delay = std::chrono::milliseconds(300);
  server_.Serve("/shared.crl", slowish);
  constexpr int kThreads = 8;
  std::vector<testpki::Built> leaves;
  for (int i = 0; i < kThreads; ++i) {
    leaves.push_back(
        Leaf(100 + i, {testrev::CdpExtension(server_.Url("/shared.crl"))}));
  }
  auto checker = Make(Options());
  std::atomic<int> ready{0};
  std::vector<RevocationStatus> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kThreads) {
        std::this_thread::yield();
      }
      statuses[i] =
          checker->CheckChain(Chain(leaves[i]), kAt, std::nullopt).status;
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(server_.Count("/shared.crl"), 1);
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(statuses[i], 100 + i == 105 ? RevocationStatus::kRevoked
                                          : RevocationStatus::kGood);
  }
}

TEST_F(RevocationTest, FailuresAreMemoisedForTheRun) {
  HttpServer::Response missing;
  missing.status = 404;
  server_.Serve("/nothing.crl", missing);
  auto checker = Make(Options());
  for (long serial : {110, 111, 112}) {
    testpki::Built leaf =
        Leaf(serial, {testrev::CdpExtension(server_.Url("/nothing.crl"))});
    EXPECT_EQ(Check(*checker, leaf).status, RevocationStatus::kUnknown);
  }
  EXPECT_EQ(server_.Count("/nothing.crl"), 1);
}

TEST_F(RevocationTest, OfflineNeverConnects) {
  server_.Serve("/int.crl", Body(Crl({})));
  testpki::Built leaf =
      Leaf(120, {testrev::CdpExtension(server_.Url("/int.crl")),
                 testrev::OcspAiaExtension(server_.Url("/ocsp"))});
  RevocationOptions options = Options();
  options.network = NetworkMode::kOffline;
  auto checker = Make(options);
  ChainRevocation r = checker->CheckChain(Chain(leaf), kAt, std::nullopt);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(server_.TotalRequests(), 0);
  EXPECT_EQ(checker->stats().http_requests, 0u);
}

// --- --crl-dir ---

TEST_F(RevocationTest, CrlDirMatchesByIssuer) {
  std::string url = server_.Url("/int.crl");  // never served
  testpki::Built good = Leaf(130, {testrev::CdpExtension(url)});
  testpki::Built bad = Leaf(131, {testrev::CdpExtension(url)});
  fs::path dir = tmp_.path() / "crls";
  // Any name, PEM or DER; a CRL of another issuer and junk are ignored.
  testing::WriteFile(dir / "intermediate.pem", testrev::CrlToPem(Crl({131})));
  testrev::CrlSpec other;
  other.issuer = root_.x509.get();
  other.key = root_key_;
  testing::WriteFile(dir / "root.crl", Str(testrev::BuildCrl(other)));
  testing::WriteFile(dir / "README", "not revocation data");
  RevocationOptions options = Options();
  options.network = NetworkMode::kOffline;
  options.crl_dir = dir;
  auto checker = Make(options);
  std::vector<std::string> warnings = checker->TakeWarnings();
  EXPECT_EQ(warnings.size(), 1u);  // README
  CertificateRevocation ok = Check(*checker, good);
  EXPECT_EQ(ok.status, RevocationStatus::kGood);
  EXPECT_EQ(ok.source, RevocationSource::kCrlDir);
  CertificateRevocation revoked = Check(*checker, bad);
  EXPECT_EQ(revoked.status, RevocationStatus::kRevoked);
  EXPECT_EQ(revoked.source, RevocationSource::kCrlDir);
  EXPECT_EQ(checker->stats().crl_dir_hits, 2u);
  EXPECT_EQ(server_.TotalRequests(), 0);
}

TEST_F(RevocationTest, CrlDirHonoursTheIssuingDistributionPoint) {
  std::string url = server_.Url("/partition-a.crl");
  testpki::Built leaf = Leaf(132, {testrev::CdpExtension(url)});
  testrev::CrlSpec spec;
  spec.issuer = inter_.x509.get();
  spec.key = int_key_;
  spec.idp = "critical,fullname:URI:" + server_.Url("/partition-b.crl");
  fs::path dir = tmp_.path() / "idp";
  testing::WriteFile(dir / "b.crl", Str(testrev::BuildCrl(spec)));
  RevocationOptions options = Options();
  options.network = NetworkMode::kOffline;
  options.crl_dir = dir;
  auto checker = Make(options);
  EXPECT_EQ(Check(*checker, leaf).status, RevocationStatus::kUnknown);
  // The same CRL for the right distribution point is used.
  spec.idp = "critical,fullname:URI:" + url;
  testing::WriteFile(dir / "b.crl", Str(testrev::BuildCrl(spec)));
  auto second = Make(options);
  EXPECT_EQ(Check(*second, leaf).status, RevocationStatus::kGood);
}

TEST_F(RevocationTest, CrlDirExpiredCrlIsUnknownOffline) {
  testpki::Built leaf =
      Leaf(133, {testrev::CdpExtension(server_.Url("/x.crl"))});
  fs::path dir = tmp_.path() / "expired";
  testing::WriteFile(dir / "old.crl", Str(Crl({}, "20250201000000Z")));
  RevocationOptions options = Options();
  options.network = NetworkMode::kOffline;
  options.crl_dir = dir;
  auto checker = Make(options);
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kRevocationExpired);
  EXPECT_EQ(r.source, RevocationSource::kCrlDir);
}

TEST_F(RevocationTest, CrlDirOcspResponseMatchedByCertId) {
  testpki::Built leaf =
      Leaf(134, {testrev::OcspAiaExtension(server_.Url("/ocsp"))});
  testpki::Built other =
      Leaf(135, {testrev::OcspAiaExtension(server_.Url("/ocsp"))});
  fs::path dir = tmp_.path() / "ocsp";
  testing::WriteFile(dir / "resp.der",
                     Str(Ocsp(leaf, testrev::OcspCertStatus::kRevoked)));
  RevocationOptions options = Options();
  options.network = NetworkMode::kOffline;
  options.crl_dir = dir;
  auto checker = Make(options);
  EXPECT_TRUE(checker->TakeWarnings().empty());
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked) << r.detail;
  EXPECT_EQ(r.method, RevocationMethod::kOcsp);
  EXPECT_EQ(r.source, RevocationSource::kCrlDir);
  // Another certificate's serial number finds nothing.
  EXPECT_EQ(Check(*checker, other).status, RevocationStatus::kUnknown);
  EXPECT_EQ(server_.TotalRequests(), 0);
}

TEST_F(RevocationTest, MissingCrlDirFailsCreate) {
  RevocationOptions options = Options();
  options.crl_dir = tmp_.path() / "does-not-exist";
  auto checker = RevocationChecker::Create(options);
  ASSERT_FALSE(checker.ok());
  EXPECT_EQ(checker.code(), RevocationError::kCrlDir);
}

// --- Notation's CRL file cache ---

std::string CacheJson(const base::Bytes& base) {
  return "{\"baseCRL\":\"" +
         crypto::EncodeBase64(base, crypto::Base64Variant::kStandardPadded) +
         "\"}";
}

TEST_F(RevocationTest, NotationCacheIsRead) {
  std::string url = server_.Url("/int.crl");
  testpki::Built leaf = Leaf(140, {testrev::CdpExtension(url)});
  fs::path cache = tmp_.path() / "notation" / "crl";
  testing::WriteFile(cache / NotationCrlCacheFileName(url),
                     CacheJson(Crl({140})));
  RevocationOptions options = Options();
  options.network = NetworkMode::kOffline;
  options.notation_crl_cache = cache;
  auto checker = Make(options);
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked);
  EXPECT_EQ(r.source, RevocationSource::kNotationCache);
  EXPECT_EQ(checker->stats().cache_hits, 1u);
}

TEST_F(RevocationTest, NotationCacheIsReverified) {
  // A cached CRL signed by another key is never trusted.
  std::string url = server_.Url("/int.crl");
  testpki::Built leaf = Leaf(141, {testrev::CdpExtension(url)});
  testrev::CrlSpec forged;
  forged.issuer = inter_.x509.get();
  forged.key = root_key_;
  fs::path cache = tmp_.path() / "notation" / "crl";
  testing::WriteFile(cache / NotationCrlCacheFileName(url),
                     CacheJson(testrev::BuildCrl(forged)));
  RevocationOptions options = Options();
  options.network = NetworkMode::kOffline;
  options.notation_crl_cache = cache;
  auto checker = Make(options);
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kBadSignature);
}

TEST_F(RevocationTest, FetchIsWrittenBackToNotationCacheAtomically) {
  base::Bytes crl = Crl({});
  server_.Serve("/int.crl", Body(crl));
  std::string url = server_.Url("/int.crl");
  testpki::Built leaf = Leaf(142, {testrev::CdpExtension(url)});
  fs::path cache = tmp_.path() / "cache-home" / "notation" / "crl";
  RevocationOptions options = Options();
  options.notation_crl_cache = cache;
  auto checker = Make(options);
  EXPECT_EQ(Check(*checker, leaf).status, RevocationStatus::kGood);
  EXPECT_EQ(checker->stats().cache_writes, 1u);
  // Exactly one file, named by the URL's SHA-256, in Notation's format.
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(cache)) {
    files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string(), NotationCrlCacheFileName(url));
  EXPECT_EQ(files[0].filename().string().size(), 64u);
  auto json = nlohmann::json::parse(testing::ReadFile(files[0]));
  ASSERT_TRUE(json.contains("baseCRL"));
  EXPECT_FALSE(json.contains("deltaCRL"));
  auto decoded = crypto::DecodeBase64(json["baseCRL"].get<std::string>(),
                                      crypto::Base64Variant::kStandardPadded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, crl);
  EXPECT_EQ(fs::status(cache).permissions() & fs::perms::all,
            fs::perms::owner_all);

  // A second run, offline, reads what the first wrote.
  options.network = NetworkMode::kOffline;
  auto offline = Make(options);
  CertificateRevocation r = Check(*offline, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kGood);
  EXPECT_EQ(r.source, RevocationSource::kNotationCache);
}

TEST_F(RevocationTest, ExpiredCacheEntryIsRefetched) {
  std::string url = server_.Url("/int.crl");
  testpki::Built leaf = Leaf(143, {testrev::CdpExtension(url)});
  fs::path cache = tmp_.path() / "notation" / "crl";
  testing::WriteFile(cache / NotationCrlCacheFileName(url),
                     CacheJson(Crl({}, "20250201000000Z")));
  base::Bytes fresh = Crl({143});
  server_.Serve("/int.crl", Body(fresh));
  RevocationOptions options = Options();
  options.notation_crl_cache = cache;
  auto checker = Make(options);
  CertificateRevocation r = Check(*checker, leaf);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked);
  EXPECT_EQ(r.source, RevocationSource::kHttp);
  EXPECT_EQ(server_.Count("/int.crl"), 1);
  // The cache now holds the fresh CRL.
  auto json = nlohmann::json::parse(
      testing::ReadFile(cache / NotationCrlCacheFileName(url)));
  auto decoded = crypto::DecodeBase64(json["baseCRL"].get<std::string>(),
                                      crypto::Base64Variant::kStandardPadded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, fresh);
}

TEST_F(RevocationTest, BrokenNotationCacheFileFallsThrough) {
  std::string url = server_.Url("/int.crl");
  server_.Serve("/int.crl", Body(Crl({})));
  testpki::Built leaf = Leaf(144, {testrev::CdpExtension(url)});
  fs::path cache = tmp_.path() / "notation" / "crl";
  testing::WriteFile(cache / NotationCrlCacheFileName(url),
                     "{\"baseCRL\":\"AAAA\",\"baseCRL\":\"AAAA\"}");
  RevocationOptions options = Options();
  options.notation_crl_cache = cache;
  options.notation_cache_mode = NotationCacheMode::kReadOnly;
  auto checker = Make(options);
  EXPECT_EQ(Check(*checker, leaf).status, RevocationStatus::kGood);
  EXPECT_EQ(checker->stats().cache_writes, 0u);
  EXPECT_FALSE(checker->TakeWarnings().empty());
  // Read-only mode left the broken file alone.
  EXPECT_EQ(testing::ReadFile(cache / NotationCrlCacheFileName(url)),
            "{\"baseCRL\":\"AAAA\",\"baseCRL\":\"AAAA\"}");
}

// --- the index cache ---

TEST_F(RevocationTest, IndexCacheIsReusedAcrossRuns) {
  server_.Serve("/int.crl", Body(Crl({151})));
  testpki::Built crl_leaf =
      Leaf(150, {testrev::CdpExtension(server_.Url("/int.crl"))});
  testpki::Built ocsp_leaf =
      Leaf(152, {testrev::OcspAiaExtension(server_.Url("/ocsp/x"))});
  server_.ServePrefix("/ocsp/x",
                      Body(Ocsp(ocsp_leaf, testrev::OcspCertStatus::kGood)));
  RevocationOptions options = Options();
  options.index_path = tmp_.path() / "index.db";
  {
    auto first = Make(options);
    EXPECT_EQ(first->CheckChain(Chain(crl_leaf), kAt, std::nullopt).status,
              RevocationStatus::kGood);
    EXPECT_EQ(first->CheckChain(Chain(ocsp_leaf), kAt, std::nullopt).status,
              RevocationStatus::kGood);
    EXPECT_EQ(first->stats().index_writes, 2u);
  }
  EXPECT_EQ(server_.TotalRequests(), 2);
  server_.ResetCounts();
  auto second = Make(options);
  ChainRevocation a = second->CheckChain(Chain(crl_leaf), kAt, std::nullopt);
  ChainRevocation b = second->CheckChain(Chain(ocsp_leaf), kAt, std::nullopt);
  EXPECT_EQ(a.status, RevocationStatus::kGood);
  EXPECT_EQ(a.certificates[0].source, RevocationSource::kIndex);
  EXPECT_EQ(b.status, RevocationStatus::kGood);
  EXPECT_EQ(b.certificates[0].source, RevocationSource::kIndex);
  EXPECT_EQ(server_.TotalRequests(), 0);
  EXPECT_EQ(second->stats().http_requests, 0u);

  // A later verification time, past the data's next update, fetches again.
  auto third = Make(options);
  EXPECT_EQ(third
                ->CheckChain(Chain(crl_leaf), At("2100-01-01T00:00:00Z"),
                             std::nullopt)
                .status,
            RevocationStatus::kUnknown);
  EXPECT_EQ(server_.Count("/int.crl"), 1);
}

TEST_F(RevocationTest, IndexRevocationRowsRoundTrip) {
  std::string path = (tmp_.path() / "rows.db").string();
  {
    auto index = VerdictIndex::Open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(index.ok()) << index.detail();
    auto none = index->LookupRevocationData(RevocationDataKind::kCrl,
                                            "http://a/b.crl", "");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    CachedRevocationData row;
    row.kind = RevocationDataKind::kOcsp;
    row.url = "http://ocsp";
    row.request = "abcd";
    row.data = {1, 2, 3};
    row.next_update = At("2030-01-01T00:00:00Z");
    row.fetched_at = At("2025-01-01T00:00:00Z");
    ASSERT_TRUE(index->StoreRevocationData(row).ok());
  }
  auto read_only = VerdictIndex::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(read_only.ok());
  auto got = read_only->LookupRevocationData(RevocationDataKind::kOcsp,
                                             "http://ocsp", "abcd");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->data, (base::Bytes{1, 2, 3}));
  EXPECT_FALSE((*got)->delta.has_value());
  EXPECT_EQ((*got)->next_update, At("2030-01-01T00:00:00Z"));
  CachedRevocationData other;
  other.url = "http://c/d.crl";
  other.data = {1};
  auto refused = read_only->StoreRevocationData(other);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), IndexError::kReadOnly);
}

// --- the chain result ---

TEST_F(RevocationTest, CombineChainOrdersRevokedUnknownGood) {
  auto cert = [](RevocationStatus s) {
    CertificateRevocation c;
    c.status = s;
    c.subject = "CN=x";
    return c;
  };
  using S = RevocationStatus;
  EXPECT_EQ(CombineChain({cert(S::kGood), cert(S::kGood)}).status, S::kGood);
  EXPECT_EQ(CombineChain({cert(S::kGood), cert(S::kUnknown)}).status,
            S::kUnknown);
  EXPECT_EQ(CombineChain({cert(S::kUnknown), cert(S::kRevoked)}).status,
            S::kRevoked);
  EXPECT_EQ(CombineChain({cert(S::kRevoked), cert(S::kUnknown)}).status,
            S::kRevoked);
  EXPECT_EQ(CombineChain({}).status, S::kGood);
}

TEST_F(RevocationTest, IntermediateRevokedByRootCrl) {
  // The intermediate's own CRL comes from the root.
  testpki::CertSpec inter = testpki::RootSpec(int_key_, "intermediate");
  inter.issuer = root_.x509.get();
  inter.issuer_key = root_key_;
  inter.serial = 9;
  inter.extra_extensions = {testrev::CdpExtension(server_.Url("/root.crl"))};
  testpki::Built revoked_inter = testpki::Build(inter);
  testrev::CrlSpec root_crl;
  root_crl.issuer = root_.x509.get();
  root_crl.key = root_key_;
  root_crl.entries.push_back(Revoked(9));
  server_.Serve("/root.crl", Body(testrev::BuildCrl(root_crl)));
  testpki::Built leaf = Leaf(160, {});
  auto checker = Make(Options());
  std::vector<CertificatePtr> chain{leaf.cert, revoked_inter.cert, root_.cert};
  ChainRevocation r = checker->CheckChain(chain, kAt, std::nullopt);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked);
  EXPECT_EQ(r.certificates[0].status, RevocationStatus::kGood);
  EXPECT_EQ(r.certificates[1].status, RevocationStatus::kRevoked);
}

// --- prefetch ---

// A mirror with one repository holding one artifact signed by a chain
// whose leaf names a CRL and an OCSP responder on the test server.
class PrefetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int64_t now = 1748736000;  // 2025-06-01
    mkmirror::CertSpec root_spec;
    root_spec.subject = {
        {"C", "US"}, {"ST", "WA"}, {"O", "Test"}, {"CN", "root"}};
    root_spec.role = mkmirror::CertRole::kRoot;
    root_spec.not_before = now - 86400 * 365;
    root_spec.not_after = now + 86400 * 365 * 10;
    auto root = mkmirror::IssueCertificate(root_spec, mkmirror::KeyType::kEc256,
                                           nullptr);
    ASSERT_TRUE(root.ok());
    root_ = std::move(root).value();
    mkmirror::CertSpec inter_spec = root_spec;
    inter_spec.subject.back().second = "intermediate";
    inter_spec.role = mkmirror::CertRole::kIntermediate;
    inter_spec.crl_url = server_.Url("/root.crl");
    auto inter = mkmirror::IssueCertificate(
        inter_spec, mkmirror::KeyType::kEc256, root_.get());
    ASSERT_TRUE(inter.ok());
    inter_ = std::move(inter).value();
    mkmirror::CertSpec leaf_spec = root_spec;
    leaf_spec.subject.back().second = "leaf";
    leaf_spec.role = mkmirror::CertRole::kLeaf;
    leaf_spec.crl_url = server_.Url("/int.crl");
    leaf_spec.ocsp_url = server_.Url("/ocsp");
    auto leaf = mkmirror::IssueCertificate(leaf_spec, mkmirror::KeyType::kEc256,
                                           inter_.get());
    ASSERT_TRUE(leaf.ok());
    leaf_ = std::move(leaf).value();
    for (const mkmirror::Credential* c :
         {leaf_.get(), inter_.get(), root_.get()}) {
      auto parsed = crypto::Certificate::FromDer(c->der);
      ASSERT_TRUE(parsed.ok());
      chain_.push_back(std::move(parsed).value());
    }
    now_ = now;
    WriteMirror(tmp_.path() / "mirror", {});
  }

  void WriteMirror(const fs::path& mirror,
                   mkmirror::Countersigner countersigner) {
    int64_t now = now_;
    auto layout = mkmirror::LayoutWriter::Create(mirror / "app");
    ASSERT_TRUE(layout.ok());
    mkmirror::LayoutWriter& w = **layout;
    auto config = w.WriteBlob(mkmirror::kMediaTypeImageConfig,
                              base::AsBytes("{\"architecture\":\"amd64\"}"));
    ASSERT_TRUE(config.ok());
    mkmirror::ImageManifest image;
    image.config = *config;
    auto artifact = w.WriteBlob(mkmirror::kMediaTypeImageManifest,
                                base::AsBytes(mkmirror::ManifestJson(image)));
    ASSERT_TRUE(artifact.ok());
    mkmirror::Descriptor tagged = *artifact;
    tagged.annotations[std::string(mkmirror::kAnnotationRefName)] = "v1";
    w.AddIndexEntry(tagged);

    mkmirror::EnvelopeRequest request;
    request.signing_time = now - 3600;
    request.target = {artifact->media_type, artifact->digest, artifact->size};
    request.countersigner = std::move(countersigner);
    mkmirror::Signer signer{leaf_.get(),
                            {leaf_.get(), inter_.get(), root_.get()}};
    auto envelope = mkmirror::BuildEnvelope(request, signer);
    ASSERT_TRUE(envelope.ok()) << envelope.detail();
    auto layer = w.WriteBlob(mkmirror::MediaType(request.format), *envelope);
    ASSERT_TRUE(layer.ok());
    ASSERT_TRUE(
        w.WriteBlob(mkmirror::kMediaTypeEmpty, base::AsBytes("{}")).ok());
    mkmirror::ImageManifest sig;
    sig.artifact_type = std::string(mkmirror::kArtifactTypeNotation);
    sig.config = mkmirror::EmptyConfigDescriptor();
    sig.layers = {*layer};
    mkmirror::Descriptor subject;
    subject.media_type = artifact->media_type;
    subject.digest = artifact->digest;
    subject.size = artifact->size;
    sig.subject = subject;
    auto sig_desc = w.WriteBlob(mkmirror::kMediaTypeImageManifest,
                                base::AsBytes(mkmirror::ManifestJson(sig)));
    ASSERT_TRUE(sig_desc.ok());
    sig_desc->artifact_type = std::string(mkmirror::kArtifactTypeNotation);
    w.AddIndexEntry(*sig_desc);
    ASSERT_TRUE(w.Finish().ok());
  }

  void Serve(bool leaf_revoked) {
    testrev::CrlSpec int_crl;
    int_crl.issuer = inter_->cert.get();
    int_crl.key = inter_->key.get();
    int_crl.this_update = "20250101000000Z";
    testrev::CrlSpec root_crl = int_crl;
    root_crl.issuer = root_->cert.get();
    root_crl.key = root_->key.get();
    testrev::OcspSpec ocsp;
    ocsp.cert = leaf_->cert.get();
    ocsp.issuer = inter_->cert.get();
    ocsp.signer_cert = inter_->cert.get();
    ocsp.signer_key = inter_->key.get();
    ocsp.include_signer_cert = false;
    ocsp.this_update = "20250101000000Z";
    ocsp.status = leaf_revoked ? testrev::OcspCertStatus::kRevoked
                               : testrev::OcspCertStatus::kGood;
    HttpServer::Response r;
    r.body = Str(testrev::BuildCrl(int_crl));
    server_.Serve("/int.crl", r);
    r.body = Str(testrev::BuildCrl(root_crl));
    server_.Serve("/root.crl", r);
    r.body = Str(testrev::BuildOcspResponse(ocsp));
    server_.ServePrefix("/ocsp", r);
  }

  PrefetchOptions Options() const {
    PrefetchOptions o;
    o.mirror = tmp_.path() / "mirror";
    o.out_dir = tmp_.path() / "out";
    o.at = kAt;
    return o;
  }

  HttpServer server_;
  testing::TempDir tmp_;
  int64_t now_ = 0;
  std::unique_ptr<mkmirror::Credential> root_, inter_, leaf_;
  std::vector<CertificatePtr> chain_;
};

TEST_F(PrefetchTest, PrefetchedDirectoryGivesTheOnlineResultOffline) {
  Serve(/*leaf_revoked=*/true);
  RevocationOptions online;
  auto checker = RevocationChecker::Create(online);
  ASSERT_TRUE(checker.ok());
  ChainRevocation live = (*checker)->CheckChain(chain_, kAt, std::nullopt);
  EXPECT_EQ(live.status, RevocationStatus::kRevoked);

  server_.ResetCounts();
  auto report = PrefetchRevocationData(Options());
  ASSERT_TRUE(report.ok()) << report.detail();
  EXPECT_EQ(report->repositories, 1u);
  EXPECT_EQ(report->signatures, 1u);
  EXPECT_EQ(report->certificates, 2u);
  EXPECT_EQ(report->failed(), 0u);
  // The leaf's CRL and OCSP response, the intermediate's CRL.
  EXPECT_EQ(report->items.size(), 3u);
  EXPECT_TRUE(fs::exists(Options().out_dir /
                         PrefetchCrlFileName(server_.Url("/int.crl"))));
  EXPECT_TRUE(fs::exists(Options().out_dir /
                         PrefetchCrlFileName(server_.Url("/root.crl"))));

  server_.ResetCounts();
  RevocationOptions offline;
  offline.network = NetworkMode::kOffline;
  offline.crl_dir = Options().out_dir;
  auto air_gapped = RevocationChecker::Create(offline);
  ASSERT_TRUE(air_gapped.ok());
  EXPECT_TRUE((*air_gapped)->TakeWarnings().empty());
  ChainRevocation local = (*air_gapped)->CheckChain(chain_, kAt, std::nullopt);
  EXPECT_EQ(server_.TotalRequests(), 0);
  EXPECT_EQ(local.status, live.status);
  ASSERT_EQ(local.certificates.size(), live.certificates.size());
  for (size_t i = 0; i < local.certificates.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(local.certificates[i].status, live.certificates[i].status);
    EXPECT_EQ(local.certificates[i].method, live.certificates[i].method);
    EXPECT_EQ(local.certificates[i].source, RevocationSource::kCrlDir);
  }
}

TEST_F(PrefetchTest, FailuresAreReported) {
  Serve(/*leaf_revoked=*/false);
  HttpServer::Response missing;
  missing.status = 404;
  server_.Serve("/root.crl", missing);
  auto report = PrefetchRevocationData(Options());
  ASSERT_TRUE(report.ok()) << report.detail();
  EXPECT_EQ(report->failed(), 1u);
  size_t ok = 0;
  for (const PrefetchItem& item : report->items) {
    if (item.ok) {
      ++ok;
      EXPECT_TRUE(fs::exists(Options().out_dir / item.file));
    } else {
      EXPECT_EQ(item.url, server_.Url("/root.crl"));
      EXPECT_EQ(item.kind, PrefetchKind::kCrl);
    }
  }
  EXPECT_EQ(ok, 2u);
}

// RunCli runs `trustgate revocation ...` in-process, output discarded.
int RunCli(const std::vector<std::string>& args) {
  std::FILE* sink = std::fopen("/dev/null", "w");
  int rc = tools::RunRevocationCli(args, sink, sink);
  std::fclose(sink);
  return rc;
}

TEST_F(PrefetchTest, CommandExitCodes) {
  Serve(/*leaf_revoked=*/false);
  std::string mirror = Options().mirror.string();
  std::string out = Options().out_dir.string();
  std::string config = (tmp_.path() / "no-config").string();
  EXPECT_EQ(RunCli({"revocation", "prefetch", "--mirror", mirror, "--crl-dir",
                    out, "--config", config, "--at", "2025-06-01T00:00:00Z"}),
            0);
  EXPECT_TRUE(fs::exists(Options().out_dir /
                         PrefetchCrlFileName(server_.Url("/int.crl"))));
  HttpServer::Response missing;
  missing.status = 404;
  server_.Serve("/int.crl", missing);
  EXPECT_EQ(RunCli({"revocation", "prefetch", "--mirror", mirror, "--crl-dir",
                    out, "--config", config}),
            1);
  // Usage errors.
  EXPECT_EQ(RunCli({"revocation", "prefetch", "--crl-dir", out}), 2);
  EXPECT_EQ(RunCli({"revocation", "prefetch", "--mirror", mirror, "--crl-dir",
                    out, "--at", "yesterday"}),
            2);
  EXPECT_EQ(RunCli({"revocation", "prefetch", "--mirror", mirror, "--crl-dir",
                    out, "--crl-timeout", "0"}),
            2);
  EXPECT_EQ(RunCli({"revocation", "prefetch", "--mirror",
                    (tmp_.path() / "nothing").string(), "--crl-dir", out}),
            2);
}

TEST_F(PrefetchTest, TimestampChainsAreWalkedToTheConfiguredTsaRoot) {
  Serve(/*leaf_revoked=*/false);
  // A TSA whose leaf names a CRL; its tokens carry the leaf only, so the
  // chain reaches the root through the configuration's tsa store.
  mkmirror::CertSpec root_spec;
  root_spec.subject = {
      {"C", "US"}, {"ST", "WA"}, {"O", "Test"}, {"CN", "tsa root"}};
  root_spec.role = mkmirror::CertRole::kRoot;
  root_spec.not_before = now_ - 86400 * 365;
  root_spec.not_after = now_ + 86400 * 365 * 10;
  auto tsa_root =
      mkmirror::IssueCertificate(root_spec, mkmirror::KeyType::kEc256, nullptr);
  ASSERT_TRUE(tsa_root.ok());
  mkmirror::CertSpec leaf_spec = root_spec;
  leaf_spec.subject.back().second = "tsa";
  leaf_spec.role = mkmirror::CertRole::kLeaf;
  leaf_spec.leaf_usage = mkmirror::LeafUsage::kTimeStamping;
  leaf_spec.crl_url = server_.Url("/tsa.crl");
  auto tsa_leaf = mkmirror::IssueCertificate(
      leaf_spec, mkmirror::KeyType::kEc256, tsa_root->get());
  ASSERT_TRUE(tsa_leaf.ok());
  testrev::CrlSpec tsa_crl;
  tsa_crl.issuer = (*tsa_root)->cert.get();
  tsa_crl.key = (*tsa_root)->key.get();
  HttpServer::Response r;
  r.body = Str(testrev::BuildCrl(tsa_crl));
  server_.Serve("/tsa.crl", r);

  mkmirror::TimestampAuthority tsa{tsa_leaf->get(), {tsa_leaf->get()}};
  int64_t gen_time = now_ - 3000;
  fs::path mirror = tmp_.path() / "mirror-tsa";
  WriteMirror(mirror, [&](base::ByteView signature, const EVP_MD* digest) {
    mkmirror::TimestampSpec spec;
    spec.gen_time = gen_time;
    return mkmirror::IssueTimestampToken(tsa, spec, signature, digest);
  });

  // A Notation configuration whose tsa store holds the TSA root.
  fs::path config = tmp_.path() / "config";
  testing::WriteFile(
      config / "trustpolicy.json",
      R"({"version":"1.0","trustPolicies":[{"name":"all",)"
      R"("registryScopes":["*"],"signatureVerification":{"level":"strict"},)"
      R"("trustStores":["ca:signing","tsa:tsa"],"trustedIdentities":["*"]}]})");
  testing::WriteFile(config / "truststore/x509/ca/signing/root.pem",
                     mkmirror::ToPem(*root_));
  testing::WriteFile(config / "truststore/x509/tsa/tsa/root.pem",
                     mkmirror::ToPem(**tsa_root));

  PrefetchOptions options = Options();
  options.mirror = mirror;
  auto without = PrefetchRevocationData(options);
  ASSERT_TRUE(without.ok()) << without.detail();
  EXPECT_EQ(server_.Count("/tsa.crl"), 0);  // no issuer for the TSA leaf
  EXPECT_EQ(without->failed(), 0u);

  options.config_dir = config;
  options.out_dir = tmp_.path() / "out-tsa";
  auto with = PrefetchRevocationData(options);
  ASSERT_TRUE(with.ok()) << with.detail();
  EXPECT_TRUE(with->warnings.empty());
  EXPECT_EQ(with->failed(), 0u);
  EXPECT_EQ(with->certificates, 3u);  // leaf, intermediate, TSA leaf
  EXPECT_EQ(server_.Count("/tsa.crl"), 1);
  EXPECT_TRUE(fs::exists(options.out_dir /
                         PrefetchCrlFileName(server_.Url("/tsa.crl"))));
}

TEST_F(PrefetchTest, UnreadableMirrorFails) {
  PrefetchOptions options = Options();
  options.mirror = tmp_.path() / "no-such-mirror";
  auto report = PrefetchRevocationData(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.code(), RevocationError::kMirror);
}

}  // namespace
}  // namespace trustgate::engine
