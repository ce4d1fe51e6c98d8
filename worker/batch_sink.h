// Where batches go. The PostgreSQL implementation is postgres_batch_sink.h.
#ifndef SLUICE_WORKER_BATCH_SINK_H_
#define SLUICE_WORKER_BATCH_SINK_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/batch.h"
#include "worker/message.h"

namespace sluice::worker {

// What one committed batch did to one partition.
struct PartitionWrite {
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t dead_letters = 0;
};

// What one committed batch did.
struct WriteResult {
  int64_t rows_written = 0;
  int64_t dead_letters = 0;
  int64_t bytes_written = 0;
  std::map<TopicPartition, PartitionWrite> partitions;
  // Items by rollout path (dead letters included; all Kafka without a rollout).
  int64_t kafka_items = 0;
  int64_t legacy_items = 0;
  // Dead letters by path.
  int64_t kafka_dead_letters = 0;
  int64_t legacy_dead_letters = 0;
};

// Writes batches exactly once: rows, dead letters and next offsets in one
// transaction, fenced against other writers of the same partitions.
// Not thread-safe: used from the ingest loop's thread.
class BatchSink {
 public:
  virtual ~BatchSink() = default;

  // Reads the stored next offsets of `partitions` and makes them this writer's fence:
  // later writes only commit if the stored offsets are still the ones read here (or
  // last written). Partitions with no stored offset are left out of the result.
  // Returns UNAVAILABLE when the database cannot be reached.
  virtual absl::StatusOr<OffsetMap> ClaimPartitions(
      const std::vector<TopicPartition>& partitions) = 0;

  // Forgets the fence of `partitions` (they were revoked).
  virtual void ReleasePartitions(const std::vector<TopicPartition>& partitions) = 0;

  // Whether the partition is claimed (assigned to this writer and not fenced).
  virtual bool IsClaimed(const TopicPartition& partition) const = 0;

  // The fence position (stored next offset) of a claimed partition, if known.
  virtual std::optional<int64_t> FencePosition(const TopicPartition& partition) const = 0;

  // Writes `batch` in one transaction. Payloads the target column cannot hold go to
  // the dead-letter table in the same transaction. On error nothing is written:
  //   UNAVAILABLE — transient (connection, serialization, deadlock): retry the batch;
  //   ABORTED — fenced: another writer moved a partition's offset; the message lists
  //             the partitions, which are released; do not retry;
  //   FAILED_PRECONDITION — a partition is not claimed, or the table is unusable.
  virtual absl::StatusOr<WriteResult> Write(const Batch& batch) = 0;

  // Partitions whose last Write() was fenced (valid after ABORTED).
  virtual std::vector<TopicPartition> LastFencedPartitions() const = 0;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_BATCH_SINK_H_
