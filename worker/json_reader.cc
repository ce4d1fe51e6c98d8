#include "worker/json_reader.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_pointer.h"
#include "common/utf8.h"

namespace sluice::worker {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint32_t Hex4(absl::string_view s, size_t at) {
  uint32_t code = 0;
  for (size_t i = 0; i < 4; ++i) code = code * 16 + static_cast<uint32_t>(HexValue(s[at + i]));
  return code;
}

}  // namespace

JsonPointerSet::JsonPointerSet(const std::vector<std::vector<std::string>>& pointers)
    : nodes_(1), slots_(pointers.size()) {
  for (size_t slot = 0; slot < pointers.size(); ++slot) {
    int node = 0;
    nodes_[0].subtree_slots.push_back(static_cast<int>(slot));
    for (const std::string& token : pointers[slot]) {
      int next = -1;
      for (const Child& c : nodes_[node].children) {
        if (c.token == token) next = c.node;
      }
      if (next < 0) {
        next = static_cast<int>(nodes_.size());
        Child child;
        child.token = token;
        child.is_index = JsonPointerIndex(token, &child.index);
        child.node = next;
        nodes_[node].children.push_back(std::move(child));
        nodes_.emplace_back();
      }
      node = next;
      nodes_[node].subtree_slots.push_back(static_cast<int>(slot));
    }
    nodes_[node].slots.push_back(static_cast<int>(slot));
  }
}

int JsonPointerSet::ChildOf(int node, absl::string_view member) const {
  for (const Child& c : nodes_[node].children) {
    if (c.token == member) return c.node;
  }
  return -1;
}

int JsonPointerSet::ElementOf(int node, uint32_t index) const {
  for (const Child& c : nodes_[node].children) {
    if (c.is_index && c.index == index) return c.node;
  }
  return -1;
}

class JsonReader {
 public:
  JsonReader(absl::string_view s, const JsonPointerSet& pointers, std::vector<JsonSpan>* spans)
      : s_(s), set_(pointers), spans_(spans) {
    if (spans_ != nullptr) spans_->assign(set_.size(), JsonSpan());
  }

  absl::Status Read() {
    // The open containers, innermost last; a vector rather than recursion, so
    // depth is bounded by memory only (PostgreSQL's own bound is its stack).
    std::vector<Frame> open;
    SkipWhitespace();
    // The pointer-tree node of the value that starts next (-1: none reads it).
    int node = set_.size() > 0 ? 0 : -1;
    while (true) {
      // A value is expected at pos_.
      if (AtEnd()) return Error("unexpected end of input");
      const size_t begin = pos_;
      if (node >= 0) Forget(node);
      const char c = s_[pos_];
      if (c == '[' || c == '{') {
        ++pos_;
        SkipWhitespace();
        const char close = c == '[' ? ']' : '}';
        if (!AtEnd() && s_[pos_] == close) {
          ++pos_;
          Found(node, begin);
        } else {
          open.push_back(Frame{c, node, begin, 0});
          if (c == '{') {
            if (absl::Status s = Key(node, &node); !s.ok()) return s;
          } else {
            node = node >= 0 ? set_.ElementOf(node, 0) : -1;
          }
          continue;
        }
      } else if (c == '"') {
        if (absl::Status s = String(nullptr); !s.ok()) return s;
        Found(node, begin);
      } else if (c == '-' || IsDigit(c)) {
        if (absl::Status s = Number(); !s.ok()) return s;
        Found(node, begin);
      } else if (c == 't' || c == 'f' || c == 'n') {
        if (absl::Status s = Literal(); !s.ok()) return s;
        Found(node, begin);
      } else {
        return Error("expected a value");
      }
      // A value ended: close containers until one expects another member.
      while (true) {
        SkipWhitespace();
        if (open.empty()) {
          if (!AtEnd()) return Error("unexpected content after the value");
          return absl::OkStatus();
        }
        if (AtEnd()) return Error("unexpected end of input");
        Frame& in = open.back();
        const char d = s_[pos_];
        if (d == ',') {
          ++pos_;
          SkipWhitespace();
          if (in.kind == '{') {
            if (absl::Status s = Key(in.node, &node); !s.ok()) return s;
          } else {
            ++in.elements;
            node = in.node >= 0 ? set_.ElementOf(in.node, in.elements) : -1;
          }
          break;
        }
        if (d == (in.kind == '[' ? ']' : '}')) {
          ++pos_;
          Found(in.node, in.begin);
          open.pop_back();
          continue;
        }
        return Error(in.kind == '[' ? "expected \",\" or \"]\"" : "expected \",\" or \"}\"");
      }
    }
  }

 private:
  struct Frame {
    char kind;          // '[' or '{'
    int node;           // the container's pointer-tree node, -1 when none reads it
    size_t begin;       // where the container starts
    uint32_t elements;  // elements before the current one (arrays)
  };

  bool AtEnd() const { return pos_ >= s_.size(); }

  absl::Status Error(absl::string_view what) const {
    if (AtEnd()) return absl::InvalidArgumentError(what);
    return absl::InvalidArgumentError(absl::StrCat(what, " at byte ", pos_));
  }

