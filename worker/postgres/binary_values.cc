#include "worker/postgres/binary_values.h"

#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "worker/postgres/copy_binary_encoder.h"

namespace sluice::worker {
namespace {

constexpr char kInvalidTextRepresentation[] = "22P02";
constexpr char kNumericValueOutOfRange[] = "22003";
constexpr char kDatetimeFieldOverflow[] = "22008";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A JSON number split into its significant digits and where the decimal point
// falls: value = sign × 0.digits × 10^point. Leading and trailing zeros are
// removed from `digits` (empty for zero); `scale` is PostgreSQL's display scale
// (digits after the point as written, less the exponent, at least 0).
struct Decimal {
  bool negative = false;
  std::string digits;
  int64_t point = 0;
  int64_t scale = 0;
};

// nullopt when `text` is not a JSON number or its exponent is beyond ±1000
// (numeric_in refuses those too).
std::optional<Decimal> ParseDecimal(absl::string_view text) {
  if (!IsJsonNumber(text)) return std::nullopt;
  Decimal d;
  size_t i = 0;
  if (text[i] == '-') {
    d.negative = true;
    ++i;
  }
  std::string digits;
  int64_t int_digits = 0, frac_digits = 0;
  while (i < text.size() && IsDigit(text[i])) {
    digits.push_back(text[i++]);
    ++int_digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) {
      digits.push_back(text[i++]);
      ++frac_digits;
    }
  }
  int64_t exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative_exponent = false;
    if (text[i] == '+' || text[i] == '-') negative_exponent = text[i++] == '-';
    while (i < text.size()) {
      exponent = exponent * 10 + (text[i++] - '0');
      if (exponent > 1000) return std::nullopt;
    }
    if (negative_exponent) exponent = -exponent;
  }
  d.point = int_digits + exponent;
  d.scale = std::max<int64_t>(0, frac_digits - exponent);
  size_t lead = 0;
  while (lead < digits.size() && digits[lead] == '0') ++lead;
  d.point -= static_cast<int64_t>(lead);
  size_t end = digits.size();
  while (end > lead && digits[end - 1] == '0') --end;
  d.digits = digits.substr(lead, end - lead);
  if (d.digits.empty()) {
    d.negative = false;
    d.point = 0;
  }
  return d;
}

int64_t FloorDiv4(int64_t k) { return k >= 0 ? k / 4 : -((-k + 3) / 4); }

Rejection Invalid(absl::string_view type, absl::string_view text) {
  return Rejection{absl::StrCat("invalid input syntax for type ", type, ": ", QuoteForError(text)),
                   kInvalidTextRepresentation};
}

}  // namespace

bool IsJsonNumber(absl::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i == s.size();
}

std::string QuoteForError(absl::string_view value) {
  // Printable ASCII as it is, any other byte as \xNN: the message is stored as
  // text with the dead letter, whatever bytes the value held.
  std::string quoted = "\"";
  for (size_t i = 0; i < value.size() && i < 64; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x7f) {
      quoted.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&quoted, "\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  if (value.size() > 64) quoted += "...";
  quoted.push_back('"');
  return quoted;
}

std::optional<Rejection> AppendIntegerField(std::string* out, absl::string_view text, bool bigint) {
  const char* type = bigint ? "bigint" : "integer";
  const absl::string_view original = text;
  // As int4in/int8in: surrounding whitespace and a sign.
  text = absl::StripAsciiWhitespace(text);
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) ++i;
  if (i >= text.size()) return Invalid(type, original);
  // Magnitude up to 2^63 (the most negative bigint's).
  uint64_t magnitude = 0;
  const uint64_t limit = bigint ? (uint64_t{1} << 63) : (uint64_t{1} << 31);
  bool overflow = false;
  for (; i < text.size(); ++i) {
    if (!IsDigit(text[i])) return Invalid(type, original);
    if (overflow) continue;
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    // Checked before it can wrap: 10 * magnitude + digit > limit.
    if (magnitude > (limit - digit) / 10) {
      overflow = true;
      continue;
    }
    magnitude = magnitude * 10 + digit;
  }
  if (overflow || (!negative && magnitude == limit)) {
    return Rejection{
        absl::StrCat("value ", QuoteForError(original), " is out of range for type ", type),
        kNumericValueOutOfRange};
  }
  const int64_t value =
      negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  if (bigint) {
    AppendBinaryInt32(out, 8);
    AppendBinaryInt64(out, value);
  } else {
    AppendBinaryInt32(out, 4);
    AppendBinaryInt32(out, static_cast<int32_t>(value));
  }
  return std::nullopt;
}

