#include "common/kafka_property_policy.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sluice {
namespace {

struct Refused {
  std::string name;
  std::string value;
  std::string message;
};

void ExpectRefused(const std::vector<Refused>& cases) {
  for (const Refused& c : cases) {
    absl::Status s = CheckPipelineKafkaProperty(c.name, c.value);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "[" << c.name << "]";
    EXPECT_EQ(s.message(), c.message) << "[" << c.name << "]";
  }
}

TEST(KafkaPropertyPolicyTest, ConsumerTuningIsAllowed) {
  const std::map<std::string, std::string> tuning = {
      {"fetch.wait.max.ms", "50"},
      {"fetch.min.bytes", "1"},
      {"fetch.max.bytes", "52428800"},
      {"fetch.message.max.bytes", "1048576"},
      {"max.partition.fetch.bytes", "1048576"},
      {"fetch.error.backoff.ms", "100"},
      {"receive.message.max.bytes", "100000000"},
      {"queued.min.messages", "100000"},
      {"queued.max.messages.kbytes", "65536"},
      {"max.poll.interval.ms", "300000"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "3000"},
      {"partition.assignment.strategy", "range,roundrobin"},
      {"coordinator.query.interval.ms", "600000"},
      {"auto.offset.reset", "latest"},
      {"isolation.level", "read_uncommitted"},
      {"check.crcs", "true"},
      {"client.rack", "eu-west-1a"},
      {"topic.metadata.refresh.interval.ms", "60000"},
      {"topic.metadata.refresh.fast.interval.ms", "250"},
      {"topic.metadata.propagation.max.ms", "30000"},
      {"metadata.max.age.ms", "900000"},
      {"socket.timeout.ms", "60000"},
      {"socket.connection.setup.timeout.ms", "30000"},
      {"socket.keepalive.enable", "true"},
      {"socket.send.buffer.bytes", "0"},
      {"socket.receive.buffer.bytes", "0"},
      {"socket.nagle.disable", "true"},
      {"connections.max.idle.ms", "0"},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "10000"},
      {"retry.backoff.ms", "100"},
  };
  for (const auto& [name, value] : tuning) {
    EXPECT_TRUE(CheckPipelineKafkaProperty(name, value).ok())
        << name << ": " << CheckPipelineKafkaProperty(name, value).message();
  }
  EXPECT_TRUE(CheckPipelineKafkaProperties(tuning).ok());
  std::vector<std::string> names;
  for (const auto& [name, value] : tuning) names.push_back(name);
  EXPECT_EQ(PipelineKafkaPropertyNames(), names);
}

TEST(KafkaPropertyPolicyTest, CommandsCodeAndLocalFilesAreRefused) {
  ExpectRefused({
      {"sasl.kerberos.kinit.cmd", "touch /tmp/pwned",
       "'sasl.kerberos.kinit.cmd' is not allowed in a pipeline (it runs a command on every "
       "worker)"},
      {"plugin.library.paths", "/tmp/evil.so",
       "'plugin.library.paths' is not allowed in a pipeline (it loads a shared library on every "
       "worker)"},
      {"ssl.engine.location", "/tmp/engine.so",
       "'ssl.engine.location' is not allowed in a pipeline (it loads a shared library on every "
       "worker)"},
      {"ssl.providers", "legacy",
       "'ssl.providers' is not allowed in a pipeline (it loads a shared library on every "
       "worker)"},
      {"ssl.ca.location", "/etc/shadow",
       "'ssl.ca.location' is not allowed in a pipeline (it reads a file on every worker)"},
      {"ssl.key.location", "/k",
       "'ssl.key.location' is not allowed in a pipeline (it reads a file on every worker)"},
      {"ssl.certificate.location", "/c",
       "'ssl.certificate.location' is not allowed in a pipeline (it reads a file on every "
       "worker)"},
      {"ssl.crl.location", "/c",
       "'ssl.crl.location' is not allowed in a pipeline (it reads a file on every worker)"},
      {"ssl.keystore.location", "/k",
       "'ssl.keystore.location' is not allowed in a pipeline (it reads a file on every worker)"},
      {"sasl.kerberos.keytab", "/k",
       "'sasl.kerberos.keytab' is not allowed in a pipeline (it reads a file on every worker)"},
  });
}

