// The COPY encoders: binary rows (worker/postgres/copy_binary_encoder) and text dead
// letters (worker/postgres/copy_encoder). What they write is read back by small
// decoders written here from PostgreSQL's rules, not from the encoders.
// Input: a message and a dead letter's fields (FuzzedDataProvider), the payload last.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/kafka_headers.h"
#include "fuzz/fuzz_check.h"
#include "worker/postgres/copy_binary_encoder.h"
#include "worker/postgres/copy_encoder.h"

namespace {

using ::sluice::worker::Message;
using ::sluice::worker::Path;
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

// Binary COPY as PostgreSQL's CopyReadBinaryTupleRow reads it: an int16 field
// count, then per field an int32 length (-1: NULL) and that many bytes; integers
// big-endian.
class BinaryReader {
 public:
  explicit BinaryReader(absl::string_view in) : in_(in) {}
  int64_t Int(size_t bytes, const char* what) {
    FUZZ_CHECK(in_.size() >= bytes, absl::StrCat(what, ": the row ends early"));
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = v << 8 | static_cast<unsigned char>(in_[i]);
    in_.remove_prefix(bytes);
    // Sign-extend from the field's width.
    const int shift = static_cast<int>(64 - 8 * bytes);
    return static_cast<int64_t>(v << shift) >> shift;
  }
  Field Bytes(const char* what) {
    const int64_t n = Int(4, what);
    if (n == -1) return std::nullopt;
    FUZZ_CHECK(n >= 0 && static_cast<size_t>(n) <= in_.size(),
               absl::StrCat(what, ": a length of ", n, " with ", in_.size(), " bytes left"));
    std::string out(in_.substr(0, static_cast<size_t>(n)));
    in_.remove_prefix(static_cast<size_t>(n));
    return out;
  }
  int64_t Integer(size_t bytes, const char* what) {
    FUZZ_CHECK(Int(4, what) == static_cast<int64_t>(bytes),
               absl::StrCat(what, ": not a ", bytes, "-byte field"));
    return Int(bytes, what);
  }
  bool done() const { return in_.empty(); }

 private:
  absl::string_view in_;
};

// timestamptz's binary value: microseconds since 2000-01-01 UTC, valid in
// [-211813488000000000, 9223371331200000000) (4713 BC to 294276 AD); the two
// int64 extremes mean -infinity and infinity.
void ExpectBinaryTimestamp(BinaryReader& r, const std::optional<absl::Time>& want) {
  if (!want) return ExpectField(r.Bytes("kafka_timestamp"), std::nullopt, "kafka_timestamp");
  const int64_t got = r.Integer(8, "kafka_timestamp");
  constexpr int64_t kMin = -211813488000000000, kEnd = 9223371331200000000;
  const absl::Duration since = *want - absl::FromUnixSeconds(946684800);
  if (since >= absl::Microseconds(kMin) && since < absl::Microseconds(kEnd)) {
    FUZZ_CHECK(got == absl::ToInt64Microseconds(absl::Floor(since, absl::Microseconds(1))),
               absl::StrCat("kafka_timestamp: ", got, " is not the message's instant"));
  } else {
    // Out of PostgreSQL's range: a value it refuses, not a wrapped date or infinity.
    FUZZ_CHECK((got < kMin || got >= kEnd) && got != INT64_MAX && got != INT64_MIN,
               absl::StrCat("kafka_timestamp: ", got, " for an instant PostgreSQL cannot hold"));
  }
}

// A dead letter's kafka_timestamp in COPY text: NULL outside PostgreSQL's range
// (4713 BC to 294276 AD), else the instant to the microsecond, at least four year
// digits, " BC" for years before 1 AD (absl's year 0 is 1 BC).
void ExpectDeadLetterTimestamp(const Field& got, const std::optional<absl::Time>& want) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  if (!want || *want < absl::FromCivil(absl::CivilSecond(-4712, 1, 1, 0, 0, 0), utc) ||
      *want >= absl::FromCivil(absl::CivilSecond(294277, 1, 1, 0, 0, 0), utc)) {
    return ExpectField(got, std::nullopt, "dead letter kafka_timestamp");
  }
  FUZZ_CHECK(got.has_value(), "dead letter kafka_timestamp: NULL for an instant in range");
  absl::string_view text = *got;
  const bool bc = absl::ConsumeSuffix(&text, " BC");
  const size_t dash = text.find('-');
  int64_t year = 0;
  FUZZ_CHECK(dash != absl::string_view::npos && dash >= 4 &&
                 absl::SimpleAtoi(text.substr(0, dash), &year) && year >= 1,
             "dead letter kafka_timestamp: a bad year in " + Show(*got));
  absl::CivilSecond civil;
  int month = 0, day = 0, hour = 0, minute = 0, second = 0, micros = 0;
  FUZZ_CHECK(std::sscanf(std::string(text.substr(dash)).c_str(), "-%2d-%2d %2d:%2d:%2d.%6d+00",
                         &month, &day, &hour, &minute, &second, &micros) == 6,
             "dead letter kafka_timestamp: not PostgreSQL's form: " + Show(*got));
  civil = absl::CivilSecond(bc ? 1 - year : year, month, day, hour, minute, second);
  const absl::Time read = absl::FromCivil(civil, utc) + absl::Microseconds(micros);
  FUZZ_CHECK(
      read == absl::Floor(*want - absl::UnixEpoch(), absl::Microseconds(1)) + absl::UnixEpoch(),
      "dead letter kafka_timestamp " + Show(*got) + " is not the message's instant");
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
  m.headers_read = in.ConsumeBool();
  for (int n = in.ConsumeIntegralInRange(0, 3); n > 0 && m.headers_read; --n) {
    std::optional<std::string> value;
    if (in.ConsumeBool()) value = in.ConsumeRandomLengthString(32);
    m.headers.emplace_back(in.ConsumeRandomLengthString(16), std::move(value));
  }
  if (in.ConsumeBool()) m.path = Path::kLegacy;
  if (in.ConsumeBool()) m.unrouted_reason = "unrouted";
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

