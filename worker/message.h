// Plain data the ingest path passes around; nothing here knows about librdkafka or libpq.
#ifndef SLUICE_WORKER_MESSAGE_H_
#define SLUICE_WORKER_MESSAGE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "worker/json_reader.h"

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

// Symbolic positions: Kafka's logical offsets. `sluice_offsets` may hold them
// (written by `offsets reset --to-earliest/--to-latest`); a worker resolves them
// when it assigns the partition.
inline constexpr int64_t kOffsetBeginning = -2;
inline constexpr int64_t kOffsetEnd = -1;
inline bool IsSymbolicOffset(int64_t offset) { return offset < 0; }
// "earliest", "latest" or the number.
inline std::string DescribeOffset(int64_t offset) {
  if (offset == kOffsetBeginning) return "earliest";
  if (offset == kOffsetEnd) return "latest";
  return std::to_string(offset);
}

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
  // The message's headers in their order (a header may have no value), read only
  // for pipelines whose column mapping reads a header.
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  // Whether `headers` was read (an empty list then means the message had none).
  bool headers_read = false;
  // Set by the router; every item takes the Kafka path without a rollout.
  Path path = Path::kKafka;
  // Set by the router when it read the payload for its routing key (a rollout
  // keyed by a JSON field in RAW_JSON form): that one pass's verdict and spans, for
  // the column mapping's pointers (JsonPointersOf) and then the routing field. The
  // sink's validator and mapping use it instead of reading the payload again.
  std::optional<JsonRead> json;
  // Set by the ingest loop when no path can be decided for the item (its
  // timestamp lay beyond the flag schedule the worker knows, for longer than the
  // hold limit): it goes to dead letters with this reason, on neither path.
  std::string unrouted_reason;
  // Set by the source on the first message it returns for the partition after the
  // partition was assigned or sought: only such a message may lie beyond the
  // position it was sent to (the broker skips offsets that compaction, retention or
  // transaction markers took). Every later message continues the same stream.
  bool starts_stream = false;

  TopicPartition topic_partition() const { return {topic, partition}; }
  size_t payload_size() const { return payload ? payload->size() : 0; }
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_MESSAGE_H_
