#include "crypto/cose.h"

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crypto/base64.h"
#include "crypto/ossl.h"

namespace trustgate::crypto {
namespace {

// ---------------------------------------------------------------------------
// A bounded CBOR reader. libcbor's streaming decoder reads one data item
// head (and a string's bytes) at a time without allocating; we keep the
// items in a flat pre-order vector whose size is bounded by the item
// budget, never by a length the input declares. This is the class of bug
// CVE-2023-25656 was (a declared length trusted before the input was
// checked), so nothing here allocates per declared length.
// ---------------------------------------------------------------------------

// Nesting bound: fxamacker/cbor's default MaxNestedLevels, which go-cose
// (and so notation-core-go) decodes with.
constexpr size_t kMaxCborDepth = 32;
// Item budget for one decode: fxamacker/cbor's default MaxArrayElements
// and MaxMapPairs bound one container at 131072; we bound every item of a
// decode together, which bounds memory at a few MiB.
constexpr size_t kMaxCborItems = 131072;

enum class CborKind : uint8_t {
  kUint,
  kNegInt,  // value n means -1 - n
  kBytes,
  kText,
  kArray,  // value = number of items
  kMap,    // value = number of pairs
  kTag,    // value = tag number; one child
  kFloat,
  kBool,  // value = 0 / 1
  kNull,
  kUndefined,
};

struct CborNode {
  CborKind kind = CborKind::kNull;
  uint64_t value = 0;
  double number = 0;
  base::ByteView bytes;  // kBytes / kText content, a view into the input
  size_t end = 0;        // index one past this node's subtree
};

base::Error<CryptoError> CoseError(CryptoError code, std::string detail) {
  return base::MakeError(code, "COSE envelope: " + std::move(detail));
}

// IsValidUtf8: RFC 3629 (no overlong forms, no surrogates, <= U+10FFFF);
// CBOR text strings must be UTF-8 (RFC 8949 §3.1, fxamacker/cbor rejects
// invalid UTF-8 by default).
bool IsValidUtf8(base::ByteView s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// TagsRule says whether CBOR tags may appear: go-cose decodes the
// COSE_Sign1 array with tags forbidden (decModeWithTagsForbidden) and the
// protected header's content with tags allowed.
enum class TagsRule { kForbidden, kAllowed };

class CborTree {
 public:
  const CborNode& operator[](size_t i) const { return nodes_[i]; }
  size_t size() const { return nodes_.size(); }

  // Children of `i` in order (for a map: key, value, key, value...).
  std::vector<size_t> Children(size_t i) const {
    std::vector<size_t> out;
    for (size_t c = i + 1; c < nodes_[i].end; c = nodes_[c].end) {
      out.push_back(c);
    }
    return out;
  }

  // Decode reads exactly one data item spanning all of `data`.
  static base::Result<CborTree, CryptoError> Decode(base::ByteView data,
                                                    TagsRule tags,
                                                    std::string_view what);

 private:
  struct Open {
    size_t index;
    uint64_t remaining;
  };

  // The libcbor callbacks: each adds one node.
  void Add(CborNode node, uint64_t children);
  void Fail(CryptoError code, std::string detail) {
    if (!error_) {
      error_ = base::MakeError(code, std::move(detail));
    }
  }
  static CborTree* Self(void* context) {
    return static_cast<CborTree*>(context);
  }
  static void OnUint(void* c, uint64_t v) {
    // go-cose decodes integers with IntDecConvertSigned: they must fit in
    // an int64.
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Self(c)->Fail(CryptoError::kMalformed,
                    "an unsigned integer does not fit in 64-bit signed");
      return;
    }
    Self(c)->Add(CborNode{CborKind::kUint, v, 0, {}, 0}, 0);
  }
  static void OnUint8(void* c, uint8_t v) { OnUint(c, v); }
  static void OnUint16(void* c, uint16_t v) { OnUint(c, v); }
  static void OnUint32(void* c, uint32_t v) { OnUint(c, v); }
  static void OnNegInt(void* c, uint64_t v) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Self(c)->Fail(CryptoError::kMalformed,
                    "a negative integer does not fit in 64-bit signed");
      return;
    }
    Self(c)->Add(CborNode{CborKind::kNegInt, v, 0, {}, 0}, 0);
  }
  static void OnNegInt8(void* c, uint8_t v) { OnNegInt(c, v); }
  static void OnNegInt16(void* c, uint16_t v) { OnNegInt(c, v); }
  static void OnNegInt32(void* c, uint32_t v) { OnNegInt(c, v); }
  static void OnBytes(void* c, cbor_data data, size_t length) {
    Self(c)->Add(
        CborNode{CborKind::kBytes, 0, 0, base::ByteView(data, length), 0}, 0);
  }
  static void OnText(void* c, cbor_data data, size_t length) {
    base::ByteView text(data, length);
    if (!IsValidUtf8(text)) {
      Self(c)->Fail(CryptoError::kMalformed,
                    "a text string is not valid UTF-8");
      return;
    }
    Self(c)->Add(CborNode{CborKind::kText, 0, 0, text, 0}, 0);
  }
  static void OnIndefinite(void* c) {
    // go-cose: IndefLength: cbor.IndefLengthForbidden ("no streaming").
    Self(c)->Fail(CryptoError::kMalformed,
                  "indefinite-length items are not allowed");
  }
  static void OnArray(void* c, size_t count) {
    Self(c)->Add(CborNode{CborKind::kArray, count, 0, {}, 0}, count);
  }
  static void OnMap(void* c, size_t pairs) {
    if (pairs > kMaxCborItems) {
      Self(c)->Fail(CryptoError::kTooLarge,
                    "a map declares " + std::to_string(pairs) + " pairs");
      return;
    }
    Self(c)->Add(CborNode{CborKind::kMap, pairs, 0, {}, 0}, 2 * pairs);
  }
  static void OnTag(void* c, uint64_t tag) {
    if (Self(c)->tags_ == TagsRule::kForbidden) {
      Self(c)->Fail(CryptoError::kMalformed,
                    "CBOR tag " + std::to_string(tag) +
                        " is not allowed outside the protected header");
      return;
    }
    Self(c)->Add(CborNode{CborKind::kTag, tag, 0, {}, 0}, 1);
  }
  static void OnFloat(void* c, float f) {
    Self(c)->Add(CborNode{CborKind::kFloat, 0, f, {}, 0}, 0);
  }
  static void OnDouble(void* c, double f) {
    Self(c)->Add(CborNode{CborKind::kFloat, 0, f, {}, 0}, 0);
  }
  static void OnNull(void* c) {
    Self(c)->Add(CborNode{CborKind::kNull, 0, 0, {}, 0}, 0);
  }
  static void OnUndefined(void* c) {
    Self(c)->Add(CborNode{CborKind::kUndefined, 0, 0, {}, 0}, 0);
  }
  static void OnBool(void* c, bool b) {
    Self(c)->Add(CborNode{CborKind::kBool, b ? 1u : 0u, 0, {}, 0}, 0);
  }
  static void OnBreak(void* c) {
    Self(c)->Fail(CryptoError::kMalformed, "unexpected CBOR break code");
  }

