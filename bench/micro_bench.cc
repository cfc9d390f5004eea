// Micro-benchmarks of the hot paths (issue: pipeline, part 5): envelope
// parsing, the integrity check, DN matching, a chain-cache hit, hashing a
// 1 MiB blob and one verdict insert; plus OpenSSL's raw verify for the
// same key as the reference rate.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "crypto/envelope.h"
#include "crypto/signature.h"
#include "engine/chain_cache.h"
#include "engine/index.h"
#include "io/digest.h"
#include "policy/dn.h"
#include "policy/trust_policy.h"
#include "policy/trust_store.h"
#include "tools/mkmirror/envelope_writer.h"
#include "tools/mkmirror/pki.h"

namespace trustgate {
namespace {

namespace fs = std::filesystem;

// Fixture is one PKI (root -> intermediate -> leaf) and two envelopes.
struct Fixture {
  std::unique_ptr<mkmirror::Credential> root;
  std::unique_ptr<mkmirror::Credential> intermediate;
  std::unique_ptr<mkmirror::Credential> leaf;
  base::Bytes jws;
  base::Bytes cose;
  base::Bytes message = base::Bytes(256, 0x5a);
  base::Bytes signature;  // raw, over `message`

  explicit Fixture(mkmirror::KeyType type) {
    using mkmirror::CertRole;
    mkmirror::CertSpec spec;
    spec.not_before = 1700000000;
    spec.not_after = 2000000000;
    spec.role = CertRole::kRoot;
    spec.subject = {{"C", "US"}, {"ST", "WA"}, {"O", "Acme"}, {"CN", "root"}};
    root = std::move(mkmirror::IssueCertificate(spec, type, nullptr)).value();
    spec.role = CertRole::kIntermediate;
    spec.subject.back().second = "intermediate";
    intermediate =
        std::move(mkmirror::IssueCertificate(spec, type, root.get())).value();
    spec.role = CertRole::kLeaf;
    spec.subject = {{"C", "US"},   {"ST", "WA"},       {"L", "Seattle"},
                    {"O", "Acme"}, {"OU", "payments"}, {"CN", "signer"}};
    leaf = std::move(mkmirror::IssueCertificate(spec, type, intermediate.get()))
               .value();
    mkmirror::Signer signer{leaf.get(),
                            {leaf.get(), intermediate.get(), root.get()}};
    mkmirror::EnvelopeRequest request;
    request.signing_time = 1800000000;
    request.target = {"application/vnd.oci.image.manifest.v1+json",
                      "sha256:" + std::string(64, 'a'), 1234};
    request.format = mkmirror::EnvelopeFormat::kJws;
    jws = std::move(mkmirror::BuildEnvelope(request, signer)).value();
    request.format = mkmirror::EnvelopeFormat::kCose;
    cose = std::move(mkmirror::BuildEnvelope(request, signer)).value();
    signature =
        std::move(mkmirror::SignRaw(type, leaf->key.get(), message)).value();
  }
};

Fixture& Ec256() {
  static Fixture* f = new Fixture(mkmirror::KeyType::kEc256);
  return *f;
}

void BM_ParseJws(benchmark::State& state) {
  Fixture& f = Ec256();
  for (auto _ : state) {
    auto env = crypto::ParseEnvelope(
        crypto::EnvelopeFormat::kJws, f.jws,
        crypto::ParseOptions{crypto::CertificateParsing::kDeferred});
    benchmark::DoNotOptimize(env);
  }
}
BENCHMARK(BM_ParseJws);

void BM_ParseCose(benchmark::State& state) {
  Fixture& f = Ec256();
  for (auto _ : state) {
    auto env = crypto::ParseEnvelope(
        crypto::EnvelopeFormat::kCose, f.cose,
        crypto::ParseOptions{crypto::CertificateParsing::kDeferred});
    benchmark::DoNotOptimize(env);
  }
}
BENCHMARK(BM_ParseCose);

// The integrity check of a parsed JWS with its (cached) chain: one ECDSA
// P-256 verification plus the algorithm/key match.
void BM_VerifyEnvelopeIntegrityEs256(benchmark::State& state) {
  Fixture& f = Ec256();
  auto env = crypto::ParseEnvelope(crypto::EnvelopeFormat::kJws, f.jws);
  for (auto _ : state) {
    auto status = crypto::VerifyEnvelopeIntegrity(env.value());
    benchmark::DoNotOptimize(status);
  }
}
BENCHMARK(BM_VerifyEnvelopeIntegrityEs256)->UseRealTime();

// OpenSSL's raw verify of the same key type (the reference rate).
void BM_OpenSslRawVerifyEs256(benchmark::State& state) {
  Fixture& f = Ec256();
  EVP_PKEY* key = X509_get0_pubkey(f.leaf->cert.get());
  for (auto _ : state) {
    auto status = crypto::VerifySignature(crypto::SignatureAlgorithm::kEs256,
                                          key, f.message, f.signature);
    benchmark::DoNotOptimize(status);
  }
}
BENCHMARK(BM_OpenSslRawVerifyEs256)->UseRealTime();

void BM_DnMatch(benchmark::State& state) {
  auto policy_dn =
      policy::ParseDistinguishedName("C=US, ST=WA, O=Acme, OU=payments");
  Fixture& f = Ec256();
  auto leaf = crypto::Certificate::FromDer(f.leaf->der);
  for (auto _ : state) {
    auto subject = policy::LeafSubjectForMatch(*leaf.value());
    benchmark::DoNotOptimize(policy::IsDnSubset(*policy_dn, *subject));
  }
}
BENCHMARK(BM_DnMatch);

void BM_ChainCacheHit(benchmark::State& state) {
  Fixture& f = Ec256();
  std::string json = R"({"version": "1.0", "trustPolicies": [{
      "name": "all", "registryScopes": ["*"],
      "signatureVerification": {"level": "strict"},
      "trustStores": ["ca:acme"], "trustedIdentities": ["*"]}]})";
  auto policy = policy::ParseTrustPolicy(base::AsBytes(json));
  std::vector<std::string> warnings;
  policy::TrustStore store =
      policy::TrustStore::Load("/nonexistent", *policy, &warnings);
  engine::ChainCache cache(*policy, store);
  std::vector<base::ByteView> ders = {f.leaf->der, f.intermediate->der,
                                      f.root->der};
  (void)cache.Facts(ders);
  for (auto _ : state) {
    auto facts = cache.Facts(ders);
    benchmark::DoNotOptimize(facts);
  }
}
BENCHMARK(BM_ChainCacheHit)->Threads(1)->Threads(2);

