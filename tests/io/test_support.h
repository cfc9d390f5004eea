#pragma once

// Helpers shared by the io/ tests: temporary directories and a small OCI
// layout builder. Header-only; test code only.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "io/digest.h"

namespace trustgate::io::testing {

// SharedDir is the shared interop directory (TRUSTGATE_SHARED, set by
// meson), read in place.
inline std::filesystem::path SharedDir() {
  const char* env = std::getenv("TRUSTGATE_SHARED");
  return env != nullptr && *env != '\0' ? std::filesystem::path(env)
                                        : std::filesystem::path("/work/shared");
}

// TempDir is a fresh directory removed (without following symlinks) on
// destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "tg-io-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    // Make read-only test trees removable.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        ::chmod(it->path().c_str(), 0700);
      }
    }
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void WriteFile(const std::filesystem::path& path,
                      std::string_view content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string Sha256Of(std::string_view content) {
  return ComputeDigest(DigestAlgorithm::kSha256, base::AsBytes(content))
      .ToString();
}

// LayoutBuilder writes an OCI image layout: oci-layout, blobs, index.json.
class LayoutBuilder {
 public:
  explicit LayoutBuilder(std::filesystem::path dir) : dir_(std::move(dir)) {
    WriteFile(dir_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    std::filesystem::create_directories(dir_ / "blobs" / "sha256");
  }

  const std::filesystem::path& dir() const { return dir_; }

  // AddBlob stores `content` under its digest and returns a descriptor.
  nlohmann::json AddBlob(std::string_view content,
                         std::string_view media_type) {
    const std::string digest = Sha256Of(content);
    WriteFile(BlobFile(digest), content);
    return nlohmann::json{{"mediaType", media_type},
                          {"digest", digest},
                          {"size", content.size()}};
  }

  // AddJson stores a JSON document (compact) and returns its descriptor.
  nlohmann::json AddJson(const nlohmann::json& doc,
                         std::string_view media_type) {
    return AddBlob(doc.dump(), media_type);
  }

  std::filesystem::path BlobFile(std::string_view digest) const {
    const std::string d(digest);
    return dir_ / "blobs" / "sha256" / d.substr(d.find(':') + 1);
  }

  // Image returns a plain image manifest with one layer.
  nlohmann::json Image(std::string_view layer_content) {
    nlohmann::json config =
        AddBlob("{}", "application/vnd.oci.image.config.v1+json");
    nlohmann::json layer =
        AddBlob(layer_content, "application/vnd.oci.image.layer.v1.tar");
    return nlohmann::json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config", config},
        {"layers", nlohmann::json::array({layer})}};
  }

  // Signature returns a Notation signature manifest (JWS layer) on
  // `subject`; `salt` makes it distinct.
  nlohmann::json Signature(const nlohmann::json& subject,
                           std::string_view salt) {
    nlohmann::json config = AddBlob("{}", "application/vnd.oci.empty.v1+json");
    nlohmann::json envelope =
        AddBlob("envelope-" + std::string(salt), "application/jose+json");
    return nlohmann::json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"artifactType", "application/vnd.cncf.notary.signature"},
        {"config", config},
        {"layers", nlohmann::json::array({envelope})},
        {"subject", subject},
        {"annotations", {{"salt", salt}}}};
  }

  static nlohmann::json Index(const nlohmann::json& manifests) {
    return nlohmann::json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.index.v1+json"},
        {"manifests", manifests}};
  }

  static nlohmann::json Tagged(nlohmann::json descriptor,
                               std::string_view tag) {
    descriptor["annotations"]["org.opencontainers.image.ref.name"] = tag;
    return descriptor;
  }

  void WriteIndex(const nlohmann::json& manifests) {
    WriteFile(dir_ / "index.json", Index(manifests).dump());
  }

 private:
  std::filesystem::path dir_;
};

inline constexpr std::string_view kOciManifest =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex =
    "application/vnd.oci.image.index.v1+json";

}  // namespace trustgate::io::testing
