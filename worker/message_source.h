// Where the ingest loop gets messages from. The Kafka implementation is
// kafka_message_source.h; tests use a fake behind this interface.
#ifndef SLUICE_WORKER_MESSAGE_SOURCE_H_
#define SLUICE_WORKER_MESSAGE_SOURCE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sluice/v1/stats.pb.h"
#include "worker/message.h"

namespace sluice::worker {

// Told about partition ownership changes. Called on the thread that calls
// MessageSource::Poll(), from inside Poll().
class RebalanceHandler {
 public:
  virtual ~RebalanceHandler() = default;

  // Partitions were assigned to this consumer. Returns the position to read each
  // from: an offset, or kOffsetBeginning / kOffsetEnd. A partition left out of the
  // map is not read until it is sought (the handler could not tell where to start).
  // May block (it reads offsets from the database).
  virtual OffsetMap OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) = 0;

  // Partitions are about to be taken away. `lost` means they already belong to
  // someone else (the session timed out): writing them will be fenced.
  // The handler writes out what it holds for them before returning.
  virtual void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions, bool lost) = 0;

  // Why a partition stalled, which decides what ends the stall.
  enum class StallKind {
    // Its position lies beyond the end of its log (the topic was recreated, or an
    // offset was reset too far): reading it from anywhere else could skip or
    // repeat data, so it waits for an operator to move the stored offset.
    kNeedsOperator,
    // Its position was out of range and the log's bounds could not be read to
    // tell which case it is: read again from the stored offset at each recheck.
    kTransient,
  };
  // The source has paused the partition; `reason` says why, for /ready and logs.
  virtual void OnPartitionStalled(const TopicPartition& partition, const std::string& reason,
                                  StallKind kind) = 0;

  // The partition's position was below the start of its log: retention deleted
  // `[from, to)` before it was read. The source moved on to `to`.
  virtual void OnMessagesExpired(const TopicPartition& partition, int64_t from, int64_t to) = 0;
};

// Consumer lag of one partition (docs/METRICS.md, "Lag").
struct PartitionLag {
  TopicPartition partition;
  // Messages not yet committed: from the client, the high watermark less the
  // offset committed to Kafka; the ingest loop makes it the high watermark less
  // the next offset committed to PostgreSQL. -1 while unknown.
  int64_t lag = -1;
  // The partition's high watermark as the client last saw it; -1 while unknown.
  int64_t high_watermark = -1;
  // Set by the ingest loop: how long the oldest message not yet committed to
  // PostgreSQL has waited (sluice_consumer_lag_seconds); unset while unknown.
  std::optional<absl::Duration> lag_time;
  // Set by the ingest loop (LagStatusTracker).
  v1::LagStatus status = v1::LAG_STATUS_UNSPECIFIED;
};

// What the Kafka client itself saw (librdkafka's statistics), for the metrics.
struct ClientView {
  struct Fetched {
    int64_t messages = 0;
    int64_t bytes = 0;
  };
  // Per partition held: messages and bytes fetched, cumulative.
  std::map<TopicPartition, Fetched> fetched;
  // Per broker (its node id): round-trip time of requests over the last
  // statistics interval.
  struct BrokerRtt {
    std::string broker;
    absl::Duration avg;
    absl::Duration p99;
  };
  std::vector<BrokerRtt> brokers;
};

// A consumer-group member that yields messages in partition order.
// Not thread-safe: one thread calls everything except Lag().
class MessageSource {
 public:
  virtual ~MessageSource() = default;

  // Joins the group and subscribes to `topics`. `handler` must outlive the source.
  // Returns INVALID_ARGUMENT for a bad configuration.
  virtual absl::Status Subscribe(const std::vector<std::string>& topics,
                                 RebalanceHandler* handler) = 0;

  // Returns up to `max_messages`, waiting at most `timeout` for the first one.
  // Messages of a partition come in offset order, one continuous stream from the
  // position it was assigned or sought to; the first of each stream has
  // `starts_stream` set. A revoke or Seek() of a partition during the call drops
  // that partition's messages collected before it.
  // Returns UNAVAILABLE on a fatal client error.
  virtual absl::StatusOr<std::vector<Message>> Poll(size_t max_messages,
                                                    absl::Duration timeout) = 0;

  // Records progress with the group coordinator, asynchronously and best-effort,
  // so that standard lag tools see it. The durable offsets live in PostgreSQL.
  virtual void CommitAsync(const OffsetMap& next_offsets) = 0;

  // Moves the read position of assigned partitions (offsets or kOffsetBeginning /
  // kOffsetEnd) and resumes fetching them if they were paused. The next message
  // returned for each starts a new stream.
  virtual absl::Status Seek(const OffsetMap& next_offsets) = 0;

  // The offsets symbolic positions stand for now, asked of the brokers in one
  // bounded round: kOffsetBeginning is the log start, kOffsetEnd the end (the
  // last stable offset under read_committed). A partition missing from the
  // answer could not be resolved (its leader did not answer in time).
  virtual OffsetMap ResolveOffsets(const OffsetMap& symbolic) = 0;

  // Stops fetching `partitions` until they are sought or assigned again.
  virtual void Pause(const std::vector<TopicPartition>& partitions) = 0;

  // Leaves the group (revoking through the handler) and releases the client.
  virtual absl::Status Close() = 0;

  // Makes a Poll() in progress return now with what it has (or the next Poll(),
  // if none is in progress): a writer finished a batch the loop should look at.
  // Thread-safe.
  virtual void Wake() = 0;

  // Latest known lag per assigned partition. Thread-safe.
  virtual std::vector<PartitionLag> Lag() const = 0;
  // The client's latest view of its fetching and its brokers. Thread-safe.
  virtual ClientView Client() const = 0;

  // Number of partitions currently assigned. Thread-safe.
  virtual int AssignedPartitionCount() const = 0;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_MESSAGE_SOURCE_H_
