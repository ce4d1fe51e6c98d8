// What the worker's librdkafka consumer runs with: Sluice's defaults, and the
// user's properties over them. No broker: librdkafka builds the consumer without
// connecting to anything.
#include "worker/kafka_message_source.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "worker/kafka_properties.h"

namespace sluice::worker {
namespace {

KafkaSourceConfig ConsumerConfig(std::map<std::string, std::string> properties) {
  KafkaSourceConfig config;
  config.brokers = "127.0.0.1:1";
  config.group_id = "kafka-message-source-test";
  config.properties = std::move(properties);
  return config;
}

std::unique_ptr<KafkaMessageSource> Consumer(std::map<std::string, std::string> properties) {
  absl::StatusOr<std::unique_ptr<KafkaMessageSource>> source =
      KafkaMessageSource::Create(ConsumerConfig(std::move(properties)));
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? std::move(*source) : nullptr;
}

TEST(KafkaMessageSourceTest, BoundsWhatLibrdkafkaPrefetches) {
  std::unique_ptr<KafkaMessageSource> source = Consumer({});
  ASSERT_NE(source, nullptr);
  // librdkafka 2.0.2's own defaults are 65536 KiB queued and 52428800 B per
  // fetch response; Sluice keeps the queue and bounds the response to 16 MiB.
  EXPECT_EQ(source->EffectiveProperty("queued.max.messages.kbytes").value_or(""), "65536");
  EXPECT_EQ(source->EffectiveProperty("fetch.max.bytes").value_or(""), "16777216");
  for (const auto& [name, value] : SluiceConsumerDefaults()) {
    if (name == "auto.offset.reset") continue;  // resolved by Sluice, below
    EXPECT_EQ(source->EffectiveProperty(name).value_or(""), value) << name;
  }
  // Sluice picks start positions itself; librdkafka must never pick one.
  EXPECT_EQ(source->EffectiveProperty("auto.offset.reset").value_or(""), "error");
}

TEST(KafkaMessageSourceTest, TheUsersPropertiesOverrideSluicesDefaults) {
  std::unique_ptr<KafkaMessageSource> source =
      Consumer({{"queued.max.messages.kbytes", "65536"}, {"fetch.max.bytes", "1048576"}});
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->EffectiveProperty("queued.max.messages.kbytes").value_or(""), "65536");
  EXPECT_EQ(source->EffectiveProperty("fetch.max.bytes").value_or(""), "1048576");
}

// Review finding: a fetch.max.bytes default turned off librdkafka's own
// adjustment, so a consumer with message.max.bytes above it failed to start.
TEST(KafkaMessageSourceTest, ALargerMessageMaxBytesStillStarts) {
  std::unique_ptr<KafkaMessageSource> source = Consumer({{"message.max.bytes", "20971520"}});
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->EffectiveProperty("fetch.max.bytes").value_or(""), "20971520");
}

// A smaller queue than the response bound: the response is no larger than the
// queue, as librdkafka itself would derive it.
TEST(KafkaMessageSourceTest, ASmallerQueueBoundsTheFetchResponse) {
  std::unique_ptr<KafkaMessageSource> source = Consumer({{"queued.max.messages.kbytes", "4096"}});
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->EffectiveProperty("fetch.max.bytes").value_or(""), "4194304");
}

// A value out of librdkafka's range is refused under its own name, not as a
// derived fetch.max.bytes (and 2^60 KiB does not overflow the derivation).
TEST(KafkaMessageSourceTest, AnOutOfRangeValueIsRefusedUnderItsOwnName) {
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"message.max.bytes", "3000000000"},
           {"queued.max.messages.kbytes", "1152921504606846976"}}) {
    absl::StatusOr<std::unique_ptr<KafkaMessageSource>> source =
        KafkaMessageSource::Create(ConsumerConfig({{name, value}}));
    ASSERT_FALSE(source.ok()) << name;
    EXPECT_TRUE(absl::StrContains(source.status().message(), name)) << source.status();
    EXPECT_FALSE(absl::StrContains(source.status().message(), "fetch.max.bytes"))
        << source.status();
  }
}

// A value that is not a number is librdkafka's to refuse, with its own reason.
TEST(KafkaMessageSourceTest, ANonNumericQueueBoundIsRefusedByLibrdkafka) {
  absl::StatusOr<std::unique_ptr<KafkaMessageSource>> source =
      KafkaMessageSource::Create(ConsumerConfig({{"queued.max.messages.kbytes", "lots"}}));
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(source.status().message(), "queued.max.messages.kbytes"))
      << source.status();
}

TEST(KafkaMessageSourceTest, AnUnknownPropertyIsNotFound) {
  std::unique_ptr<KafkaMessageSource> source = Consumer({});
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->EffectiveProperty("no.such.property").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice::worker