  static const cbor_callbacks kCallbacks;

  base::Status<CryptoError> CheckSemantics(std::string_view what) const;

  std::vector<CborNode> nodes_;
  std::vector<Open> open_;
  TagsRule tags_ = TagsRule::kForbidden;
  bool done_ = false;
  std::optional<base::Error<CryptoError>> error_;
};

const cbor_callbacks CborTree::kCallbacks = {
    .uint8 = &CborTree::OnUint8,
    .uint16 = &CborTree::OnUint16,
    .uint32 = &CborTree::OnUint32,
    .uint64 = &CborTree::OnUint,
    .negint64 = &CborTree::OnNegInt,
    .negint32 = &CborTree::OnNegInt32,
    .negint16 = &CborTree::OnNegInt16,
    .negint8 = &CborTree::OnNegInt8,
    .byte_string_start = &CborTree::OnIndefinite,
    .byte_string = &CborTree::OnBytes,
    .string = &CborTree::OnText,
    .string_start = &CborTree::OnIndefinite,
    .indef_array_start = &CborTree::OnIndefinite,
    .array_start = &CborTree::OnArray,
    .indef_map_start = &CborTree::OnIndefinite,
    .map_start = &CborTree::OnMap,
    .tag = &CborTree::OnTag,
    .float2 = &CborTree::OnFloat,
    .float4 = &CborTree::OnFloat,
    .float8 = &CborTree::OnDouble,
    .undefined = &CborTree::OnUndefined,
    .null = &CborTree::OnNull,
    .boolean = &CborTree::OnBool,
    .indef_break = &CborTree::OnBreak,
};

void CborTree::Add(CborNode node, uint64_t children) {
  if (error_) {
    return;
  }
  if (nodes_.size() >= kMaxCborItems || children > kMaxCborItems) {
    Fail(CryptoError::kTooLarge,
         "more than " + std::to_string(kMaxCborItems) + " CBOR items");
    return;
  }
  const size_t index = nodes_.size();
  nodes_.push_back(node);
  if (children > 0) {
    // Arrays, maps and tags nest.
    if (open_.size() + 1 > kMaxCborDepth) {
      Fail(CryptoError::kMalformed, "CBOR nesting deeper than " +
                                        std::to_string(kMaxCborDepth) +
                                        " levels");
      return;
    }
    open_.push_back(Open{index, children});
    return;
  }
  nodes_[index].end = index + 1;
  // Close every container this item completes.
  while (!open_.empty()) {
    Open& top = open_.back();
    if (--top.remaining > 0) {
      return;
    }
    nodes_[top.index].end = nodes_.size();
    open_.pop_back();
  }
  done_ = true;
}

base::Result<CborTree, CryptoError> CborTree::Decode(base::ByteView data,
                                                     TagsRule tags,
                                                     std::string_view what) {
  CborTree tree;
  tree.tags_ = tags;
  size_t offset = 0;
  while (!tree.done_ && !tree.error_) {
    const cbor_decoder_result r = cbor_stream_decode(
        data.data() + offset, data.size() - offset, &kCallbacks, &tree);
    if (r.status == CBOR_DECODER_NEDATA) {
      // Also what a declared length longer than the input gives.
      return CoseError(CryptoError::kMalformed,
                       std::string(what) +
                           " is truncated: an item runs past the end of the "
                           "input");
    }
    if (r.status != CBOR_DECODER_FINISHED) {
      return CoseError(CryptoError::kMalformed,
                       std::string(what) + " is not well-formed CBOR (offset " +
                           std::to_string(offset) + ")");
    }
    offset += r.read;
  }
  if (tree.error_) {
    return CoseError(tree.error_->code,
                     std::string(what) + ": " + std::move(tree.error_->detail));
  }
  if (offset != data.size()) {
    return CoseError(CryptoError::kMalformed,
                     std::string(what) + " has " +
                         std::to_string(data.size() - offset) +
                         " trailing bytes after its CBOR item");
  }
  TG_RETURN_IF_ERROR(tree.CheckSemantics(what));
  return tree;
}

