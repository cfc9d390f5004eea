#pragma once

// Helpers for tests that run the real binaries: temporary directories,
// running a command with its output captured, reading files.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace trustgate::testing {

// TempDir creates a fresh directory and removes it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "trustgate-test-XXXXXX")
            .string();
    char* made = ::mkdtemp(pattern.data());
    path_ =
        made != nullptr ? std::filesystem::path(made) : std::filesystem::path();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// CommandResult is what a finished command produced.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::filesystem::path& path,
                      const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// ShellQuote quotes one argument for /bin/sh.
inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// RunCommand runs `argv` with stdout and stderr captured into files of
// `scratch`.
inline CommandResult RunCommand(const std::vector<std::string>& argv,
                                const std::filesystem::path& scratch) {
  std::filesystem::create_directories(scratch);
  static int counter = 0;
  std::string tag =
      std::to_string(::getpid()) + "-" + std::to_string(++counter);
  auto out_path = scratch / ("out-" + tag);
  auto err_path = scratch / ("err-" + tag);
  std::string command;
  for (const std::string& arg : argv) {
    command += ShellQuote(arg) + " ";
  }
  command += "</dev/null >" + ShellQuote(out_path.string()) + " 2>" +
             ShellQuote(err_path.string());
  int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

// Lines splits text into non-empty lines.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

// SharedDir is ../shared beside the checkout (TRUSTGATE_SHARED).
inline std::filesystem::path SharedDir() {
  const char* env = std::getenv("TRUSTGATE_SHARED");
  return env != nullptr ? std::filesystem::path(env)
                        : std::filesystem::path("/work/shared");
}

// Binary returns the path of a built program from its environment
// variable (set by meson), e.g. TRUSTGATE_BIN.
inline std::string Binary(const char* variable) {
  const char* env = std::getenv(variable);
  return env != nullptr ? std::string(env) : std::string();
}

}  // namespace trustgate::testing
