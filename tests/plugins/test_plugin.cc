// A Notation verification plugin for the tests: speaks the real protocol
// (plugin-extensibility.md) over stdin/stdout, as notation-<name> <command>.
//
// Behaviour is chosen by the last dot-separated part of the name it is
// installed under (notation-com.example.good -> "good"), or by the
// plugin config key "mode":
//   good       AWS-Signer-like: TRUSTED_IDENTITY matches the signature's
//              com.amazonaws.signer.signingProfileVersion against signing
//              profile ARNs (or profile version ARNs) in the trusted
//              identities; REVOCATION_CHECK reads the file named by config
//              "revocation_file" (one revoked ARN per line, "unknown <ARN>"
//              for an unknown status; a missing file is a failed call to
//              the revocation service, as offline); processes the
//              com.amazonaws.signer.* attributes only
//   hang       never answers (and leaves a child holding stdout open; its
//              pid goes to config "pid_file")
//   crash      abort()
//   garbage    prints non-JSON, exits 0
//   error      exits 1 with an error JSON on stderr
//   exit2      exits 2 with plain text on stderr
//   omit       like good, but does not return signingJob as processed
//   wrongcaps  answers for the capabilities it was not asked for
//   extracaps  answers for what was asked plus one more
//   huge       prints more than 64 MiB
// Metadata is shaped by config: "version" (default 1.2.0), "capabilities"
// ("ti", "rc", "ti,rc" (default), "none"), "metadata_name",
// "contract" (default 1.0), "metadata_mode" (hang | crash | garbage).
// Instrumentation: "log_file" gets one line per invocation
// ("<command>\n"); "counter_file" keeps "<running> <max>" of concurrent
// instances under flock; "sleep_ms" delays each answer; "request_file"
// receives the last request.

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;

constexpr char kTi[] = "SIGNATURE_VERIFIER.TRUSTED_IDENTITY";
constexpr char kRc[] = "SIGNATURE_VERIFIER.REVOCATION_CHECK";
constexpr char kProfileVersion[] = "com.amazonaws.signer.signingProfileVersion";
constexpr char kSigningJob[] = "com.amazonaws.signer.signingJob";

std::map<std::string, std::string> g_config;

std::string Config(const std::string& key, const std::string& fallback = "") {
  auto it = g_config.find(key);
  return it == g_config.end() ? fallback : it->second;
}

void AppendLine(const std::string& path, const std::string& line) {
  if (path.empty()) {
    return;
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return;
  }
  std::string text = line + "\n";
  (void)!write(fd, text.data(), text.size());
  close(fd);
}

// Counter tracks concurrent instances: "<running> <max>" under flock.
void Counter(int delta) {
  const std::string path = Config("counter_file");
  if (path.empty()) {
    return;
  }
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return;
  }
  flock(fd, LOCK_EX);
  char buf[64] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  long running = 0;
  long max = 0;
  if (n > 0) {
    std::sscanf(buf, "%ld %ld", &running, &max);
  }
  running += delta;
  if (running > max) {
    max = running;
  }
  std::string text = std::to_string(running) + " " + std::to_string(max);
  (void)!ftruncate(fd, 0);
  (void)!pwrite(fd, text.data(), text.size(), 0);
  flock(fd, LOCK_UN);
  close(fd);
}

