#include "worker/kafka_properties.h"

#include <librdkafka/rdkafkacpp.h>

#include <memory>

namespace sluice::worker {

absl::Status CheckKafkaProperties(const std::map<std::string, std::string>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [key, value] : properties) {
    std::string error;
    if (conf->set(key, value, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(error);
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::worker
