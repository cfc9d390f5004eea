#pragma once

// X.509 distinguished names as trust policies write them (RFC 4514) and
// the trusted-identity match (trust-store-trust-policy.md: Trusted
// Identities Constraints). The accepted syntax and the match follow
// notation-go v1.3 (internal/pkix on top of go-ldap v3.4.10 ParseDN), since
// trustgate must agree with `notation verify` artifact by artifact.

#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/certificate.h"
#include "policy/error.h"

namespace trustgate::policy {

// ParseDistinguishedName parses an RFC 4514 DN ("CN=e2e,O=Notary,...").
// RDNs are separated by `,` or `;`; spaces around types, values, `=` and
// separators are trimmed. Escapes `\,` `\;` `\\` `\+` `\"` `\<` `\>` `\=`
// `\#` `\ ` (escaped leading and trailing spaces) and `\XX` hex pairs are
// decoded. Rejected (kBadDistinguishedName): any "=#" in the text (the
// hex-encoded value form), multi-valued RDNs (`+`), an RDN without a type
// or `=`, a dangling or invalid escape, and a type given twice (as in
// notation, a repeat is only tolerated when the earlier value was empty;
// it then replaces it). Type names keep their case (notation compares them
// case-sensitively: "cn" never matches a certificate's "CN"); only the
// exact type "S" is renamed "ST". Empty values are accepted (notation
// accepts them; see IsDnSubset). An empty or all-space DN parses to no
// attributes. Does not check for C, ST and O (HasMandatoryDnAttributes).
base::Result<std::vector<crypto::DnAttribute>, PolicyError>
ParseDistinguishedName(std::string_view dn);

// HasMandatoryDnAttributes is true when `dn` has non-empty C, ST and O
// values (trust-store-trust-policy.md: "Each identity ... MUST contain
// country (C), state or province (ST or S), and organization (O) RDNs").
bool HasMandatoryDnAttributes(const std::vector<crypto::DnAttribute>& dn);

// IsDnSubset is true when every attribute of `policy_dn` is present in
// `subject` with an equal value (the trusted-identity match on the leaf).
// Types and values compare byte-wise. As in notation-go's IsSubsetDN (a
// map lookup), an attribute absent from `subject` counts as the empty
// value, so a policy attribute with an empty value also matches a subject
// that lacks it. The first attribute of a type in `subject` is used.
bool IsDnSubset(const std::vector<crypto::DnAttribute>& policy_dn,
                const std::vector<crypto::DnAttribute>& subject);

// LeafSubjectForMatch returns the subject of `leaf` as notation matches it
// against x509.subject identities: notation parses Go's pkix.Name.String()
// of the leaf (which leaf.SubjectString() reproduces) with the same DN
// rules and requires C, ST and O, so this fails (kBadDistinguishedName)
// exactly where notation's identity check fails: an attribute type Go
// prints as a dotted OID with a "#<hex>" value (e.g. emailAddress), two
// values of C, ST, L, STREET, POSTALCODE, O or OU (printed as one
// multi-valued RDN), a value containing "=#", or no non-empty C, ST or O.
// Such a leaf matches no x509.subject identity (a "*" identity still
// accepts it: notation does not parse the subject then).
base::Result<std::vector<crypto::DnAttribute>, PolicyError> LeafSubjectForMatch(
    const crypto::Certificate& leaf);

}  // namespace trustgate::policy