// KeyLess orders map keys by value, so equal keys sort together
// (fxamacker/cbor compares decoded keys, so 1 and its non-minimal encoding
// 0x1801 are the same key). Floats compare by bit pattern.
bool KeyLess(const CborNode& a, const CborNode& b) {
  if (a.kind != b.kind) {
    return a.kind < b.kind;
  }
  switch (a.kind) {
    case CborKind::kBytes:
    case CborKind::kText:
      return std::lexicographical_compare(a.bytes.begin(), a.bytes.end(),
                                          b.bytes.begin(), b.bytes.end());
    case CborKind::kFloat:
      return std::bit_cast<uint64_t>(a.number) <
             std::bit_cast<uint64_t>(b.number);
    default:
      return a.value < b.value;
  }
}

base::Status<CryptoError> CborTree::CheckSemantics(
    std::string_view what) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const CborNode& node = nodes_[i];
    if (node.kind == CborKind::kTag) {
      // RFC 8949 §3.4: the content types of the standard tags (checked by
      // fxamacker/cbor when go-cose decodes them).
      const CborNode& content = nodes_[i + 1];
      bool ok = true;
      switch (node.value) {
        case 0:
          ok = content.kind == CborKind::kText &&
               base::ParseRfc3339(base::AsString(content.bytes)).has_value();
          break;
        case 1:
          ok = content.kind == CborKind::kUint ||
               content.kind == CborKind::kNegInt ||
               (content.kind == CborKind::kFloat &&
                std::isfinite(content.number));
          break;
        case 2:
        case 3:
          ok = content.kind == CborKind::kBytes;
          break;
        default:
          break;
      }
      if (!ok) {
        return CoseError(CryptoError::kMalformed,
                         std::string(what) + ": CBOR tag " +
                             std::to_string(node.value) +
                             " has content of the wrong type");
      }
    } else if (node.kind == CborKind::kMap) {
      // go-cose: DupMapKey: cbor.DupMapKeyEnforcedAPF.
      std::vector<size_t> children = Children(i);
      std::vector<size_t> keys;
      keys.reserve(children.size() / 2);
      for (size_t k = 0; k < children.size(); k += 2) {
        const CborNode& key = nodes_[children[k]];
        if (key.kind == CborKind::kArray || key.kind == CborKind::kMap ||
            key.kind == CborKind::kTag) {
          return CoseError(
              CryptoError::kMalformed,
              std::string(what) + ": a map key is an array, map or tag");
        }
        keys.push_back(children[k]);
      }
      auto less = [this](size_t a, size_t b) {
        return KeyLess(nodes_[a], nodes_[b]);
      };
      std::sort(keys.begin(), keys.end(), less);
      for (size_t k = 1; k < keys.size(); ++k) {
        if (!less(keys[k - 1], keys[k])) {
          return CoseError(CryptoError::kDuplicateKey,
                           std::string(what) + ": a map has a duplicate key");
        }
      }
    }
  }
  return base::Ok{};
}

// ---------------------------------------------------------------------------
// JSON rendering of CBOR values (extended attributes).
// ---------------------------------------------------------------------------

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

int64_t NegIntValue(uint64_t n) { return -static_cast<int64_t>(n) - 1; }

// TimeFromTag1 converts the content of a tag 1 (epoch-based date/time,
// RFC 8949 §3.4.2) to a Time; nullopt when it is outside what Time holds.
std::optional<base::Time> TimeFromTag1(const CborNode& content) {
  constexpr int64_t kMaxSeconds = int64_t{9'000'000'000'000};  // ~ 285,000 y
  switch (content.kind) {
    case CborKind::kUint:
      if (content.value > static_cast<uint64_t>(kMaxSeconds)) {
        return std::nullopt;
      }
      return base::TimeFromUnixSeconds(static_cast<int64_t>(content.value));
    case CborKind::kNegInt:
      if (content.value >= static_cast<uint64_t>(kMaxSeconds)) {
        return std::nullopt;
      }
      return base::TimeFromUnixSeconds(NegIntValue(content.value));
    case CborKind::kFloat:
      if (!std::isfinite(content.number) ||
          std::fabs(content.number) > static_cast<double>(kMaxSeconds)) {
        return std::nullopt;
      }
      return base::Time(std::chrono::microseconds(
          static_cast<int64_t>(content.number * 1e6)));
    default:
      return std::nullopt;
  }
}

// BignumDecimal renders an RFC 8949 §3.4.3 bignum in decimal.
std::string BignumDecimal(base::ByteView magnitude, bool negative) {
  UniqueBignum bn(
      BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), nullptr));
  if (!bn) {
    return "null";
  }
  if (negative) {
    // -1 - n
    if (BN_add_word(bn.get(), 1) != 1) {
      return "null";
    }
    BN_set_negative(bn.get(), 1);
  }
  char* dec = BN_bn2dec(bn.get());
  if (dec == nullptr) {
    return "null";
  }
  std::string out(dec);
  OPENSSL_free(dec);
  return out;
}

void RenderJson(const CborTree& tree, size_t i, std::string* out);