std::optional<Rejection> AppendNumericField(std::string* out, absl::string_view text) {
  std::optional<Decimal> d = ParseDecimal(text);
  if (!d) return Invalid("numeric", text);
  // PostgreSQL's limits: 131072 digits before the point, 16383 after.
  if (d->point > 131072 || d->scale > 0x3FFF) {
    return Rejection{"value overflows numeric format", kNumericValueOutOfRange};
  }
  // Base-10000 digits aligned on the decimal point: the significant digit i has
  // the decimal power point - 1 - i, and lands in group floor(power / 4).
  std::vector<int16_t> groups;
  int64_t weight = 0;
  if (!d->digits.empty()) {
    weight = FloorDiv4(d->point - 1);
    const int64_t last = FloorDiv4(d->point - static_cast<int64_t>(d->digits.size()));
    groups.assign(static_cast<size_t>(weight - last + 1), 0);
    for (size_t i = 0; i < d->digits.size(); ++i) {
      const int64_t power = d->point - 1 - static_cast<int64_t>(i);
      const int64_t g = FloorDiv4(power);
      static constexpr int16_t kTen[] = {1, 10, 100, 1000};
      groups[static_cast<size_t>(weight - g)] +=
          static_cast<int16_t>((d->digits[i] - '0') * kTen[power - 4 * g]);
    }
    while (!groups.empty() && groups.back() == 0) groups.pop_back();
  }
  AppendBinaryInt32(out, static_cast<int32_t>(8 + 2 * groups.size()));
  AppendBinaryInt16(out, static_cast<int16_t>(groups.size()));
  AppendBinaryInt16(out, static_cast<int16_t>(weight));
  AppendBinaryInt16(out, static_cast<int16_t>(d->negative ? 0x4000 : 0));
  AppendBinaryInt16(out, static_cast<int16_t>(d->scale));
  for (int16_t g : groups) AppendBinaryInt16(out, g);
  return std::nullopt;
}

std::optional<Rejection> AppendBooleanField(std::string* out, absl::string_view text) {
  // As boolin: any case, surrounding whitespace, and a prefix of the words.
  const std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  auto prefix_of = [&](absl::string_view word, size_t min) {
    return t.size() >= min && t.size() <= word.size() && absl::StartsWith(word, t);
  };
  bool value;
  if (prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || t == "1") {
    value = true;
  } else if (prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0") {
    value = false;
  } else {
    return Invalid("boolean", text);
  }
  AppendBinaryInt32(out, 1);
  out->push_back(value ? '\1' : '\0');
  return std::nullopt;
}

std::optional<Rejection> AppendUuidField(std::string* out, absl::string_view text) {
  char bytes[16];
  size_t n = 0;
  const bool grouped = text.size() == 36;
  if (!grouped && text.size() != 32) return Invalid("uuid", text);
  for (size_t i = 0; i < text.size(); ++i) {
    if (grouped && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (text[i] != '-') return Invalid("uuid", text);
      continue;
    }
    int v;
    const char c = text[i];
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      return Invalid("uuid", text);
    if (n % 2 == 0) {
      bytes[n / 2] = static_cast<char>(v << 4);
    } else {
      bytes[n / 2] = static_cast<char>(bytes[n / 2] | v);
    }
    ++n;
  }
  AppendBinaryField(out, bytes, sizeof(bytes));
  return std::nullopt;
}

std::optional<Rejection> AppendTimestampField(std::string* out, absl::Time t) {
  // PostgresTimestampMicros maps an out-of-range time past the end of the range.
  const int64_t micros = PostgresTimestampMicros(t);
  if (micros == PostgresTimestampMicros(absl::InfiniteFuture())) {
    return Rejection{"timestamp out of range", kDatetimeFieldOverflow};
  }
  AppendBinaryInt32(out, 8);
  AppendBinaryInt64(out, micros);
  return std::nullopt;
}

std::optional<absl::Time> ParseEpoch(absl::string_view text, int64_t units_per_second) {
  std::optional<Decimal> d = ParseDecimal(text);
  if (!d) return std::nullopt;
  // The value in microseconds, its fraction truncated.
  const int64_t shift = units_per_second == 1 ? 6 : 3;
  const int64_t point = d->point + shift;
  if (point > 18) return std::nullopt;
  int64_t micros = 0;
  for (int64_t i = 0; i < point; ++i) {
    micros = micros * 10 + (i < static_cast<int64_t>(d->digits.size()) ? d->digits[i] - '0' : 0);
  }
  return absl::FromUnixMicros(d->negative ? -micros : micros);
}

std::optional<absl::Time> ParseRfc3339(absl::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) return std::nullopt;
  return t;
}

}  // namespace sluice::worker
