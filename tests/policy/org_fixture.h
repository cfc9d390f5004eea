#pragma once

// Test-only: the multi-team organisation of tests/data/policy/org (payments,
// platform base images, an AWS Signer signingAuthority store, a
// shared-infrastructure store, a public TSA) as Notation config dirs whose
// trust stores hold certificates generated here, never committed.

#include <filesystem>
#include <string>
#include <vector>

#include "policy/trust_policy.h"
#include "tests/policy/test_pki.h"

namespace trustgate::policy::testing {

// OrgPki holds one self-signed root per store of the organisation.
struct OrgPki {
  TestCert payments;
  TestCert payments_previous;
  TestCert platform;
  TestCert platform_staging;
  TestCert aws_signer;
  TestCert shared_infra;
  TestCert tsa;
};

// Pki returns the process-wide organisation PKI (generated once).
const OrgPki& Pki();

// RootSpec is a CA root spec with subject C=US, ST=WA, O=Example Corp,
// OU=`ou`, CN=`cn`.
CertSpec RootSpec(const std::string& ou, const std::string& cn);

// DataFile returns the text of tests/data/policy/`relative` (found through
// $TRUSTGATE_SOURCE, else the current directory).
std::string DataFile(const std::string& relative);

// WriteStore writes `certs` as PEM files into
// <truststore>/x509/<type>/<name>/ (creating it, even when empty).
void WriteStore(const std::filesystem::path& truststore, StoreType type,
                const std::string& name,
                const std::vector<const TestCert*>& certs);

// WriteOrgStores writes every store the org policies reference:
// ca:payments, ca:payments-previous, ca:platform, ca:platform-staging,
// ca:shared-infra, signingAuthority:aws-signer, tsa:public-tsa.
void WriteOrgStores(const std::filesystem::path& truststore);
// WriteOrgStore writes one of those stores (by reference); false when
// `ref` is not an org store.
bool WriteOrgStore(const std::filesystem::path& truststore,
                   const StoreRef& ref);

// WriteConfig makes `dir` a Notation config dir: trustpolicy.oci.json with
// `policy_json` and truststore/ with none of the org's stores, those the
// policy references (it must parse; references to stores that are not the
// org's are left for the test to write), or all of them.
enum class OrgStores { kNone, kReferenced, kAll };
void WriteConfig(const std::filesystem::path& dir,
                 const std::string& policy_json, OrgStores stores);

}  // namespace trustgate::policy::testing
