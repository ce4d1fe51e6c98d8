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
  // Years 1000..9999 only: a timestamp PostgreSQL cannot hold must not fail the
  // dead letter's transaction (the row-path encoders handle those for the rows).
  static const absl::Time kFirst = absl::FromCivil(absl::CivilYear(1000), absl::UTCTimeZone());
  static const absl::Time kEnd = absl::FromCivil(absl::CivilYear(10000), absl::UTCTimeZone());
  if (m.timestamp && *m.timestamp >= kFirst && *m.timestamp < kEnd) {
    out->append(absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", *m.timestamp, absl::UTCTimeZone()));
  } else {
    out->append("\\N");
  }
  out->push_back('\t');
  if (m.headers.empty()) {
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
