// Bounds on what the admin API accepts, in one place so the controller, the CLI and
// the docs agree. Every string and repeated field of a request that is stored or
// echoed has one; anything past a bound is INVALID_ARGUMENT naming the field, and
// nothing is stored. Lengths are bytes (UTF-8), not characters.
//
// Why these numbers:
// - Names (pipelines, flags, worker ids, audit targets, tables) follow PostgreSQL's
//   identifier limit (NAMEDATALEN - 1 = 63 bytes): table names become identifiers,
//   and names are keys of rows and labels of metrics, so they stay short.
// - A flag's salt is hashed with every routing key; the default is the flag's name,
//   so it gets the same bound.
// - A description is a line or two for people (sluicectl prints it); 1 KiB.
// - Topics: a worker subscribes to each one; 100 is far above any real pipeline and
//   keeps one pipeline's assignment small. Each name is a Kafka topic (≤ 249).
// - kafka_properties: librdkafka has ~150 properties and the allowlist fewer, so 64
//   entries is more than any valid pipeline; 4 KiB covers any sane value while
//   keeping a pipeline (pushed to every worker, stored as JSON) small.
// - A routing key's JSON field name: 255 bytes, far past any real field name, and
//   it is compared against every payload's top-level keys.
// - A pipeline's column mapping: 64 columns, far past the tables it targets and
//   small enough to push; a column name is an identifier (63); a header name 255
//   bytes like a JSON field; a JSON Pointer 1 KiB (a path of nested names).
// The consumer group keeps its older bound of 255 bytes: it is not a PostgreSQL
// identifier (a column value in sluice_offsets), and the default "sluice-<name>" is
// longer than 63 bytes for a long pipeline name.
#ifndef SLUICE_COMMON_ADMIN_LIMITS_H_
#define SLUICE_COMMON_ADMIN_LIMITS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sluice {

inline constexpr size_t kMaxNameBytes = 63;
// "schema.table", each part an identifier; checked before the parts so an
// oversized name is never echoed.
inline constexpr size_t kMaxTableNameBytes = 2 * kMaxNameBytes + 1;
inline constexpr size_t kMaxWorkerIdBytes = kMaxNameBytes;
inline constexpr size_t kMaxAuditTargetBytes = kMaxNameBytes;
inline constexpr size_t kMaxSaltBytes = kMaxNameBytes;
inline constexpr size_t kMaxDescriptionBytes = 1024;
inline constexpr int kMaxTopics = 100;
inline constexpr size_t kMaxTopicBytes = 249;
inline constexpr size_t kMaxConsumerGroupBytes = 255;
inline constexpr int kMaxKafkaProperties = 64;
inline constexpr size_t kMaxKafkaPropertyNameBytes = 255;
inline constexpr size_t kMaxKafkaPropertyValueBytes = 4096;
inline constexpr size_t kMaxJsonFieldBytes = 255;
inline constexpr int kMaxColumns = 64;
inline constexpr int kMaxKeyColumns = 32;
inline constexpr size_t kMaxHeaderNameBytes = 255;
inline constexpr size_t kMaxJsonPointerBytes = 1024;

// OK when `value` is at most `max_bytes` long, else INVALID_ARGUMENT
// "<field>: must be at most <max_bytes> bytes (got <n>)". Never echoes the value,
// which may be megabytes.
inline absl::Status CheckMaxBytes(absl::string_view field, absl::string_view value,
                                  size_t max_bytes) {
  if (value.size() <= max_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": must be at most ", max_bytes,
                                                 " bytes (got ", value.size(), ")"));
}

// OK when `value` holds no NUL byte, else INVALID_ARGUMENT "<field>: must not
// contain a NUL byte". The controller stores requests in PostgreSQL (jsonb, text),
// which cannot hold one: the JSON escape \u0000 is refused as a database error.
// Free-form strings (a consumer group, a JSON field name, a property value, a
// description, a salt) need this; names with a character set of their own do not.
inline absl::Status CheckNoNul(absl::string_view field, absl::string_view value) {
  if (value.find('\0') == absl::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": must not contain a NUL byte"));
}

}  // namespace sluice

#endif  // SLUICE_COMMON_ADMIN_LIMITS_H_
