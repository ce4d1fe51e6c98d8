#include "worker/kafka_properties.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
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
      // consumer's one queue), librdkafka's own default. Not lower: once the
      // queue reaches it, librdkafka 2.0.2 stops fetching and looks again only
      // when something wakes its broker thread, at the latest after a second
      // (2.3 made that wait `fetch.queue.backoff.ms`). A worker that drains the
      // queue faster than that idles: at 16 MiB a 50 MB backlog drained at
      // 64,000 rows/s instead of 99,000 over three dev brokers
      // (docs/BENCHMARKS.md, "The prefetch bound"). The bound should hold over a
      // second of the worker's peak rate. Each fetch response is bounded apart
      // (BoundFetchResponse).
      {"queued.max.messages.kbytes", "65536"},
      // The same stall at a message count: librdkafka also stops fetching once
      // the queue holds queued.min.messages (100,000 by default; all partitions
      // together, as the bytes), ~22 MiB of the uniform 230 B items, half a
      // second of the worker's 184,000 rows/s. 200,000 hold over a second of
      // them while the bytes bound larger items; the count still bounds
      // librdkafka's per-message bookkeeping for tiny ones.
      {"queued.min.messages", "200000"},
  };
}

namespace {

std::optional<int64_t> NumberProperty(const std::map<std::string, std::string>& properties,
                                      const std::string& name, int64_t unset) {
  auto it = properties.find(name);
  if (it == properties.end()) return unset;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value)) return std::nullopt;
  return value;
}

}  // namespace

void BoundFetchResponse(std::map<std::string, std::string>* properties) {
  if (properties->count("fetch.max.bytes") > 0) return;
  // librdkafka 2.0.2's defaults for the two it derives fetch.max.bytes from.
  const std::optional<int64_t> queue_kbytes =
      NumberProperty(*properties, "queued.max.messages.kbytes", 65536);
  const std::optional<int64_t> message_bytes =
      NumberProperty(*properties, "message.max.bytes", 1000000);
  if (!queue_kbytes.has_value() || !message_bytes.has_value()) return;
  // Outside librdkafka's ranges the value is refused by librdkafka under its own
  // name; deriving from it would blame fetch.max.bytes instead (or overflow).
  if (*queue_kbytes < 1 || *queue_kbytes > 2097151 || *message_bytes < 1000 ||
      *message_bytes > 1000000000) {
    return;
  }
  const int64_t bound =
      std::max(std::min<int64_t>(*queue_kbytes, kFetchResponseBytes / 1024) * 1024, *message_bytes);
  (*properties)["fetch.max.bytes"] = absl::StrCat(bound);
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
