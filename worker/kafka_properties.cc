#include "worker/kafka_properties.h"

#include <librdkafka/rdkafkacpp.h>

#include <fstream>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

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

std::map<std::string, std::string> SluiceConsumerDefaults() {
  return {
      {"partition.assignment.strategy", "cooperative-sticky"},
      // Offsets become durable with the batch in PostgreSQL; Kafka only hears of them after.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // Ingestion wants the whole topic when no offset is stored yet.
      {"auto.offset.reset", "earliest"},
      {"statistics.interval.ms", "5000"},
      // Prefetched payload bytes, all partitions together (the high-level
      // consumer's one queue): at ~25 MiB/s of ingestion, 16 MiB is over half a
      // second of work. librdkafka also lowers fetch.max.bytes (one fetch response
      // per broker; 50 MiB by default) to it unless that is set, keeping it at
      // least message.max.bytes, so it is deliberately not set here.
      {"queued.max.messages.kbytes", "16384"},
  };
}

bool IsSecretKafkaProperty(const std::string& name) {
  static const std::set<std::string> kSecrets = {"sasl.password",
                                                 "ssl.key.password",
                                                 "ssl.keystore.password",
                                                 "ssl.key.pem",
                                                 "sasl.oauthbearer.client.secret",
                                                 "sasl.oauthbearer.config"};
  return kSecrets.count(name) > 0;
}

absl::StatusOr<std::map<std::string, std::string>> ReadKafkaPropertiesFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::map<std::string, std::string> properties;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    const size_t eq = text.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, " line ", number, ": not key=value"));
    }
    properties[std::string(absl::StripTrailingAsciiWhitespace(text.substr(0, eq)))] =
        std::string(absl::StripLeadingAsciiWhitespace(text.substr(eq + 1)));
  }
  return properties;
}

}  // namespace sluice::worker
