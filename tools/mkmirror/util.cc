#include "tools/mkmirror/util.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "base/unique_fd.h"

namespace trustgate::mkmirror {

std::string_view ToString(MkError e) {
  switch (e) {
    case MkError::kUsage:
      return "usage";
    case MkError::kIo:
      return "io";
    case MkError::kCrypto:
      return "crypto";
  }
  return "unknown";
}

std::string HexDigest(HashAlgorithm algorithm, base::ByteView bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  const EVP_MD* type =
      algorithm == HashAlgorithm::kSha256 ? EVP_sha256() : EVP_sha512();
  if (EVP_Digest(bytes.data(), bytes.size(), md, &md_len, type, nullptr) != 1) {
    return {};
  }
  return base::HexEncode(base::ByteView(md, md_len));
}

std::string OciDigest(HashAlgorithm algorithm, base::ByteView bytes) {
  // OCI image-spec descriptor.md: digest = algorithm ":" encoded.
  return std::string(algorithm == HashAlgorithm::kSha256 ? "sha256:"
                                                         : "sha512:") +
         HexDigest(algorithm, bytes);
}

std::string Base64Std(base::ByteView bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          bytes.data(), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

std::string Base64Url(base::ByteView bytes) {
  std::string out = Base64Std(bytes);
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  for (char& c : out) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    }
  }
  return out;
}

base::Status<MkError> WriteFile(const std::filesystem::path& path,
                                base::ByteView bytes) {
  base::UniqueFd fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return base::MakeError(MkError::kIo, "cannot create " + path.string() +
                                             ": " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return base::MakeError(MkError::kIo, "cannot write " + path.string() +
                                               ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd.Release()) != 0) {
    return base::MakeError(MkError::kIo, "cannot close " + path.string() +
                                             ": " + std::strerror(errno));
  }
  return base::Ok{};
}

base::Status<MkError> MakeDirectories(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return base::MakeError(
        MkError::kIo,
        "cannot create directory " + path.string() + ": " + ec.message());
  }
  return base::Ok{};
}

}  // namespace trustgate::mkmirror
