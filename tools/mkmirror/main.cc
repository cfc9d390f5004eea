// mkmirror: generates signed OCI registry mirrors (Notation signatures) for
// trustgate's tests, README demo and benchmarks. See scenarios.h.

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "base/time.h"
#include "tools/mkmirror/compare.h"
#include "tools/mkmirror/scenarios.h"

namespace mk = trustgate::mkmirror;

int main(int argc, char** argv) {
  CLI::App app{
      "mkmirror: generate a signed OCI registry mirror with a Notation "
      "config and the expected verdict of every artifact"};
  mk::Options options;
  std::string out;
  std::string preset = "test";
  std::string now = "2026-01-01T00:00:00Z";
  std::string key = "ec256";
  std::string envelope = "jws";
  std::string signer = "notation";
  std::vector<std::string> compare;
  app.add_option("--out", out, "output directory (required unless --compare)");
  app.add_option("--compare", compare,
                 "compare EXPECTED ACTUAL verdict files (JSON Lines) instead "
                 "of generating; exit 1 on any difference")
      ->expected(2);
  app.add_option("--preset", preset, "what to generate")
      ->check(CLI::IsMember({"demo", "test", "bench"}));
  app.add_option("--seed", options.seed, "seed of every key and signature");
  app.add_option("--now", now,
                 "verification time the expectations are for (RFC 3339)");
  app.add_option("--revocation-url", options.revocation_url,
                 "test: base URL of the CRL distribution points and OCSP "
                 "responder the certificates name; OUT/revocation holds "
                 "their files, named by URL path below it (default "
                 "http://127.0.0.1:9, the discard port)");
  app.add_option("--artifacts", options.artifacts,
                 "bench: number of images (default 1000)");
  app.add_option("--repos", options.repos,
                 "bench: number of repositories (default artifacts/100)");
  app.add_option("--key", key, "bench: leaf key type")
      ->check(CLI::IsMember(
          {"ec256", "ec384", "ec521", "rsa2048", "rsa3072", "rsa4096"}));
  app.add_option("--leaves", options.leaves,
                 "bench: number of leaf certificates (default 4)");
  app.add_option("--envelope", envelope, "bench: envelope format")
      ->check(CLI::IsMember({"jws", "cose", "mixed"}));
  app.add_option("--signer", signer,
                 "bench: notation (CA-issued leaves, ca store) or aws "
                 "(AWS-Signer-style: verification plugin "
                 "com.amazonaws.signer.notation.plugin, signing-profile ARN "
                 "identity, signingAuthority store)")
      ->check(CLI::IsMember({"notation", "aws"}));
  app.add_option("--layers", options.layers,
                 "bench: layers per image (default 1)");
  app.add_option("--layer-size", options.layer_size,
                 "bench: bytes per layer (default 4096)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; usage errors exit 2, as trustgate's do.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (!compare.empty()) {
    auto result = mk::CompareVerdicts(compare[0], compare[1]);
    if (!result.ok()) {
      std::cerr << "mkmirror: " << result.detail() << "\n";
      return 2;
    }
    for (const std::string& d : result->differences) {
      std::cerr << "mkmirror: " << d << "\n";
    }
    std::cerr << "mkmirror: " << result->matched << " of " << result->expected
              << " artifacts as expected";
    if (!result->differences.empty()) {
      std::cerr << ", " << result->differences.size() << " differences";
    }
    std::cerr << "\n";
    return result->differences.empty() ? 0 : 1;
  }
  if (out.empty()) {
    std::cerr << "mkmirror: --out DIR is required (see --help)\n";
    return 2;
  }

  options.out = out;
  options.preset = *mk::PresetFromName(preset);
  options.key = *mk::KeyTypeFromName(key);
  options.envelope = *mk::EnvelopeChoiceFromName(envelope);
  options.signer = *mk::SignerStyleFromName(signer);
  const auto parsed_now = trustgate::base::ParseRfc3339(now);
  if (!parsed_now) {
    std::cerr << "mkmirror: --now must be an RFC 3339 time such as "
                 "2026-01-01T00:00:00Z, got \""
              << now << "\"\n";
    return 2;
  }
  options.now = std::chrono::duration_cast<std::chrono::seconds>(
                    parsed_now->time_since_epoch())
                    .count();
  options.progress = &std::cerr;

  auto summary = mk::Generate(options);
  if (!summary.ok()) {
    std::cerr << "mkmirror: " << summary.detail() << "\n";
    return summary.code() == mk::MkError::kUsage ? 2 : 1;
  }
  std::cerr << "mkmirror: wrote " << summary->artifacts << " artifacts ("
            << summary->signatures << " signature manifests) in "
            << summary->repositories << " repositories to " << out << "\n";
  return 0;
}
