#include "policy/dn.h"

#include <array>
#include <optional>
#include <string>
#include <utility>

// Distinguished names follow what `notation verify` v1.3 accepts, which is
// narrower and quirkier than RFC 4514 alone:
//   - notation-go internal/pkix ParseDistinguishedName: rejects "=#",
//     multi-valued RDNs, repeated types (unless the earlier value is
//     empty), renames "S" to "ST", requires non-empty C, ST and O;
//   - go-ldap v3.4.10 ParseDN underneath: `,` and `;` end an RDN, `+`
//     joins a multi-valued RDN, the first unescaped `=` ends the type,
//     types and values are trimmed of spaces (an escaped trailing space
//     survives), RFC 4514 §3 escapes (`\` + special, `\XX` hex) are decoded,
//     types are not validated and keep their case;
//   - IsSubsetDN: a map comparison, so a missing attribute reads as "".

namespace trustgate::policy {
namespace {

using crypto::DnAttribute;

base::Error<PolicyError> DnError(std::string_view dn, std::string_view why) {
  std::string detail = "distinguished name \"";
  detail.append(dn);
  detail.append("\": ");
  detail.append(why);
  return base::MakeError(PolicyError::kBadDistinguishedName, std::move(detail));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// StripSpaces trims ASCII spaces from both ends, keeping a trailing space
// that is escaped (`\ `), as go-ldap does before decoding.
std::string_view StripSpaces(std::string_view raw, bool* keep_space) {
  size_t begin = 0;
  while (begin < raw.size() && raw[begin] == ' ') {
    ++begin;
  }
  size_t end = raw.size();
  while (end > begin && raw[end - 1] == ' ') {
    --end;
  }
  std::string_view s = raw.substr(begin, end - begin);
  // go-ldap re-adds one space when the trimmed text ends in a backslash and
  // the raw text ended in a space (it reads that as an escaped space).
  *keep_space =
      !s.empty() && s.back() == '\\' && !raw.empty() && raw.back() == ' ';
  return s;
}

// DecodeComponent turns the raw text of a type or value into its decoded
// form (RFC 4514 §2.4 escapes, §3 `\XX` pairs).
std::optional<std::string> DecodeComponent(std::string_view raw) {
  bool keep_space = false;
  std::string_view s = StripSpaces(raw, &keep_space);
  std::string text(s);
  if (keep_space) {
    text.push_back(' ');
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i + 1 >= text.size()) {
      return std::nullopt;  // a dangling backslash
    }
    char next = text[i + 1];
    switch (next) {
      case ' ':
      case '"':
      case '#':
      case '+':
      case ',':
      case ';':
      case '<':
      case '=':
      case '>':
      case '\\':
        out.push_back(next);
        ++i;
        continue;
      default:
        break;
    }
    // RFC 4514 §3: otherwise exactly two hex digits.
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    int hi = HexValue(text[i + 1]);
    int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
    i += 2;
  }
  return out;
}

bool IsAllWhitespace(std::string_view s) {
  for (char c : s) {
    // Go's strings.TrimSpace, restricted to ASCII (the input is UTF-8 text
    // from JSON; other Unicode spaces are not worth a table here).
    if (c != ' ' && c != '\t' && c != '\n' && c != '\v' && c != '\f' &&
        c != '\r') {
      return false;
    }
  }
  return true;
}

}  // namespace

base::Result<std::vector<DnAttribute>, PolicyError> ParseDistinguishedName(
    std::string_view dn) {
  // notation-go pkix: the hex-encoded value form is not supported, and the
  // test is a plain substring search over the whole text.
  if (dn.find("=#") != std::string_view::npos) {
    return DnError(dn, "\"=#\" (hex-encoded values) is not supported");
  }
  std::vector<DnAttribute> out;
  if (IsAllWhitespace(dn)) {
    return out;
  }

  // One pass over the bytes: `\` escapes the next byte, the first `=` of
  // an attribute ends its type, `,` `;` end an RDN and `+` continues one.
  struct Pending {
    std::string type;
    bool has_type = false;  // true once a non-empty type was decoded
  };
  Pending attr;
  size_t start = 0;
  bool escaping = false;
  bool rdn_continues = false;  // the attribute follows a `+`
  bool multi_valued = false;

  auto add = [&](std::string type, std::string value) -> bool {
    // notation-go pkix: "S" is an alias of "ST" (exact spelling only).
    if (type == "S") {
      type = "ST";
    }
    for (DnAttribute& existing : out) {
      if (existing.type == type) {
        // notation keeps the attributes in a map and only refuses a repeat
        // when the stored value is non-empty.
        if (!existing.value.empty()) {
          return false;
        }
        existing.value = std::move(value);
        return true;
      }
    }
    out.push_back(DnAttribute{std::move(type), std::move(value)});
    return true;
  };

  auto finish_value = [&](size_t end) {
    return DecodeComponent(dn.substr(start, end - start));
  };

  for (size_t i = 0; i < dn.size(); ++i) {
    char c = dn[i];
    if (escaping) {
      escaping = false;
      continue;
    }
    if (c == '\\') {
      escaping = true;
      continue;
    }
    if (c == '=' && !attr.has_type) {
      std::optional<std::string> type =
          DecodeComponent(dn.substr(start, i - start));
      if (!type) {
        return DnError(dn, "invalid escape in an attribute type");
      }
      attr.type = std::move(*type);
      attr.has_type = !attr.type.empty();
      start = i + 1;
      continue;
    }
    if (c == ',' || c == ';' || c == '+') {
      if (!attr.has_type) {
        return DnError(dn,
                       "an RDN has no attribute type (expected TYPE=value)");
      }
      std::optional<std::string> value = finish_value(i);
      if (!value) {
        return DnError(dn, "invalid escape in an attribute value");
      }
      if (c == '+' || rdn_continues) {
        multi_valued = true;
      }
      rdn_continues = c == '+';
      std::string type = std::move(attr.type);
      attr = Pending{};
      start = i + 1;
      if (!add(type, std::move(*value))) {
        return DnError(dn, "attribute \"" + type +
                               "\" appears twice; each type may appear once");
      }
    }
  }
  if (!attr.has_type) {
    return DnError(dn,
                   "the last RDN has no attribute type (expected "
                   "TYPE=value)");
  }
  std::optional<std::string> value = finish_value(dn.size());
  if (!value) {
    return DnError(dn, "invalid escape in an attribute value");
  }
  if (rdn_continues) {
    multi_valued = true;
  }
  std::string type = std::move(attr.type);
  if (!add(type, std::move(*value))) {
    return DnError(dn, "attribute \"" + type +
                           "\" appears twice; each type may appear once");
  }
  // notation-go pkix: multi-valued RDNs are not supported.
  if (multi_valued) {
    return DnError(dn,
                   "multi-valued RDNs (`+`) are not supported; write each "
                   "attribute as its own RDN");
  }
  return out;
}

bool HasMandatoryDnAttributes(const std::vector<DnAttribute>& dn) {
  // trust-store-trust-policy.md: Trusted Identities Constraints; notation
  // checks the values are non-empty.
  static constexpr std::array<std::string_view, 3> kMandatory = {"C", "ST",
                                                                 "O"};
  for (std::string_view type : kMandatory) {
    bool found = false;
    for (const DnAttribute& a : dn) {
      if (a.type == type && !a.value.empty()) {
        found = true;
        break;
      }
    }
    if (!found) {
      return false;
    }
  }
  return true;
}

bool IsDnSubset(const std::vector<DnAttribute>& policy_dn,
                const std::vector<DnAttribute>& subject) {
  for (const DnAttribute& want : policy_dn) {
    std::string_view have;
    for (const DnAttribute& a : subject) {
      if (a.type == want.type) {
        have = a.value;
        break;
      }
    }
    if (have != want.value) {
      return false;
    }
  }
  return true;
}

base::Result<std::vector<DnAttribute>, PolicyError> LeafSubjectForMatch(
    const crypto::Certificate& leaf) {
  // notation-go verifier verifyX509TrustedIdentities:
  //   pkix.ParseDistinguishedName(leafCert.Subject.String())
  // SubjectString() reproduces Go's pkix.Name.String() (crypto/certificate.h),
  // so the same parse rejects what notation rejects: non-standard types
  // printed as OID=#hex, repeated C/ST/L/STREET/POSTALCODE/O/OU printed as
  // a multi-valued RDN, values containing "=#", and no C, ST or O.
  TG_ASSIGN_OR_RETURN(std::vector<DnAttribute> subject,
                      ParseDistinguishedName(leaf.SubjectString()));
  if (!HasMandatoryDnAttributes(subject)) {
    return DnError(leaf.SubjectString(),
                   "the certificate subject lacks a non-empty C, ST or O");
  }
  return subject;
}

}  // namespace trustgate::policy