void Print(const json& j) {
  std::string text = j.dump();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

[[noreturn]] void Fail(const std::string& code, const std::string& message) {
  json e = {{"errorCode", code}, {"errorMessage", message}};
  std::string text = e.dump();
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
  Counter(-1);
  std::exit(1);
}

[[noreturn]] void Hang() {
  const std::string pid_file = Config("pid_file");
  pid_t child = fork();
  if (child == 0) {
    // Keeps stdout open: only killing the process group ends the wait.
    while (true) {
      pause();
    }
  }
  AppendLine(pid_file, std::to_string(child));
  while (true) {
    pause();
  }
}

json Metadata(const std::string& name, const std::string& mode) {
  if (mode == "hang") {
    Hang();
  }
  if (mode == "crash") {
    std::abort();
  }
  if (mode == "garbage") {
    std::fputs("metadata? what metadata\n", stdout);
    std::exit(0);
  }
  json caps = json::array();
  const std::string c = Config("capabilities", "ti,rc");
  if (c.find("ti") != std::string::npos) {
    caps.push_back(kTi);
  }
  if (c.find("rc") != std::string::npos) {
    caps.push_back(kRc);
  }
  if (c == "none") {
    caps.push_back("SIGNATURE_GENERATOR.RAW");
  }
  return json{
      {"name", Config("metadata_name", name)},
      {"description", "trustgate test plugin"},
      {"version", Config("version", "1.2.0")},
      {"url", "https://example.com/trustgate-test-plugin"},
      {"supportedContractVersions", json::array({Config("contract", "1.0")})},
      {"capabilities", caps}};
}

std::string StringAttribute(const json& request, const std::string& key) {
  const json* ext = nullptr;
  try {
    ext = &request.at("signature")
               .at("criticalAttributes")
               .at("extendedAttributes");
  } catch (const std::exception&) {
    return "";
  }
  auto it = ext->find(key);
  if (it == ext->end() || !it->is_string()) {
    return "";
  }
  return it->get<std::string>();
}

json Verify(const json& request, const std::string& mode) {
  if (mode == "hang") {
    Hang();
  }
  if (mode == "crash") {
    std::abort();
  }
  if (mode == "garbage") {
    std::fputs("<html>this is not json</html>", stdout);
    std::exit(0);
  }
  if (mode == "error") {
    Fail("ACCESS_DENIED", "test plugin: access denied to the signer API");
  }
  if (mode == "exit2") {
    std::fputs("plain text failure\n", stderr);
    std::exit(2);
  }
  if (mode == "huge") {
    std::string chunk(1 << 20, ' ');
    for (int i = 0; i < 65; ++i) {
      if (std::fwrite(chunk.data(), 1, chunk.size(), stdout) != chunk.size()) {
        std::exit(3);
      }
    }
    std::fputs("{}", stdout);
    std::exit(0);
  }
  std::vector<std::string> asked;
  for (const auto& c : request.at("trustPolicy").at("signatureVerification")) {
    asked.push_back(c.get<std::string>());
  }
  const std::string profile_version = StringAttribute(request, kProfileVersion);
  const std::string job = StringAttribute(request, kSigningJob);
  if (profile_version.empty()) {
    Fail("VALIDATION_ERROR",
         "unable to parse attribute \"" + std::string(kProfileVersion) + "\"");
  }
  json results = json::object();
  for (const std::string& c : asked) {
    if (c == kTi) {
      bool match = false;
      std::string matched;
      for (const auto& t : request.at("trustPolicy").at("trustedIdentities")) {
        const std::string id = t.get<std::string>();
        // A profile ARN matches its versions; a version ARN matches itself.
        if (id == profile_version ||
            (profile_version.size() > id.size() + 1 &&
             profile_version.compare(0, id.size(), id) == 0 &&
             profile_version[id.size()] == '/' &&
             profile_version.find('/', id.size() + 1) == std::string::npos)) {
          match = true;
          matched = id;
          break;
        }
      }
      results[c] = match ? json{{"success", true},
                                {"reason", "Signature publisher matched \"" +
                                               matched + "\""}}
                         : json{{"success", false},
                                {"reason",
                                 "Signature publisher doesn't match any "
                                 "trusted identities."}};
    } else if (c == kRc) {
      const std::string file = Config("revocation_file");
      if (file.empty()) {
        results[c] = {{"success", true},
                      {"reason", "Signature is not revoked."}};
        continue;
      }
      std::ifstream in(file);
      if (!in) {
        results[c] = {{"success", false},
                      {"reason",
                       "GetRevocationStatus call failed: cannot "
                       "reach the revocation service"}};
        continue;
      }
      std::string line;
      std::string revoked;
      std::string unknown;
      const std::string kUnknown = "unknown ";
      while (std::getline(in, line)) {
        if (line.rfind(kUnknown, 0) == 0) {
          const std::string arn = line.substr(kUnknown.size());
          if (arn == job || arn == profile_version) {
            unknown = arn;
          }
        } else if (!line.empty() && (line == job || line == profile_version)) {
          revoked = line;
        }
      }
      if (!revoked.empty()) {
        results[c] = {
            {"success", false},
            {"reason", "Resource(s) " + revoked + " have been revoked."}};
      } else if (!unknown.empty()) {
        results[c] = {
            {"success", false},
            {"reason", "Revocation status of " + unknown + " is unknown."}};
      } else {
        results[c] = {{"success", true},
                      {"reason", "Signature is not revoked."}};
      }
    }
  }
  if (mode == "wrongcaps") {
    json wrong = json::object();
    for (const char* c : {kTi, kRc}) {
      if (!results.contains(c)) {
        wrong[c] = {{"success", true}};
      }
    }
    if (wrong.empty()) {
      wrong["SIGNATURE_VERIFIER.SOMETHING_ELSE"] = {{"success", true}};
    }
    results = wrong;
  } else if (mode == "extracaps") {
    results["SIGNATURE_VERIFIER.SOMETHING_ELSE"] = {{"success", true}};
  }
  json processed = json::array();
  for (const auto& a : request.at("signature").at("unprocessedAttributes")) {
    const std::string name = a.get<std::string>();
    if (name.rfind("com.amazonaws.signer.", 0) != 0) {
      continue;  // not ours: leave it unprocessed
    }
    if (mode == "omit" && name == kSigningJob) {
      continue;
    }
    processed.push_back(name);
  }
  return json{{"verificationResults", results},
              {"processedAttributes", processed}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: notation-<name> <command>\n", stderr);
    return 2;
  }
  std::string self = argv[0];
  self = self.substr(self.find_last_of('/') + 1);
  const std::string prefix = "notation-";
  const std::string name =
      self.rfind(prefix, 0) == 0 ? self.substr(prefix.size()) : self;
  const std::string command = argv[1];

  std::stringstream ss;
  ss << std::cin.rdbuf();
  const std::string input = ss.str();
  json request = json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) {
    Fail("VALIDATION_ERROR", "Input is not a valid JSON");
  }
  if (request.contains("pluginConfig")) {
    for (const auto& [k, v] : request["pluginConfig"].items()) {
      g_config[k] = v.get<std::string>();
    }
  }
  AppendLine(Config("log_file"), command);
  if (!Config("request_file").empty() && command == "verify-signature") {
    std::ofstream(Config("request_file"), std::ios::trunc) << input;
  }
  std::string mode = name.substr(name.find_last_of('.') + 1);
  mode = Config("mode", mode);

  Counter(+1);
  if (const std::string ms = Config("sleep_ms"); !ms.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stol(ms)));
  }
  json response;
  if (command == "get-plugin-metadata") {
    response = Metadata(name, Config("metadata_mode"));
  } else if (command == "verify-signature") {
    try {
      response = Verify(request, mode);
    } catch (const std::exception& e) {
      Fail("VALIDATION_ERROR", std::string("bad request: ") + e.what());
    }
  } else {
    Fail("VALIDATION_ERROR", "unsupported command " + command);
  }
  Counter(-1);
  Print(response);
  return 0;
}
