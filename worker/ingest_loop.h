// Source → batcher → sink for one pipeline, on one thread.
#ifndef SLUICE_WORKER_INGEST_LOOP_H_
#define SLUICE_WORKER_INGEST_LOOP_H_

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "worker/adaptive_timeout.h"
#include "worker/batch_sink.h"
#include "worker/batch_writer.h"
#include "worker/batcher.h"
#include "worker/dead_letter_rate_guard.h"
#include "worker/lag_status.h"
#include "worker/message_source.h"
#include "worker/offset_fence.h"
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
  // Where a partition without a stored offset starts: kOffsetBeginning or
  // kOffsetEnd (the pipeline's auto.offset.reset).
  int64_t unstored_start = kOffsetBeginning;
  // How long transient errors may go on before Ready() reports them.
  absl::Duration unready_after = absl::Seconds(30);
  // How often a stalled partition's stored offset is read again (an operator may
  // have reset it).
  absl::Duration stall_recheck_interval = absl::Seconds(10);
  // BadRowTolerance MODE_RATE: pause once dead letters exceed this share of the
  // items committed over dead_letter_window (0: never).
  double max_dead_letter_rate = 0;
  absl::Duration dead_letter_window = absl::Minutes(5);
};

// Everything the loop uses, owned elsewhere and outliving it.
struct IngestLoopDeps {
  MessageSource* source;
  // Reads and moves stored offsets, on the loop's thread (its own connection).
  BatchSink* sink;
  // At least one. Each writes the batches of its own share of the partitions, one
  // batch at a time, while the loop fills the next ones.
  std::vector<BatchWriter*> writers;
  const Clock* clock;
  WorkerMetrics* metrics;
  // Deltas for the controller's stats stream; null in standalone mode.
  PipelineStats* stats = nullptr;
  // Sets each item's path under a rollout; null without one (all Kafka path).
  const Router* router = nullptr;
};

// Runs until asked to stop, then writes the open batches, leaves the group and returns.
//
// Overlap: every partition belongs to one writer (a lane). A lane holds one open
// batch, filled by this thread, and at most one batch in flight, written by its
// writer meanwhile. A full (or timed-out) batch is handed over when the lane's
// writer is free; until then the loop waits (PostgreSQL is the slower side). The
// next batch's compare-and-sets are planned only after the batch before it
// committed, and nothing is written for a partition after it was revoked: the
// rebalance callback waits for the batches in flight first (one attempt when the
// partitions are lost). A batch in flight that is fenced, refused or given up
// takes with it the open batch that continues it, and the partitions of both are
// claimed again.
//
// Offsets: PostgreSQL's sluice_offsets is the only source of truth. A partition is
// read from its stored offset (or `unstored_start`), every batch must continue
// exactly from the stored offset of each of its partitions (OffsetFence), and a
// message that does not continue its partition's stream is never batched. When a
// batch is fenced or refused, it is dropped and its partitions are claimed again:
// stored offsets re-read, the source moved there.
//
// Routing under a rollout (deps.router): an item is routed only when its
// timestamp lies within the flag schedule the worker knows (the controller's
// ScheduleHorizon). A later item holds its partition (paused, shown by Ready()
// and sluice_partitions_held_for_schedule) until the horizon covers it, for at
// most the hold limit; then it goes to dead letters ("timestamp beyond the known
// schedule", on neither path) and the partition goes on. Never routed on a guess,
// never blocked without bound.
//
// Errors follow one rule: transient ones (UNAVAILABLE, FAILED_PRECONDITION,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) are retried with backoff, counted, and
// reported by Ready() once they have lasted `unready_after`; any other is
// permanent and pauses the pipeline (nothing more is written, nothing is
// acknowledged) with the reason in Ready() and a metric.
class IngestLoop : public RebalanceHandler {
 public:
  IngestLoop(IngestLoopDeps deps, IngestLoopConfig config);

  // Blocks until `stop` becomes true (or the source fails). Returns UNAVAILABLE if the
  // Kafka client failed fatally, DEADLINE_EXCEEDED if the final batch could not be
  // written within the shutdown timeout (it is then re-read by the next owner).
  absl::Status Run(const std::atomic<bool>& stop);

  // OK when partitions are assigned and nothing is failing, paused or stalled;
  // otherwise UNAVAILABLE with the reason. Thread-safe.
  absl::Status Ready() const;

  // The permanent error that paused the pipeline; empty while it runs. Thread-safe.
  std::string PausedReason() const;

  // New limits take effect from the next message added (no restart). Thread-safe.
  void UpdateLimits(const BatchLimits& limits);

