#include "engine/revocation.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/bytes.h"
#include "base/file.h"
#include "base/unique_fd.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/timestamp.h"
#include "engine/config.h"
#include "engine/index.h"
#include "io/mirror.h"
#include "io/reader.h"
#include "io/referrers.h"
#include "policy/trust_store.h"

namespace trustgate::engine {

using crypto::Certificate;
using crypto::CertificatePtr;
using crypto::CertRevocation;
using crypto::CryptoError;
using crypto::RevocationMethod;
using crypto::RevocationStatus;

namespace {

// --- small helpers ---

std::string Sha256Hex(base::ByteView data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) !=
      1) {
    return std::string();
  }
  return base::HexEncode(base::ByteView(md, len));
}

std::string MicrosKey(base::Time t) {
  return std::to_string(t.time_since_epoch().count());
}

// kMaxCrlDirEntries bounds how many directory entries --crl-dir may hold.
constexpr size_t kMaxCrlDirEntries = 100000;
// kMaxCandidates bounds the CRLs tried per distribution point.
constexpr size_t kMaxCandidates = 16;
// kMaxOcspSingleResponses bounds the SingleResponses indexed per file.
constexpr int kMaxOcspSingleResponses = 1000;
// kMaxNotationCacheFile bounds a Notation cache file: base and delta CRL
// (each below 32 MiB) in base64 plus the JSON around them.
constexpr size_t kMaxNotationCacheFile = size_t{96} << 20;
// kTempPrefix starts the names of files being written (atomic writes).
constexpr char kTempPrefix[] = ".tmp-trustgate-";

bool Decides(const CertRevocation& r) {
  return r.status == RevocationStatus::kGood ||
         r.status == RevocationStatus::kRevoked;
}

CertRevocation Unknown(RevocationMethod method, std::optional<CryptoError> code,
                       std::string detail) {
  CertRevocation r;
  r.status = RevocationStatus::kUnknown;
  r.method = method;
  r.code = code;
  r.detail = std::move(detail);
  return r;
}

// WriteFileAtomic writes `bytes` to `dir`/`name` through a temporary file
// in the same directory renamed over it (as notation-go internal/file
// WriteFile), so that readers see the old or the new content, never a
// part. Mode 0600 (os.CreateTemp). Returns an error message or "".
std::string WriteFileAtomic(const std::filesystem::path& dir,
                            const std::string& name, base::ByteView bytes) {
  std::string temp = (dir / (std::string(kTempPrefix) + "XXXXXX")).string();
  base::UniqueFd fd(::mkstemp(temp.data()));
  if (!fd.valid()) {
    return "cannot create a temporary file in " + dir.string() + ": " +
           std::strerror(errno);
  }
  auto fail = [&](std::string what) {
    int e = errno;
    ::unlink(temp.c_str());
    return what + " " + temp + ": " + std::strerror(e);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return fail("cannot sync");
  }
  if (::close(fd.Release()) != 0) {
    return fail("cannot close");
  }
  std::string target = (dir / name).string();
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    return fail("cannot rename to " + target + ":");
  }
  return std::string();
}

// --- HTTP (libcurl) ---

// FetchError classifies a failed fetch.
enum class FetchError { kNone, kTransport, kTimeout, kStatus, kTooLarge };

struct HttpResult {
  FetchError error = FetchError::kNone;
  base::Bytes body;
  std::string detail;  // set when error != kNone
  bool ok() const { return error == FetchError::kNone; }
};

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

// NoProxyList is the user's no_proxy list plus loopback: Go's
// http.ProxyFromEnvironment (what Notation's clients use) never proxies
// requests to localhost or loopback addresses.
const std::string& NoProxyList() {
  static const std::string list = [] {
    std::string out;
    for (const char* name : {"no_proxy", "NO_PROXY"}) {
      if (const char* v = std::getenv(name); v != nullptr && *v != '\0') {
        out = v;
        break;
      }
    }
    if (out == "*") {
      return out;
    }
    if (!out.empty()) {
      out += ",";
    }
    out += "localhost,127.0.0.1,::1";
    return out;
  }();
  return list;
}

struct BodySink {
  base::Bytes body;
  size_t max = 0;
  bool oversize = false;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  size_t len = size * count;
  if (len > sink->max - sink->body.size()) {
    sink->oversize = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  sink->body.insert(sink->body.end(), reinterpret_cast<uint8_t*>(data),
                    reinterpret_cast<uint8_t*>(data) + len);
  return len;
}

// HttpFetch GETs `url` (or POSTs `post_body` as application/ocsp-request):
// http only, also across redirects (at most 10, Go's default client
// policy; a redirect to another scheme fails), the whole request within
// `timeout`, a body of at most `max_bytes`, status 200 only
// (notation-core-go: any other status is a failed download).
HttpResult HttpFetch(const std::string& url, const base::Bytes* post_body,
                     std::chrono::milliseconds timeout, size_t max_bytes) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  HttpResult out;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (curl == nullptr) {
    out.error = FetchError::kTransport;
    out.detail = "cannot initialise libcurl";
    return out;
  }
  CURL* h = curl.get();
  BodySink sink;
  sink.max = max_bytes;
  char errbuf[CURL_ERROR_SIZE] = {0};
  long timeout_ms = static_cast<long>(std::max<int64_t>(1, timeout.count()));
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  // trust-store-trust-policy.md: only HTTP CRL and OCSP URLs.
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_NOPROXY, NoProxyList().c_str());
  curl_easy_setopt(h, CURLOPT_USERAGENT, "trustgate/" TRUSTGATE_VERSION);
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(max_bytes));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  if (post_body != nullptr) {
    // notation-core-go postRequest: POST with Content-Type
    // application/ocsp-request (RFC 6960 Appendix A.1).
    curl_slist* list =
        curl_slist_append(nullptr, "Content-Type: application/ocsp-request");
    list = curl_slist_append(list, "Expect:");
    headers.reset(list);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(post_body->size()));
  }
  CURLcode rc = curl_easy_perform(h);
  if (sink.oversize || rc == CURLE_FILESIZE_EXCEEDED) {
    out.error = FetchError::kTooLarge;
    out.detail = "response from " + url + " exceeds " +
                 std::to_string(max_bytes) + " bytes";
    return out;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    out.error = FetchError::kTimeout;
    out.detail = "request to " + url + " timed out after " +
                 std::to_string(timeout.count()) + " ms";
    return out;
  }
  if (rc != CURLE_OK) {
    out.error = FetchError::kTransport;
    out.detail = "request to " + url + " failed: " +
                 (errbuf[0] != '\0' ? std::string(errbuf)
                                    : std::string(curl_easy_strerror(rc)));
    return out;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    out.error = FetchError::kStatus;
    out.detail = "request to " + url + " answered HTTP status " +
                 std::to_string(status) + " (only 200 is accepted)";
    return out;
  }
  out.body = std::move(sink.body);
  return out;
}

// --- single flight ---

// SingleFlight runs `compute` once per key for the life of the object:
// the first caller computes (outside the lock), concurrent callers of the
// same key wait for it, later callers get the memoised value.
template <typename V>
class SingleFlight {
 public:
  template <typename F>
  V Do(const std::string& key, F&& compute) {
    std::shared_future<V> future;
    std::optional<std::promise<V>> promise;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = map_.find(key);
      if (it != map_.end()) {
        future = it->second;
      } else {
        promise.emplace();
        future = promise->get_future().share();
        map_.emplace(key, future);
      }
    }
    if (promise) {
      promise->set_value(compute());
    }
    return future.get();
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_future<V>> map_;
};

// --- CRL bundles and raw fetches ---

