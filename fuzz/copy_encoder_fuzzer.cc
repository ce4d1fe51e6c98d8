// The COPY text encoder (worker/postgres/copy_encoder): what it writes is read back
// by a small decoder written here from PostgreSQL's rules, not from the encoder.
// Input: a message and a dead letter's fields (FuzzedDataProvider), the payload last.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "worker/postgres/copy_encoder.h"

namespace {

using ::sluice::worker::Message;
using Field = std::optional<std::string>;

std::string Show(absl::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out.append(absl::StrCat("\\x", absl::Hex(c, absl::kZeroPad2)));
    }
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One field of COPY text, as PostgreSQL's CopyReadAttributesText reads it: \N alone
// is NULL, and a backslash escapes the next character. Of its escapes (\b \f \n \r
// \t \v, octal, \xhh, and \ before any other character for itself) only \\ \t \n
// \r may appear: the encoder needs no others.
Field DecodeField(absl::string_view f) {
  if (f == "\\N") return std::nullopt;
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '\\') {
      out.push_back(f[i]);
      continue;
    }
    const size_t k =
        i + 1 < f.size() ? absl::string_view("\\tnr").find(f[++i]) : absl::string_view::npos;
    FUZZ_CHECK(k != absl::string_view::npos,
               "a lone backslash or an escape the encoder should not write: " + Show(f));
    out.push_back("\\\t\n\r"[k]);
  }
  return out;
}

