#include "tools/command_util.h"

namespace trustgate::tools {

std::optional<OutputFormat> ParseOutputFormat(const std::string& text) {
  if (text == "text") {
    return OutputFormat::kText;
  }
  if (text == "json") {
    return OutputFormat::kJson;
  }
  return std::nullopt;
}

std::string BadFormatMessage(const std::string& value) {
  return "--format must be text or json, not \"" + value + "\"";
}

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

void Print(std::FILE* f, const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), f);
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

int UsageError(std::FILE* err, const std::string& command,
               const std::string& message) {
  Print(err, "trustgate " + command + ": " + message + "\n");
  return kExitUsage;
}

int ParseAndRun(CLI::App& app, const std::vector<std::string>& args,
                std::FILE* err,
                const std::function<std::optional<int>()>& run) {
  // CLI11 takes the arguments in reverse order.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return 0;  // --help
    }
    Print(err, std::string("trustgate: ") + e.what() + "\n");
    return kExitUsage;
  }
  return run().value_or(kExitUsage);
}

}  // namespace trustgate::tools