// RenderKey renders a map key as a JSON object name.
void RenderKey(const CborTree& tree, size_t i, std::string* out) {
  const CborNode& key = tree[i];
  if (key.kind == CborKind::kText) {
    AppendJsonString(base::AsString(key.bytes), out);
    return;
  }
  std::string rendered;
  RenderJson(tree, i, &rendered);
  if (key.kind == CborKind::kBytes) {
    out->append(rendered);  // already a JSON string
  } else {
    AppendJsonString(rendered, out);
  }
}

void RenderJson(const CborTree& tree, size_t i, std::string* out) {
  const CborNode& node = tree[i];
  switch (node.kind) {
    case CborKind::kUint:
      out->append(std::to_string(node.value));
      return;
    case CborKind::kNegInt:
      out->append(std::to_string(NegIntValue(node.value)));
      return;
    case CborKind::kBytes:
      // As Go's encoding/json renders []byte.
      AppendJsonString(EncodeBase64(node.bytes, Base64Variant::kStandardPadded),
                       out);
      return;
    case CborKind::kText:
      AppendJsonString(base::AsString(node.bytes), out);
      return;
    case CborKind::kArray: {
      out->push_back('[');
      bool first = true;
      for (size_t c : tree.Children(i)) {
        if (!first) {
          out->push_back(',');
        }
        first = false;
        RenderJson(tree, c, out);
      }
      out->push_back(']');
      return;
    }
    case CborKind::kMap: {
      out->push_back('{');
      std::vector<size_t> children = tree.Children(i);
      for (size_t k = 0; k + 1 < children.size(); k += 2) {
        if (k > 0) {
          out->push_back(',');
        }
        RenderKey(tree, children[k], out);
        out->push_back(':');
        RenderJson(tree, children[k + 1], out);
      }
      out->push_back('}');
      return;
    }
    case CborKind::kTag: {
      const CborNode& content = tree[i + 1];
      if (node.value == 0) {
        AppendJsonString(base::AsString(content.bytes), out);
        return;
      }
      if (node.value == 1) {
        std::optional<base::Time> t = TimeFromTag1(content);
        if (t) {
          AppendJsonString(base::FormatRfc3339(*t), out);
        } else {
          out->append("null");
        }
        return;
      }
      if (node.value == 2 || node.value == 3) {
        out->append(BignumDecimal(content.bytes, node.value == 3));
        return;
      }
      RenderJson(tree, i + 1, out);
      return;
    }
    case CborKind::kFloat: {
      if (!std::isfinite(node.number)) {
        out->append("null");
        return;
      }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", node.number);
      out->append(buf);
      return;
    }
    case CborKind::kBool:
      out->append(node.value != 0 ? "true" : "false");
      return;
    case CborKind::kNull:
    case CborKind::kUndefined:
      out->append("null");
      return;
  }
}

// ---------------------------------------------------------------------------
// COSE headers.
// ---------------------------------------------------------------------------

// COSE header labels (RFC 9052 §3.1, RFC 9360 §2, IANA registry).
constexpr int64_t kLabelAlg = 1;
constexpr int64_t kLabelCrit = 2;
constexpr int64_t kLabelContentType = 3;
constexpr int64_t kLabelKid = 4;
constexpr int64_t kLabelIv = 5;
constexpr int64_t kLabelPartialIv = 6;
constexpr int64_t kLabelCounterSignature = 7;
constexpr int64_t kLabelCounterSignature0 = 9;
constexpr int64_t kLabelCounterSignatureV2 = 11;
constexpr int64_t kLabelCounterSignature0V2 = 12;
constexpr int64_t kLabelType = 16;
constexpr int64_t kLabelX5Chain = 33;

// A header label: int or tstr (RFC 9052 §1.5, go-cose
// validateHeaderLabelCBOR).
struct Label {
  bool is_int = false;
  int64_t number = 0;
  std::string_view text;

  bool Is(int64_t n) const { return is_int && number == n; }
  bool Is(std::string_view t) const { return !is_int && text == t; }
  bool operator==(const Label& o) const {
    return is_int == o.is_int && (is_int ? number == o.number : text == o.text);
  }
  bool operator<(const Label& o) const {
    if (is_int != o.is_int) {
      return is_int;
    }
    return is_int ? number < o.number : text < o.text;
  }
  std::string ToString() const {
    return is_int ? std::to_string(number) : std::string(text);
  }
};

base::Result<Label, CryptoError> ReadLabel(const CborNode& node) {
  switch (node.kind) {
    case CborKind::kUint:
      return Label{true, static_cast<int64_t>(node.value), {}};
    case CborKind::kNegInt:
      return Label{true, NegIntValue(node.value), {}};
    case CborKind::kText:
      return Label{false, 0, base::AsString(node.bytes)};
    default:
      return CoseError(CryptoError::kMalformed,
                       "a header label is neither an integer nor a text "
                       "string");
  }
}

struct Header {
  std::vector<std::pair<Label, size_t>> entries;  // label, value node
  std::map<Label, size_t> index;                  // the same, for look-ups

  bool Has(const Label& l) const { return index.count(l) != 0; }
  std::optional<size_t> Value(const Label& l) const {
    auto it = index.find(l);
    return it == index.end() ? std::nullopt : std::optional<size_t>(it->second);
  }
  std::optional<size_t> Value(int64_t n) const {
    return Value(Label{true, n, {}});
  }
  std::optional<size_t> Value(std::string_view t) const {
    return Value(Label{false, 0, t});
  }
};

