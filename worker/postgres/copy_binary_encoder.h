// PostgreSQL's binary COPY format for Sluice's rows: length-prefixed fields the
// server copies instead of scanning every byte for delimiters and escapes, and
// timestamps as integers instead of text to parse. Pure functions of their input,
// tested (and fuzzed) without a server.
// https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.4
#ifndef SLUICE_WORKER_POSTGRES_COPY_BINARY_ENCODER_H_
#define SLUICE_WORKER_POSTGRES_COPY_BINARY_ENCODER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/message.h"

namespace sluice::worker {

// The signature, flags and (empty) header extension that start the stream.
void AppendBinaryCopyHeader(std::string* out);
// The end-of-data marker.
void AppendBinaryCopyTrailer(std::string* out);

// The format's big-endian integers.
void AppendBinaryInt16(std::string* out, int16_t v);
void AppendBinaryInt32(std::string* out, int32_t v);
void AppendBinaryInt64(std::string* out, int64_t v);
// A field: its length, then its bytes; the caller guarantees `size` fits in an
// int32 (Kafka messages are far below 2 GiB; librdkafka caps them at
// message.max.bytes).
void AppendBinaryField(std::string* out, const char* data, size_t size);
// A NULL field (length -1).
void AppendBinaryNull(std::string* out);
// `value` as a field, or NULL when absent.
void AppendBinaryNullable(std::string* out, const std::optional<std::string>& value);

// The columns of every row-shaped COPY, in this order.
inline constexpr char kRowColumns[] =
    "topic, kafka_partition, kafka_offset, kafka_key, kafka_timestamp, payload";

// Appends one row of `message` (columns kRowColumns): topic
// (text), partition (int4), offset (int8), key (bytea), timestamp (timestamptz),
// payload as the column type of `format` (text; bytea; otherwise jsonb: version
// byte 1 + the text). A null key, payload or missing timestamp is a NULL field.
void AppendBinaryRow(std::string* out, const Message& message,
                     ::sluice::v1::PayloadFormat format);

// `t` as timestamptz's binary value: microseconds since 2000-01-01 00:00:00 UTC.
// A time outside PostgreSQL's range (4713 BC to 294276 AD) becomes the first
// value past its end, which the server refuses as out of range ("timestamp out of
// range", SQLSTATE 22008) like the text form, rather than a wrapped-around date or
// the special 'infinity'.
int64_t PostgresTimestampMicros(absl::Time t);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_COPY_BINARY_ENCODER_H_