TEST(KafkaPropertyPolicyTest, BrokerSecurityIsTheWorkersOwn) {
  const std::string why =
      " is not allowed in a pipeline (broker TLS and SASL are the worker's own "
      "configuration: its --kafka-property flags, and --kafka-properties-file for secrets)";
  ExpectRefused({
      {"security.protocol", "SASL_PLAINTEXT", "'security.protocol'" + why},
      {"sasl.mechanisms", "GSSAPI", "'sasl.mechanisms'" + why},
      {"sasl.mechanism", "PLAIN", "'sasl.mechanism'" + why},
      {"sasl.username", "u", "'sasl.username'" + why},
      {"sasl.password", "p", "'sasl.password'" + why},
      {"sasl.kerberos.principal", "p", "'sasl.kerberos.principal'" + why},
      {"sasl.oauthbearer.config", "principal=x", "'sasl.oauthbearer.config'" + why},
      {"sasl.oauthbearer.token.endpoint.url", "http://169.254.169.254/",
       "'sasl.oauthbearer.token.endpoint.url'" + why},
      {"enable.sasl.oauthbearer.unsecure.jwt", "true",
       "'enable.sasl.oauthbearer.unsecure.jwt'" + why},
      {"ssl.key.pem", "-----BEGIN", "'ssl.key.pem'" + why},
      {"ssl.key.password", "p", "'ssl.key.password'" + why},
      {"ssl.endpoint.identification.algorithm", "none",
       "'ssl.endpoint.identification.algorithm'" + why},
      {"enable.ssl.certificate.verification", "false",
       "'enable.ssl.certificate.verification'" + why},
  });
}

TEST(KafkaPropertyPolicyTest, WhatSluiceSetsCannotBeOverridden) {
  const std::string offsets =
      " is not allowed in a pipeline (it is set by Sluice: offsets become durable only with "
      "each batch in PostgreSQL)";
  ExpectRefused({
      {"enable.auto.commit", "true", "'enable.auto.commit'" + offsets},
      {"auto.commit.enable", "true", "'auto.commit.enable'" + offsets},
      {"auto.commit.interval.ms", "5", "'auto.commit.interval.ms'" + offsets},
      {"enable.auto.offset.store", "true", "'enable.auto.offset.store'" + offsets},
      {"offset.store.method", "file", "'offset.store.method'" + offsets},
      {"offset.store.path", "/tmp", "'offset.store.path'" + offsets},
      {"group.id", "other",
       "'group.id' is not allowed in a pipeline (it is set by Sluice: the pipeline's "
       "consumer_group)"},
      {"bootstrap.servers", "evil:9092",
       "'bootstrap.servers' is not allowed in a pipeline (it is set by Sluice: the worker's "
       "--kafka-brokers)"},
      {"metadata.broker.list", "evil:9092",
       "'metadata.broker.list' is not allowed in a pipeline (it is set by Sluice: the worker's "
       "--kafka-brokers)"},
      {"client.id", "x",
       "'client.id' is not allowed in a pipeline (it is set by Sluice: worker and pipeline)"},
      {"group.instance.id", "x",
       "'group.instance.id' is not allowed in a pipeline (every worker of the pipeline would "
       "get the same instance id and fence the others out of the group)"},
      {"statistics.interval.ms", "0",
       "'statistics.interval.ms' is not allowed in a pipeline (it is set by Sluice: the "
       "worker's lag metrics come from librdkafka's statistics)"},
  });
}

TEST(KafkaPropertyPolicyTest, LoggingIsTheWorkersOwn) {
  const std::string why =
      " is not allowed in a pipeline (logging is the worker's own configuration: its "
      "--kafka-property flags)";
  ExpectRefused({
      {"debug", "all", "'debug'" + why},
      {"log_level", "7", "'log_level'" + why},
      {"log.connection.close", "false", "'log.connection.close'" + why},
  });
}

