#include "worker/postgres/copy_encoder.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/kafka_headers.h"

namespace sluice::worker {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendNullable(std::string* out, const std::optional<std::string>& value, bool bytea) {
  if (!value) {
    out->append("\\N");
  } else if (bytea) {
    AppendCopyBytea(out, *value);
  } else {
    AppendCopyText(out, *value);
  }
}

}  // namespace

void AppendCopyText(std::string* out, absl::string_view value) {
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char* escape = nullptr;
    switch (c) {
      case '\\':
        escape = "\\\\";
        break;
      case '\t':
        escape = "\\t";
        break;
      case '\n':
        escape = "\\n";
        break;
      case '\r':
        escape = "\\r";
        break;
      default:
        continue;
    }
    out->append(value.data() + start, i - start);
    out->append(escape);
    start = i + 1;
  }
  out->append(value.data() + start, value.size() - start);
}

void AppendCopyBytea(std::string* out, absl::string_view value) {
  const size_t at = out->size();
  out->resize(at + 3 + 2 * value.size());
  char* p = out->data() + at;
  *p++ = '\\';
  *p++ = '\\';
  *p++ = 'x';
  for (unsigned char c : value) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 15];
  }
}

std::string FormatTimestamp(absl::Time t) {
  // absl prints the year as it is (5, -44), but PostgreSQL misreads a year of one
  // or two digits ("5-01-01 ..." became 2001-05-01, "45-07-29 ..." is refused) and
  // has no year 0 or negative years: absl's year 0 is 1 BC.
  const int64_t year = absl::ToCivilYear(t, absl::UTCTimeZone()).year();
  const bool bc = year <= 0;
  return absl::StrCat(absl::Dec(bc ? 1 - year : year, absl::kZeroPad4),
                      absl::FormatTime("-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()),
                      bc ? " BC" : "");
}

std::string ByteaHex(absl::string_view value) {
  std::string out = "\\x";
  out.reserve(2 + 2 * value.size());
  for (unsigned char c : value) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

void AppendDeadLetter(std::string* out, absl::string_view consumer_group, const Message& m,
                      absl::string_view error, absl::string_view sqlstate) {
  AppendCopyText(out, consumer_group);
  out->push_back('\t');
  AppendCopyText(out, m.topic);
  absl::StrAppend(out, "\t", m.partition, "\t", m.offset, "\t");
  AppendNullable(out, m.key, /*bytea=*/true);
  out->push_back('\t');
  AppendNullable(out, m.payload, /*bytea=*/true);
  out->push_back('\t');
  AppendCopyText(out, error);
  out->push_back('\t');
  AppendCopyText(out, sqlstate);
  out->push_back('\t');
  // PostgreSQL's range only: a timestamp it cannot hold must not fail the dead
  // letter's transaction (the row encoders send those for the server to refuse).
  static const absl::Time kFirst =
      absl::FromCivil(absl::CivilSecond(-4712, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  static const absl::Time kEnd =
      absl::FromCivil(absl::CivilSecond(294277, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  if (m.timestamp && *m.timestamp >= kFirst && *m.timestamp < kEnd) {
    out->append(FormatTimestamp(*m.timestamp));
  } else {
    out->append("\\N");
  }
  out->push_back('\t');
  // NULL: the pipeline did not read headers; empty: it read none.
  if (!m.headers_read) {
    out->append("\\N");
  } else {
    AppendCopyBytea(out, EncodeKafkaHeaders(m.headers));
  }
  out->push_back('\t');
  // No path was decided for an item left unrouted (its reason is the error).
  if (!m.unrouted_reason.empty()) {
    out->append("\\N");
  } else {
    out->append(m.path == Path::kLegacy ? "legacy" : "kafka");
  }
  out->push_back('\n');
}

}  // namespace sluice::worker
