#include "worker/postgres/copy_binary_encoder.h"

#include <cstring>

namespace sluice::worker {
namespace {

// PostgreSQL's datatype/timestamp.h: valid timestamps are [MIN_TIMESTAMP, END_TIMESTAMP).
constexpr int64_t kMinTimestamp = -211813488000000000;
constexpr int64_t kEndTimestamp = 9223371331200000000;
constexpr int64_t kPostgresEpochUnixSeconds = 946684800;  // 2000-01-01 00:00:00 UTC

constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // + the terminating NUL: 11 bytes

void PutInt16(std::string* out, int16_t v) {
  const uint16_t u = static_cast<uint16_t>(v);
  const char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
  out->append(b, 2);
}

void PutInt32(std::string* out, int32_t v) {
  const uint32_t u = static_cast<uint32_t>(v);
  const char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16),
                     static_cast<char>(u >> 8), static_cast<char>(u)};
  out->append(b, 4);
}

void PutInt64(std::string* out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v);
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(u >> (56 - 8 * i));
  out->append(b, 8);
}

constexpr int32_t kNull = -1;

// A field's length and bytes; the caller guarantees `size` fits in an int32
// (Kafka messages are far below 2 GiB; librdkafka caps them at message.max.bytes).
void PutBytes(std::string* out, const char* data, size_t size) {
  PutInt32(out, static_cast<int32_t>(size));
  out->append(data, size);
}

void PutNullable(std::string* out, const std::optional<std::string>& value) {
  if (value) {
    PutBytes(out, value->data(), value->size());
  } else {
    PutInt32(out, kNull);
  }
}

}  // namespace

void AppendBinaryCopyHeader(std::string* out) {
  out->append(kSignature, sizeof(kSignature));  // the signature ends in a NUL byte
  PutInt32(out, 0);                             // flags: no OIDs
  PutInt32(out, 0);                             // header extension: none
}

void AppendBinaryCopyTrailer(std::string* out) { PutInt16(out, -1); }

int64_t PostgresTimestampMicros(absl::Time t) {
  const absl::Duration since = t - absl::FromUnixSeconds(kPostgresEpochUnixSeconds);
  if (since < absl::Microseconds(kMinTimestamp) || since >= absl::Microseconds(kEndTimestamp)) {
    return kEndTimestamp;
  }
  return absl::ToInt64Microseconds(absl::Floor(since, absl::Microseconds(1)));
}

void AppendBinaryRow(std::string* out, const Message& m, ::sluice::v1::PayloadFormat format) {
  PutInt16(out, 6);
  PutBytes(out, m.topic.data(), m.topic.size());
  PutInt32(out, 4);
  PutInt32(out, m.partition);
  PutInt32(out, 8);
  PutInt64(out, m.offset);
  PutNullable(out, m.key);
  if (m.timestamp) {
    PutInt32(out, 8);
    PutInt64(out, PostgresTimestampMicros(*m.timestamp));
  } else {
    PutInt32(out, kNull);
  }
  if (!m.payload) {
    PutInt32(out, kNull);
  } else if (format != ::sluice::v1::PAYLOAD_FORMAT_TEXT &&
             format != ::sluice::v1::PAYLOAD_FORMAT_BYTES) {
    // jsonb (the column for JSON and an unspecified format, as PayloadColumnType):
    // its binary input is a format version byte, then the JSON text.
    PutInt32(out, static_cast<int32_t>(m.payload->size() + 1));
    out->push_back('\1');
    out->append(*m.payload);
  } else {
    PutBytes(out, m.payload->data(), m.payload->size());
  }
}

}  // namespace sluice::worker
