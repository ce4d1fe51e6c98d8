// Checks librdkafka properties given by a user, without a broker.
#ifndef SLUICE_WORKER_KAFKA_PROPERTIES_H_
#define SLUICE_WORKER_KAFKA_PROPERTIES_H_

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

// Properties whose value is a secret: they may come from a file or the
// environment, never from argv.
bool IsSecretKafkaProperty(const std::string& name);

// A librdkafka properties file: "key=value" per line (the value may hold '='),
// blank lines and lines starting with '#' skipped, blanks around key and value
// trimmed. INVALID_ARGUMENT naming the line (never its value).
absl::StatusOr<std::map<std::string, std::string>> ReadKafkaPropertiesFile(
    const std::string& path);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_KAFKA_PROPERTIES_H_
