#include "policy/json_text.h"

namespace trustgate::policy {

size_t FirstValueEnd(std::string_view json) {
  size_t i = 0;
  while (i < json.size() && IsJsonSpace(json[i])) {
    ++i;
  }
  if (i == json.size() || (json[i] != '{' && json[i] != '[')) {
    return json.size();
  }
  size_t depth = 0;
  bool in_string = false;
  for (; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        return i + 1;
      }
    }
  }
  return json.size();
}

bool AsciiEqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  auto lower = [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  };
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out.append(s);
  out.push_back('"');
  return out;
}

}  // namespace trustgate::policy
