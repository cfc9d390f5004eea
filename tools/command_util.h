#pragma once

// What the `trustgate policy`, `rotation` and `revocation` subcommands do
// alike: their --format values, writing to a FILE*, JSON output, usage
// errors and the CLI11 parse of a whole command line in tests.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trustgate::tools {

// kExitUsage is the exit status of a usage or input error (nothing done).
inline constexpr int kExitUsage = 2;

// OutputFormat is a --format value of the policy and rotation commands.
enum class OutputFormat { kText, kJson };

// ParseOutputFormat reads "text" or "json"; nullopt for anything else.
std::optional<OutputFormat> ParseOutputFormat(const std::string& text);

// BadFormatMessage says that `value` is not a --format ParseOutputFormat
// reads.
std::string BadFormatMessage(const std::string& value);

// Plural is "1 repository" or "3 repositories": `n`, then `one` or `many`.
std::string Plural(uint64_t n, std::string_view one, std::string_view many);

// Print writes `s` to `f` as it is.
void Print(std::FILE* f, const std::string& s);

// DumpJson prints `j` indented, with a final newline. It never throws:
// invalid UTF-8 (a path, a subject, a tag) is replaced, not fatal.
std::string DumpJson(const nlohmann::json& j);

// UsageError prints "trustgate <command>: <message>" to `err` and returns
// kExitUsage.
int UsageError(std::FILE* err, const std::string& command,
               const std::string& message);

// ParseAndRun parses `args` (the words after the program name) with `app`,
// whose subcommands are already added, then returns what `run` returns
// (nullopt, i.e. no subcommand ran, gives kExitUsage). --help exits 0; a
// parse error is printed to `err` and gives kExitUsage.
int ParseAndRun(CLI::App& app, const std::vector<std::string>& args,
                std::FILE* err, const std::function<std::optional<int>()>& run);

}  // namespace trustgate::tools
