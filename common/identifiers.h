// Checks of names users give: PostgreSQL tables, Kafka topics, pipeline names.
#ifndef SLUICE_COMMON_IDENTIFIERS_H_
#define SLUICE_COMMON_IDENTIFIERS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice {

// "table" or "schema.table", each part a plain SQL identifier (letters, digits, _,
// not starting with a digit, at most 63 bytes). INVALID_ARGUMENT says why, without
// naming the field (the caller prefixes it).
absl::Status CheckTableName(absl::string_view table);

// A Kafka topic name: 1-249 of [a-zA-Z0-9._-], not "." or "..".
absl::Status CheckTopicName(absl::string_view topic);

// A name of a Sluice object (pipeline, flag): 1-63 of a-z, 0-9, - and _, starting
// with a letter or digit.
absl::Status CheckObjectName(absl::string_view name);

// A flag's salt as every rollout evaluator hashes it the same: printable ASCII.
// flagd's JavaScript evaluator (imurmurhash) hashes UTF-16 code units where Sluice
// hashes UTF-8 bytes; the two agree on ASCII only (docs/OPENFEATURE.md).
// INVALID_ARGUMENT otherwise.
absl::Status CheckPortableSalt(absl::string_view salt);

}  // namespace sluice

#endif  // SLUICE_COMMON_IDENTIFIERS_H_