// Bundle is a base CRL with its optional delta, or why there is none.
struct Bundle {
  crypto::CrlPtr base;
  crypto::CrlPtr delta;
  std::optional<CryptoError> code;  // when the bytes do not parse
  std::string error;                // when base is null
};
using BundlePtr = std::shared_ptr<const Bundle>;
using HttpPtr = std::shared_ptr<const HttpResult>;

// ParseNotationCacheFile reads notation-go's FileCache content: a JSON
// object whose "baseCRL" (required) and "deltaCRL" (optional) members are
// standard base64 DER (Go's encoding/json []byte). Member names match
// ASCII case-insensitively and unknown members are ignored, as Go's
// decoder does; a duplicated member is refused.
BundlePtr ParseNotationCacheFile(base::ByteView bytes) {
  auto bundle = std::make_shared<Bundle>();
  auto fail = [&](std::string why) {
    bundle->base = nullptr;
    bundle->error = std::move(why);
    return bundle;
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(reinterpret_cast<const char*>(bytes.data()), bytes.size())
          .get(root) != simdjson::SUCCESS) {
    return fail("is not JSON");
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return fail("is not a JSON object");
  }
  auto iequal = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  std::optional<base::Bytes> base_der;
  std::optional<base::Bytes> delta_der;
  bool seen_base = false;
  bool seen_delta = false;
  for (auto field : object) {
    bool is_base = iequal(field.key, "baseCRL");
    bool is_delta = iequal(field.key, "deltaCRL");
    if (!is_base && !is_delta) {
      continue;
    }
    bool& seen = is_base ? seen_base : seen_delta;
    if (seen) {
      return fail("has a duplicate member \"" + std::string(field.key) + "\"");
    }
    seen = true;
    if (field.value.is_null()) {
      continue;
    }
    std::string_view text;
    if (field.value.get_string().get(text) != simdjson::SUCCESS) {
      return fail("member \"" + std::string(field.key) + "\" is not a string");
    }
    auto decoded =
        crypto::DecodeBase64(text, crypto::Base64Variant::kStandardPadded);
    if (!decoded.ok()) {
      return fail("member \"" + std::string(field.key) +
                  "\" is not standard base64");
    }
    (is_base ? base_der : delta_der) = std::move(decoded).value();
  }
  if (!base_der || base_der->empty()) {
    return fail("has no baseCRL");
  }
  auto base = crypto::ParseCrlDer(*base_der);
  if (!base.ok()) {
    bundle->code = base.code();
    return fail("base CRL does not parse: " + base.detail());
  }
  if (delta_der && !delta_der->empty()) {
    auto delta = crypto::ParseCrlDer(*delta_der);
    if (!delta.ok()) {
      bundle->code = delta.code();
      return fail("delta CRL does not parse: " + delta.detail());
    }
    bundle->delta = std::move(delta).value();
  }
  bundle->base = std::move(base).value();
  return bundle;
}

// NotationCacheJson is what notation-go's FileCache.Set writes
// (json.Marshal of {BaseCRL, DeltaCRL omitempty}).
std::string NotationCacheJson(const Bundle& bundle) {
  std::string out = "{\"baseCRL\":\"";
  out += crypto::EncodeBase64(bundle.base->der(),
                              crypto::Base64Variant::kStandardPadded);
  out += "\"";
  if (bundle.delta != nullptr) {
    out += ",\"deltaCRL\":\"";
    out += crypto::EncodeBase64(bundle.delta->der(),
                                crypto::Base64Variant::kStandardPadded);
    out += "\"";
  }
  out += "}";
  return out;
}

std::optional<base::Time> EarlierOf(std::optional<base::Time> a,
                                    std::optional<base::Time> b) {
  if (!a) {
    return b;
  }
  if (!b) {
    return a;
  }
  return std::min(*a, *b);
}

// --- --crl-dir ---

std::string SerialHex(const ASN1_INTEGER* serial) {
  if (serial == nullptr) {
    return std::string();
  }
  crypto::UniqueBignum bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (bn == nullptr) {
    return std::string();
  }
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) {
    return std::string();
  }
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

// IdpUris returns the URIs of a CRL's issuingDistributionPoint fullName
// (RFC 5280 §5.2.5), empty when it names none.
std::vector<std::string> IdpUris(X509_CRL* crl) {
  std::vector<std::string> out;
  int critical = 0;
  auto* idp = static_cast<ISSUING_DIST_POINT*>(X509_CRL_get_ext_d2i(
      crl, NID_issuing_distribution_point, &critical, nullptr));
  if (idp == nullptr) {
    return out;
  }
  if (idp->distpoint != nullptr && idp->distpoint->type == 0) {
    GENERAL_NAMES* names = idp->distpoint->name.fullname;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      if (gn->type == GEN_URI) {
        const ASN1_IA5STRING* uri = gn->d.uniformResourceIdentifier;
        out.emplace_back(
            reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
            static_cast<size_t>(ASN1_STRING_length(uri)));
      }
    }
  }
  ISSUING_DIST_POINT_free(idp);
  return out;
}

using OcspResponsePtr = std::shared_ptr<const base::Bytes>;

// OcspSerials returns the serial numbers (hex) a DER OCSPResponse answers
// for, or nullopt when it is not a successful basic OCSP response.
std::optional<std::vector<std::string>> OcspSerials(base::ByteView der) {
  const unsigned char* p = der.data();
  std::unique_ptr<OCSP_RESPONSE, crypto::OsslDeleter<OCSP_RESPONSE_free>> resp(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (resp == nullptr || p != der.data() + der.size() ||
      OCSP_response_status(resp.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return std::nullopt;
  }
  std::unique_ptr<OCSP_BASICRESP, crypto::OsslDeleter<OCSP_BASICRESP_free>>
      basic(OCSP_response_get1_basic(resp.get()));
  if (basic == nullptr) {
    return std::nullopt;
  }
  std::vector<std::string> serials;
  int n = std::min(OCSP_resp_count(basic.get()), kMaxOcspSingleResponses);
  for (int i = 0; i < n; ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), i);
    const OCSP_CERTID* id = OCSP_SINGLERESP_get0_id(single);
    ASN1_INTEGER* serial = nullptr;
    if (id == nullptr || OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial,
                                           const_cast<OCSP_CERTID*>(id)) != 1) {
      continue;
    }
    std::string hex = SerialHex(serial);
    if (!hex.empty()) {
      serials.push_back(std::move(hex));
    }
  }
  return serials;
}

bool IsPrefetchCrlName(const std::string& name, std::string* hash) {
  // crl-<64 hex>.crl
  if (name.size() != 4 + 64 + 4 || name.rfind("crl-", 0) != 0 ||
      name.substr(68) != ".crl") {
    return false;
  }
  std::string hex = name.substr(4, 64);
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  *hash = hex;
  return true;
}

// CrlDirectory is --crl-dir, loaded once. Immutable afterwards.
class CrlDirectory {
 public:
  struct Entry {
    crypto::CrlPtr crl;
    std::string file;
    std::vector<std::string> idp_uris;
  };

