// Checks librdkafka properties given by a user, without a broker.
#ifndef SLUICE_WORKER_KAFKA_PROPERTIES_H_
#define SLUICE_WORKER_KAFKA_PROPERTIES_H_

#include <map>
#include <string>

#include "absl/status/status.h"

namespace sluice::worker {

// Sets each property on a fresh librdkafka configuration, as the consumer will:
// INVALID_ARGUMENT with librdkafka's own reason for the first it refuses (unknown
// key, bad value). Connects to nothing. Combinations that librdkafka only refuses
// when a client is created are not caught here.
absl::Status CheckKafkaProperties(const std::map<std::string, std::string>& properties);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_KAFKA_PROPERTIES_H_
