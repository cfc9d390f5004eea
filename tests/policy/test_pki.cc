#include "tests/policy/test_pki.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace trustgate::policy::testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("test PKI: ") + what);
  }
}

void AddNameEntries(
    X509_NAME* name,
    const std::vector<std::pair<std::string, std::string>>& entries) {
  for (const auto& [type, value] : entries) {
    Check(X509_NAME_add_entry_by_txt(
              name, type.c_str(), MBSTRING_UTF8,
              reinterpret_cast<const unsigned char*>(value.data()),
              static_cast<int>(value.size()), -1, 0) == 1,
          "add name entry");
  }
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  Check(ext != nullptr, "make extension");
  Check(X509_add_ext(cert, ext, -1) == 1, "add extension");
  X509_EXTENSION_free(ext);
}

}  // namespace

std::string TestCert::Pem() const {
  crypto::UniqueBio bio(BIO_new(BIO_s_mem()));
  Check(PEM_write_bio_X509(bio.get(), cert.get()) == 1, "write PEM");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

base::Bytes TestCert::Der() const {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  Check(len > 0, "write DER");
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

CertSpec SpecFor(std::vector<std::pair<std::string, std::string>> subject) {
  CertSpec spec;
  spec.subject = std::move(subject);
  return spec;
}

TestCert MakeCert(const CertSpec& spec, const TestCert* issuer) {
  static long serial = 1;
  TestCert out;
  out.key.reset(EVP_EC_gen("P-256"));
  Check(out.key != nullptr, "generate key");
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  Check(X509_set_version(x, spec.version == 1 ? 0 : 2) == 1, "version");
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
  Check(X509_set_pubkey(x, out.key.get()) == 1, "pubkey");
  AddNameEntries(X509_get_subject_name(x), spec.subject);
  if (!spec.issuer_name.empty()) {
    AddNameEntries(X509_get_issuer_name(x), spec.issuer_name);
  } else if (issuer != nullptr) {
    Check(
        X509_set_issuer_name(x, X509_get_subject_name(issuer->cert.get())) == 1,
        "issuer name");
  } else {
    Check(X509_set_issuer_name(x, X509_get_subject_name(x)) == 1,
          "issuer name");
  }
  if (spec.version == 3) {
    X509* signer_cert = issuer != nullptr ? issuer->cert.get() : x;
    if (spec.basic_constraints) {
      AddExtension(x, signer_cert, NID_basic_constraints,
                   spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    }
    if (spec.key_usage) {
      AddExtension(x, signer_cert, NID_key_usage,
                   spec.ca ? "critical,keyCertSign,cRLSign"
                           : "critical,digitalSignature");
    }
  }
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : out.key.get();
  const EVP_MD* md = spec.md != nullptr ? spec.md : EVP_sha256();
  Check(X509_sign(x, signer, md) > 0, "sign");
  return out;
}

ScratchDir::ScratchDir() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "tg-policy-XXXXXX").string();
  Check(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  Check(static_cast<bool>(f), "write file");
}

void WriteFile(const std::filesystem::path& path, const base::Bytes& content) {
  WriteFile(path, base::AsString(content));
}

std::filesystem::path SharedDir() {
  const char* env = std::getenv("TRUSTGATE_SHARED");
  if (env != nullptr && env[0] != '\0') {
    return env;
  }
  return "/work/shared";
}

}  // namespace trustgate::policy::testing