  OffsetMap OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) override;
  void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions, bool lost) override;
  void OnPartitionStalled(const TopicPartition& partition, const std::string& reason,
                          StallKind kind) override;
  void OnMessagesExpired(const TopicPartition& partition, int64_t from, int64_t to) override;

 private:
  // Where the loop stands with one assigned partition.
  struct PartitionState {
    // The next offset the source's stream is expected to deliver (or a symbolic
    // start): messages below it were batched already or are stale.
    int64_t cursor = 0;
    // Set after an assign or seek: only a message that starts the source's new
    // stream (or sits exactly at `cursor`) is accepted next.
    bool resync = true;
    // Its stored offset must be read again and the source moved there, at
    // `reclaim_at`; until then its messages are not batched.
    bool needs_reclaim = false;
    absl::Time reclaim_at = absl::InfinitePast();
    int reclaim_failures = 0;
    // Non-empty: paused by the source with this reason (see OnPartitionStalled);
    // `stalled_at_stored` is the stored offset it stalled at. A kNeedsOperator
    // stall ends when that offset changes; a kTransient one at each recheck.
    std::string stalled;
    StallKind stall_kind = StallKind::kNeedsOperator;
    std::optional<int64_t> stalled_at_stored;
    // Index of the lane that writes it.
    size_t lane = 0;
    // Set while held: the offset of its next item, whose timestamp
    // (`held_item_time`) lies beyond the flag schedule the worker knows. The
    // source is paused; `cursor` is where the stream stood before that item, so
    // the seek back to `held_at` continues it.
    std::optional<int64_t> held_at;
    absl::Time held_item_time;
    // When the partition was first held since it last routed an item: after the
    // router's hold limit, items beyond the known schedule go to dead letters.
    std::optional<absl::Time> held_since;
    // The Kafka timestamp of the newest message committed to PostgreSQL (by this
    // worker since it was assigned the partition).
    std::optional<absl::Time> last_committed_at;
  };

  // One writer's share: its open batch and the batch it is writing.
  struct Lane {
    Lane(BatchWriter* w, const Clock& clock, const IngestLoopConfig& config)
        : writer(w),
          batcher(clock, config.limits),
          backoff(config.retry_initial, config.retry_max) {}
    BatchWriter* writer;
    Batcher batcher;
    // While `in_flight`: the batch the writer has, its compare-and-sets, and when
    // its first attempt started.
    bool in_flight = false;
    Batch flying;
    std::vector<OffsetUpdate> plan;
    absl::Time started;
    ExponentialBackoff backoff;
    // Moving average of the lane's committed write durations (zero before the
    // first): the batcher hands batches over that much before their deadline.
    absl::Duration write_estimate = absl::ZeroDuration();
    // Whether a batch is in flight and its writer still at it.
    bool busy() { return in_flight && !writer->Done(); }
    // Whether the batch in flight / the open batch holds one of `partitions`
    // (TopicPartitions, or a map keyed by them).
    template <typename Partitions>
    bool FlyingHoldsAny(const Partitions& partitions) const {
      if (!in_flight) return false;
      for (const auto& p : partitions) {
        if (flying.next_offsets.count(PartitionOf(p)) > 0) return true;
      }
      return false;
    }
    template <typename Partitions>
    bool OpenHoldsAny(const Partitions& partitions) const {
      for (const auto& p : partitions) {
        if (batcher.Holds(PartitionOf(p))) return true;
      }
      return false;
    }
    static const TopicPartition& PartitionOf(const TopicPartition& tp) { return tp; }
    static const TopicPartition& PartitionOf(const OffsetMap::value_type& entry) {
      return entry.first;
    }
  };

  // Completes the client's lag figures (PartitionLag) with what the loop knows:
  // messages not yet committed to PostgreSQL, and how long the oldest of them has
  // waited (docs/METRICS.md, "Lag").
  void CompleteLag(std::vector<PartitionLag>* lag, absl::Time now);
  // Takes the client's lag, completes it and hands it to the metrics and stats.
  void UpdateLag(absl::Time now);

  // Hands the lane's open batch to its writer, after the batch in flight ended.
  // Returns false only when stopping gave up on a batch.
  bool Submit(Lane& lane, FlushReason reason);
  // Waits for the lane's batch in flight to end. With `retry`, transient errors
  // are retried (with backoff) until it commits, is fenced, pauses the pipeline
  // or stopping runs out of time (returns false); without, one attempt decides.
  bool Finish(Lane& lane, bool retry);
  // Ends the writes that have ended by themselves (does not wait for a writer,
  // but retries a failed attempt, with its backoff, like Finish()).
  void CollectFinished();
  // Submits every lane's open batch and waits for all of them.
  bool FlushAll(FlushReason reason);
  // Drops the lane's open batch; its partitions are claimed again after `delay`.
  void DropOpenBatch(Lane& lane, absl::Duration delay);
  // The same, when the open batch holds a partition of `unwritten` (so it continues
  // a batch that was not written and could only be refused).
  void DropOpenBatchContinuing(Lane& lane, const Batch& unwritten, absl::Duration delay);
  // Which lane writes `partition`.
  size_t LaneOf(const TopicPartition& partition) const;
  // Whether `message` continues its partition's stream; advances the cursor.
  bool Accept(const Message& message, PartitionState* state, int64_t* continues_from);
  // Drops what the loop holds of `partitions` and schedules them to be claimed again.
  void ScheduleReclaim(const std::vector<TopicPartition>& partitions, absl::Duration delay);
  // Claims the partitions whose reclaim is due: reads their stored offsets, seeks.
  void ReclaimDue();
  // At an assignment: resolves the partitions that would start at a symbolic
  // position (stored, or unstored_start) to the offset it stands for now and
  // stores that (compare-and-set), updating `stored`. Left symbolic when either
  // step fails.
  void PinSymbolicStarts(const std::vector<TopicPartition>& partitions, OffsetMap* stored);
  // Holds `tp` at `message` (beyond the known schedule): pauses it in the source.
  void HoldForSchedule(const TopicPartition& tp, const Message& message, int64_t continues_from,
                       PartitionState* state);
  // Seeks back the held partitions whose item the schedule now covers, or whose
  // hold limit passed (the item is then dead-lettered when it comes back).
  void ReleaseHolds();
  // The reason an item beyond the known schedule goes to dead letters with.
  // `too_far_ahead`: sent without holding, as it could not become known in time.
  std::string BeyondScheduleReason(const Message& message, bool too_far_ahead) const;
  // Stops writing: a permanent error. Pauses every assigned partition.
  void PauseForever(const std::string& reason);
  // Sleeps through `clock`, waking early when the stop deadline passes.
  void SleepUnlessStopping(absl::Duration delay);
  bool StopDeadlinePassed();
  void NoteFailure(const absl::Status& status);
  void NoteSuccess();
  std::vector<TopicPartition> Assigned() const;

  const IngestLoopDeps deps_;
  const IngestLoopConfig config_;
  std::vector<Lane> lanes_;
  OffsetFence fence_;
  const std::atomic<bool>* stop_ = nullptr;
  absl::Time stop_deadline_ = absl::InfiniteFuture();
  absl::Time next_lag_update_ = absl::InfinitePast();
  LagStatusTracker lag_status_;
  // Set while the limits carry a freshness target: tunes the lanes' consumer
  // timeout from their committed batches.
  std::optional<AdaptiveTimeout> adaptive_;
  // (Re)starts or ends the tuning for `limits` and applies them to every lane.
  void ApplyLimits(const BatchLimits& limits);
  // The tuned timeout, to every lane (their other limits kept) and noted.
  void UseConsumerTimeout(absl::Duration timeout);
  // The timeout in use, to the metrics and the stats stream.
  void NoteConsumerTimeout(absl::Duration timeout);
  absl::Time next_reclaim_check_ = absl::InfinitePast();
  std::map<TopicPartition, PartitionState> partitions_;
  // Bumped whenever partitions_ changes shape, so a cached lookup is redone.
  uint64_t partitions_epoch_ = 0;
  bool paused_ = false;
  DeadLetterRateGuard dead_letter_rate_;
  // A batch was given up at shutdown: its messages are read again by the next owner.
  bool abandoned_ = false;

  // What Ready() reports, shared with other threads.
  mutable absl::Mutex status_mu_;
  std::optional<absl::Time> failing_since_ ABSL_GUARDED_BY(status_mu_);
  std::string last_error_ ABSL_GUARDED_BY(status_mu_);
  std::string paused_reason_ ABSL_GUARDED_BY(status_mu_);
  std::map<TopicPartition, std::string> stalled_ ABSL_GUARDED_BY(status_mu_);
  // Partitions held for the schedule, with the reason, for Ready().
  std::map<TopicPartition, std::string> held_ ABSL_GUARDED_BY(status_mu_);
  // Whether any partition is held (the loop's thread only; held_ says which).
  int held_count_ = 0;
  // After a failed seek in ReleaseHolds(): when to try again.
  absl::Time next_release_at_ = absl::InfinitePast();
  int release_failures_ = 0;

  absl::Mutex limits_mu_;
  std::optional<BatchLimits> new_limits_ ABSL_GUARDED_BY(limits_mu_);
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_INGEST_LOOP_H_