  // A binary row: appended after what the buffer holds, six fields.
  const std::string before = "earlier row";
  std::string row = before;
  ::sluice::worker::AppendBinaryRow(&row, m, format);
  FUZZ_CHECK(absl::string_view(row).substr(0, before.size()) == before,
             "AppendBinaryRow overwrote the buffer");
  BinaryReader r(absl::string_view(row).substr(before.size()));
  FUZZ_CHECK(r.Int(2, "field count") == 6, "a row without six fields");
  ExpectField(r.Bytes("topic"), m.topic, "topic");
  FUZZ_CHECK(r.Integer(4, "kafka_partition") == m.partition, "kafka_partition");
  FUZZ_CHECK(r.Integer(8, "kafka_offset") == m.offset, "kafka_offset");
  ExpectField(r.Bytes("kafka_key"), m.key, "kafka_key");
  ExpectBinaryTimestamp(r, m.timestamp);
  if (format != ::sluice::v1::PAYLOAD_FORMAT_TEXT && format != ::sluice::v1::PAYLOAD_FORMAT_BYTES &&
      m.payload) {
    // jsonb's binary input: format version 1, then the text.
    ExpectField(r.Bytes("payload (jsonb)"), "\1" + *m.payload, "payload (jsonb)");
  } else {
    ExpectField(r.Bytes("payload"), m.payload, "payload");
  }
  FUZZ_CHECK(r.done(), "bytes after the row's six fields");

  // A dead letter: eleven columns, key, payload and headers bytea.
  std::string dead;
  ::sluice::worker::AppendDeadLetter(&dead, group, m, error, sqlstate);
  const std::vector<Field> d = DecodeLine(dead);
  FUZZ_CHECK(d.size() == 11, absl::StrCat("a dead letter of ", d.size(), " columns: ", Show(dead)));
  ExpectField(d[0], group, "consumer_group");
  ExpectField(d[1], m.topic, "topic");
  ExpectField(d[2], std::to_string(m.partition), "kafka_partition");
  ExpectField(d[3], std::to_string(m.offset), "kafka_offset");
  ExpectBytea(d[4], m.key, "kafka_key");
  ExpectBytea(d[5], m.payload, "payload");
  ExpectField(d[6], error, "error");
  ExpectField(d[7], sqlstate, "sqlstate");
  ExpectDeadLetterTimestamp(d[8], m.timestamp);
  if (!m.headers_read) {
    ExpectField(d[9], std::nullopt, "headers");
  } else {
    absl::StatusOr<::sluice::KafkaHeaders> headers =
        ::sluice::DecodeKafkaHeaders(DecodeBytea(d[9]));
    FUZZ_CHECK(headers.ok() && *headers == m.headers, "headers do not read back");
  }
  ExpectField(d[10],
              !m.unrouted_reason.empty() ? std::nullopt
              : m.path == Path::kLegacy  ? Field("legacy")
                                         : Field("kafka"),
              "rollout_path");
  return 0;
}