  static base::Result<std::unique_ptr<CrlDirectory>, RevocationError> Load(
      const std::filesystem::path& dir, std::vector<std::string>* warnings) {
    auto out = std::unique_ptr<CrlDirectory>(new CrlDirectory());
    base::UniqueFd dir_fd(
        ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd.valid()) {
      return base::MakeError(RevocationError::kCrlDir,
                             "cannot open --crl-dir " + dir.string() + ": " +
                                 std::strerror(errno) +
                                 " (pass a directory of CRL and OCSP files)");
    }
    // fdopendir takes ownership of its descriptor: give it a duplicate.
    int listing_fd = ::dup(dir_fd.get());
    DIR* listing = listing_fd >= 0 ? ::fdopendir(listing_fd) : nullptr;
    if (listing == nullptr) {
      if (listing_fd >= 0) {
        ::close(listing_fd);
      }
      return base::MakeError(RevocationError::kCrlDir,
                             "cannot list --crl-dir " + dir.string() + ": " +
                                 std::strerror(errno));
    }
    std::vector<std::string> names;
    size_t seen = 0;
    while (dirent* e = ::readdir(listing)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      if (++seen > kMaxCrlDirEntries) {
        warnings->push_back("--crl-dir " + dir.string() + " holds more than " +
                            std::to_string(kMaxCrlDirEntries) +
                            " entries; the rest are ignored");
        break;
      }
      names.push_back(std::move(name));
    }
    ::closedir(listing);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (name.rfind(kTempPrefix, 0) == 0) {
        continue;  // an unfinished atomic write
      }
      struct stat st {};
      if (::fstatat(dir_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) !=
          0) {
        continue;
      }
      std::string shown = (dir / name).string();
      if (S_ISLNK(st.st_mode)) {
        warnings->push_back("--crl-dir: " + shown +
                            " is a symlink; ignored (copy the file instead)");
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        warnings->push_back("--crl-dir: " + shown +
                            " is a directory; ignored (only files at the top "
                            "level are read)");
        continue;
      }
      if (!S_ISREG(st.st_mode)) {
        continue;
      }
      auto read = base::ReadBoundedRegularFileAt(
          dir_fd.get(), name, crypto::kMaxCrlSize - 1, shown);
      if (!read.ok()) {
        warnings->push_back("--crl-dir: " + read.detail() + "; ignored");
        continue;
      }
      out->Add(name, shown, *read, warnings);
    }
    for (auto& [issuer, list] : out->by_issuer_) {
      std::stable_sort(list.begin(), list.end(), [&](size_t a, size_t b) {
        return out->entries_[a].crl->this_update() >
               out->entries_[b].crl->this_update();
      });
    }
    return out;
  }

  // BaseCandidates: non-delta CRLs for `cert`'s distribution point `url`:
  // the file named for `url` first, then CRLs of the certificate's issuer
  // whose issuing distribution point, when it names URIs, names `url`;
  // newest first.
  std::vector<const Entry*> BaseCandidates(const Certificate& cert,
                                           const std::string& url) const {
    std::vector<const Entry*> out;
    auto add = [&](size_t i) {
      const Entry* e = &entries_[i];
      if (e->crl->has_delta_indicator() || out.size() >= kMaxCandidates ||
          std::find(out.begin(), out.end(), e) != out.end()) {
        return;
      }
      out.push_back(e);
    };
    if (auto it = by_url_hash_.find(Sha256Hex(base::AsBytes(url)));
        it != by_url_hash_.end()) {
      for (size_t i : it->second) {
        add(i);
      }
    }
    if (auto it =
            by_issuer_.find(std::string(base::AsString(cert.issuer_der())));
        it != by_issuer_.end()) {
      for (size_t i : it->second) {
        const Entry& e = entries_[i];
        if (!e.idp_uris.empty() &&
            std::find(e.idp_uris.begin(), e.idp_uris.end(), url) ==
                e.idp_uris.end()) {
          continue;  // RFC 5280 §5.2.5: a CRL for another distribution point
        }
        add(i);
      }
    }
    return out;
  }

  // DeltaCandidates: delta CRLs for `base`: files named for its
  // freshestCRL URLs (in order), then delta CRLs of the same issuer,
  // newest first.
  std::vector<const Entry*> DeltaCandidates(const crypto::Crl& base) const {
    std::vector<const Entry*> out;
    auto add = [&](size_t i) {
      const Entry* e = &entries_[i];
      if (!e->crl->has_delta_indicator() || out.size() >= kMaxCandidates ||
          std::find(out.begin(), out.end(), e) != out.end()) {
        return;
      }
      out.push_back(e);
    };
    for (const std::string& url : base.freshest_crl_urls()) {
      if (auto it = by_url_hash_.find(Sha256Hex(base::AsBytes(url)));
          it != by_url_hash_.end()) {
        for (size_t i : it->second) {
          add(i);
        }
      }
    }
    if (auto it =
            by_issuer_.find(std::string(base::AsString(base.issuer_der())));
        it != by_issuer_.end()) {
      for (size_t i : it->second) {
        add(i);
      }
    }
    return out;
  }

  // OcspCandidates: responses with a SingleResponse for `cert`'s serial
  // number (the evaluation matches the rest of the CertID).
  std::vector<OcspResponsePtr> OcspCandidates(const Certificate& cert) const {
    auto it =
        ocsp_by_serial_.find(SerialHex(X509_get0_serialNumber(cert.x509())));
    if (it == ocsp_by_serial_.end()) {
      return {};
    }
    return it->second;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t ocsp_responses() const { return ocsp_count_; }

 private:
  CrlDirectory() = default;

  void Add(const std::string& name, const std::string& shown,
           const base::Bytes& bytes, std::vector<std::string>* warnings) {
    auto crl = crypto::ParseCrl(bytes);
    if (crl.ok()) {
      size_t index = entries_.size();
      Entry e;
      e.crl = std::move(crl).value();
      e.file = shown;
      e.idp_uris = IdpUris(e.crl->x509_crl());
      by_issuer_[std::string(base::AsString(e.crl->issuer_der()))].push_back(
          index);
      std::string hash;
      if (IsPrefetchCrlName(name, &hash)) {
        by_url_hash_[hash].push_back(index);
      }
      entries_.push_back(std::move(e));
      return;
    }
    if (bytes.size() <= crypto::kMaxOcspResponseSize) {
      if (auto serials = OcspSerials(bytes)) {
        auto shared = std::make_shared<const base::Bytes>(bytes);
        for (const std::string& s : *serials) {
          auto& list = ocsp_by_serial_[s];
          if (list.size() < kMaxCandidates) {
            list.push_back(shared);
          }
        }
        ++ocsp_count_;
        return;
      }
    }
    warnings->push_back("--crl-dir: " + shown +
                        " is neither a CRL (DER or PEM) nor a successful DER "
                        "OCSP response; ignored (" +
                        crl.detail() + ")");
  }

  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::vector<size_t>> by_url_hash_;
  std::unordered_map<std::string, std::vector<size_t>> by_issuer_;
  std::unordered_map<std::string, std::vector<OcspResponsePtr>> ocsp_by_serial_;
  size_t ocsp_count_ = 0;
};

}  // namespace

// --- public helpers ---

std::string_view ToString(RevocationSource s) {
  switch (s) {
    case RevocationSource::kNone:
      return "none";
    case RevocationSource::kCrlDir:
      return "crl-dir";
    case RevocationSource::kNotationCache:
      return "cache";
    case RevocationSource::kIndex:
      return "index";
    case RevocationSource::kHttp:
      return "http";
  }
  return "none";
}

std::string_view ToString(RevocationError e) {
  switch (e) {
    case RevocationError::kCrlDir:
      return "crl-dir";
    case RevocationError::kIndex:
      return "index";
    case RevocationError::kMirror:
      return "mirror";
    case RevocationError::kOutput:
      return "output";
  }
  return "crl-dir";
}

std::string_view ToString(PrefetchKind k) {
  switch (k) {
    case PrefetchKind::kCrl:
      return "crl";
    case PrefetchKind::kDeltaCrl:
      return "delta-crl";
    case PrefetchKind::kOcsp:
      return "ocsp";
  }
  return "crl";
}