void BM_Sha256OneMiB(benchmark::State& state) {
  base::Bytes blob(1 << 20, 0x42);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        io::ComputeDigest(io::DigestAlgorithm::kSha256, blob));
  }
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(blob.size()));
}
BENCHMARK(BM_Sha256OneMiB);

// One verdict insert, in batches of 512 per transaction as the writer
// commits them.
void BM_VerdictInsert(benchmark::State& state) {
  fs::path path = fs::temp_directory_path() /
                  ("trustgate-bench-" + std::to_string(::getpid()) + ".db");
  fs::remove(path);
  auto index =
      engine::VerdictIndex::Open(path.string(), engine::OpenMode::kReadWrite);
  engine::RunInfo info;
  auto run = index->BeginRun(info);
  std::vector<engine::ArtifactVerdict> batch(512);
  int64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& v : batch) {
      v.repository = "registry.example.com/payments/api";
      v.digest =
          "sha256:" + std::string(48, 'b') + std::to_string(1000000 + n++);
      v.digest.resize(71, '0');
      v.verdict = engine::Verdict::kVerified;
      v.reason = engine::Reason::kOk;
      v.signatures.resize(1);
      v.signatures[0].digest = v.digest;
      v.signatures[0].chain = {std::string(64, 'c'), std::string(64, 'd')};
    }
    state.ResumeTiming();
    auto status = index->WriteBatch(*run, batch, "inputs");
    benchmark::DoNotOptimize(status);
  }
  state.SetItemsProcessed(state.iterations() * 512);
  fs::remove(path);
  fs::remove(path.string() + "-wal");
  fs::remove(path.string() + "-shm");
}
BENCHMARK(BM_VerdictInsert)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace trustgate

BENCHMARK_MAIN();
