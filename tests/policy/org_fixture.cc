#include "tests/policy/org_fixture.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace trustgate::policy::testing {

CertSpec RootSpec(const std::string& ou, const std::string& cn) {
  CertSpec spec = SpecFor({{"C", "US"},
                           {"ST", "WA"},
                           {"O", "Example Corp"},
                           {"OU", ou},
                           {"CN", cn}});
  spec.ca = true;
  return spec;
}

const OrgPki& Pki() {
  static const OrgPki* pki = [] {
    auto* p = new OrgPki();
    p->payments = MakeCert(RootSpec("Payments", "Payments Root CA 2025"));
    p->payments_previous =
        MakeCert(RootSpec("Payments", "Payments Root CA 2022"));
    p->platform = MakeCert(RootSpec("Platform", "Platform Root CA"));
    p->platform_staging =
        MakeCert(RootSpec("Platform", "Platform Staging Root CA"));
    p->aws_signer = MakeCert(RootSpec("AWS Signer", "AWS Signer Root"));
    p->shared_infra =
        MakeCert(RootSpec("Infrastructure", "Shared Infrastructure Root CA"));
    p->tsa = MakeCert(RootSpec("Timestamping", "Public TSA Root"));
    return p;
  }();
  return *pki;
}

std::string DataFile(const std::string& relative) {
  const char* source = std::getenv("TRUSTGATE_SOURCE");
  std::filesystem::path root =
      source != nullptr && source[0] != '\0' ? source : ".";
  std::filesystem::path path = root / "tests" / "data" / "policy" / relative;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    throw std::runtime_error("test data " + path.string() +
                             " not found; set TRUSTGATE_SOURCE");
  }
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void WriteStore(const std::filesystem::path& truststore, StoreType type,
                const std::string& name,
                const std::vector<const TestCert*>& certs) {
  std::filesystem::path dir =
      truststore / "x509" / std::string(ToString(type)) / name;
  std::filesystem::create_directories(dir);
  int i = 0;
  for (const TestCert* cert : certs) {
    WriteFile(dir / ("cert" + std::to_string(i++) + ".pem"), cert->Pem());
  }
}

namespace {

const std::vector<std::pair<StoreRef, const TestCert*>>& OrgStoreList() {
  static const auto* list = [] {
    const OrgPki& pki = Pki();
    return new std::vector<std::pair<StoreRef, const TestCert*>>{
        {{StoreType::kCa, "payments"}, &pki.payments},
        {{StoreType::kCa, "payments-previous"}, &pki.payments_previous},
        {{StoreType::kCa, "platform"}, &pki.platform},
        {{StoreType::kCa, "platform-staging"}, &pki.platform_staging},
        {{StoreType::kCa, "shared-infra"}, &pki.shared_infra},
        {{StoreType::kSigningAuthority, "aws-signer"}, &pki.aws_signer},
        {{StoreType::kTsa, "public-tsa"}, &pki.tsa},
    };
  }();
  return *list;
}

}  // namespace

bool WriteOrgStore(const std::filesystem::path& truststore,
                   const StoreRef& ref) {
  for (const auto& [r, cert] : OrgStoreList()) {
    if (r == ref) {
      WriteStore(truststore, r.type, r.name, {cert});
      return true;
    }
  }
  return false;
}

void WriteOrgStores(const std::filesystem::path& truststore) {
  for (const auto& [ref, cert] : OrgStoreList()) {
    WriteStore(truststore, ref.type, ref.name, {cert});
  }
}

void WriteConfig(const std::filesystem::path& dir,
                 const std::string& policy_json, OrgStores stores) {
  WriteFile(dir / "trustpolicy.oci.json", policy_json);
  if (stores == OrgStores::kAll) {
    WriteOrgStores(dir / "truststore");
  } else if (stores == OrgStores::kReferenced) {
    auto policy = ParseTrustPolicy(base::AsBytes(policy_json));
    if (!policy.ok()) {
      throw std::runtime_error("test policy does not parse: " +
                               policy.detail());
    }
    std::filesystem::create_directories(dir / "truststore");
    for (const Statement& st : policy->statements) {
      for (const StoreRef& ref : st.trust_stores) {
        WriteOrgStore(dir / "truststore", ref);  // others: the test's job
      }
    }
  }
}

}  // namespace trustgate::policy::testing