// Exactly one line (ending in a newline, no carriage return anywhere), split on tabs.
std::vector<Field> DecodeLine(absl::string_view line) {
  FUZZ_CHECK(!line.empty() && line.back() == '\n', "a row that does not end its line");
  line.remove_suffix(1);
  FUZZ_CHECK(line.find('\n') == absl::string_view::npos, "a raw newline inside a row");
  FUZZ_CHECK(line.find('\r') == absl::string_view::npos, "a raw carriage return inside a row");
  std::vector<Field> fields;
  size_t start = 0;
  for (;;) {
    const size_t tab = line.find('\t', start);
    fields.push_back(DecodeField(line.substr(start, tab - start)));
    if (tab == absl::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

// A bytea's text form: \x and lower-case hex digits, two per byte.
std::string DecodeBytea(const Field& f) {
  FUZZ_CHECK(f && f->size() >= 2 && (*f)[0] == '\\' && (*f)[1] == 'x' && f->size() % 2 == 0,
             "not a hex bytea: " + Show(f.value_or("NULL")));
  std::string out;
  for (size_t i = 2; i < f->size(); i += 2) {
    const int hi = HexDigit((*f)[i]), lo = HexDigit((*f)[i + 1]);
    FUZZ_CHECK(hi >= 0 && lo >= 0 && !((*f)[i] >= 'A' && (*f)[i] <= 'F') &&
                   !((*f)[i + 1] >= 'A' && (*f)[i + 1] <= 'F'),
               "not lower-case hex: " + Show(*f));
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

void ExpectField(const Field& got, const Field& want, const char* what) {
  FUZZ_CHECK(got == want, absl::StrCat(what, ": wrote ", Show(want.value_or("NULL")),
                                       ", read back ", Show(got.value_or("NULL"))));
}

void ExpectBytea(const Field& got, const Field& want, const char* what) {
  if (!want) return ExpectField(got, want, what);
  ExpectField(DecodeBytea(got), want, what);
}

// kafka_timestamp as PostgreSQL reads it: "YYYY-MM-DD HH:MM:SS.ffffff+00", the year
// at least four digits (fewer are read as 20xx or refused), " BC" after a year
// before 1 AD (PostgreSQL has no year 0: 1 BC is absl's year 0). Read back, it is
// the message's instant.
void ExpectTimestamp(const Field& got, const std::optional<absl::Time>& want) {
  if (!want) return ExpectField(got, std::nullopt, "kafka_timestamp");
  FUZZ_CHECK(got.has_value(), "kafka_timestamp: NULL for a timestamp");
  absl::string_view s = *got;
  const bool bc = absl::ConsumeSuffix(&s, " BC");
  const size_t dash = s.find('-');
  int64_t year = 0;
  FUZZ_CHECK(dash != absl::string_view::npos && dash >= 4 &&
                 s.substr(0, dash).find_first_not_of("0123456789") == absl::string_view::npos &&
                 absl::SimpleAtoi(s.substr(0, dash), &year) && (!bc || year >= 1),
             "kafka_timestamp: the year of " + Show(*got));
  absl::Time rest;
  std::string error;
  // The rest read in year 2000 (a leap year, so that 02-29 reads).
  FUZZ_CHECK(absl::ParseTime("%Y-%m-%d %H:%M:%E6S+00", absl::StrCat("2000", s.substr(dash)),
                             absl::UTCTimeZone(), &rest, &error) &&
                 s.size() - dash == 25,
             "kafka_timestamp: " + Show(*got) + ": " + error);
  const absl::CivilSecond c = absl::ToCivilSecond(rest, absl::UTCTimeZone());
  const absl::Time parsed =
      absl::FromCivil(absl::CivilSecond(bc ? 1 - year : year, c.month(), c.day(), c.hour(),
                                        c.minute(), c.second()),
                      absl::UTCTimeZone()) +
      (rest - absl::FromCivil(c, absl::UTCTimeZone()));
  FUZZ_CHECK(
      parsed == absl::UnixEpoch() + absl::Floor(*want - absl::UnixEpoch(), absl::Microseconds(1)),
      "kafka_timestamp: " + Show(*got) + " is not the message's instant");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Message m;
  m.topic = in.ConsumeRandomLengthString(64);
  m.partition = in.ConsumeIntegral<int32_t>();
  m.offset = in.ConsumeIntegral<int64_t>();
  if (in.ConsumeBool()) m.key = in.ConsumeRandomLengthString(128);
  // What the Kafka source builds: milliseconds since the epoch, any int64.
  if (in.ConsumeBool()) m.timestamp = absl::FromUnixMillis(in.ConsumeIntegral<int64_t>());
  const auto format = static_cast<::sluice::v1::PayloadFormat>(in.ConsumeIntegralInRange(0, 4));
  const std::string group = in.ConsumeRandomLengthString(64);
  const std::string error = in.ConsumeRandomLengthString(256);
  const std::string sqlstate = in.ConsumeRandomLengthString(8);
  if (in.ConsumeBool()) m.payload = in.ConsumeRemainingBytesAsString();

  // Plain text: escapes exactly backslash, tab, newline and carriage return, and
  // reads back as what was written.
  const std::string value = m.payload.value_or(error);
  std::string text;
  ::sluice::worker::AppendCopyText(&text, value);
  FUZZ_CHECK(text.find_first_of("\t\n\r") == std::string::npos,
             "raw tab, newline or CR: " + Show(text));
  ExpectField(DecodeField(text), value, "AppendCopyText");
  // A bytea parameter: \x and hex, no COPY escapes.
  ExpectField(DecodeBytea(::sluice::worker::ByteaHex(value)), value, "ByteaHex");

  // A row: appended after what the buffer holds, one line of six columns.
  const std::string before = "earlier row\n";
  std::string row = before;
  ::sluice::worker::AppendRow(&row, m, format);
  FUZZ_CHECK(absl::string_view(row).substr(0, before.size()) == before,
             "AppendRow overwrote the buffer");
  const std::vector<Field> r = DecodeLine(absl::string_view(row).substr(before.size()));
  FUZZ_CHECK(r.size() == 6, absl::StrCat("a row of ", r.size(), " columns: ", Show(row)));
  ExpectField(r[0], m.topic, "topic");
  ExpectField(r[1], std::to_string(m.partition), "kafka_partition");
  ExpectField(r[2], std::to_string(m.offset), "kafka_offset");
  ExpectBytea(r[3], m.key, "kafka_key");
  ExpectTimestamp(r[4], m.timestamp);
  if (format == ::sluice::v1::PAYLOAD_FORMAT_BYTES) {
    ExpectBytea(r[5], m.payload, "payload (bytea)");
  } else {
    ExpectField(r[5], m.payload, "payload");
  }

  // A dead letter: eight columns, key and payload always bytea.
  std::string dead;
  ::sluice::worker::AppendDeadLetter(&dead, group, m, error, sqlstate);
  const std::vector<Field> d = DecodeLine(dead);
  FUZZ_CHECK(d.size() == 8, absl::StrCat("a dead letter of ", d.size(), " columns: ", Show(dead)));
  ExpectField(d[0], group, "consumer_group");
  ExpectField(d[1], m.topic, "topic");
  ExpectField(d[2], std::to_string(m.partition), "kafka_partition");
  ExpectField(d[3], std::to_string(m.offset), "kafka_offset");
  ExpectBytea(d[4], m.key, "kafka_key");
  ExpectBytea(d[5], m.payload, "payload");
  ExpectField(d[6], error, "error");
  ExpectField(d[7], sqlstate, "sqlstate");
  return 0;
}
