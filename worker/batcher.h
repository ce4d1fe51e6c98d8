// Groups messages into batches bounded by rows, bytes and the consumer timeout.
#ifndef SLUICE_WORKER_BATCHER_H_
#define SLUICE_WORKER_BATCHER_H_

#include <optional>

#include "common/clock.h"
#include "worker/batch.h"

namespace sluice::worker {

struct BatchLimits {
  int64_t max_rows = 10000;
  int64_t max_bytes = 16 << 20;
  // How long after its Kafka timestamp a message should be committed: the open
  // batch is handed over that long after its first message was produced (counted
  // from when it was consumed at most one timeout earlier), less the time its
  // write is expected to take (see Batcher::set_write_allowance).
  absl::Duration consumer_timeout = absl::Milliseconds(150);
  // Non-zero: the loop tunes consumer_timeout to keep the p99 freshness under
  // this (AdaptiveTimeout); consumer_timeout is where it starts.
  absl::Duration freshness_target = absl::ZeroDuration();
};

// Accumulates messages and says when the open batch must be written.
// Not thread-safe.
class Batcher {
 public:
  Batcher(const Clock& clock, BatchLimits limits);

  // Adds a message that continues its partition's stream from `continues_from`
  // (recorded for the partition's first message in the batch). Returns ROWS or
  // BYTES when the batch has reached that limit and must be written now.
  std::optional<FlushReason> Add(Message message, int64_t continues_from);
  // Whether the open batch holds messages of `partition`.
  bool Holds(const TopicPartition& partition) const {
    return open_.next_offsets.count(partition) > 0;
  }

  // When the open batch must be handed over for its first message to be
  // committed within the consumer timeout; absl::InfiniteFuture() while empty.
  absl::Time deadline() const;

  // How long a write is expected to take (the writer's recent writes): deadlines
  // come that much earlier, by at most half the consumer timeout.
  void set_write_allowance(absl::Duration d) { write_allowance_ = d; }

  // TIMEOUT when the deadline has passed.
  std::optional<FlushReason> CheckTimeout() const;

  // Hands over the open batch and starts a new one.
  Batch Take(FlushReason reason);

  // New limits apply from the next Add().
  void set_limits(BatchLimits limits) { limits_ = limits; }
  const BatchLimits& limits() const { return limits_; }

  // The open batch (its messages in each partition's offset order).
  const Batch& open() const { return open_; }
  bool empty() const { return open_.messages.empty(); }
  size_t size() const { return open_.messages.size(); }

 private:
  const Clock& clock_;
  BatchLimits limits_;
  Batch open_;
  // When the open batch's first message was produced, as far as it counts: its
  // Kafka timestamp, but no earlier than one timeout before it was consumed (a
  // backlog or a skewed producer clock) and no later than its consumption.
  absl::Time born_ = absl::InfiniteFuture();
  absl::Duration write_allowance_ = absl::ZeroDuration();
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_BATCHER_H_
