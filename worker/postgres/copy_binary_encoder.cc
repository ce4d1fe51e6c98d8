#include "worker/postgres/copy_binary_encoder.h"

#include <cstring>

namespace sluice::worker {
namespace {

// PostgreSQL's datatype/timestamp.h: valid timestamps are [MIN_TIMESTAMP, END_TIMESTAMP).
constexpr int64_t kMinTimestamp = -211813488000000000;
constexpr int64_t kEndTimestamp = 9223371331200000000;
constexpr int64_t kPostgresEpochUnixSeconds = 946684800;  // 2000-01-01 00:00:00 UTC

constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // + the terminating NUL: 11 bytes

}  // namespace

void AppendBinaryInt16(std::string* out, int16_t v) {
  const uint16_t u = static_cast<uint16_t>(v);
  const char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
  out->append(b, 2);
}

void AppendBinaryInt32(std::string* out, int32_t v) {
  const uint32_t u = static_cast<uint32_t>(v);
  const char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16),
                     static_cast<char>(u >> 8), static_cast<char>(u)};
  out->append(b, 4);
}

void AppendBinaryInt64(std::string* out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v);
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(u >> (56 - 8 * i));
  out->append(b, 8);
}

void AppendBinaryField(std::string* out, const char* data, size_t size) {
  AppendBinaryInt32(out, static_cast<int32_t>(size));
  out->append(data, size);
}

void AppendBinaryNullable(std::string* out, const std::optional<std::string>& value) {
  if (value) {
    AppendBinaryField(out, value->data(), value->size());
  } else {
    AppendBinaryNull(out);
  }
}

void AppendBinaryNull(std::string* out) { AppendBinaryInt32(out, -1); }

void AppendBinaryCopyHeader(std::string* out) {
  out->append(kSignature, sizeof(kSignature));  // the signature ends in a NUL byte
  AppendBinaryInt32(out, 0);                    // flags: no OIDs
  AppendBinaryInt32(out, 0);                    // header extension: none
}

void AppendBinaryCopyTrailer(std::string* out) { AppendBinaryInt16(out, -1); }

int64_t PostgresTimestampMicros(absl::Time t) {
  const absl::Duration since = t - absl::FromUnixSeconds(kPostgresEpochUnixSeconds);
  if (since < absl::Microseconds(kMinTimestamp) || since >= absl::Microseconds(kEndTimestamp)) {
    return kEndTimestamp;
  }
  return absl::ToInt64Microseconds(absl::Floor(since, absl::Microseconds(1)));
}

void AppendBinaryRow(std::string* out, const Message& m, ::sluice::v1::PayloadFormat format) {
  AppendBinaryInt16(out, 6);
  AppendBinaryField(out, m.topic.data(), m.topic.size());
  AppendBinaryInt32(out, 4);
  AppendBinaryInt32(out, m.partition);
  AppendBinaryInt32(out, 8);
  AppendBinaryInt64(out, m.offset);
  AppendBinaryNullable(out, m.key);
  if (m.timestamp) {
    AppendBinaryInt32(out, 8);
    AppendBinaryInt64(out, PostgresTimestampMicros(*m.timestamp));
  } else {
    AppendBinaryNull(out);
  }
  if (!m.payload) {
    AppendBinaryNull(out);
  } else if (format != ::sluice::v1::PAYLOAD_FORMAT_TEXT &&
             format != ::sluice::v1::PAYLOAD_FORMAT_BYTES) {
    // jsonb (the column for JSON and an unspecified format, as PayloadColumnType):
    // its binary input is a format version byte, then the JSON text.
    AppendBinaryInt32(out, static_cast<int32_t>(m.payload->size() + 1));
    out->push_back('\1');
    out->append(*m.payload);
  } else {
    AppendBinaryField(out, m.payload->data(), m.payload->size());
  }
}

}  // namespace sluice::worker
