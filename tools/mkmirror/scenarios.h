#pragma once

// The mirrors mkmirror generates: the `test` preset (one artifact per
// verification case, used by the integration tests), the `demo` preset (a
// small realistic organisation for the README) and the `bench` preset
// (N uniform, good artifacts for throughput measurements). Each writes
// OUT/mirror (OCI layouts), OUT/config (a Notation config dir: trust
// policy and trust store), OUT/expected.jsonl (the verdict and reason
// every artifact must get at `now` with the revocation data available) and
// OUT/expected-offline.jsonl (the same without any revocation data: a
// certificate that names a CRL or OCSP responder is then of unknown status,
// which fails revocation under strict) and OUT/expected-plugin.jsonl (the
// same with the test verification plugin installed as kAwsSignerPlugin:
// only the AWS-Signer-style cases differ). The test preset also writes
// OUT/revocation/: the CRLs and OCSP responses its certificates name, each
// file named by its URL's path below --revocation-url (serve the directory
// there, or pass it as --crl-dir). Output is a pure function of the
// options: same seed, now and revocation URL, same bytes.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "tools/mkmirror/envelope_writer.h"
#include "tools/mkmirror/pki.h"
#include "tools/mkmirror/util.h"

namespace trustgate::mkmirror {

// Preset selects what is generated.
enum class Preset { kTest, kDemo, kBench };
std::string_view ToString(Preset preset);
std::optional<Preset> PresetFromName(std::string_view name);

// SignerStyle selects how the bench preset signs: as `notation sign` does
// with a CA-issued key (kNotation), or as AWS Signer does (kAwsSigner: see
// kAwsSignerPlugin).
enum class SignerStyle { kNotation, kAwsSigner };
std::optional<SignerStyle> SignerStyleFromName(std::string_view name);

// AWS-Signer-style signatures (the test preset's aws/* repositories and
// `--preset bench --signer aws`): ES384 on P-384, the
// notary.x509.signingAuthority scheme with authentic signing time and
// expiry, the critical io.cncf.notary.verificationPlugin naming
// kAwsSignerPlugin, the critical com.amazonaws.signer.signingProfileVersion
// and com.amazonaws.signer.signingJob (ARNs), and a chain of four: root,
// two intermediates, a leaf valid for three days. Their trusted identity is
// the signing profile ARN kAwsSigningProfileArn, their trust store
// signingAuthority:aws-signer. OUT/plugin-revocation.txt is the revocation
// fixture of the test plugin (tests/plugins): one revoked signing-job ARN
// per line, "unknown <ARN>" for a status the service cannot give.
inline constexpr std::string_view kAwsSignerPlugin =
    "com.amazonaws.signer.notation.plugin";
inline constexpr std::string_view kAwsSigningProfileArn =
    "arn:aws:signer:us-west-2:123456789012:/signing-profiles/trustgate_release";

// EnvelopeChoice selects the bench preset's envelope format(s).
enum class EnvelopeChoice { kJws, kCose, kMixed };
std::string_view ToString(EnvelopeChoice choice);
std::optional<EnvelopeChoice> EnvelopeChoiceFromName(std::string_view name);

// kDefaultNow is the default --now, 2026-01-01T00:00:00Z.
inline constexpr int64_t kDefaultNowUnix = 1767225600;

// kDefaultRevocationUrl is the default --revocation-url: the discard port
// on the loopback address, so that nothing is fetched by accident.
inline constexpr std::string_view kDefaultRevocationUrl = "http://127.0.0.1:9";

// Options are mkmirror's command-line options. The bench-only fields
// (artifacts .. layer_size) are ignored by the other presets.
struct Options {
  std::filesystem::path out;
  Preset preset = Preset::kTest;
  uint64_t seed = 1;
  int64_t now = kDefaultNowUnix;  // Unix seconds
  // revocation_url is the base URL of every CRL distribution point and
  // OCSP responder the test preset's certificates name: http, a host, an
  // optional path, no query or fragment (a trailing '/' is dropped).
  std::string revocation_url = std::string(kDefaultRevocationUrl);
  int64_t artifacts = 1000;
  int64_t repos = 0;  // 0: artifacts / 100, at least 1
  KeyType key = KeyType::kEc256;
  int64_t leaves = 4;
  EnvelopeChoice envelope = EnvelopeChoice::kJws;
  int64_t layers = 1;
  int64_t layer_size = 4096;
  SignerStyle signer = SignerStyle::kNotation;  // bench: --signer
  std::ostream* progress = nullptr;             // bench progress lines, if set
};

// Summary counts what Generate wrote.
struct Summary {
  int64_t repositories = 0;
  int64_t artifacts = 0;   // entries in expected.jsonl
  int64_t signatures = 0;  // signature manifests
};

// Generate writes the mirror described by `options`. OUT may exist, but
// OUT/mirror, OUT/config, OUT/revocation, OUT/expected.jsonl and
// OUT/expected-offline.jsonl must not (kUsage). A bad revocation URL is
// kUsage too.
base::Result<Summary, MkError> Generate(const Options& options);

// ExpectedCase is one line of expected.jsonl (and of
// expected-offline.jsonl), for callers that want the list without reading
// the file.
struct ExpectedCase {
  std::string name;
  std::string verdict;  // with the revocation data available
  std::string reason;
  std::string offline_verdict = {};  // without any revocation data
  std::string offline_reason = {};
  // With the test plugin installed as kAwsSignerPlugin and given
  // OUT/plugin-revocation.txt (expected-plugin.jsonl); verdict/reason are
  // the outcomes without it (a signature naming a plugin then fails).
  std::string plugin_verdict = {};
  std::string plugin_reason = {};
};

// TestPresetCases lists the cases of the test preset with their expected
// verdict and reason, online and offline, in generation order.
std::vector<ExpectedCase> TestPresetCases();

}  // namespace trustgate::mkmirror