base::Result<Header, CryptoError> ReadHeader(const CborTree& tree, size_t map) {
  Header h;
  std::vector<size_t> children = tree.Children(map);
  for (size_t k = 0; k + 1 < children.size(); k += 2) {
    TG_ASSIGN_OR_RETURN(Label label, ReadLabel(tree[children[k]]));
    h.entries.emplace_back(label, children[k + 1]);
    h.index.emplace(label, children[k + 1]);
  }
  return h;
}

// IsMediaTypeText applies go-cose's check on content type / type text
// values: non-empty, no leading or trailing space, exactly one '/'.
bool IsMediaTypeText(std::string_view v) {
  return !v.empty() && v.front() != ' ' && v.back() != ' ' &&
         std::count(v.begin(), v.end(), '/') == 1;
}

// IsCountersignature checks the shape of a COSE_Countersignature
// ([protected bstr, unprotected map, signature bstr], RFC 9338 §3.1).
bool IsCountersignature(const CborTree& tree, size_t i) {
  if (tree[i].kind != CborKind::kArray || tree[i].value != 3) {
    return false;
  }
  std::vector<size_t> c = tree.Children(i);
  return tree[c[0]].kind == CborKind::kBytes &&
         tree[c[1]].kind == CborKind::kMap &&
         tree[c[2]].kind == CborKind::kBytes && !tree[c[2]].bytes.empty();
}

// ValidateGenericParameters applies RFC 9052 §3.1's rules for the common
// parameters as go-cose's validateHeaderParameters enforces them when it
// decodes the message (so Notation refuses what fails here).
base::Status<CryptoError> ValidateGenericParameters(const CborTree& tree,
                                                    const Header& h,
                                                    bool is_protected) {
  const std::string where =
      is_protected ? "protected header" : "unprotected header";
  auto bad = [&](std::string detail) {
    return CoseError(CryptoError::kBadAttribute, where + ": " + detail);
  };
  for (const auto& [label, value] : h.entries) {
    if (!label.is_int) {
      continue;
    }
    const CborNode& v = tree[value];
    const bool is_int =
        v.kind == CborKind::kUint || v.kind == CborKind::kNegInt;
    switch (label.number) {
      case kLabelAlg:
        if (!is_int && v.kind != CborKind::kText) {
          return bad("alg (1) must be an integer or text");
        }
        break;
      case kLabelCrit: {
        if (!is_protected) {
          return bad("crit (2) is only allowed in the protected header");
        }
        if (v.kind != CborKind::kArray || v.value == 0) {
          return bad("crit (2) must be a non-empty array");
        }
        for (size_t c : tree.Children(value)) {
          auto crit_label = ReadLabel(tree[c]);
          if (!crit_label.ok()) {
            return bad("crit (2) entries must be integers or text");
          }
          // RFC 9052 §3.1: every label in crit MUST be present in the
          // protected header (go-cose ensureCritical).
          if (!h.Has(*crit_label)) {
            return CoseError(CryptoError::kMalformed,
                             "\"" + crit_label->ToString() +
                                 "\" is listed in crit but is not in the "
                                 "protected header");
          }
        }
        break;
      }
      case kLabelContentType:
      case kLabelType:
        if (!(v.kind == CborKind::kUint ||
              (v.kind == CborKind::kText &&
               IsMediaTypeText(base::AsString(v.bytes))))) {
          return bad("label " + std::to_string(label.number) +
                     " must be an unsigned integer or a type/subtype text");
        }
        break;
      case kLabelKid:
      case kLabelIv:
      case kLabelPartialIv:
        if (v.kind != CborKind::kBytes) {
          return bad("label " + std::to_string(label.number) +
                     " must be a byte string");
        }
        if ((label.number == kLabelIv && h.Value(kLabelPartialIv)) ||
            (label.number == kLabelPartialIv && h.Value(kLabelIv))) {
          return bad("IV (5) and Partial IV (6) must not both be present");
        }
        break;
      case kLabelCounterSignature0:
      case kLabelCounterSignature0V2:
        if (is_protected || v.kind != CborKind::kBytes) {
          return bad("label " + std::to_string(label.number) +
                     " must be an unprotected byte string");
        }
        break;
      case kLabelCounterSignature:
      case kLabelCounterSignatureV2: {
        if (is_protected) {
          return bad(
              "countersignatures are not allowed in the protected "
              "header");
        }
        bool ok = IsCountersignature(tree, value);
        if (!ok && v.kind == CborKind::kArray) {
          ok = true;
          for (size_t c : tree.Children(value)) {
            ok = ok && IsCountersignature(tree, c);
          }
        }
        if (!ok) {
          return bad("label " + std::to_string(label.number) +
                     " is not a countersignature or a list of them");
        }
        break;
      }
      default:
        break;
    }
  }
  return base::Ok{};
}

// ReadTimeLabel reads a Notary time attribute: CBOR tag 1 (epoch-based
// date/time) only (signature-envelope-cose.md; notation-core-go parseTime
// accepts tag 1 with integer or floating-point content and refuses tag 0).
base::Result<base::Time, CryptoError> ReadTimeLabel(const CborTree& tree,
                                                    size_t value,
                                                    std::string_view name) {
  const CborNode& v = tree[value];
  if (v.kind != CborKind::kTag || v.value != 1) {
    return CoseError(
        CryptoError::kBadAttribute,
        std::string(name) + " must be an epoch-based date/time (CBOR tag 1)");
  }
  std::optional<base::Time> t = TimeFromTag1(tree[value + 1]);
  if (!t) {
    return CoseError(CryptoError::kBadAttribute,
                     std::string(name) + " is out of range");
  }
  return *t;
}

