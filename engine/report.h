#pragma once

// Output of verdicts: the `--format jsonl` object of ARCHITECTURE.md
// "Command line (contract)" (also the record the verdict index stores and
// `export` prints), the streamed `--format json` document, and the text
// report for people.
//
// The JSON object of one artifact has exactly the contract fields, in this
// order, followed by additions (marked +):
//
//   repository, digest, mediaType, tags[], verdict, reason,
//   policy (string|null), level (string|null),
//   signatures[]: { digest, envelope ("jws"|"cose"|null), scheme, identity,
//                   signingTime, authenticSigningTime (RFC 3339|null),
//                   timestamp (null|{tsa, genTime}), trustStore, chain[],
//                   validations{integrity, authenticity, trustedIdentity,
//                               expiry, authenticTimestamp, revocation,
//                               plugin: "pass"|"fail"|"logged"|"skipped"},
//                   error (string|null),
//                   + reason (signature reason code),
//                   + validUntil (RFC 3339|null),
//                   + findings[]: {check, code, detail} for every validation
//                     that carries a code or a detail, in validation order },
//   blobs: {checked, bad, missing},
//   + error (string|null), + validUntil (RFC 3339|null),
//   + verifiedAt (RFC 3339),
//   + emergency (true), emergencyApprovedBy, emergencyReason,
//     emergencyExpires (RFC 3339): present only on a verdict decided by an
//     emergency policy statement (issue 5), absent otherwise.
//
// The additions make the object a lossless image of ArtifactVerdict:
// FromJson(ToJson(v)) == v field for field, and JSON -> verdict -> JSON is
// byte-identical. Times are UTC RFC 3339 (base::FormatRfc3339).

#include <array>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "engine/verdict.h"

namespace trustgate::engine {

// ReportError is why a record could not be read back or a report written.
enum class ReportError {
  kBadJson = 0,       // not JSON, duplicate keys, too large or too deep
  kMissingField = 1,  // a contract field is absent
  kBadField = 2,      // a field has the wrong type or an unknown value
  kWrite = 3,         // the output stream failed (disk full, closed pipe)
};
std::string_view ToString(ReportError e);

// kMaxRecordBytes bounds one JSON record read back by FromJsonLine.
inline constexpr size_t kMaxRecordBytes = 64 * 1024 * 1024;

// ToJson returns the JSON object of one artifact, fields in contract order.
// Strings are not validated here; ToJsonLine replaces invalid UTF-8.
nlohmann::ordered_json ToJson(const ArtifactVerdict& v);

// ToJsonLine returns ToJson(v) compact on one line, without the trailing
// newline. Invalid UTF-8 in any string (hostile tags, DNs) is replaced by
// U+FFFD, so the line is always valid JSON.
std::string ToJsonLine(const ArtifactVerdict& v);

// FromJson reads an object produced by ToJson back. Every contract field is
// required with its type; the additions default when absent; unknown keys
// are ignored. Fails with kMissingField / kBadField naming the field.
base::Result<ArtifactVerdict, ReportError> FromJson(
    const nlohmann::ordered_json& j);

// FromJsonLine parses one record (as stored in the index) and calls
// FromJson. Rejects duplicate keys, nesting deeper than the format uses and
// input over kMaxRecordBytes with kBadJson.
base::Result<ArtifactVerdict, ReportError> FromJsonLine(std::string_view line);

// Format is the `--format` of the verify and export commands.
enum class Format { kText, kJson, kJsonl };
std::string_view ToString(Format f);  // "text", ...
std::optional<Format> FormatFromString(std::string_view s);

// kReasonCount is the number of Reason codes (kOk .. kMalformed).
inline constexpr size_t kReasonCount = 15;

// Summary counts one run's verdicts. Add() counts an artifact; elapsed time
// is set by the caller (nothing here reads a clock).
struct Summary {
  uint64_t artifacts = 0;
  std::array<uint64_t, 3> by_verdict{};            // indexed by Verdict
  std::array<uint64_t, kReasonCount> by_reason{};  // indexed by Reason
  // signatures_verified: signatures whose integrity check ran (pass or
  // fail), i.e. public-key verifications attempted.
  uint64_t signatures_verified = 0;
  // reused: artifacts whose verdict was re-emitted from the verdict index
  // (incremental re-verification) instead of being verified again.
  uint64_t reused = 0;
  double elapsed_seconds = 0;

  void Add(const ArtifactVerdict& v);
  uint64_t count(Verdict v) const { return by_verdict[static_cast<int>(v)]; }
  uint64_t count(Reason r) const { return by_reason[static_cast<int>(r)]; }
  // ArtifactsPerSecond is artifacts / elapsed_seconds, 0 when no time.
  double ArtifactsPerSecond() const;
};

// SummaryToJson returns the `summary` object of the json document:
// {artifacts, verified, skipped, failed, reasons{<every code>: n},
//  signaturesVerified, reused, reverified, elapsedSeconds,
//  artifactsPerSecond} (reverified = artifacts - reused).
nlohmann::ordered_json SummaryToJson(const Summary& s);

// ReportWriter streams verdicts to `out` (borrowed; not closed) in one
// format. Nothing is held in memory beyond the current artifact:
// - kJsonl: one ToJsonLine per artifact, as it arrives. Finish() writes
//   nothing (the caller prints its summary line to stderr).
// - kJson: `{"artifacts":[` then one compact element per line, comma
//   separated, then `],"summary":{...}}`.
// - kText: one aligned line per artifact, then a summary block.
// Write() may be called from several threads; lines never interleave.
// After the first write error every call returns kWrite.
class ReportWriter {
 public:
  // TextOptions tune the text format.
  struct TextOptions {
    // full_digests prints whole digests; by default the hex is cut to
    // kShortHex characters followed by "…".
    bool full_digests = false;
  };
  static constexpr size_t kShortHex = 12;

  ReportWriter(std::FILE* out, Format format);
  ReportWriter(std::FILE* out, Format format, TextOptions text);
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  // Write prints one artifact (the json document's opening on first use).
  base::Status<ReportError> Write(const ArtifactVerdict& v);

  // WriteRecord prints one artifact given as its ToJsonLine record (a
  // verdict re-emitted from the index) without re-serializing it; the
  // text format parses it back to print TextLine.
  base::Status<ReportError> WriteRecord(std::string_view record);

  // Finish prints the summary (text, json) and closes the json document;
  // flushes `out`. Call once, after the last Write().
  base::Status<ReportError> Finish(const Summary& summary);

 private:
  base::Status<ReportError> Put(std::string_view s);
  base::Status<ReportError> OpenJsonLocked();

  std::FILE* out_;
  Format format_;
  TextOptions text_;
  std::mutex mu_;
  bool opened_ = false;  // json: "{\"artifacts\":[" written
  bool first_ = true;    // json: no element written yet
  bool failed_ = false;
};

// TextLine returns the text-format line of one artifact (no newline), e.g.
// `FAILED    registry.example.com/payments/api@sha256:abcd… (v1.2)
// integrity: <error>`. Control characters of hostile strings are escaped.
std::string TextLine(const ArtifactVerdict& v,
                     const ReportWriter::TextOptions& options);

}  // namespace trustgate::engine
