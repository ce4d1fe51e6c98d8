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

// The consumer properties Sluice sets before the user's, which override them:
// the group protocol and offset handling the exactly-once path relies on, and
// bounds on what librdkafka prefetches. librdkafka 2.0.2's defaults let the
// consumer queue grow to 64 MiB plus a fetch response of up to 50 MiB per
// broker; the worker's batches already hold up to writers x 2 x batch-max-bytes,
// so the prefetch only needs to cover the time one batch takes to write (README
// "Memory", docs/BENCHMARKS.md "Memory").
std::map<std::string, std::string> SluiceConsumerDefaults();

// Properties whose value is a secret: they may come from a file or the
// environment, never from argv.
bool IsSecretKafkaProperty(const std::string& name);

// A librdkafka properties file: "key=value" per line (the value may hold '='),
// blank lines and lines starting with '#' skipped, blanks around key and value
// trimmed. INVALID_ARGUMENT naming the line (never its value).
absl::StatusOr<std::map<std::string, std::string>> ReadKafkaPropertiesFile(const std::string& path);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_KAFKA_PROPERTIES_H_
