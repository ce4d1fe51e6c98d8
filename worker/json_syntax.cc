#include "worker/json_syntax.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice::worker {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Checker {
 public:
  explicit Checker(absl::string_view s) : s_(s) {}

  absl::Status Check() {
    // The innermost open containers, '[' or '{'; a vector rather than recursion, so
    // depth is bounded by memory only (PostgreSQL's own bound is its stack).
    std::string open;
    SkipWhitespace();
    while (true) {
      // A value is expected at pos_.
      if (AtEnd()) return Error("unexpected end of input");
      const char c = s_[pos_];
      if (c == '[' || c == '{') {
        ++pos_;
        SkipWhitespace();
        const char close = c == '[' ? ']' : '}';
        if (!AtEnd() && s_[pos_] == close) {
          ++pos_;
        } else {
          open.push_back(c);
          if (c == '{') {
            if (absl::Status s = Key(); !s.ok()) return s;
          }
          continue;
        }
      } else if (c == '"') {
        if (absl::Status s = String(); !s.ok()) return s;
      } else if (c == '-' || IsDigit(c)) {
        if (absl::Status s = Number(); !s.ok()) return s;
      } else if (c == 't' || c == 'f' || c == 'n') {
        if (absl::Status s = Literal(); !s.ok()) return s;
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
        const char in = open.back();
        const char d = s_[pos_];
        if (d == ',') {
          ++pos_;
          SkipWhitespace();
          if (in == '{') {
            if (absl::Status s = Key(); !s.ok()) return s;
          }
          break;
        }
        if (d == (in == '[' ? ']' : '}')) {
          ++pos_;
          open.pop_back();
          continue;
        }
        return Error(in == '[' ? "expected \",\" or \"]\"" : "expected \",\" or \"}\"");
      }
    }
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }

  absl::Status Error(absl::string_view what) const {
    if (AtEnd()) return absl::InvalidArgumentError(what);
    return absl::InvalidArgumentError(absl::StrCat(what, " at byte ", pos_));
  }

  void SkipWhitespace() {
    while (!AtEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                        s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  // An object member's key and colon, leaving pos_ at its value.
  absl::Status Key() {
    if (AtEnd()) return Error("unexpected end of input");
    if (s_[pos_] != '"') return Error("expected a string key");
    if (absl::Status s = String(); !s.ok()) return s;
    SkipWhitespace();
    if (AtEnd()) return Error("unexpected end of input");
    if (s_[pos_] != ':') return Error("expected \":\"");
    ++pos_;
    SkipWhitespace();
    return absl::OkStatus();
  }

  absl::Status String() {
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
  size_t pos_ = 0;
};

}  // namespace

absl::Status CheckJsonSyntax(absl::string_view json) { return Checker(json).Check(); }

}  // namespace sluice::worker