std::optional<std::filesystem::path> DefaultNotationCrlCacheDir() {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : nullptr;
  };
  // notation cmd/notation/main.go: $NOTATION_CACHE replaces the user cache
  // dir; otherwise Go's os.UserCacheDir()/notation.
  if (const char* v = env("NOTATION_CACHE")) {
    return std::filesystem::path(v) / "crl";
  }
  if (const char* v = env("XDG_CACHE_HOME")) {
    return std::filesystem::path(v) / "notation" / "crl";
  }
  if (const char* v = env("HOME")) {
    return std::filesystem::path(v) / ".cache" / "notation" / "crl";
  }
  return std::nullopt;
}

std::string NotationCrlCacheFileName(std::string_view url) {
  return Sha256Hex(base::AsBytes(url));
}

std::string PrefetchCrlFileName(std::string_view url) {
  return "crl-" + Sha256Hex(base::AsBytes(url)) + ".crl";
}

std::string PrefetchOcspFileName(std::string_view responder,
                                 base::ByteView request) {
  std::string key(responder);
  key += '\n';
  key.append(base::AsString(request));
  return "ocsp-" + Sha256Hex(base::AsBytes(key)) + ".der";
}

ChainRevocation CombineChain(std::vector<CertificateRevocation> certificates) {
  // notation-go verifier revocationFinalResult: any revoked certificate
  // revokes the chain, else any unknown one makes it unknown, else good.
  ChainRevocation out;
  out.status = RevocationStatus::kGood;
  const CertificateRevocation* decided = nullptr;
  for (const CertificateRevocation& c : certificates) {
    out.next_update = EarlierOf(out.next_update, c.next_update);
    if (c.status == RevocationStatus::kRevoked) {
      if (out.status != RevocationStatus::kRevoked) {
        out.status = RevocationStatus::kRevoked;
        decided = &c;
      }
    } else if (c.status == RevocationStatus::kUnknown &&
               out.status == RevocationStatus::kGood) {
      out.status = RevocationStatus::kUnknown;
      decided = &c;
    }
  }
  if (decided != nullptr) {
    out.detail = "certificate " + decided->subject + ": " + decided->detail;
  }
  out.certificates = std::move(certificates);
  return out;
}

// --- the checker ---

struct RevocationChecker::Impl {
  RevocationOptions options;
  std::unique_ptr<CrlDirectory> crl_dir;

  std::mutex index_mu;
  std::optional<VerdictIndex> index;

  // Memoised for the run (keys: URL; OCSP: URL "\n" request hash).
  SingleFlight<HttpPtr> raw_http;
  SingleFlight<BundlePtr> notation_reads;
  SingleFlight<BundlePtr> index_crl_reads;
  SingleFlight<BundlePtr> http_bundles;
  SingleFlight<OcspResponsePtr> index_ocsp_reads;
  SingleFlight<HttpPtr> http_ocsp;
  SingleFlight<std::shared_ptr<const CertificateRevocation>> certificates;

  std::atomic<uint64_t> n_certificates{0}, n_http{0}, n_http_failures{0},
      n_dir{0}, n_cache{0}, n_index{0}, n_http_hits{0}, n_cache_writes{0},
      n_index_writes{0};

  std::mutex warnings_mu;
  std::vector<std::string> warnings;
  std::set<std::string> warned_once;

  void Warn(const std::string& kind, std::string message) {
    std::lock_guard<std::mutex> lock(warnings_mu);
    if (!kind.empty() && !warned_once.insert(kind).second) {
      return;
    }
    warnings.push_back(std::move(message));
  }

  bool online() const { return options.network == NetworkMode::kOnline; }

  HttpPtr Fetch(const std::string& url, const base::Bytes* post,
                std::chrono::milliseconds timeout, size_t max_bytes) {
    ++n_http;
    auto result =
        std::make_shared<HttpResult>(HttpFetch(url, post, timeout, max_bytes));
    if (!result->ok()) {
      ++n_http_failures;
    }
    return result;
  }

  HttpPtr FetchCrlBytes(const std::string& url) {
    return raw_http.Do(url, [&] {
      return Fetch(url, nullptr, options.crl_timeout, options.max_crl_bytes);
    });
  }

  // FetchBundle downloads the base CRL at `url` and, when it names
  // freshestCRL URLs, the first delta CRL that downloads from them
  // (notation-core-go crl/fetcher.go fetch and fetchDeltaCRL); a failure of
  // either fails the bundle. A bundle is then written back to Notation's
  // cache and to the index.
  BundlePtr FetchBundle(const std::string& url) {
    auto bundle = std::make_shared<Bundle>();
    HttpPtr raw = FetchCrlBytes(url);
    if (!raw->ok()) {
      bundle->error = "cannot download the CRL: " + raw->detail;
      return bundle;
    }
    auto base = crypto::ParseCrlDer(raw->body);
    if (!base.ok()) {
      bundle->code = base.code();
      bundle->error = "the CRL downloaded from " + url +
                      " does not parse: " + base.detail();
      return bundle;
    }
    crypto::CrlPtr base_crl = std::move(base).value();
    if (base_crl->freshest_crl_malformed()) {
      bundle->code = CryptoError::kMalformed;
      bundle->error = "the CRL downloaded from " + url +
                      " has a malformed freshestCRL extension";
      return bundle;
    }
    std::string last_error;
    for (const std::string& delta_url : base_crl->freshest_crl_urls()) {
      // RFC 5280 §5.2.6: the URLs are alternatives, tried in order.
      if (!crypto::IsHttpUrl(delta_url)) {
        last_error = "delta CRL URL " + delta_url + " is not an http URL";
        continue;
      }
      HttpPtr delta_raw = FetchCrlBytes(delta_url);
      if (!delta_raw->ok()) {
        last_error = "cannot download the delta CRL: " + delta_raw->detail;
        continue;
      }
      auto delta = crypto::ParseCrlDer(delta_raw->body);
      if (!delta.ok()) {
        last_error = "the delta CRL downloaded from " + delta_url +
                     " does not parse: " + delta.detail();
        continue;
      }
      bundle->delta = std::move(delta).value();
      break;
    }
    if (!base_crl->freshest_crl_urls().empty() && bundle->delta == nullptr) {
      bundle->error = last_error;
      return bundle;
    }
    bundle->base = std::move(base_crl);
    WriteBack(url, *bundle);
    return bundle;
  }

