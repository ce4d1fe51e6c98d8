#include "flags/routing_key.h"

#include <cstdint>

#include "common/utf8.h"
#include "simdjson.h"

namespace sluice::flags {
namespace {

// The pre-key-form rule, unchanged so that stored pipelines keep their buckets.
std::string MinifiedKey(absl::string_view payload, absl::string_view field) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(payload.data(), payload.size()).get(doc)) return "";
  simdjson::dom::element value;
  if (doc[std::string_view(field.data(), field.size())].get(value)) return "";
  std::string_view text;
  if (!value.get(text)) return std::string(text);
  return simdjson::minify(value);
}

// A strict RFC 8259 reader over UTF-8 text that knows where each value's bytes
// are. Iterative, so nesting depth costs heap, not stack; numbers are checked
// against the grammar only, never converted.
class RawReader {
 public:
  explicit RawReader(absl::string_view text) : s_(text) {}

  // Reads the whole text as an object; on success *found tells whether `field` is
  // a member and *key holds the last such member's key.
  bool ReadObject(absl::string_view field, bool* found, std::string* key) {
    *found = false;
    SkipWs();
    if (!Take('{')) return false;
    SkipWs();
    if (!Take('}')) {
      for (;;) {
        SkipWs();
        std::string name;
        if (!String(&name)) return false;
        SkipWs();
        if (!Take(':')) return false;
        SkipWs();
        const size_t start = pos_;
        std::string value;
        if (Peek() == '"') {
          if (!String(&value)) return false;
        } else {
          if (!Value()) return false;
          value.assign(s_.data() + start, pos_ - start);
        }
        if (name == field) {
          *found = true;
          *key = std::move(value);
        }
        SkipWs();
        if (Take('}')) break;
        if (!Take(',')) return false;
      }
    }
    SkipWs();
    return pos_ == s_.size();
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool Take(char c) {
    if (Peek() != c || pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  void SkipWs() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Digits() {
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }
  bool Number() {
    Take('-');
    if (!Take('0')) {
      if (Peek() < '1' || Peek() > '9') return false;
      Digits();
    }
    if (Take('.') && !Digits()) return false;
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (!Take('+')) Take('-');
      if (!Digits()) return false;
    }
    return true;
  }
  bool Literal(absl::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > s_.size()) return false;
    *out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      uint32_t d;
      if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
      else return false;
      *out = *out * 16 + d;
    }
    return true;
  }
  // A string at pos_; its decoded value goes to *out.
  bool String(std::string* out) {
    if (!Take('"')) return false;
    for (;;) {
      if (pos_ >= s_.size()) return false;
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      switch (s_[pos_++]) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (!Literal("\\u") || !Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
  }
  // Any value at pos_ (no leading whitespace), nested containers included.
  bool Value() {
    std::vector<char> open;  // '{' or '[' per enclosing container
    std::string scratch;
    for (;;) {
      // A value starts here.
      SkipWs();
      const char c = Peek();
      if (c == '{' || c == '[') {
        ++pos_;
        SkipWs();
        if (!Take(c == '{' ? '}' : ']')) {
          open.push_back(c);
          if (c == '{' && !MemberName(&scratch)) return false;
          continue;
        }
      } else if (c == '"') {
        scratch.clear();
        if (!String(&scratch)) return false;
      } else if (c == 't') {
        if (!Literal("true")) return false;
      } else if (c == 'f') {
        if (!Literal("false")) return false;
      } else if (c == 'n') {
        if (!Literal("null")) return false;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!Number()) return false;
      } else {
        return false;
      }
      // A value ended: close containers until one continues.
      for (;;) {
        if (open.empty()) return true;
        SkipWs();
        if (Take(',')) {
          if (open.back() == '{' && !MemberName(&scratch)) return false;
          break;
        }
        if (!Take(open.back() == '{' ? '}' : ']')) return false;
        open.pop_back();
      }
    }
  }
  bool MemberName(std::string* scratch) {
    SkipWs();
    scratch->clear();
    if (!String(scratch)) return false;
    SkipWs();
    return Take(':');
  }

  const absl::string_view s_;
  size_t pos_ = 0;
};

std::string RawJsonKey(absl::string_view payload, absl::string_view field) {
  if (!simdjson::validate_utf8(payload.data(), payload.size())) return "";
  RawReader reader(payload);
  bool found = false;
  std::string key;
  if (!reader.ReadObject(field, &found, &key) || !found) return "";
  return key;
}

}  // namespace

std::string JsonFieldKey(absl::string_view payload, absl::string_view field,
                         v1::RoutingKeyForm form) {
  switch (form) {
    case v1::ROUTING_KEY_FORM_UNSPECIFIED:
    case v1::ROUTING_KEY_FORM_MINIFIED:
      return MinifiedKey(payload, field);
    case v1::ROUTING_KEY_FORM_RAW_JSON:
      return RawJsonKey(payload, field);
    default:
      return "";
  }
}

std::string RoutingKeyOf(const v1::Rollout& rollout, const std::optional<std::string>& kafka_key,
                         const std::optional<std::string>& payload) {
  if (rollout.has_json_field()) {
    if (!payload) return "";
    return JsonFieldKey(*payload, rollout.json_field(), rollout.key_form());
  }
  return kafka_key.value_or("");
}

bool SupportsKeyForm(v1::RoutingKeyForm form) {
  return form == v1::ROUTING_KEY_FORM_UNSPECIFIED || form == v1::ROUTING_KEY_FORM_MINIFIED ||
         form == v1::ROUTING_KEY_FORM_RAW_JSON;
}

std::vector<v1::RoutingKeyForm> ExtraKeyForms() { return {v1::ROUTING_KEY_FORM_RAW_JSON}; }

}  // namespace sluice::flags