// ReadPluginAttribute applies notation-go's rules for the two
// verification-plugin attributes: critical, a string, not blank.
base::Result<std::string, CryptoError> ReadPluginAttribute(
    const CborTree& tree, size_t value, std::string_view name, bool critical) {
  if (!critical) {
    return CoseError(CryptoError::kBadAttribute,
                     std::string(name) + " must be listed in crit");
  }
  const CborNode& v = tree[value];
  if (v.kind != CborKind::kText) {
    return CoseError(CryptoError::kBadAttribute,
                     std::string(name) + " must be a text string");
  }
  const std::string_view text = base::AsString(v.bytes);
  if (text.find_first_not_of(" \t\n\r\v\f") == std::string_view::npos) {
    return CoseError(CryptoError::kBadAttribute,
                     std::string(name) + " must not be blank");
  }
  return std::string(text);
}

// ApplyProtectedHeader checks the protected header against the Notary
// Project rules (signature-envelope-cose.md "Protected Header";
// notation-core-go cose parseProtectedHeaders / validateCritHeaders) and
// fills the signed attributes of `envelope`.
base::Status<CryptoError> ApplyProtectedHeader(const CborTree& tree,
                                               const Header& h,
                                               Envelope* envelope) {
  // crit: REQUIRED; its entries are present (checked above).
  std::vector<Label> crit;
  if (auto crit_node = h.Value(kLabelCrit)) {
    for (size_t c : tree.Children(*crit_node)) {
      TG_ASSIGN_OR_RETURN(Label l, ReadLabel(tree[c]));
      crit.push_back(l);
    }
  }
  if (crit.empty()) {
    return CoseError(CryptoError::kMissingAttribute,
                     "protected header crit (2) is missing");
  }
  const std::set<Label> crit_set(crit.begin(), crit.end());
  auto is_critical = [&](const Label& l) { return crit_set.count(l) != 0; };

  // io.cncf.notary.signingScheme: REQUIRED text, one of two values.
  auto scheme_node = h.Value(kHeaderSigningScheme);
  if (!scheme_node) {
    return CoseError(CryptoError::kMissingAttribute,
                     std::string(kHeaderSigningScheme) + " is missing");
  }
  if (tree[*scheme_node].kind != CborKind::kText) {
    return CoseError(
        CryptoError::kBadAttribute,
        std::string(kHeaderSigningScheme) + " must be a text string");
  }
  const std::string_view scheme = base::AsString(tree[*scheme_node].bytes);
  if (scheme == ToString(SigningScheme::kX509)) {
    envelope->scheme = SigningScheme::kX509;
  } else if (scheme == ToString(SigningScheme::kX509SigningAuthority)) {
    envelope->scheme = SigningScheme::kX509SigningAuthority;
  } else {
    return CoseError(
        CryptoError::kBadAttribute,
        "unsupported signing scheme \"" + std::string(scheme) + "\"");
  }

  // crit MUST list the signing scheme, the authentic signing time under
  // signingAuthority, and the expiry when present.
  std::vector<std::string_view> must_be_critical = {kHeaderSigningScheme};
  if (envelope->scheme == SigningScheme::kX509SigningAuthority) {
    must_be_critical.push_back(kHeaderAuthenticSigningTime);
  }
  if (h.Value(kHeaderExpiry)) {
    must_be_critical.push_back(kHeaderExpiry);
  }
  for (std::string_view name : must_be_critical) {
    if (!is_critical(Label{false, 0, name})) {
      return CoseError(CryptoError::kBadAttribute,
                       "\"" + std::string(name) + "\" must be listed in crit");
    }
  }

  // alg (1): REQUIRED, one of the six Notary Project algorithms.
  auto alg_node = h.Value(kLabelAlg);
  if (!alg_node) {
    return CoseError(CryptoError::kMissingAttribute,
                     "protected header alg (1) is missing");
  }
  const CborNode& alg = tree[*alg_node];
  if (alg.kind != CborKind::kUint && alg.kind != CborKind::kNegInt) {
    return CoseError(CryptoError::kUnsupportedAlgorithm,
                     "alg (1) is not one of the Notary Project algorithm "
                     "identifiers");
  }
  const int64_t alg_id = alg.kind == CborKind::kUint
                             ? static_cast<int64_t>(alg.value)
                             : NegIntValue(alg.value);
  auto algorithm = AlgorithmFromCoseId(alg_id);
  if (!algorithm.ok()) {
    return CoseError(algorithm.code(),
                     "alg " + std::to_string(alg_id) +
                         " is not a Notary Project algorithm (-37, -38, -39, "
                         "-7, -35, -36)");
  }
  envelope->algorithm = *algorithm;

  // The time of the scheme: REQUIRED. The other scheme's time label is a
  // Notary label and not an extended attribute; notation-core-go's COSE
  // path ignores it (its JWS path refuses it).
  const std::string_view time_name = envelope->scheme == SigningScheme::kX509
                                         ? kHeaderSigningTime
                                         : kHeaderAuthenticSigningTime;
  auto time_node = h.Value(time_name);
  if (!time_node) {
    return CoseError(
        CryptoError::kMissingAttribute,
        std::string(time_name) + " is required under " + std::string(scheme));
  }
  TG_ASSIGN_OR_RETURN(base::Time signed_at,
                      ReadTimeLabel(tree, *time_node, time_name));
  if (envelope->scheme == SigningScheme::kX509) {
    envelope->signing_time = signed_at;
  } else {
    envelope->authentic_signing_time = signed_at;
  }
  if (auto expiry_node = h.Value(kHeaderExpiry)) {
    TG_ASSIGN_OR_RETURN(envelope->expiry,
                        ReadTimeLabel(tree, *expiry_node, kHeaderExpiry));
  }

  // content type (3): REQUIRED text (notation-core-go: "content type
  // should be of 'tstr' type"); its value is checked in FinishEnvelope.
  auto cty_node = h.Value(kLabelContentType);
  if (!cty_node) {
    return CoseError(CryptoError::kMissingAttribute,
                     "protected header content type (3) is missing");
  }
  if (tree[*cty_node].kind != CborKind::kText) {
    return CoseError(CryptoError::kBadContentType,
                     "content type (3) must be a text string");
  }
  envelope->content_type = std::string(base::AsString(tree[*cty_node].bytes));

  for (const Label& l : crit) {
    envelope->critical.push_back(l.ToString());
  }

  // Extended attributes: every other label (notation-core-go
  // validateCritHeaders "systemHeaders"), critical iff listed in crit.
  std::optional<size_t> min_version;
  for (const auto& [label, value] : h.entries) {
    if (label.Is(kLabelAlg) || label.Is(kLabelCrit) ||
        label.Is(kLabelContentType) || label.Is(kHeaderExpiry) ||
        label.Is(kHeaderSigningScheme) || label.Is(kHeaderSigningTime) ||
        label.Is(kHeaderAuthenticSigningTime)) {
      continue;
    }
    if (label.Is(kHeaderVerificationPlugin)) {
      TG_ASSIGN_OR_RETURN(
          envelope->verification_plugin,
          ReadPluginAttribute(tree, value, label.text, is_critical(label)));
      continue;
    }
    if (label.Is(kHeaderVerificationPluginMinVersion)) {
      min_version = value;
      continue;
    }
    ExtendedAttribute attribute;
    attribute.key = label.ToString();
    RenderJson(tree, value, &attribute.value);
    attribute.critical = is_critical(label);
    attribute.integer_label = label.is_int;
    envelope->extended_attributes.push_back(std::move(attribute));
  }
  // notation-go reads the minimum version only when a plugin is named.
  if (min_version && envelope->verification_plugin) {
    const Label l{false, 0, kHeaderVerificationPluginMinVersion};
    TG_ASSIGN_OR_RETURN(
        envelope->verification_plugin_min_version,
        ReadPluginAttribute(tree, *min_version, l.text, is_critical(l)));
  }
  return base::Ok{};
}