  void WriteBack(const std::string& url, const Bundle& bundle) {
    if (options.notation_crl_cache &&
        options.notation_cache_mode == NotationCacheMode::kReadWrite) {
      const std::filesystem::path& dir = *options.notation_crl_cache;
      std::error_code ec;
      std::filesystem::create_directories(dir.parent_path(), ec);
      if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        Warn("cache-write", "cannot create Notation's CRL cache " +
                                dir.string() + ": " + std::strerror(errno) +
                                " (CRLs are not shared with Notation)");
      } else {
        std::string json = NotationCacheJson(bundle);
        std::string error = WriteFileAtomic(dir, NotationCrlCacheFileName(url),
                                            base::AsBytes(json));
        if (error.empty()) {
          ++n_cache_writes;
        } else {
          Warn("cache-write", "cannot write Notation's CRL cache: " + error);
        }
      }
    }
    if (index) {
      CachedRevocationData entry;
      entry.kind = RevocationDataKind::kCrl;
      entry.url = url;
      entry.data.assign(bundle.base->der().begin(), bundle.base->der().end());
      if (bundle.delta != nullptr) {
        entry.delta =
            base::Bytes(bundle.delta->der().begin(), bundle.delta->der().end());
      }
      entry.this_update = bundle.base->this_update();
      entry.next_update = bundle.base->next_update();
      if (bundle.delta != nullptr) {
        entry.this_update =
            std::max(*entry.this_update, bundle.delta->this_update());
        entry.next_update =
            EarlierOf(entry.next_update, bundle.delta->next_update());
        if (!bundle.delta->next_update()) {
          entry.next_update = std::nullopt;
        }
      }
      StoreIndex(entry);
    }
  }

  void StoreIndex(CachedRevocationData& entry) {
    entry.fetched_at = std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
    std::lock_guard<std::mutex> lock(index_mu);
    auto status = index->StoreRevocationData(entry);
    if (status.ok()) {
      ++n_index_writes;
    } else {
      Warn("index-write",
           "cannot store revocation data in the index: " + status.detail());
    }
  }

  BundlePtr ReadNotationCache(const std::string& url) {
    return notation_reads.Do(url, [&]() -> BundlePtr {
      std::filesystem::path path =
          *options.notation_crl_cache / NotationCrlCacheFileName(url);
      auto read =
          base::ReadBoundedRegularFile(path.string(), kMaxNotationCacheFile,
                                       path.string(), base::Symlinks::kRefuse);
      if (!read.ok()) {
        auto none = std::make_shared<Bundle>();
        none->error =
            read.code() == base::FileError::kNotFound ? "" : read.detail();
        return none;
      }
      BundlePtr parsed = ParseNotationCacheFile(*read);
      if (parsed->base == nullptr) {
        auto copy = std::make_shared<Bundle>(*parsed);
        copy->error =
            "Notation cache file " + path.string() + " " + copy->error;
        return copy;
      }
      return parsed;
    });
  }

  BundlePtr ReadIndexCrl(const std::string& url) {
    return index_crl_reads.Do(url, [&]() -> BundlePtr {
      auto none = std::make_shared<Bundle>();
      std::optional<CachedRevocationData> entry;
      {
        std::lock_guard<std::mutex> lock(index_mu);
        auto found = index->LookupRevocationData(RevocationDataKind::kCrl, url,
                                                 std::string_view());
        if (!found.ok()) {
          Warn("index-read",
               "cannot read revocation data from the index: " + found.detail());
          return none;
        }
        entry = std::move(found).value();
      }
      if (!entry) {
        return none;
      }
      auto base = crypto::ParseCrlDer(entry->data);
      if (!base.ok()) {
        none->error =
            "the index's CRL for " + url + " does not parse: " + base.detail();
        return none;
      }
      if (entry->delta) {
        auto delta = crypto::ParseCrlDer(*entry->delta);
        if (!delta.ok()) {
          none->error = "the index's delta CRL for " + url +
                        " does not parse: " + delta.detail();
          return none;
        }
        none->delta = std::move(delta).value();
      }
      none->base = std::move(base).value();
      return none;
    });
  }

  // CrlLookup decides `cert`'s status from the CRL at distribution point
  // `url`, trying the sources in order.
  RevocationLookup CrlLookup(const Certificate& cert, const Certificate& issuer,
                             const std::string& url, base::Time at,
                             std::optional<base::Time> ast) {
    RevocationLookup out;
    out.url = url;
    out.method = RevocationMethod::kCrl;
    if (!crypto::IsHttpUrl(url)) {
      // trust-store-trust-policy.md / notation-core-go fetchCRL: only http.
      out.result = Unknown(RevocationMethod::kCrl,
                           CryptoError::kUnsupportedRevocationUrl,
                           "CRL distribution point " + url +
                               " is not an http URL (only http is supported)");
      return out;
    }
    std::optional<RevocationLookup> first_unknown;
    auto consider = [&](RevocationSource source, CertRevocation r) {
      r.method = RevocationMethod::kCrl;
      if (Decides(r)) {
        out.source = source;
        out.result = std::move(r);
        return true;
      }
      if (!first_unknown) {
        first_unknown = out;
        first_unknown->source = source;
        first_unknown->result = std::move(r);
      }
      return false;
    };
    auto evaluate = [&](const crypto::Crl& base, const crypto::Crl* delta) {
      return crypto::EvaluateCrl(cert, issuer, base, delta, at, ast);
    };
    // 1. --crl-dir.
    if (crl_dir) {
      for (const CrlDirectory::Entry* base :
           crl_dir->BaseCandidates(cert, url)) {
        std::vector<const CrlDirectory::Entry*> deltas;
        if (!base->crl->freshest_crl_urls().empty()) {
          deltas = crl_dir->DeltaCandidates(*base->crl);
        }
        bool decided = false;
        if (deltas.empty()) {
          decided = consider(RevocationSource::kCrlDir,
                             evaluate(*base->crl, nullptr));
        }
        for (const CrlDirectory::Entry* delta : deltas) {
          if ((decided = consider(RevocationSource::kCrlDir,
                                  evaluate(*base->crl, delta->crl.get())))) {
            break;
          }
        }
        if (decided) {
          ++n_dir;
          return out;
        }
      }
    }
    // 2. Notation's CRL file cache.
    if (options.notation_crl_cache) {
      BundlePtr b = ReadNotationCache(url);
      if (b->base != nullptr) {
        if (consider(RevocationSource::kNotationCache,
                     evaluate(*b->base, b->delta.get()))) {
          ++n_cache;
          return out;
        }
      } else if (!b->error.empty()) {
        Warn("cache-read " + url, b->error + "; ignored");
      }
    }
    // 3. The index cache.
    if (index) {
      BundlePtr b = ReadIndexCrl(url);
      if (b->base != nullptr && consider(RevocationSource::kIndex,
                                         evaluate(*b->base, b->delta.get()))) {
        ++n_index;
        return out;
      }
    }
    // 4. HTTP.
    if (online()) {
      BundlePtr b = http_bundles.Do(url, [&] { return FetchBundle(url); });
      out.source = RevocationSource::kHttp;
      if (b->base == nullptr) {
        out.result = Unknown(RevocationMethod::kCrl, b->code, b->error);
        return out;
      }
      out.result = evaluate(*b->base, b->delta.get());
      out.result.method = RevocationMethod::kCrl;
      if (Decides(out.result)) {
        ++n_http_hits;
      }
      return out;
    }
    if (first_unknown) {
      first_unknown->result.detail += " (offline: not downloaded)";
      return *first_unknown;
    }
    out.result = Unknown(
        RevocationMethod::kCrl, std::nullopt,
        "offline and no CRL for " + url +
            " in --crl-dir, Notation's CRL cache or the index (seed one with "
            "`trustgate revocation prefetch`)");
    return out;
  }

  OcspResponsePtr ReadIndexOcsp(const std::string& url,
                                const std::string& request_hash) {
    return index_ocsp_reads.Do(
        url + "\n" + request_hash, [&]() -> OcspResponsePtr {
          std::lock_guard<std::mutex> lock(index_mu);
          auto found = index->LookupRevocationData(RevocationDataKind::kOcsp,
                                                   url, request_hash);
          if (!found.ok()) {
            Warn("index-read", "cannot read revocation data from the index: " +
                                   found.detail());
            return nullptr;
          }
          if (!found.value()) {
            return nullptr;
          }
          return std::make_shared<const base::Bytes>(
              std::move(found.value()->data));
        });
  }

  // OcspLookup asks responder `url` about `cert` (its request `request`),
  // through the index and HTTP.
  RevocationLookup OcspLookup(const Certificate& cert,
                              const Certificate& issuer, const std::string& url,
                              const base::Bytes& request, base::Time at,
                              std::optional<base::Time> ast) {
    RevocationLookup out;
    out.url = url;
    out.method = RevocationMethod::kOcsp;
    if (!crypto::IsHttpUrl(url)) {
      // notation-core-go checkStatusFromServer: only http responders.
      out.result = Unknown(RevocationMethod::kOcsp,
                           CryptoError::kUnsupportedRevocationUrl,
                           "OCSP responder " + url +
                               " is not an http URL (only http is supported)");
      return out;
    }
    auto evaluate = [&](base::ByteView der) {
      CertRevocation r =
          crypto::EvaluateOcspResponse(der, cert, issuer, at, ast);
      r.method = RevocationMethod::kOcsp;
      return r;
    };
    std::string request_hash = Sha256Hex(request);
    std::optional<RevocationLookup> first_unknown;
    if (index) {
      if (OcspResponsePtr cached = ReadIndexOcsp(url, request_hash)) {
        CertRevocation r = evaluate(*cached);
        if (crypto::IsConclusiveOcspResult(r)) {
          ++n_index;
          out.source = RevocationSource::kIndex;
          out.result = std::move(r);
          return out;
        }
        first_unknown = out;
        first_unknown->source = RevocationSource::kIndex;
        first_unknown->result = std::move(r);
      }
    }
    if (online()) {
      HttpPtr raw = http_ocsp.Do(url + "\n" + request_hash, [&] {
        // notation-core-go executeOCSPCheck: GET when the encoded request
        // is short enough, POST otherwise.
        std::optional<std::string> get = crypto::OcspGetUrl(url, request);
        HttpPtr fetched = get ? Fetch(*get, nullptr, options.ocsp_timeout,
                                      options.max_ocsp_bytes)
                              : Fetch(url, &request, options.ocsp_timeout,
                                      options.max_ocsp_bytes);
        if (fetched->ok() && index) {
          CertRevocation r = evaluate(fetched->body);
          if (r.next_update) {  // authenticated data only
            CachedRevocationData entry;
            entry.kind = RevocationDataKind::kOcsp;
            entry.url = url;
            entry.request = request_hash;
            entry.data = fetched->body;
            entry.this_update = r.this_update;
            entry.next_update = r.next_update;
            StoreIndex(entry);
          }
        }
        return fetched;
      });
      out.source = RevocationSource::kHttp;
      if (!raw->ok()) {
        out.result = Unknown(RevocationMethod::kOcsp, std::nullopt,
                             "cannot get an OCSP response: " + raw->detail);
        return out;
      }
      out.result = evaluate(raw->body);
      if (Decides(out.result)) {
        ++n_http_hits;
      }
      return out;
    }
    if (first_unknown) {
      first_unknown->result.detail += " (offline: not asked)";
      return *first_unknown;
    }
    out.result = Unknown(
        RevocationMethod::kOcsp, std::nullopt,
        "offline and no OCSP response from " + url +
            " in --crl-dir or the index (seed one with `trustgate revocation "
            "prefetch`)");
    return out;
  }

  CertificateRevocation Compute(const Certificate& cert,
                                const Certificate& issuer, base::Time at,
                                std::optional<base::Time> ast) {
    ++n_certificates;
    CertificateRevocation out;
    out.fingerprint = cert.Sha256Hex();
    out.subject = cert.SubjectString();
    auto responders = crypto::OcspResponders(cert);
    auto points = crypto::CrlDistributionPoints(cert);
    if (!responders.ok() || !points.ok()) {
      out.revocable = true;
      out.status = RevocationStatus::kUnknown;
      out.code = CryptoError::kMalformed;
      out.detail = !responders.ok() ? responders.detail() : points.detail();
      return out;
    }
    if (responders->empty() && points->empty()) {
      // notation-core-go ValidateContext: ResultNonRevokable, which
      // notation-go counts as good.
      out.status = RevocationStatus::kGood;
      out.detail =
          "not revocable: names no OCSP responder or CRL distribution point";
      return out;
    }
    out.revocable = true;

    auto finish = [&](const CertRevocation& combined,
                      const RevocationLookup* decided) {
      out.status = combined.status;
      out.method = combined.method;
      out.code = combined.code;
      out.next_update = combined.next_update;
      if (decided != nullptr) {
        out.source = decided->source;
        out.method = decided->method;
      }
      if (out.detail.empty()) {
        out.detail = combined.detail;
      } else {
        out.detail += "; CRL: " + combined.detail;
      }
    };

    // OCSP first (notation-core-go ValidateContext).
    if (!responders->empty()) {
      std::vector<CertRevocation> results;
      size_t first = out.lookups.size();
      bool conclusive = false;
      if (crl_dir) {
        for (const OcspResponsePtr& der : crl_dir->OcspCandidates(cert)) {
          RevocationLookup lk;
          lk.method = RevocationMethod::kOcsp;
          lk.source = RevocationSource::kCrlDir;
          lk.result = crypto::EvaluateOcspResponse(*der, cert, issuer, at, ast);
          lk.result.method = RevocationMethod::kOcsp;
          conclusive = crypto::IsConclusiveOcspResult(lk.result);
          if (conclusive) {
            ++n_dir;
            results.push_back(lk.result);
            out.lookups.push_back(std::move(lk));
            break;
          }
        }
      }
      if (!conclusive) {
        auto request = crypto::BuildOcspRequest(cert, issuer);
        for (const std::string& url : *responders) {
          RevocationLookup lk;
          if (!request.ok()) {
            lk.url = url;
            lk.method = RevocationMethod::kOcsp;
            lk.result =
                Unknown(RevocationMethod::kOcsp, request.code(),
                        "cannot build the OCSP request: " + request.detail());
          } else {
            lk = OcspLookup(cert, issuer, url, *request, at, ast);
          }
          conclusive = crypto::IsConclusiveOcspResult(lk.result);
          results.push_back(lk.result);
          out.lookups.push_back(std::move(lk));
          if (conclusive) {
            break;
          }
        }
      }
      CertRevocation combined = crypto::CombineOcspResults(results);
      combined.method = RevocationMethod::kOcsp;
      // The deciding lookup: the conclusive one, else the last.
      const RevocationLookup* decided =
          out.lookups.size() > first ? &out.lookups.back() : nullptr;
      if (combined.status != RevocationStatus::kUnknown || points->empty()) {
        finish(combined, decided);
        return out;
      }
      // trust-store-trust-policy.md: CRL is the fallback when OCSP is
      // unknown.
      out.ocsp_fallback = true;
      out.detail = "OCSP: " + combined.detail;
    }

    std::vector<CertRevocation> results;
    size_t first = out.lookups.size();
    const RevocationLookup* decided = nullptr;
    for (const std::string& url : *points) {
      RevocationLookup lk = CrlLookup(cert, issuer, url, at, ast);
      results.push_back(lk.result);
      out.lookups.push_back(std::move(lk));
      // notation-core-go crl.CertCheckStatus stops at the first
      // distribution point that is not good.
      if (results.back().status != RevocationStatus::kGood) {
        break;
      }
    }
    decided = &out.lookups.back();
    CertRevocation combined = crypto::CombineCrlResults(results);
    combined.method = RevocationMethod::kCrl;
    if (combined.status == RevocationStatus::kGood) {
      // Every distribution point was good: the result holds until the
      // earliest next update of them all.
      std::optional<base::Time> next;
      for (size_t i = first; i < out.lookups.size(); ++i) {
        next = EarlierOf(next, out.lookups[i].result.next_update);
      }
      combined.next_update = next;
    }
    finish(combined, decided);
    return out;
  }
};

