// Source → batcher → sink for one pipeline, on one thread.
#ifndef SLUICE_WORKER_INGEST_LOOP_H_
#define SLUICE_WORKER_INGEST_LOOP_H_

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "worker/batch_sink.h"
#include "worker/batcher.h"
#include "worker/message_source.h"
#include "worker/pipeline_stats.h"
#include "worker/router.h"
#include "worker/worker_metrics.h"

namespace sluice::worker {

struct IngestLoopConfig {
  std::vector<std::string> topics;
  BatchLimits limits;
  // First and longest wait between whole-batch retries.
  absl::Duration retry_initial = absl::Milliseconds(100);
  absl::Duration retry_max = absl::Seconds(10);
  // After a stop request, how long the final flush may keep retrying.
  absl::Duration shutdown_timeout = absl::Seconds(15);
};

// Everything the loop uses, owned elsewhere and outliving it.
struct IngestLoopDeps {
  MessageSource* source;
  BatchSink* sink;
  const Clock* clock;
  WorkerMetrics* metrics;
  // Deltas for the controller's stats stream; null in standalone mode.
  PipelineStats* stats = nullptr;
  // Sets each item's path under a rollout; null without one (all Kafka path).
  const Router* router = nullptr;
};

// Runs until asked to stop, then writes the open batch, leaves the group and returns.
// Batches are retried until they commit (or are fenced); a message is never dropped
// without its offset staying behind in PostgreSQL, so the next owner re-reads it.
class IngestLoop : public RebalanceHandler {
 public:
  IngestLoop(IngestLoopDeps deps, IngestLoopConfig config);

  // Blocks until `stop` becomes true (or the source fails). Returns UNAVAILABLE if the
  // Kafka client failed fatally, DEADLINE_EXCEEDED if the final batch could not be
  // written within the shutdown timeout (it is then re-read by the next owner).
  absl::Status Run(const std::atomic<bool>& stop);

  // OK when partitions are assigned and the last database operation succeeded.
  // Thread-safe.
  absl::Status Ready() const;

  // New limits take effect from the next message added (no restart). Thread-safe.
  void UpdateLimits(const BatchLimits& limits);

  OffsetMap OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) override;
  void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions, bool lost) override;

 private:
  // Writes the open batch until it commits, is fenced, or stopping runs out of time.
  // Returns false only when it gave up (stop deadline).
  bool Flush(FlushReason reason);
  // A fenced batch was dropped: pause the partitions now owned elsewhere and move
  // the others back to the first message of the dropped batch.
  void RewindAfterFence(const Batch& batch);
  bool GiveUp() const;
  // False for messages that must not be batched: of a partition this writer does
  // not hold (fenced or revoked), or of the rest of a poll after a fence (they are
  // read again from the rewind point).
  bool Keep(const Message& message) const;

  const IngestLoopDeps deps_;
  const IngestLoopConfig config_;
  Batcher batcher_;
  ExponentialBackoff backoff_;
  const std::atomic<bool>* stop_ = nullptr;
  absl::Time stop_deadline_ = absl::InfiniteFuture();
  std::atomic<bool> db_ok_{false};
  absl::Time next_lag_update_ = absl::InfinitePast();
  // Partitions of a dropped batch, during the rest of the poll that dropped it.
  std::set<TopicPartition> skip_rest_of_poll_;
  // Bumped when skip_rest_of_poll_ changes, so a cached Keep() decision is redone.
  uint64_t skip_epoch_ = 0;
  absl::Mutex limits_mu_;
  std::optional<BatchLimits> new_limits_ ABSL_GUARDED_BY(limits_mu_);
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_INGEST_LOOP_H_
