// The whole-mirror benchmark (issue: pipeline, part 5). Builds signed
// mirrors with mkmirror at several sizes and key types, verifies each with
// the engine in a child process (peak RSS from wait4), and measures, in the
// same run and on the same number of threads, OpenSSL's raw verify rate for
// the same key type and raw SHA-256 throughput. Prints one JSON document.
//
//   mirror_bench [--work DIR] [--sizes 1000,10000] [--with-100k]
//                [--keys ec256,ec384,rsa3072] [--jobs N] [--seconds S]
//                [--blob-mib M]  (0 skips the large-layer blob run)
//
// Per key and size: end-to-end artifacts/s without and with blob checks
// (no index), blob GB/s, peak RSS, the first run with a fresh verdict index
// and the re-run over the unchanged mirror (incremental: everything
// reused), and the ratios to OpenSSL's raw verify rate and raw SHA-256
// measured in this process on the same number of threads. Then 1 worker
// vs 2 workers vs --jobs on the largest mirror of the first key.

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/signature.h"
#include "engine/config.h"
#include "engine/run.h"
#include "io/digest.h"
#include "tools/mkmirror/drbg.h"
#include "tools/mkmirror/envelope_writer.h"
#include "tools/mkmirror/pki.h"
#include "tools/mkmirror/scenarios.h"

namespace trustgate::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

crypto::SignatureAlgorithm AlgorithmOf(mkmirror::KeyType type) {
  switch (type) {
    case mkmirror::KeyType::kEc256:
      return crypto::SignatureAlgorithm::kEs256;
    case mkmirror::KeyType::kEc384:
      return crypto::SignatureAlgorithm::kEs384;
    case mkmirror::KeyType::kEc521:
      return crypto::SignatureAlgorithm::kEs512;
    case mkmirror::KeyType::kRsa3072:
      return crypto::SignatureAlgorithm::kPs384;
    case mkmirror::KeyType::kRsa4096:
      return crypto::SignatureAlgorithm::kPs512;
    default:
      return crypto::SignatureAlgorithm::kPs256;
  }
}

// RawVerifyRate: signatures/s OpenSSL verifies with `threads` threads, each
// repeatedly verifying one signature of `type` (the same primitive the
// envelopes use, without anything of ours around it).
double RawVerifyRate(mkmirror::KeyType type, int threads, double seconds) {
  mkmirror::CertSpec spec;
  spec.role = mkmirror::CertRole::kRoot;
  spec.not_before = 1700000000;
  spec.not_after = 2000000000;
  spec.subject = {{"C", "US"}, {"ST", "WA"}, {"O", "Bench"}, {"CN", "k"}};
  auto cred =
      std::move(mkmirror::IssueCertificate(spec, type, nullptr)).value();
  base::Bytes message(200, 0x11);
  base::Bytes signature =
      std::move(mkmirror::SignRaw(type, cred->key.get(), message)).value();
  const crypto::SignatureAlgorithm alg = AlgorithmOf(type);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      // Each thread parses the certificate itself: its own key object, as
      // the engine has one per distinct chain (no shared EVP_PKEY locks).
      const unsigned char* p = cred->der.data();
      crypto::UniqueX509 cert(
          d2i_X509(nullptr, &p, static_cast<long>(cred->der.size())));
      EVP_PKEY* key = X509_get0_pubkey(cert.get());
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (crypto::VerifySignature(alg, key, message, signature).ok()) {
          ++n;
        }
      }
      total.fetch_add(n);
    });
  }
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) {
    t.join();
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return total.load() / elapsed;
}

// RawSha256 returns GB/s hashing 1 MiB buffers on `threads` threads.
double RawSha256(int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bytes{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      base::Bytes blob(1 << 20, 0x42);
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto d = io::ComputeDigest(io::DigestAlgorithm::kSha256, blob);
        n += blob.size() + (d.hex().empty() ? 1 : 0);
      }
      bytes.fetch_add(n);
    });
  }
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) {
    t.join();
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return bytes.load() / elapsed / 1e9;
}

// RunResult of one verification in a child process.
struct Measured {
  double seconds = 0;
  uint64_t artifacts = 0;
  uint64_t verified = 0;
  uint64_t blob_bytes = 0;
  uint64_t reused = 0;
  double peak_rss_mib = 0;
  int exit_code = -1;
};