RevocationChecker::RevocationChecker(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
RevocationChecker::~RevocationChecker() = default;

base::Result<std::unique_ptr<RevocationChecker>, RevocationError>
RevocationChecker::Create(RevocationOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (impl->options.crl_dir) {
    std::vector<std::string> warnings;
    auto dir = CrlDirectory::Load(*impl->options.crl_dir, &warnings);
    if (!dir.ok()) {
      return std::move(dir).error();
    }
    impl->crl_dir = std::move(dir).value();
    impl->warnings = std::move(warnings);
  }
  if (impl->options.index_path) {
    auto index = VerdictIndex::Open(impl->options.index_path->string(),
                                    OpenMode::kReadWrite);
    if (!index.ok()) {
      return base::MakeError(
          RevocationError::kIndex,
          "cannot use the index for the revocation cache: " + index.detail());
    }
    impl->index.emplace(std::move(index).value());
  }
  return std::unique_ptr<RevocationChecker>(
      new RevocationChecker(std::move(impl)));
}

CertificateRevocation RevocationChecker::CheckCertificate(
    const Certificate& cert, const Certificate& issuer, base::Time at,
    std::optional<base::Time> authentic_signing_time) {
  std::string key = cert.Sha256Hex() + "/" + issuer.Sha256Hex() + "/" +
                    MicrosKey(at) + "/" +
                    (authentic_signing_time ? MicrosKey(*authentic_signing_time)
                                            : std::string("-"));
  auto result = impl_->certificates.Do(key, [&] {
    return std::make_shared<const CertificateRevocation>(
        impl_->Compute(cert, issuer, at, authentic_signing_time));
  });
  return *result;
}

ChainRevocation RevocationChecker::CheckChain(
    std::span<const CertificatePtr> chain, base::Time at,
    std::optional<base::Time> authentic_signing_time) {
  std::vector<CertificateRevocation> certificates;
  // notation-core-go ValidateContext: the last certificate (the root) is
  // never checked.
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    certificates.push_back(
        CheckCertificate(*chain[i], *chain[i + 1], at, authentic_signing_time));
  }
  return CombineChain(std::move(certificates));
}