  // A later member of the same name replaces what an earlier one gave the
  // pointers at and below `node`.
  void Forget(int node) {
    for (int slot : set_.nodes_[node].subtree_slots) (*spans_)[slot].found = false;
  }
  void Found(int node, size_t begin) {
    if (node < 0) return;
    for (int slot : set_.nodes_[node].slots) (*spans_)[slot] = JsonSpan{begin, pos_, true};
  }

  void SkipWhitespace() {
    while (!AtEnd() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  // An object member's key and colon, leaving pos_ at its value and *member at the
  // pointer-tree node of the member (-1 when none reads it) of container `node`.
  absl::Status Key(int node, int* member) {
    if (AtEnd()) return Error("unexpected end of input");
    if (s_[pos_] != '"') return Error("expected a string key");
    const bool wanted = node >= 0 && !set_.nodes_[node].children.empty();
    if (wanted) key_.clear();
    if (absl::Status s = String(wanted ? &key_ : nullptr); !s.ok()) return s;
    *member = wanted ? set_.ChildOf(node, key_) : -1;
    SkipWhitespace();
    if (AtEnd()) return Error("unexpected end of input");
    if (s_[pos_] != ':') return Error("expected \":\"");
    ++pos_;
    SkipWhitespace();
    return absl::OkStatus();
  }

  // A string at pos_; its value goes to *decoded when given.
  absl::Status String(std::string* decoded) {
    const size_t begin = pos_;
    ++pos_;  // the opening quote
    // A \u high surrogate must be followed at once by a \u low surrogate, and a low
    // surrogate must follow a high one (PostgreSQL refuses either alone).
    bool high_surrogate = false;
    while (true) {
      if (AtEnd()) return Error("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        if (high_surrogate) return Error("Unicode low surrogate must follow a high surrogate");
        ++pos_;
        if (decoded != nullptr) AppendJsonStringValue(s_.substr(begin, pos_ - begin), decoded);
        return absl::OkStatus();
      }
      if (c < 0x20) {
        return Error(absl::StrFormat("character with value 0x%02x must be escaped", c));
      }
      if (c != '\\') {
        if (high_surrogate) return Error("Unicode low surrogate must follow a high surrogate");
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= s_.size()) return Error("unterminated string");
      const char e = s_[pos_ + 1];
      if (e != 'u') {
        if (high_surrogate) return Error("Unicode low surrogate must follow a high surrogate");
        if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
            e != 't') {
          return Error("invalid escape sequence");
        }
        pos_ += 2;
        continue;
      }
      unsigned code = 0;
      for (size_t i = 2; i < 6; ++i) {
        const int h = pos_ + i < s_.size() ? HexValue(s_[pos_ + i]) : -1;
        if (h < 0) return Error("\"\\u\" must be followed by four hexadecimal digits");
        code = code * 16 + static_cast<unsigned>(h);
      }
      if (code >= 0xd800 && code <= 0xdbff) {
        if (high_surrogate) return Error("Unicode high surrogate must not follow a high surrogate");
        high_surrogate = true;
      } else if (code >= 0xdc00 && code <= 0xdfff) {
        if (!high_surrogate) return Error("Unicode low surrogate must follow a high surrogate");
        high_surrogate = false;
      } else if (high_surrogate) {
        return Error("Unicode low surrogate must follow a high surrogate");
      }
      pos_ += 6;
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? of any length and exponent.
  absl::Status Number() {
    if (s_[pos_] == '-') ++pos_;
    if (AtEnd() || !IsDigit(s_[pos_])) return Error("expected a digit");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (!AtEnd() && IsDigit(s_[pos_])) ++pos_;
    }
    if (!AtEnd() && s_[pos_] == '.') {
      ++pos_;
      if (AtEnd() || !IsDigit(s_[pos_])) return Error("expected a digit");
      while (!AtEnd() && IsDigit(s_[pos_])) ++pos_;
    }
    if (!AtEnd() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (!AtEnd() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (AtEnd() || !IsDigit(s_[pos_])) return Error("expected a digit");
      while (!AtEnd() && IsDigit(s_[pos_])) ++pos_;
    }
    return absl::OkStatus();
  }

  absl::Status Literal() {
    for (absl::string_view word : {"true", "false", "null"}) {
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return absl::OkStatus();
      }
    }
    return Error("expected a value");
  }

  absl::string_view s_;
  const JsonPointerSet& set_;
  std::vector<JsonSpan>* spans_;
  size_t pos_ = 0;
  std::string key_;  // the member name being compared, reused
};

absl::Status ReadJson(absl::string_view json, const JsonPointerSet& pointers,
                      std::vector<JsonSpan>* spans) {
  return JsonReader(json, pointers, spans).Read();
}

absl::Status CheckJsonSyntax(absl::string_view json) {
  static const JsonPointerSet* const kNone = new JsonPointerSet();
  return JsonReader(json, *kNone, nullptr).Read();
}

void AppendJsonStringValue(absl::string_view literal, std::string* out) {
  const absl::string_view s = literal.substr(1, literal.size() - 2);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out->push_back(s[i]);
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        uint32_t cp = Hex4(s, i + 1);
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          // ReadJson accepted it: the low surrogate follows as "\uXXXX".
          const uint32_t low = Hex4(s, i + 3);
          i += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        AppendUtf8(cp, out);
        break;
      }
      default:
        out->push_back(e);
        break;  // '"', '\\', '/'
    }
  }
}

}  // namespace sluice::worker
