// Where batches go. The PostgreSQL implementation is postgres/postgres_batch_sink.h.
#ifndef SLUICE_WORKER_BATCH_SINK_H_
#define SLUICE_WORKER_BATCH_SINK_H_

#include <map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/batch.h"
#include "worker/message.h"
#include "worker/offset_fence.h"

namespace sluice::worker {

// What one committed batch did to one partition.
struct PartitionWrite {
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t dead_letters = 0;
};

// What one batch did.
struct WriteResult {
  // Non-empty: the batch was NOT written, because the stored offsets of these
  // partitions were not the expected ones (another writer moved them). Nothing
  // else in the result is meaningful then.
  std::vector<TopicPartition> fenced;
  int64_t rows_written = 0;
  int64_t dead_letters = 0;
  int64_t bytes_written = 0;
  std::map<TopicPartition, PartitionWrite> partitions;
  // Items by rollout path (dead letters included; all Kafka without a rollout;
  // unrouted items, Message::unrouted_reason, on neither).
  int64_t kafka_items = 0;
  int64_t legacy_items = 0;
  // Dead letters by path.
  int64_t kafka_dead_letters = 0;
  int64_t legacy_dead_letters = 0;
  // Dead letters on neither path (Message::unrouted_reason).
  int64_t unrouted_dead_letters = 0;
  // COPYs spent isolating the rows PostgreSQL refused (0 when none was).
  int64_t isolation_copies = 0;
};

// Writes batches exactly once: rows, dead letters and next offsets in one
// transaction, guarded by compare-and-sets on the stored offsets.
// Not thread-safe: used from the ingest loop's thread.
class BatchSink {
 public:
  virtual ~BatchSink() = default;

  // The stored next offsets of `partitions`; partitions without a stored row are
  // left out. A stored offset may be symbolic (kOffsetBeginning, kOffsetEnd).
  // UNAVAILABLE when the database cannot be reached.
  virtual absl::StatusOr<OffsetMap> ReadOffsets(const std::vector<TopicPartition>& partitions) = 0;

  // Applies `updates` alone, in one transaction (to pin a symbolic position to
  // the offset it resolved to). Returns the partitions whose compare-and-set
  // failed (nothing was written then); UNAVAILABLE / FAILED_PRECONDITION as Write.
  virtual absl::StatusOr<std::vector<TopicPartition>> MoveOffsets(
      const std::vector<OffsetUpdate>& updates) = 0;

  // Writes `batch` and applies `updates` in one transaction. Payloads the target
  // cannot hold go to the dead-letter table in the same transaction.
  // OK with `fenced` empty: committed. OK with `fenced` non-empty: nothing written.
  // Errors (nothing written):
  //   UNAVAILABLE — transient (connection, serialization, deadlock, timeout): retry;
  //   FAILED_PRECONDITION — the table is unusable (missing, wrong columns, no
  //                         permission): retry, the operator can fix it;
  //   INTERNAL (or any other code) — retrying the same batch will not help; the
  //              caller pauses the pipeline.
  virtual absl::StatusOr<WriteResult> Write(const Batch& batch,
                                            const std::vector<OffsetUpdate>& updates) = 0;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_BATCH_SINK_H_