RevocationStats RevocationChecker::stats() const {
  RevocationStats s;
  s.certificates = impl_->n_certificates.load();
  s.http_requests = impl_->n_http.load();
  s.http_failures = impl_->n_http_failures.load();
  s.crl_dir_hits = impl_->n_dir.load();
  s.cache_hits = impl_->n_cache.load();
  s.index_hits = impl_->n_index.load();
  s.http_hits = impl_->n_http_hits.load();
  s.cache_writes = impl_->n_cache_writes.load();
  s.index_writes = impl_->n_index_writes.load();
  return s;
}

std::vector<std::string> RevocationChecker::TakeWarnings() {
  std::lock_guard<std::mutex> lock(impl_->warnings_mu);
  std::vector<std::string> out;
  out.swap(impl_->warnings);
  return out;
}

// --- prefetch ---

uint64_t PrefetchReport::failed() const {
  uint64_t n = 0;
  for (const PrefetchItem& item : items) {
    n += item.ok ? 0 : 1;
  }
  return n;
}

namespace {

// Prefetcher fetches every URL once and writes what it got.
class Prefetcher {
 public:
  Prefetcher(const PrefetchOptions& options, PrefetchReport* report)
      : options_(options), report_(report) {}

  void Certificate(const crypto::Certificate& cert,
                   const crypto::Certificate& issuer) {
    std::string key = cert.Sha256Hex() + "/" + issuer.Sha256Hex();
    if (!done_pairs_.insert(key).second) {
      return;
    }
    ++report_->certificates;
    auto points = crypto::CrlDistributionPoints(cert);
    if (!points.ok()) {
      Fail(PrefetchKind::kCrl, "", cert,
           "malformed CRL distribution points: " + points.detail());
    } else {
      for (const std::string& url : *points) {
        Crl(cert, issuer, url);
      }
    }
    auto responders = crypto::OcspResponders(cert);
    if (!responders.ok()) {
      Fail(PrefetchKind::kOcsp, "", cert,
           "malformed authority information access: " + responders.detail());
      return;
    }
    if (responders->empty()) {
      return;
    }
    auto request = crypto::BuildOcspRequest(cert, issuer);
    if (!request.ok()) {
      Fail(PrefetchKind::kOcsp, responders->front(), cert,
           "cannot build the OCSP request: " + request.detail());
      return;
    }
    for (const std::string& url : *responders) {
      if (Ocsp(cert, issuer, url, *request)) {
        break;  // notation-core-go stops at the first conclusive answer
      }
    }
  }

 private:
  void Fail(PrefetchKind kind, const std::string& url,
            const crypto::Certificate& cert, std::string detail) {
    PrefetchItem item;
    item.kind = kind;
    item.url = url;
    item.subject = cert.SubjectString();
    item.detail = std::move(detail);
    report_->items.push_back(std::move(item));
  }

  bool Ok(PrefetchKind kind, const std::string& url,
          const crypto::Certificate& cert, const std::string& file,
          base::ByteView bytes) {
    std::string error = WriteFileAtomic(options_.out_dir, file, bytes);
    if (!error.empty()) {
      Fail(kind, url, cert, error);
      return false;
    }
    PrefetchItem item;
    item.kind = kind;
    item.url = url;
    item.subject = cert.SubjectString();
    item.ok = true;
    item.file = file;
    report_->items.push_back(std::move(item));
    return true;
  }

  // FetchCrl downloads and checks one CRL; nullptr with `error` set when
  // it cannot be used.
  crypto::CrlPtr FetchCrl(const std::string& url,
                          const crypto::Certificate& issuer,
                          std::string* error) {
    if (!crypto::IsHttpUrl(url)) {
      *error = "not an http URL (only http is supported)";
      return nullptr;
    }
    HttpResult raw =
        HttpFetch(url, nullptr, options_.crl_timeout, options_.max_crl_bytes);
    if (!raw.ok()) {
      *error = raw.detail;
      return nullptr;
    }
    auto crl = crypto::ParseCrlDer(raw.body);
    if (!crl.ok()) {
      *error = "does not parse as a DER CRL: " + crl.detail();
      return nullptr;
    }
    if (!(*crl)->VerifiedBy(issuer)) {
      *error = "its signature does not verify with the key of " +
               issuer.SubjectString();
      return nullptr;
    }
    return std::move(crl).value();
  }

  void Crl(const crypto::Certificate& cert, const crypto::Certificate& issuer,
           const std::string& url) {
    if (!done_urls_.insert(url).second) {
      return;
    }
    std::string error;
    crypto::CrlPtr base = FetchCrl(url, issuer, &error);
    if (base == nullptr) {
      Fail(PrefetchKind::kCrl, url, cert, error);
      return;
    }
    if (!Ok(PrefetchKind::kCrl, url, cert, PrefetchCrlFileName(url),
            base->der())) {
      return;
    }
    if (base->freshest_crl_malformed()) {
      Fail(PrefetchKind::kDeltaCrl, url, cert,
           "the CRL's freshestCRL extension is malformed");
      return;
    }
    for (const std::string& delta_url : base->freshest_crl_urls()) {
      if (done_urls_.count(delta_url) != 0) {
        return;  // fetched for another base
      }
      done_urls_.insert(delta_url);
      crypto::CrlPtr delta = FetchCrl(delta_url, issuer, &error);
      if (delta != nullptr && !delta->has_delta_indicator()) {
        delta = nullptr;
        error = "is not a delta CRL (no delta CRL indicator)";
      }
      if (delta == nullptr) {
        Fail(PrefetchKind::kDeltaCrl, delta_url, cert, error);
        continue;  // RFC 5280 §5.2.6: try the next URL
      }
      Ok(PrefetchKind::kDeltaCrl, delta_url, cert,
         PrefetchCrlFileName(delta_url), delta->der());
      return;
    }
  }