// VerifyInChild forks, runs the engine on `dir` in the child (so that its
// peak RSS is its own), and reports through a pipe.
Measured VerifyInChild(const fs::path& dir, int jobs, bool blobs,
                       const std::optional<fs::path>& index) {
  int fds[2];
  if (pipe(fds) != 0) {
    return {};
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    engine::ConfigPaths paths;
    paths.config_dir = dir / "config";
    auto config = engine::LoadConfig(paths);
    Measured m;
    if (config.ok()) {
      engine::RunOptions options;
      options.mirror = dir / "mirror";
      options.jobs = jobs;
      options.format = engine::Format::kJsonl;
      options.out = std::fopen("/dev/null", "w");
      options.err = std::fopen("/dev/null", "w");
      options.quiet = true;
      options.index_path = index;
      options.verifier.at = *base::ParseRfc3339("2026-06-01T00:00:00Z");
      options.verifier.blobs =
          blobs ? engine::BlobsMode::kCheck : engine::BlobsMode::kSkip;
      auto start = Clock::now();
      engine::RunResult r = engine::RunVerify(options, config.value());
      m.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      m.artifacts = r.summary.artifacts;
      m.verified = r.summary.count(engine::Verdict::kVerified);
      m.blob_bytes = r.blob_bytes_hashed;
      m.reused = r.summary.reused;
      m.exit_code = r.exit_code;
    }
    ssize_t ignored = write(fds[1], &m, sizeof(m));
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  Measured m;
  ssize_t got = read(fds[0], &m, sizeof(m));
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  if (got != static_cast<ssize_t>(sizeof(m))) {
    return {};
  }
  m.peak_rss_mib = usage.ru_maxrss / 1024.0;
  return m;
}

// EnsureMirror generates (once; reused across runs) a bench mirror.
bool EnsureMirror(const fs::path& dir, mkmirror::KeyType key, int64_t n,
                  int64_t layer_bytes = 0, int layers = 1) {
  if (fs::exists(dir / "expected.jsonl")) {
    return true;
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  mkmirror::Options options;
  options.out = dir;
  options.preset = mkmirror::Preset::kBench;
  options.artifacts = n;
  options.key = key;
  options.leaves = 4;
  if (layer_bytes > 0) {
    options.layer_size = layer_bytes;
    options.layers = layers;
  }
  std::fprintf(stderr, "mirror_bench: generating %s (%lld artifacts)\n",
               dir.c_str(), static_cast<long long>(n));
  return mkmirror::Generate(options).ok();
}

int Main(int argc, char** argv) {
  fs::path work = fs::temp_directory_path() / "trustgate-bench";
  std::vector<std::string> sizes = {"1000", "10000"};
  std::vector<std::string> keys = {"ec256", "ec384", "rsa3072"};
  int jobs = static_cast<int>(std::thread::hardware_concurrency());
  double seconds = 3;
  int64_t blob_mib = 2048;  // total layer bytes of the blob-throughput mirror
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--with-100k") {
      sizes.push_back("100000");
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "mirror_bench: %s needs a value\n", flag.c_str());
      return 2;
    }
    std::string value = argv[i + 1];
    if (flag == "--work") {
      work = value;
    } else if (flag == "--sizes") {
      sizes = Split(value);
    } else if (flag == "--keys") {
      keys = Split(value);
    } else if (flag == "--jobs") {
      jobs = std::stoi(value);
    } else if (flag == "--blob-mib") {
      blob_mib = std::stoll(value);
    } else if (flag == "--seconds") {
      seconds = std::stod(value);
    } else {
      std::fprintf(stderr, "mirror_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  ordered_json out;
  out["machine"] = {{"cores", std::thread::hardware_concurrency()},
                    {"jobs", jobs}};
  double sha = RawSha256(jobs, seconds);
  out["raw_sha256_gb_per_s"] = sha;
  ordered_json results = ordered_json::array();
  for (const std::string& key_name : keys) {
    auto key = mkmirror::KeyTypeFromName(key_name);
    if (!key.has_value()) {
      std::fprintf(stderr, "mirror_bench: unknown key %s\n", key_name.c_str());
      return 2;
    }
    double raw = RawVerifyRate(*key, jobs, seconds);
    for (const std::string& size_text : sizes) {
      int64_t n = std::stoll(size_text);
      fs::path dir = work / (key_name + "-" + size_text);
      if (!EnsureMirror(dir, *key, n)) {
        std::fprintf(stderr, "mirror_bench: cannot generate %s\n", dir.c_str());
        return 1;
      }
      VerifyInChild(dir, jobs, false, std::nullopt);  // warm the page cache
      Measured sig = VerifyInChild(dir, jobs, false, std::nullopt);
      Measured with_blobs = VerifyInChild(dir, jobs, true, std::nullopt);
      fs::path index = dir / "bench-index.db";
      fs::remove(index);
      fs::remove(index.string() + "-wal");
      fs::remove(index.string() + "-shm");
      Measured first = VerifyInChild(dir, jobs, true, index);
      Measured rerun = VerifyInChild(dir, jobs, true, index);
      ordered_json r;
      r["key"] = key_name;
      r["artifacts"] = n;
      r["verified"] = sig.verified;
      r["raw_verify_per_s"] = raw;
      r["no_blobs_artifacts_per_s"] = sig.artifacts / sig.seconds;
      r["no_blobs_ratio_to_raw"] = sig.artifacts / sig.seconds / raw;
      r["blobs_artifacts_per_s"] = with_blobs.artifacts / with_blobs.seconds;
      r["blob_bytes"] = with_blobs.blob_bytes;
      r["blob_gb_per_s"] = with_blobs.blob_bytes / with_blobs.seconds / 1e9;
      r["blob_ratio_to_raw_sha256"] =
          with_blobs.blob_bytes / with_blobs.seconds / 1e9 / sha;
      r["peak_rss_mib"] = std::max({sig.peak_rss_mib, with_blobs.peak_rss_mib,
                                    first.peak_rss_mib, rerun.peak_rss_mib});
      r["rss_budget_mib"] = 256.0 + n / 1024.0;
      r["first_run_s"] = first.seconds;
      r["first_run_artifacts_per_s"] = first.artifacts / first.seconds;
      r["rerun_s"] = rerun.seconds;
      r["rerun_reused"] = rerun.reused;
      r["rerun_ratio"] = rerun.seconds / first.seconds;
      results.push_back(r);
      std::fprintf(stderr, "mirror_bench: %s\n", r.dump().c_str());
    }
  }
  out["results"] = results;
  // Blob throughput: bench-mirror layers are 4 KiB, so their rate above is
  // per-file overhead. Here few artifacts with large layers (4 MiB, two
  // per image) show the hashing pipeline itself against raw SHA-256.
  if (blob_mib > 0) {
    constexpr int64_t kLayerBytes = 4 << 20;
    const int64_t n =
        std::max<int64_t>(1, (blob_mib << 20) / (2 * kLayerBytes));
    fs::path dir = work / ("blobs-" + std::to_string(blob_mib) + "mib");
    if (!EnsureMirror(dir, mkmirror::KeyType::kEc256, n, kLayerBytes, 2)) {
      std::fprintf(stderr, "mirror_bench: cannot generate %s\n", dir.c_str());
      return 1;
    }
    VerifyInChild(dir, jobs, true, std::nullopt);  // warm the page cache
    Measured with_blobs = VerifyInChild(dir, jobs, true, std::nullopt);
    Measured sig_only = VerifyInChild(dir, jobs, false, std::nullopt);
    const double gbps = with_blobs.blob_bytes / with_blobs.seconds / 1e9;
    const double hashing_s =
        std::max(1e-9, with_blobs.seconds - sig_only.seconds);
    out["blob_throughput"] = {{"artifacts", with_blobs.artifacts},
                              {"verified", with_blobs.verified},
                              {"layer_bytes", kLayerBytes},
                              {"blob_bytes", with_blobs.blob_bytes},
                              {"seconds", with_blobs.seconds},
                              {"blob_gb_per_s", gbps},
                              {"blob_ratio_to_raw_sha256", gbps / sha},
                              {"blob_gb_per_s_net_of_signatures",
                               with_blobs.blob_bytes / hashing_s / 1e9},
                              {"peak_rss_mib", with_blobs.peak_rss_mib}};
    std::fprintf(stderr, "mirror_bench: %s\n",
                 out["blob_throughput"].dump().c_str());
  }
  // Scaling: the largest mirror of the first key, blobs off, no index:
  // 1 worker, 2 workers (`trustgate verify --jobs 1` / `--jobs 2`) and
  // --jobs, with the raw verify rate on 1 and 2 threads.
  if (!sizes.empty() && !keys.empty()) {
    fs::path dir = work / (keys.front() + "-" + sizes.back());
    auto key = *mkmirror::KeyTypeFromName(keys.front());
    Measured one = VerifyInChild(dir, 1, false, std::nullopt);
    Measured two = VerifyInChild(dir, 2, false, std::nullopt);
    Measured all = VerifyInChild(dir, jobs, false, std::nullopt);
    double raw1 = RawVerifyRate(key, 1, seconds);
    double raw2 = RawVerifyRate(key, 2, seconds);
    out["scaling"] = {{"mirror", dir.filename().string()},
                      {"one_worker_per_s", one.artifacts / one.seconds},
                      {"two_workers_per_s", two.artifacts / two.seconds},
                      {"two_vs_one", one.seconds / two.seconds},
                      {"jobs_per_s", all.artifacts / all.seconds},
                      {"speedup", one.seconds / all.seconds},
                      {"raw_verify_1_thread", raw1},
                      {"raw_verify_2_threads", raw2},
                      {"raw_two_vs_one", raw2 / raw1}};
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace
}  // namespace trustgate::bench

int main(int argc, char** argv) { return trustgate::bench::Main(argc, argv); }
