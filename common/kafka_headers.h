// Kafka message headers as one byte string, the form sluice_dead_letters.headers
// keeps them in so a replay can map them again: per header, in order, a 4-byte
// big-endian name length, the name, a 4-byte big-endian value length (-1 for a
// header without a value) and the value, as Kafka's own record format frames them.
#ifndef SLUICE_COMMON_KAFKA_HEADERS_H_
#define SLUICE_COMMON_KAFKA_HEADERS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice {

using KafkaHeaders = std::vector<std::pair<std::string, std::optional<std::string>>>;

std::string EncodeKafkaHeaders(const KafkaHeaders& headers);

// INVALID_ARGUMENT when `encoded` is not EncodeKafkaHeaders' output.
absl::StatusOr<KafkaHeaders> DecodeKafkaHeaders(absl::string_view encoded);

}  // namespace sluice

#endif  // SLUICE_COMMON_KAFKA_HEADERS_H_