  bool Ocsp(const crypto::Certificate& cert, const crypto::Certificate& issuer,
            const std::string& url, const base::Bytes& request) {
    if (!crypto::IsHttpUrl(url)) {
      Fail(PrefetchKind::kOcsp, url, cert,
           "not an http URL (only http is supported)");
      return false;
    }
    std::optional<std::string> get = crypto::OcspGetUrl(url, request);
    HttpResult raw = get ? HttpFetch(*get, nullptr, options_.ocsp_timeout,
                                     options_.max_ocsp_bytes)
                         : HttpFetch(url, &request, options_.ocsp_timeout,
                                     options_.max_ocsp_bytes);
    if (!raw.ok()) {
      Fail(PrefetchKind::kOcsp, url, cert, raw.detail);
      return false;
    }
    CertRevocation r = crypto::EvaluateOcspResponse(raw.body, cert, issuer,
                                                    options_.at, std::nullopt);
    if (!crypto::IsConclusiveOcspResult(r)) {
      Fail(PrefetchKind::kOcsp, url, cert,
           "the response cannot be used: " + r.detail);
      return false;
    }
    return Ok(PrefetchKind::kOcsp, url, cert,
              PrefetchOcspFileName(url, request), raw.body);
  }

  const PrefetchOptions& options_;
  PrefetchReport* report_;
  std::set<std::string> done_pairs_;
  std::set<std::string> done_urls_;
};

// ParsedCertificates parses DER certificates once per distinct DER.
class ParsedCertificates {
 public:
  CertificatePtr Get(base::ByteView der) {
    std::string key(base::AsString(der));
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      return it->second;
    }
    auto parsed = crypto::Certificate::FromDer(der);
    CertificatePtr cert = parsed.ok() ? std::move(parsed).value() : nullptr;
    cache_.emplace(std::move(key), cert);
    return cert;
  }

 private:
  std::map<std::string, CertificatePtr> cache_;
};

// TsaChain builds the TSA chain of a token: its signer, then issuers found
// among the token's certificates and the trusted TSA roots, up to a
// self-signed certificate.
std::vector<CertificatePtr> TsaChain(const crypto::TimestampContents& contents,
                                     std::span<const CertificatePtr> roots) {
  std::vector<CertificatePtr> chain{contents.signer};
  for (size_t depth = 0; depth < 10; ++depth) {
    const CertificatePtr& last = chain.back();
    if (last->IsSelfSigned()) {
      break;
    }
    CertificatePtr next;
    for (std::span<const CertificatePtr> pool :
         {std::span<const CertificatePtr>(contents.certificates), roots}) {
      for (const CertificatePtr& c : pool) {
        if (c != nullptr && c->der().size() > 0 &&
            !std::equal(c->der().begin(), c->der().end(), last->der().begin(),
                        last->der().end()) &&
            last->IsIssuedBy(*c)) {
          next = c;
          break;
        }
      }
      if (next) {
        break;
      }
    }
    if (!next) {
      break;
    }
    chain.push_back(next);
  }
  return chain;
}

}  // namespace

base::Result<PrefetchReport, RevocationError> PrefetchRevocationData(
    const PrefetchOptions& options) {
  PrefetchReport report;
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec || !std::filesystem::is_directory(options.out_dir)) {
    return base::MakeError(RevocationError::kOutput,
                           "cannot create the output directory " +
                               options.out_dir.string() +
                               (ec ? ": " + ec.message() : std::string()));
  }
  if (::access(options.out_dir.c_str(), W_OK) != 0) {
    return base::MakeError(RevocationError::kOutput,
                           "cannot write into " + options.out_dir.string() +
                               ": " + std::strerror(errno));
  }
  auto discovery =
      io::DiscoverRepositories(options.mirror, options.registry_host);
  if (!discovery.ok()) {
    return base::MakeError(RevocationError::kMirror,
                           "cannot read the mirror " + options.mirror.string() +
                               ": " + discovery.detail());
  }
  for (const io::DiscoveryWarning& w : discovery->warnings) {
    report.warnings.push_back(w.path + ": " + w.message);
  }

  // TSA roots from the configuration, when it loads.
  std::vector<CertificatePtr> tsa_roots;
  if (options.config_dir) {
    ConfigPaths paths;
    paths.config_dir = *options.config_dir;
    auto config = LoadConfig(paths);
    if (config.ok()) {
      for (const policy::NamedStore& store : config->store.stores()) {
        if (store.ref.type == policy::StoreType::kTsa) {
          tsa_roots.insert(tsa_roots.end(), store.certificates.begin(),
                           store.certificates.end());
        }
      }
    } else {
      report.warnings.push_back(
          "configuration not loaded (" + config.detail() +
          "); TSA chains use the tokens' own certificates only");
    }
  }

  Prefetcher prefetcher(options, &report);
  ParsedCertificates parsed;
  std::unique_ptr<io::Reader> reader = io::NewPreadReader();
  auto walk_chain = [&](const std::vector<CertificatePtr>& chain) {
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
      prefetcher.Certificate(*chain[i], *chain[i + 1]);
    }
  };
  for (const io::Repository& repo : discovery->repositories) {
    if (repo.layout_error) {
      report.warnings.push_back(repo.uri + ": " + repo.layout_error->detail +
                                "; skipped");
      continue;
    }
    ++report.repositories;
    auto graph = io::LoadRepositoryGraph(repo, *reader);
    if (!graph.ok()) {
      report.warnings.push_back(repo.uri + ": " + graph.detail() + "; skipped");
      continue;
    }
    for (const auto& [subject, signatures] : graph->signatures_by_subject) {
      for (const io::SignatureNode& node : signatures) {
        std::string where =
            repo.uri + "@" + node.load.descriptor.digest.ToString();
        if (!node.load.manifest || node.load.manifest->layers.size() != 1) {
          report.warnings.push_back(where + ": unreadable signature manifest");
          continue;
        }
        const io::Descriptor& layer = node.load.manifest->layers.front();
        crypto::EnvelopeFormat format;
        if (layer.media_type == crypto::kMediaTypeJws) {
          format = crypto::EnvelopeFormat::kJws;
        } else if (layer.media_type == crypto::kMediaTypeCose) {
          format = crypto::EnvelopeFormat::kCose;
        } else {
          report.warnings.push_back(where + ": unsupported envelope type " +
                                    layer.media_type);
          continue;
        }
        auto bytes =
            reader->ReadBlob(repo, layer.digest, io::kEnvelopeMaxBytes);
        if (!bytes.ok()) {
          report.warnings.push_back(where + ": " + bytes.detail());
          continue;
        }
        auto envelope = crypto::ParseEnvelope(
            format, bytes->view(),
            crypto::ParseOptions{crypto::CertificateParsing::kDeferred});
        if (!envelope.ok()) {
          report.warnings.push_back(where + ": " + envelope.detail());
          continue;
        }
        ++report.signatures;
        std::vector<CertificatePtr> chain;
        for (const base::Bytes& der : envelope->certificate_der) {
          CertificatePtr cert = parsed.Get(der);
          if (cert == nullptr) {
            report.warnings.push_back(where + ": a certificate does not parse");
            chain.clear();
            break;
          }
          chain.push_back(std::move(cert));
        }
        walk_chain(chain);
        if (envelope->timestamp_token) {
          auto contents = crypto::VerifyTimestampTokenSignature(
              *envelope->timestamp_token, envelope->signature);
          if (!contents.ok()) {
            report.warnings.push_back(
                where + ": timestamp token: " + contents.detail());
            continue;
          }
          walk_chain(TsaChain(*contents, tsa_roots));
        }
      }
    }
  }
  return report;
}

}  // namespace trustgate::engine