// AppendHead appends a minimal CBOR head (RFC 8949 §4.2.1) of major type
// `major` with argument `n`.
void AppendHead(uint8_t major, uint64_t n, base::Bytes* out) {
  unsigned char buf[9];
  size_t written = 0;
  switch (major) {
    case 2:
      written = cbor_encode_bytestring_start(n, buf, sizeof buf);
      break;
    case 3:
      written = cbor_encode_string_start(n, buf, sizeof buf);
      break;
    case 4:
      written = cbor_encode_array_start(n, buf, sizeof buf);
      break;
    default:
      break;
  }
  out->insert(out->end(), buf, buf + written);
}

}  // namespace

base::Result<Envelope, CryptoError> ParseCose(base::ByteView bytes,
                                              ParseOptions options) {
  if (bytes.size() > kMaxEnvelopeBytes) {
    return CoseError(CryptoError::kTooLarge,
                     std::to_string(bytes.size()) + " bytes; at most " +
                         std::to_string(kMaxEnvelopeBytes) + " are accepted");
  }
  // signature-envelope-cose.md "Signature Envelope": COSE_Sign1_Tagged.
  // go-cose requires the exact prefix 0xd2 0x84: tag 18 in its one-byte
  // form, then a definite array of four items.
  if (bytes.empty()) {
    return CoseError(CryptoError::kMalformed, "the envelope is empty");
  }
  const uint8_t first = bytes[0];
  if (first != 0xd2) {
    if ((first >> 5) == 4) {
      return CoseError(CryptoError::kMalformed,
                       "an untagged COSE_Sign1; Notation requires the "
                       "COSE_Sign1_Tagged form (tag 18)");
    }
    if ((first >> 5) == 6) {
      return CoseError(CryptoError::kMalformed,
                       "the CBOR tag is not 18 (COSE_Sign1) in its one-byte "
                       "form");
    }
    return CoseError(CryptoError::kMalformed, "not a COSE_Sign1 message");
  }
  if (bytes.size() < 2 || bytes[1] != 0x84) {
    return CoseError(CryptoError::kMalformed,
                     "COSE_Sign1 must be a definite-length array of four "
                     "items");
  }
  TG_ASSIGN_OR_RETURN(
      CborTree message,
      CborTree::Decode(bytes.subspan(1), TagsRule::kForbidden, "COSE_Sign1"));
  // RFC 9052 §4.2: [protected: bstr, unprotected: map, payload: bstr / nil,
  // signature: bstr].
  const std::vector<size_t> parts = message.Children(0);
  const CborNode& protected_node = message[parts[0]];
  const CborNode& unprotected_node = message[parts[1]];
  const CborNode& payload_node = message[parts[2]];
  const CborNode& signature_node = message[parts[3]];
  if (protected_node.kind != CborKind::kBytes) {
    return CoseError(CryptoError::kMalformed,
                     "the protected header must be a byte string");
  }
  if (unprotected_node.kind != CborKind::kMap) {
    return CoseError(CryptoError::kMalformed,
                     "the unprotected header must be a map");
  }
  if (payload_node.kind == CborKind::kNull) {
    return CoseError(CryptoError::kMissingAttribute,
                     "the payload is detached; Notation embeds it");
  }
  if (payload_node.kind != CborKind::kBytes) {
    return CoseError(CryptoError::kMalformed,
                     "the payload must be a byte string");
  }
  if (signature_node.kind != CborKind::kBytes) {
    return CoseError(CryptoError::kMalformed,
                     "the signature must be a byte string");
  }

  // The protected header: empty_or_serialized_map (RFC 9052 §3). An empty
  // one has no alg and fails below.
  const base::ByteView protected_bytes = protected_node.bytes;
  std::optional<CborTree> protected_tree;
  Header protected_header;
  if (!protected_bytes.empty()) {
    if ((protected_bytes[0] >> 5) != 5) {
      return CoseError(CryptoError::kMalformed,
                       "the protected header does not hold a CBOR map");
    }
    TG_ASSIGN_OR_RETURN(protected_tree,
                        CborTree::Decode(protected_bytes, TagsRule::kAllowed,
                                         "protected header"));
    TG_ASSIGN_OR_RETURN(protected_header, ReadHeader(*protected_tree, 0));
    TG_RETURN_IF_ERROR(ValidateGenericParameters(
        *protected_tree, protected_header, /*is_protected=*/true));
  }
  TG_ASSIGN_OR_RETURN(Header unprotected_header, ReadHeader(message, parts[1]));
  TG_RETURN_IF_ERROR(ValidateGenericParameters(message, unprotected_header,
                                               /*is_protected=*/false));
  // go-cose ensureIV: IV and Partial IV not split across the two headers.
  if ((protected_header.Value(kLabelIv) &&
       unprotected_header.Value(kLabelPartialIv)) ||
      (protected_header.Value(kLabelPartialIv) &&
       unprotected_header.Value(kLabelIv))) {
    return CoseError(CryptoError::kBadAttribute,
                     "IV (5) and Partial IV (6) must not both be present");
  }

  Envelope envelope;
  envelope.format = EnvelopeFormat::kCose;
  if (!protected_tree) {
    return CoseError(CryptoError::kMissingAttribute,
                     "the protected header is empty (no alg)");
  }
  TG_RETURN_IF_ERROR(
      ApplyProtectedHeader(*protected_tree, protected_header, &envelope));

  envelope.payload.assign(payload_node.bytes.begin(), payload_node.bytes.end());
  envelope.signature.assign(signature_node.bytes.begin(),
                            signature_node.bytes.end());

  // Unprotected header (signature-envelope-cose.md "Unprotected Headers").
  std::vector<base::ByteView> chain_der;
  if (auto x5chain = unprotected_header.Value(kLabelX5Chain)) {
    // signature-envelope-cose.md: x5chain is an array of bstr. RFC 9360
    // also allows a lone bstr for one certificate; notation-core-go does
    // not ("certificate chain is not present"), and neither do we.
    const CborNode& chain = message[*x5chain];
    if (chain.kind != CborKind::kArray) {
      return CoseError(CryptoError::kMalformed,
                       "x5chain (33) must be an array of byte strings");
    }
    for (size_t c : message.Children(*x5chain)) {
      if (message[c].kind != CborKind::kBytes) {
        return CoseError(CryptoError::kMalformed,
                         "x5chain (33) must be an array of byte strings");
      }
      chain_der.push_back(message[c].bytes);
    }
  }
  // notation-core-go reads these two only when they have the right type
  // and ignores them otherwise.
  if (auto token = unprotected_header.Value(kHeaderTimestampSignature)) {
    if (message[*token].kind == CborKind::kBytes &&
        !message[*token].bytes.empty()) {
      envelope.timestamp_token = base::Bytes(message[*token].bytes.begin(),
                                             message[*token].bytes.end());
    }
  }
  if (auto agent = unprotected_header.Value(kHeaderSigningAgent)) {
    if (message[*agent].kind == CborKind::kText) {
      envelope.signing_agent =
          std::string(base::AsString(message[*agent].bytes));
    }
  }

  // RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected,
  // external_aad = h'', payload], encoded with minimal heads (go-cose
  // re-encodes the protected bstr head deterministically).
  constexpr std::string_view kContext = "Signature1";
  base::Bytes& tbs = envelope.signed_bytes;
  tbs.reserve(32 + protected_bytes.size() + envelope.payload.size());
  AppendHead(4, 4, &tbs);
  AppendHead(3, kContext.size(), &tbs);
  tbs.insert(tbs.end(), kContext.begin(), kContext.end());
  AppendHead(2, protected_bytes.size(), &tbs);
  tbs.insert(tbs.end(), protected_bytes.begin(), protected_bytes.end());
  AppendHead(2, 0, &tbs);
  AppendHead(2, envelope.payload.size(), &tbs);
  tbs.insert(tbs.end(), envelope.payload.begin(), envelope.payload.end());

  TG_RETURN_IF_ERROR(internal::FinishEnvelope(&envelope, chain_der, options));
  return envelope;
}

}  // namespace trustgate::crypto
