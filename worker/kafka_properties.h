// Checks librdkafka properties given by a user, without a broker.
#ifndef SLUICE_WORKER_KAFKA_PROPERTIES_H_
#define SLUICE_WORKER_KAFKA_PROPERTIES_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::worker {

// Sets each property on a fresh librdkafka configuration, as the consumer will:
// INVALID_ARGUMENT with librdkafka's own reason for the first it refuses (unknown
// key, bad value). Connects to nothing. Combinations that librdkafka only refuses
// when a client is created are not caught here.
absl::Status CheckKafkaProperties(const std::map<std::string, std::string>& properties);

// The consumer properties Sluice sets before the user's, which override them:
// the group protocol and offset handling the exactly-once path relies on, and
// the prefetch queue's bound (README "Memory", docs/BENCHMARKS.md "Memory").
std::map<std::string, std::string> SluiceConsumerDefaults();

// The most one fetch response may add to the prefetch queue, per broker, when
// the user sets neither it nor a smaller queue: librdkafka's own default is
// 50 MiB.
inline constexpr int64_t kFetchResponseBytes = 16 << 20;

// Bounds one fetch response (`fetch.max.bytes`) in `properties` (Sluice's
// defaults merged with the user's) unless the user set it: the queue bound is
// checked before each fetch, so each broker's response comes on top of it.
// librdkafka derives the value itself as max(min(50 MiB, queue bound), message
// size limit) only while the property is unset, and refuses a value below
// `message.max.bytes`; this keeps that rule with kFetchResponseBytes in place of
// 50 MiB. Values that are not decimal numbers (librdkafka also reads hex) or
// lie outside librdkafka's ranges leave the property to librdkafka.
void BoundFetchResponse(std::map<std::string, std::string>* properties);

// Properties whose value is a secret: they may come from a file or the
// environment, never from argv.
bool IsSecretKafkaProperty(const std::string& name);

// A librdkafka properties file: "key=value" per line (the value may hold '='),
// blank lines and lines starting with '#' skipped, blanks around key and value
// trimmed. INVALID_ARGUMENT naming the line (never its value).
absl::StatusOr<std::map<std::string, std::string>> ReadKafkaPropertiesFile(const std::string& path);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_KAFKA_PROPERTIES_H_
