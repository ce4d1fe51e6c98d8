// The pipeline property allowlist (common/) against the librdkafka the worker
// links: every allowed name is one librdkafka knows, so an allowed property is
// never refused later by the worker's consumer for being unknown.
#include <map>
#include <string>

#include "common/kafka_property_policy.h"
#include "gtest/gtest.h"
#include "worker/kafka_properties.h"

namespace sluice::worker {
namespace {

TEST(KafkaPropertyPolicyLibrdkafkaTest, EveryAllowedNameIsKnownToLibrdkafka) {
  // A valid value for each; numbers at librdkafka's defaults or near them.
  const std::map<std::string, std::string> samples = {
      {"auto.offset.reset", "latest"},
      {"check.crcs", "true"},
      {"client.rack", "rack-a"},
      {"connections.max.idle.ms", "0"},
      {"coordinator.query.interval.ms", "600000"},
      {"fetch.error.backoff.ms", "500"},
      {"fetch.max.bytes", "52428800"},
      {"fetch.message.max.bytes", "1048576"},
      {"fetch.min.bytes", "1"},
      {"fetch.wait.max.ms", "50"},
      {"heartbeat.interval.ms", "3000"},
      {"isolation.level", "read_committed"},
      {"max.partition.fetch.bytes", "1048576"},
      {"max.poll.interval.ms", "300000"},
      {"metadata.max.age.ms", "900000"},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"queued.max.messages.kbytes", "65536"},
      {"queued.min.messages", "100000"},
      {"receive.message.max.bytes", "100000000"},
      {"reconnect.backoff.max.ms", "10000"},
      {"reconnect.backoff.ms", "100"},
      {"retry.backoff.ms", "100"},
      {"session.timeout.ms", "45000"},
      {"socket.connection.setup.timeout.ms", "30000"},
      {"socket.keepalive.enable", "true"},
      {"socket.nagle.disable", "true"},
      {"socket.receive.buffer.bytes", "0"},
      {"socket.send.buffer.bytes", "0"},
      {"socket.timeout.ms", "60000"},
      {"topic.metadata.propagation.max.ms", "30000"},
      {"topic.metadata.refresh.fast.interval.ms", "250"},
      {"topic.metadata.refresh.interval.ms", "300000"},
  };
  std::vector<std::string> names;
  for (const auto& [name, value] : samples) names.push_back(name);
  ASSERT_EQ(names, PipelineKafkaPropertyNames());
  for (const auto& [name, value] : samples) {
    absl::Status s = CheckKafkaProperties({{name, value}});
    EXPECT_TRUE(s.ok()) << name << ": " << s.message();
    EXPECT_TRUE(CheckPipelineKafkaProperty(name, value).ok()) << name;
  }
}

}  // namespace
}  // namespace sluice::worker
