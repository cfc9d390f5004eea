#include "policy/trust_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "base/file.h"
#include "base/unique_fd.h"
#include "crypto/ossl.h"

namespace trustgate::policy {
namespace {

constexpr size_t kMaxStoreEntries = 10000;
constexpr size_t kMaxCertFileBytes = 8 * 1024 * 1024;

using StoreError = base::Error<PolicyError>;

std::string StoreLabel(const StoreRef& ref) {
  std::string s = "trust store \"";
  s.append(ref.name);
  s.append("\" of type \"");
  s.append(ToString(ref.type));
  s.append("\"");
  return s;
}

StoreError MakeStoreError(const StoreRef& ref, PolicyError code,
                          std::string_view what) {
  std::string detail = StoreLabel(ref);
  detail.append(": ");
  detail.append(what);
  return base::MakeError(code, std::move(detail));
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// SelfSignatureVerifies is Go's cert.CheckSignature(own key): the
// signature verifies under the certificate's own public key, whatever the
// names say. Go refuses MD2/MD5 always and SHA-1 unless `allow_sha1`
// (CheckSignature allows it, CheckSignatureFrom does not).
bool SelfSignatureVerifies(const crypto::Certificate& cert, bool allow_sha1) {
  X509* x = cert.x509();
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  int sec_bits = 0;
  uint32_t flags = 0;
  if (X509_get_signature_info(x, &md_nid, &pk_nid, &sec_bits, &flags) != 1) {
    return false;
  }
  if (md_nid == NID_md5 || md_nid == NID_md2 || md_nid == NID_md4) {
    return false;
  }
  if (md_nid == NID_sha1 && !allow_sha1) {
    return false;
  }
  if (pk_nid == NID_dsa) {
    return false;  // Go no longer verifies DSA signatures.
  }
  EVP_PKEY* key = X509_get0_pubkey(x);
  if (key == nullptr) {
    return false;
  }
  int rc = X509_verify(x, key);
  ERR_clear_error();
  return rc == 1;
}

// ValidateStoreCertificate applies notation-go truststore checks:
// ValidateCertificates (every store: CA, or self-signed) and, for tsa,
// isRootCACertificate (Go's CheckSignatureFrom(itself): a v3 certificate
// needs basicConstraints with cA, keyUsage if present needs keyCertSign,
// the signature verifies with its own key, SHA-1 refused; and the raw
// subject equals the raw issuer).
std::optional<std::string> StoreCertificateProblem(
    const crypto::Certificate& cert, StoreType type) {
  // trust-store-trust-policy.md: Trust Store ("Certificates in a trust store
  // are root certificates"); notation accepts any CA or self-signed one.
  if (!cert.is_ca() && !SelfSignatureVerifies(cert, /*allow_sha1=*/true)) {
    return "certificate \"" + cert.SubjectString() +
           "\" is neither a CA certificate nor self-signed";
  }
  if (type != StoreType::kTsa) {
    return std::nullopt;
  }
  // RFC 5280 §4.2.1.9 as Go applies it in CheckSignatureFrom.
  if ((cert.version() == 3 && !cert.has_basic_constraints()) ||
      (cert.has_basic_constraints() && !cert.is_ca())) {
    return "certificate \"" + cert.SubjectString() +
           "\" is not a root CA certificate (basicConstraints cA missing); "
           "tsa stores hold TSA root certificates only";
  }
  if (cert.has_key_usage() && cert.key_usage() != 0 &&
      (cert.key_usage() & crypto::kKuKeyCertSign) == 0) {
    return "certificate \"" + cert.SubjectString() +
           "\" is not a root CA certificate (no keyCertSign); tsa stores "
           "hold TSA root certificates only";
  }
  // IsIssuedBy: raw issuer == raw subject and a Go-accepted signature
  // algorithm (no SHA-1, MD5 or DSA), as CheckSignatureFrom plus the
  // RawSubject/RawIssuer comparison.
  if (!cert.IsIssuedBy(cert)) {
    return "certificate \"" + cert.SubjectString() +
           "\" is not a root CA certificate (not self-issued and "
           "self-signed with an accepted algorithm; SHA-1 and MD5 are "
           "refused)";
  }
  return std::nullopt;
}

bool HasCertificateExtension(std::string_view name) {
  auto ends_with = [&](std::string_view ext) {
    return name.size() > ext.size() &&
           name.substr(name.size() - ext.size()) == ext;
  };
  return ends_with(".pem") || ends_with(".crt") || ends_with(".cer");
}

// ReadStoreFile reads one regular file of a store (no symlink follow, size
// bounded). A file that vanished since it was listed is kUnreadable.
base::Result<base::Bytes, PolicyError> ReadStoreFile(int dir_fd,
                                                     const std::string& name,
                                                     const StoreRef& ref) {
  auto data = base::ReadBoundedRegularFileAt(dir_fd, name, kMaxCertFileBytes,
                                             "\"" + name + "\"");
  if (!data.ok()) {
    std::string detail = data.detail();
    if (data.code() == base::FileError::kSymlink) {
      detail += "; symlinks are not supported, copy the certificate file in";
    }
    return MakeStoreError(ref,
                          data.code() == base::FileError::kNotFound
                              ? PolicyError::kUnreadable
                              : FromFileError(data.code()),
                          std::move(detail));
  }
  return std::move(data).value();
}

NamedStore LoadNamedStore(const std::filesystem::path& root,
                          const StoreRef& ref,
                          std::vector<std::string>* warnings) {
  NamedStore store;
  store.ref = ref;
  auto fail = [&](StoreError e) {
    store.certificates.clear();
    store.error = std::move(e);
    return std::move(store);
  };
  // notation-go GetCertificates: the name must be a plain file name. "."
  // and ".." pass that pattern but would name another directory.
  if (!IsValidStoreName(ref.name) || ref.name == "." || ref.name == "..") {
    return fail(MakeStoreError(ref, PolicyError::kNotFound,
                               "the store name is not valid; names match "
                               "[a-zA-Z0-9_.-]+ and are not . or .."));
  }
  std::filesystem::path dir =
      root / "x509" / std::string(ToString(ref.type)) / ref.name;
  const std::string dir_str = dir.string();

  // trust-store-trust-policy.md: "Symlinks are not supported for the named
  // store directories or certificate files".
  struct stat st {};
  if (::lstat(dir_str.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT) {
      return fail(MakeStoreError(ref, PolicyError::kNotFound,
                                 "does not exist; create " + dir_str +
                                     " with the trusted certificates"));
    }
    return fail(
        MakeStoreError(ref, PolicyError::kUnreadable,
                       "cannot access " + dir_str + ": " + std::strerror(e)));
  }
  if (S_ISLNK(st.st_mode)) {
    return fail(MakeStoreError(ref, PolicyError::kSymlink,
                               dir_str + " is a symlink; symlinks are not "
                                         "supported, use a real directory"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return fail(MakeStoreError(ref, PolicyError::kNotDirectory,
                               dir_str + " is not a directory"));
  }
  base::UniqueFd dir_fd(
      ::open(dir_str.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir_fd.valid()) {
    int e = errno;
    return fail(MakeStoreError(
        ref, e == ELOOP ? PolicyError::kSymlink : PolicyError::kUnreadable,
        "cannot open " + dir_str + ": " + std::strerror(e)));
  }
  // fdopendir takes over a descriptor of its own.
  int list_fd = ::dup(dir_fd.get());
  if (list_fd < 0) {
    return fail(MakeStoreError(ref, PolicyError::kUnreadable,
                               "cannot list " + dir_str));
  }
  std::unique_ptr<DIR, DirCloser> listing(::fdopendir(list_fd));
  if (!listing) {
    ::close(list_fd);
    return fail(MakeStoreError(ref, PolicyError::kUnreadable,
                               "cannot list " + dir_str));
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    dirent* ent = ::readdir(listing.get());
    if (ent == nullptr) {
      if (errno != 0) {
        return fail(MakeStoreError(
            ref, PolicyError::kUnreadable,
            "cannot list " + dir_str + ": " + std::strerror(errno)));
      }
      break;
    }
    std::string_view n = ent->d_name;
    if (n == "." || n == "..") {
      continue;
    }
    if (names.size() >= kMaxStoreEntries) {
      return fail(MakeStoreError(
          ref, PolicyError::kTooLarge,
          "more than " + std::to_string(kMaxStoreEntries) + " entries"));
    }
    names.emplace_back(n);
  }
  std::sort(names.begin(), names.end());  // Go's os.ReadDir order

  for (const std::string& name : names) {
    struct stat est {};
    if (::fstatat(dir_fd.get(), name.c_str(), &est, AT_SYMLINK_NOFOLLOW) != 0) {
      return fail(MakeStoreError(
          ref, PolicyError::kUnreadable,
          "cannot access \"" + name + "\": " + std::strerror(errno)));
    }
    if (S_ISLNK(est.st_mode)) {
      return fail(MakeStoreError(ref, PolicyError::kSymlink,
                                 "\"" + name +
                                     "\" is a symlink; symlinks are not "
                                     "supported, copy the certificate in"));
    }
    if (S_ISDIR(est.st_mode)) {
      // trust-store-trust-policy.md: sub directories are ignored and
      // implementations SHOULD warn (notation-go fails the store instead;
      // SPEC-NOTES.md: we warn and ignore).
      if (warnings != nullptr) {
        warnings->push_back(StoreLabel(ref) + ": sub-directory \"" + name +
                            "\" is ignored (certificates must sit directly "
                            "in " +
                            dir_str + ")");
      }
      continue;
    }
    if (!S_ISREG(est.st_mode)) {
      return fail(MakeStoreError(ref, PolicyError::kUnreadable,
                                 "\"" + name + "\" is not a regular file"));
    }
    auto bytes = ReadStoreFile(dir_fd.get(), name, ref);
    if (!bytes.ok()) {
      return fail(std::move(bytes).error());
    }
    // notation-core-go ReadCertificateFile: every file is read as PEM or
    // DER, whatever its name.
    auto certs = crypto::Certificate::FromFileBytes(*bytes);
    if (!certs.ok()) {
      return fail(MakeStoreError(ref, PolicyError::kBadCertificate,
                                 "\"" + name +
                                     "\" is not a PEM or DER certificate "
                                     "file (" +
                                     certs.detail() +
                                     "); remove it or replace it"));
    }
    if (!HasCertificateExtension(name) && warnings != nullptr) {
      warnings->push_back(StoreLabel(ref) + ": \"" + name +
                          "\" does not end in .pem, .crt or .cer; loaded "
                          "anyway, as notation does");
    }
    for (const crypto::CertificatePtr& cert : *certs) {
      std::optional<std::string> problem =
          StoreCertificateProblem(*cert, ref.type);
      if (problem) {
        return fail(MakeStoreError(ref, PolicyError::kBadStoreCertificate,
                                   "\"" + name + "\": " + *problem));
      }
      store.certificates.push_back(cert);
    }
  }
  if (store.certificates.empty()) {
    return fail(MakeStoreError(ref, PolicyError::kEmptyStore,
                               "no certificates in " + dir_str +
                                   "; add the trusted root certificates"));
  }
  std::sort(
      store.certificates.begin(), store.certificates.end(),
      [](const crypto::CertificatePtr& a, const crypto::CertificatePtr& b) {
        return a->sha256() < b->sha256();
      });
  store.certificates.erase(
      std::unique(
          store.certificates.begin(), store.certificates.end(),
          [](const crypto::CertificatePtr& a, const crypto::CertificatePtr& b) {
            return a->sha256() == b->sha256();
          }),
      store.certificates.end());
  return store;
}

bool RefLess(const StoreRef& a, const StoreRef& b) {
  if (a.type != b.type) {
    return static_cast<int>(a.type) < static_cast<int>(b.type);
  }
  return a.name < b.name;
}

}  // namespace

TrustStore TrustStore::Load(const std::filesystem::path& root,
                            const TrustPolicy& policy,
                            std::vector<std::string>* warnings_out) {
  std::vector<StoreRef> refs;
  for (const Statement& st : policy.statements) {
    for (const StoreRef& r : st.trust_stores) {
      refs.push_back(r);
    }
  }
  std::sort(refs.begin(), refs.end(), RefLess);
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());

  TrustStore out;
  for (const StoreRef& r : refs) {
    out.stores_.push_back(LoadNamedStore(root, r, warnings_out));
  }

  // generation: SHA-256 over, per store in (type, name) order,
  // "<type>:<name>\n", then "error:<code>\n" or the raw SHA-256 of each
  // certificate in sorted order.
  crypto::UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  bool ok = ctx != nullptr &&
            EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1;
  auto update = [&](const void* p, size_t n) {
    ok = ok && EVP_DigestUpdate(ctx.get(), p, n) == 1;
  };
  for (const NamedStore& s : out.stores_) {
    std::string head = ToString(s.ref);
    head.push_back('\n');
    update(head.data(), head.size());
    if (s.error) {
      std::string e = "error:" + std::string(ToString(s.error->code)) + "\n";
      update(e.data(), e.size());
      continue;
    }
    for (const crypto::CertificatePtr& c : s.certificates) {
      update(c->sha256().data(), c->sha256().size());
    }
  }
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.generation_.data(), &len) == 1;
  if (!ok) {
    // Never leave a generation that could collide with a real one silently:
    // an all-0xff value marks "could not hash" (practically impossible).
    out.generation_.fill(0xff);
  }
  return out;
}

const NamedStore* TrustStore::Find(const StoreRef& ref) const {
  for (const NamedStore& s : stores_) {
    if (s.ref == ref) {
      return &s;
    }
  }
  return nullptr;
}

std::filesystem::path DefaultConfigDir() {
  // notation CLI: $NOTATION_CONFIG overrides; otherwise notation-go dir
  // uses Go's os.UserConfigDir() + "/notation": $XDG_CONFIG_HOME if set
  // (it must be absolute), else $HOME/.config; when that fails, notation
  // falls back to ".notation" in the current directory.
  const char* notation_config = std::getenv("NOTATION_CONFIG");
  if (notation_config != nullptr && notation_config[0] != '\0') {
    return std::filesystem::path(notation_config);
  }
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] != '\0') {
    std::filesystem::path p(xdg);
    if (!p.is_absolute()) {
      return std::filesystem::path(".notation");
    }
    return p / "notation";
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] == '\0') {
    return std::filesystem::path(".notation");
  }
  return std::filesystem::path(home) / ".config" / "notation";
}

}  // namespace trustgate::policy
