#pragma once

// X.509 distinguished names as trust policies write them (RFC 4514) and
// the trusted-identity match (trust-store-trust-policy.md: Trusted
// Identities Constraints).

#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/certificate.h"
#include "policy/error.h"

namespace trustgate::policy {

// ParseDistinguishedName parses an RFC 4514 DN ("CN=e2e,O=Notary,...").
// Escapes `\,` `\;` `\\` `\+` `\"` `\<` `\>` `\=` `\#`, escaped leading and
// trailing spaces, and `\XX` hex pairs are decoded. Multi-valued RDNs
// (`+`), duplicate attribute types, values starting with an unescaped `#`
// (hex form) and empty values are rejected (kBadDistinguishedName). Type
// names are upper-cased and "S" is normalised to "ST".
base::Result<std::vector<crypto::DnAttribute>, PolicyError>
ParseDistinguishedName(std::string_view dn);

// IsDnSubset is true when every attribute of `policy_dn` is present in
// `subject` with an equal value (the trusted-identity match on the leaf).
bool IsDnSubset(const std::vector<crypto::DnAttribute>& policy_dn,
                const std::vector<crypto::DnAttribute>& subject);

}  // namespace trustgate::policy
