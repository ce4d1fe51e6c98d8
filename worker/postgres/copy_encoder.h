// PostgreSQL's COPY text format, for dead letters (rows go in the binary format,
// copy_binary_encoder.h). Pure functions of their input, so they are tested (and
// fuzzed) without a server.
// https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2
#ifndef SLUICE_WORKER_POSTGRES_COPY_ENCODER_H_
#define SLUICE_WORKER_POSTGRES_COPY_ENCODER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/message.h"

namespace sluice::worker {

// Appends `value` with COPY's escapes for backslash, tab, newline and carriage return.
void AppendCopyText(std::string* out, absl::string_view value);
// Appends a bytea value for COPY: \\x followed by lower-case hex digits.
void AppendCopyBytea(std::string* out, absl::string_view value);
// A bytea value as a plain text parameter: \x followed by hex digits.
std::string ByteaHex(absl::string_view value);
// "2026-11-25 10:00:00.123000+00", in UTC, as PostgreSQL reads it back: at least
// four year digits ("0005-..."), and years before 1 AD as "0001-... BC".
std::string FormatTimestamp(absl::Time t);
// Appends one dead letter: consumer_group, topic, kafka_partition, kafka_offset,
// kafka_key, payload (bytea), error, sqlstate, kafka_timestamp, headers
// (common/kafka_headers.h), rollout_path.
void AppendDeadLetter(std::string* out, absl::string_view consumer_group, const Message& message,
                      absl::string_view error, absl::string_view sqlstate);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_COPY_ENCODER_H_
