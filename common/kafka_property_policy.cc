#include "common/kafka_property_policy.h"

#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace sluice {
namespace {

// The consumer-tuning properties a pipeline may set, by group. Each changes how
// fast or how much one pipeline's consumer fetches, how its group membership
// behaves, or how it talks to brokers it already knows; none names a file, a
// command, a library, an address, a credential or what Sluice sets for
// exactly-once. Every name is one librdkafka 2.0.2 knows
// (tests/worker/kafka_property_policy_librdkafka_test.cc).
constexpr absl::string_view kAllowed[] = {
    // Fetching and queueing: throughput against latency and memory per pipeline.
    "fetch.wait.max.ms", "fetch.min.bytes", "fetch.max.bytes", "fetch.message.max.bytes",
    "max.partition.fetch.bytes", "fetch.error.backoff.ms", "receive.message.max.bytes",
    "queued.min.messages", "queued.max.messages.kbytes",
    // Group membership: how soon a stuck or dead worker's partitions move. The
    // worker handles both the eager and the cooperative protocol.
    "max.poll.interval.ms", "session.timeout.ms", "heartbeat.interval.ms",
    "partition.assignment.strategy", "coordinator.query.interval.ms",
    // What is read: where a partition without an offset in PostgreSQL starts
    // (earliest|latest only), transactional isolation, CRC checks, rack-aware fetching.
    "auto.offset.reset", "isolation.level", "check.crcs", "client.rack",
    // Metadata and connections to the brokers the worker was given.
    "topic.metadata.refresh.interval.ms", "topic.metadata.refresh.fast.interval.ms",
    "topic.metadata.propagation.max.ms", "metadata.max.age.ms", "socket.timeout.ms",
    "socket.connection.setup.timeout.ms", "socket.keepalive.enable", "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes", "socket.nagle.disable", "connections.max.idle.ms",
    "reconnect.backoff.ms", "reconnect.backoff.max.ms", "retry.backoff.ms",
};

bool IsAllowed(absl::string_view name) {
  for (absl::string_view a : kAllowed) {
    if (a == name) return true;
  }
  return false;
}

constexpr absl::string_view kOffsets =
    "it is set by Sluice: offsets become durable only with each batch in PostgreSQL";
constexpr absl::string_view kBrokers = "it is set by Sluice: the worker's --kafka-brokers";

// Why a refused (normalised) name is refused, when it belongs to a family with
// its own reason.
std::optional<std::string> Family(absl::string_view n) {
  if (absl::EndsWith(n, ".cmd")) return "it runs a command on every worker";
  if (n == "plugin.library.paths" || n == "ssl.engine.location" || n == "ssl.providers") {
    return "it loads a shared library on every worker";
  }
  if (absl::EndsWith(n, ".location") || absl::EndsWith(n, ".keytab")) {
    return "it reads a file on every worker";
  }
  static const auto* const kSetBySluice = new absl::flat_hash_map<absl::string_view,
                                                                  absl::string_view>({
      {"enable.auto.commit", kOffsets},
      {"auto.commit.enable", kOffsets},
      {"auto.commit.interval.ms", kOffsets},
      {"enable.auto.offset.store", kOffsets},
      {"offset.store.method", kOffsets},
      {"offset.store.path", kOffsets},
      {"offset.store.sync.interval.ms", kOffsets},
      {"group.id", "it is set by Sluice: the pipeline's consumer_group"},
      {"bootstrap.servers", kBrokers},
      {"metadata.broker.list", kBrokers},
      {"client.id", "it is set by Sluice: worker and pipeline"},
      {"group.instance.id",
       "every worker of the pipeline would get the same instance id and fence the others out "
       "of the group"},
      {"statistics.interval.ms",
       "it is set by Sluice: the worker's lag metrics come from librdkafka's statistics"},
  });
  if (auto it = kSetBySluice->find(n); it != kSetBySluice->end()) return std::string(it->second);
  if (n == "security.protocol" || absl::StartsWith(n, "ssl.") || absl::StartsWith(n, "sasl.") ||
      absl::StartsWith(n, "enable.ssl.") || absl::StrContains(n, "oauthbearer")) {
    return "broker TLS and SASL are the worker's own configuration: its --kafka-property "
           "flags, and --kafka-properties-file for secrets";
  }
  if (n == "debug" || n == "log_level" || absl::StartsWith(n, "log.")) {
    return "logging is the worker's own configuration: its --kafka-property flags";
  }
  return std::nullopt;
}

// What librdkafka would match if it ignored case and spaces.
std::string Normalise(absl::string_view name) {
  std::string out;
  for (char c : name) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) {
      out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::string WhyRefused(absl::string_view name) {
  const std::string n = Normalise(name);
  // librdkafka routes "topic.X" on a global configuration to the topic property X.
  const bool prefixed = absl::StartsWith(n, "topic.");
  const absl::string_view bare = prefixed ? absl::string_view(n).substr(6) : n;
  if (std::optional<std::string> why = Family(n)) return *why;
  if (prefixed) {
    if (std::optional<std::string> why = Family(bare)) return *why;
  }
  if (n != name && IsAllowed(n)) {
    return absl::StrCat("librdkafka names are lowercase, without spaces: '", n, "'");
  }
  if (prefixed && IsAllowed(bare)) return absl::StrCat("write it as '", bare, "'");
  return "only the consumer-tuning properties listed in the README are";
}

}  // namespace

absl::Status CheckPipelineKafkaProperty(absl::string_view name, absl::string_view value) {
  if (!IsAllowed(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' is not allowed in a pipeline (", WhyRefused(name), ")"));
  }
  // Where a partition without a stored offset starts; the worker maps exactly these
  // two (librdkafka's synonyms are refused so the stored pipeline reads one way).
  if (name == "auto.offset.reset" && value != "earliest" && value != "latest") {
    return absl::InvalidArgumentError(absl::StrCat(
        "'auto.offset.reset' must be earliest or latest in a pipeline (got '", value, "')"));
  }
  return absl::OkStatus();
}

std::vector<std::string> PipelineKafkaPropertyNames() {
  std::vector<std::string> out(std::begin(kAllowed), std::end(kAllowed));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sluice
