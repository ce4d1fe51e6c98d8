// Plain data the ingest path passes around; nothing here knows about librdkafka or libpq.
#ifndef SLUICE_WORKER_MESSAGE_H_
#define SLUICE_WORKER_MESSAGE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"

namespace sluice::worker {

// A Kafka topic partition.
struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  bool operator<(const TopicPartition& o) const {
    return std::tie(topic, partition) < std::tie(o.topic, o.partition);
  }
  bool operator==(const TopicPartition& o) const {
    return topic == o.topic && partition == o.partition;
  }
  std::string ToString() const { return topic + "/" + std::to_string(partition); }
};

// Next offset to read, per partition (the Kafka convention: last processed + 1).
using OffsetMap = std::map<TopicPartition, int64_t>;

// Which ingestion path an item belongs to under a percentage rollout.
enum class Path { kKafka, kLegacy };

// One consumed Kafka message.
struct Message {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  // Absent for messages produced without a key.
  std::optional<std::string> key;
  // Absent for tombstones (null values).
  std::optional<std::string> payload;
  // The message's Kafka timestamp (create or log-append time), when it has one.
  std::optional<absl::Time> timestamp;
  // Set by the router; every item takes the Kafka path without a rollout.
  Path path = Path::kKafka;

  TopicPartition topic_partition() const { return {topic, partition}; }
  size_t payload_size() const { return payload ? payload->size() : 0; }
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_MESSAGE_H_