TEST(KafkaPropertyPolicyTest, EverythingElseIsRefused) {
  const std::string why =
      " is not allowed in a pipeline (only the consumer-tuning properties listed in the "
      "README are)";
  ExpectRefused({
      {"enable.partition.eof", "true", "'enable.partition.eof'" + why},
      {"allow.auto.create.topics", "true", "'allow.auto.create.topics'" + why},
      {"api.version.request", "false", "'api.version.request'" + why},
      {"no.such.property", "1", "'no.such.property'" + why},
      {"", "1", "''" + why},
  });
}

// librdkafka matches names exactly, so these are unknown to it and would fail at
// the worker; they are refused for the family they look like, so a typo is never
// read as "allowed" by a later, more lenient librdkafka.
TEST(KafkaPropertyPolicyTest, CaseAndSpaceVariantsAreRefusedForWhatTheyLookLike) {
  ExpectRefused({
      {"SASL.KERBEROS.KINIT.CMD", "touch /tmp/pwned",
       "'SASL.KERBEROS.KINIT.CMD' is not allowed in a pipeline (it runs a command on every "
       "worker)"},
      {" sasl.kerberos.kinit.cmd", "x",
       "' sasl.kerberos.kinit.cmd' is not allowed in a pipeline (it runs a command on every "
       "worker)"},
      {"Plugin.Library.Paths\t", "x",
       "'Plugin.Library.Paths\t' is not allowed in a pipeline (it loads a shared library on "
       "every worker)"},
      {"Fetch.Wait.Max.Ms", "50",
       "'Fetch.Wait.Max.Ms' is not allowed in a pipeline (librdkafka names are lowercase, "
       "without spaces: 'fetch.wait.max.ms')"},
      {"fetch.wait.max.ms ", "50",
       "'fetch.wait.max.ms ' is not allowed in a pipeline (librdkafka names are lowercase, "
       "without spaces: 'fetch.wait.max.ms')"},
  });
}

// librdkafka routes "topic.X" on a global configuration to the topic property X:
// "topic.auto.offset.reset" would override the "error" the worker sets so that
// librdkafka never picks a start position by itself.
TEST(KafkaPropertyPolicyTest, TopicPrefixIsRefused) {
  ExpectRefused({
      {"topic.auto.offset.reset", "earliest",
       "'topic.auto.offset.reset' is not allowed in a pipeline (write it as "
       "'auto.offset.reset')"},
      {"topic.auto.commit.enable", "true",
       "'topic.auto.commit.enable' is not allowed in a pipeline (it is set by Sluice: offsets "
       "become durable only with each batch in PostgreSQL)"},
  });
}

TEST(KafkaPropertyPolicyTest, AutoOffsetResetOnlyEarliestOrLatest) {
  EXPECT_TRUE(CheckPipelineKafkaProperty("auto.offset.reset", "earliest").ok());
  EXPECT_TRUE(CheckPipelineKafkaProperty("auto.offset.reset", "latest").ok());
  for (const char* v : {"smallest", "beginning", "largest", "end", "error", "", "Earliest"}) {
    absl::Status s = CheckPipelineKafkaProperty("auto.offset.reset", v);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << v;
    EXPECT_EQ(s.message(), absl::StrCat("'auto.offset.reset' must be earliest or latest in a "
                                        "pipeline (got '", v, "')"));
  }
}

TEST(KafkaPropertyPolicyTest, MapCheckNamesTheFirstRefusedInNameOrder) {
  const std::map<std::string, std::string> props = {
      {"fetch.wait.max.ms", "50"},
      {"security.protocol", "SASL_PLAINTEXT"},
      {"sasl.mechanisms", "GSSAPI"},
      {"sasl.kerberos.kinit.cmd", "touch /tmp/pwned"},
  };
  absl::Status s = CheckPipelineKafkaProperties(props);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "kafka_properties: 'sasl.kerberos.kinit.cmd' is not allowed in a pipeline (it runs a "
            "command on every worker)");
  EXPECT_TRUE(CheckPipelineKafkaProperties(std::map<std::string, std::string>{}).ok());
}

}  // namespace
}  // namespace sluice
