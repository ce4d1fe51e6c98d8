#include "worker/ingest_loop.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"

namespace sluice::worker {
namespace {

// A time as the hold and dead-letter reasons show it (UTC, RFC 3339).
std::string Utc(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

const char* RetryReason(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kFailedPrecondition:
      return "precondition";
    default:
      return "internal";
  }
}

// The error rule: these may go away by themselves (or by an operator fixing the
// database) while the same batch is retried; anything else will not.
bool IsTransient(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

std::vector<TopicPartition> PartitionsOf(const Batch& batch) {
  std::vector<TopicPartition> out;
  out.reserve(batch.next_offsets.size());
  for (const auto& [tp, next] : batch.next_offsets) out.push_back(tp);
  return out;
}

std::string Describe(const std::vector<TopicPartition>& partitions) {
  std::vector<std::string> names;
  names.reserve(partitions.size());
  for (const TopicPartition& tp : partitions) names.push_back(tp.ToString());
  return absl::StrJoin(names, ", ");
}

// The stored offset of `tp`, empty when sluice_offsets has no row for it.
std::optional<int64_t> StoredRow(const OffsetMap& stored, const TopicPartition& tp) {
  auto it = stored.find(tp);
  if (it == stored.end()) return std::nullopt;
  return it->second;
}

constexpr absl::Duration kMaxPollWait = absl::Milliseconds(100);
constexpr absl::Duration kLagUpdateInterval = absl::Seconds(1);
constexpr absl::Duration kSleepSlice = absl::Milliseconds(50);
constexpr size_t kMaxPollMessages = 5000;

}  // namespace

IngestLoop::IngestLoop(IngestLoopDeps deps, IngestLoopConfig config)
    : deps_(std::move(deps)),
      config_(std::move(config)),
      dead_letter_rate_(config_.max_dead_letter_rate, config_.dead_letter_window) {
  CHECK(!deps_.writers.empty()) << "an ingest loop needs at least one writer";
  lanes_.reserve(deps_.writers.size());
  for (BatchWriter* writer : deps_.writers) {
    writer->NotifyOnEnd([source = deps_.source] { source->Wake(); });
    lanes_.emplace_back(writer, *deps_.clock, config_);
  }
}

size_t IngestLoop::LaneOf(const TopicPartition& partition) const {
  // Partitions of a topic are numbered from 0, so consecutive ones spread evenly.
  return (std::hash<std::string>{}(partition.topic) + static_cast<size_t>(partition.partition)) %
         lanes_.size();
}

absl::Status IngestLoop::Ready() const {
  {
    absl::MutexLock lock(&status_mu_);
    if (!paused_reason_.empty()) {
      return absl::UnavailableError(absl::StrCat("paused: ", paused_reason_));
    }
    if (!held_.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "partition ", held_.begin()->first.ToString(), " held: ", held_.begin()->second,
          held_.size() > 1 ? absl::StrCat(" (and ", held_.size() - 1, " more)") : ""));
    }
    if (!stalled_.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "partition ", stalled_.begin()->first.ToString(), " stalled: ", stalled_.begin()->second,
          stalled_.size() > 1 ? absl::StrCat(" (and ", stalled_.size() - 1, " more)") : ""));
    }
    if (failing_since_ && deps_.clock->Now() - *failing_since_ >= config_.unready_after) {
      return absl::UnavailableError(absl::StrCat(
          "failing for ",
          absl::FormatDuration(absl::Trunc(deps_.clock->Now() - *failing_since_, absl::Seconds(1))),
          ": ", last_error_));
    }
  }
  if (deps_.source->AssignedPartitionCount() == 0) {
    return absl::UnavailableError("no Kafka partitions assigned");
  }
  return absl::OkStatus();
}

std::string IngestLoop::PausedReason() const {
  absl::MutexLock lock(&status_mu_);
  return paused_reason_;
}

void IngestLoop::UpdateLimits(const BatchLimits& limits) {
  absl::MutexLock lock(&limits_mu_);
  new_limits_ = limits;
}

void IngestLoop::ApplyLimits(const BatchLimits& limits) {
  BatchLimits applied = limits;
  if (limits.freshness_target <= absl::ZeroDuration()) {
    adaptive_.reset();
  } else if (!adaptive_ || adaptive_->options().target != limits.freshness_target) {
    // A new target starts from the timeout in use (or the configured one).
    const absl::Duration start = adaptive_ ? adaptive_->timeout() : limits.consumer_timeout;
    adaptive_.emplace(AdaptiveTimeout::ForTarget(limits.freshness_target), start);
  }
  if (adaptive_) applied.consumer_timeout = adaptive_->timeout();
  for (Lane& lane : lanes_) lane.batcher.set_limits(applied);
  NoteConsumerTimeout(applied.consumer_timeout);
}

void IngestLoop::UseConsumerTimeout(absl::Duration timeout) {
  for (Lane& lane : lanes_) {
    BatchLimits limits = lane.batcher.limits();
    limits.consumer_timeout = timeout;
    lane.batcher.set_limits(limits);
  }
  NoteConsumerTimeout(timeout);
}

void IngestLoop::NoteConsumerTimeout(absl::Duration timeout) {
  deps_.metrics->SetConsumerTimeout(timeout);
  if (deps_.stats != nullptr) deps_.stats->SetConsumerTimeout(timeout);
}

bool IngestLoop::StopDeadlinePassed() {
  if (stop_ == nullptr || !stop_->load()) return false;
  const absl::Time now = deps_.clock->Now();
  if (stop_deadline_ == absl::InfiniteFuture()) stop_deadline_ = now + config_.shutdown_timeout;
  return now >= stop_deadline_;
}

void IngestLoop::SleepUnlessStopping(absl::Duration delay) {
  const absl::Time until = deps_.clock->Now() + delay;
  while (!StopDeadlinePassed()) {
    const absl::Time now = deps_.clock->Now();
    if (now >= until) return;
    absl::Duration slice = std::min(until - now, kSleepSlice);
    if (stop_deadline_ != absl::InfiniteFuture()) slice = std::min(slice, stop_deadline_ - now);
    deps_.clock->SleepFor(slice);
  }
}

void IngestLoop::NoteFailure(const absl::Status& status) {
  absl::MutexLock lock(&status_mu_);
  if (!failing_since_) failing_since_ = deps_.clock->Now();
  last_error_ = std::string(status.message());
}

void IngestLoop::NoteSuccess() {
  absl::MutexLock lock(&status_mu_);
  failing_since_.reset();
  last_error_.clear();
}

std::vector<TopicPartition> IngestLoop::Assigned() const {
  std::vector<TopicPartition> out;
  out.reserve(partitions_.size());
  for (const auto& [tp, state] : partitions_) out.push_back(tp);
  return out;
}

absl::Status IngestLoop::Run(const std::atomic<bool>& stop) {
  stop_ = &stop;
  // Here, not in the constructor: a prepared replacement must not overwrite the
  // running pipeline's gauges (they share labels).
  deps_.metrics->SetWriters(static_cast<int>(lanes_.size()));
  ApplyLimits(config_.limits);
  absl::Status status = deps_.source->Subscribe(config_.topics, this);
  if (!status.ok()) return status;
  while (!stop.load()) {
    {
      absl::MutexLock lock(&limits_mu_);
      if (new_limits_) {
        ApplyLimits(*new_limits_);
        new_limits_.reset();
      }
    }
    CollectFinished();
    ReclaimDue();
    if (held_count_ > 0) ReleaseHolds();
    const absl::Time now = deps_.clock->Now();
    // A lane whose writer is busy hands its due batch over when the writer ends,
    // which wakes the poll: only the others' deadlines bound the wait.
    absl::Time deadline = absl::InfiniteFuture();
    for (Lane& lane : lanes_) {
      if (!lane.busy()) deadline = std::min(deadline, lane.batcher.deadline());
    }
    const absl::Duration wait = std::clamp(deadline - now, absl::ZeroDuration(), kMaxPollWait);
    const size_t room =
        static_cast<size_t>(std::max<int64_t>(1, lanes_[0].batcher.limits().max_rows));
    absl::StatusOr<std::vector<Message>> polled =
        deps_.source->Poll(std::min(room, kMaxPollMessages), wait);
    if (!polled.ok()) {
      status = polled.status();
      break;
    }
    // Messages come in runs per partition: look the partition up once per run.
    size_t accepted = 0;
    size_t without_timestamp = 0;
    size_t before_kept_schedule = 0;
    std::string run_topic;
    int32_t run_partition = -1;
    uint64_t run_epoch = 0;
    PartitionState* state = nullptr;
    for (Message& m : *polled) {
      if (m.partition != run_partition || m.topic != run_topic || run_epoch != partitions_epoch_) {
        auto it = partitions_.find(m.topic_partition());
        state = it == partitions_.end() ? nullptr : &it->second;
        run_topic = m.topic;
        run_partition = m.partition;
        run_epoch = partitions_epoch_;
      }
      int64_t continues_from = 0;
      if (state == nullptr || paused_ || !Accept(m, state, &continues_from)) continue;
      if (deps_.router != nullptr) {
        const Router::Timestamp routed = deps_.router->Route(&m);
        if (routed == Router::Timestamp::kBeyondKnownSchedule) {
          const absl::Duration limit = deps_.router->hold_limit();
          const absl::Duration lead = deps_.router->lead();
          const bool expired = state->held_since.has_value() && now - *state->held_since >= limit;
          // The horizon moves at most as fast as the clock: an item later than
          // now + lead + limit cannot become known within the limit (a producer
          // clock far ahead), so it does not hold the partition first.
          const bool hopeless = lead > absl::ZeroDuration() && *m.timestamp > now + lead + limit;
          if (!expired && !hopeless) {
            HoldForSchedule(m.topic_partition(), m, continues_from, state);
            continue;
          }
          // This item goes to dead letters, on neither path; the partition goes on.
          m.unrouted_reason = BeyondScheduleReason(m, hopeless && !expired);
        } else {
          state->held_since.reset();  // routed: the schedule covers this partition again
          if (routed == Router::Timestamp::kMissing) ++without_timestamp;
          if (routed == Router::Timestamp::kBeforeKeptSchedule) ++before_kept_schedule;
        }
      }
      ++accepted;
      Lane& lane = lanes_[state->lane];
      if (std::optional<FlushReason> full = lane.batcher.Add(std::move(m), continues_from)) {
        Submit(lane, *full);
      }
    }
    if (accepted > 0) deps_.metrics->MessagesConsumed(accepted);
    if (without_timestamp > 0) deps_.metrics->ItemsWithoutTimestamp(without_timestamp);
    if (before_kept_schedule > 0) {
      deps_.metrics->ItemsBeforeScheduleRetention(before_kept_schedule);
    }
    if (polled->size() > accepted) deps_.metrics->MessagesDiscarded(polled->size() - accepted);
    for (Lane& lane : lanes_) {
      // Due while its writer is busy: the batch goes on filling (up to its
      // limits) instead of the loop waiting, and is handed over once the writer
      // is free.
      if (lane.busy()) continue;
      if (std::optional<FlushReason> due = lane.batcher.CheckTimeout()) Submit(lane, *due);
    }
    if (now >= next_lag_update_) UpdateLag(now);
  }
  // Shutting down: write what is open, then leave the group (which revokes).
  StopDeadlinePassed();  // arms the deadline
  if (stop_deadline_ == absl::InfiniteFuture()) {
    stop_deadline_ = deps_.clock->Now() + config_.shutdown_timeout;
  }
  bool flushed = FlushAll(::sluice::v1::FLUSH_REASON_SHUTDOWN) && !abandoned_;
  absl::Status closed = deps_.source->Close();
  if (!closed.ok()) LOG(WARNING) << closed.message();
  if (!status.ok()) return status;
  if (!flushed) {
    return absl::DeadlineExceededError(
        "the last batch could not be written before the shutdown timeout; "
        "its messages stay unacknowledged and are read again by the next owner");
  }
  return absl::OkStatus();
}

bool IngestLoop::Accept(const Message& message, PartitionState* state, int64_t* continues_from) {
  if (state->needs_reclaim || !state->stalled.empty() || state->held_at) return false;
  if (state->resync) {
    // Right after an assign or seek: the stream restarts at `cursor`. A message
    // fetched before the seek is not part of it, even if its offset is higher.
    const bool exact = !IsSymbolicOffset(state->cursor) && message.offset == state->cursor;
    const bool starts = message.starts_stream &&
                        (IsSymbolicOffset(state->cursor) || message.offset >= state->cursor);
    if (!exact && !starts) {
      if (message.starts_stream) {
        // The source's new stream starts below where it was sent: it is reading
        // from somewhere else. Send it back to the stored offset.
        LOG(WARNING) << message.topic_partition().ToString() << " restarted at " << message.offset
                     << ", before " << DescribeOffset(state->cursor) << "; claiming it again";
        state->needs_reclaim = true;
        state->reclaim_at =
            deps_.clock->Now() +
            DoublingDelay(config_.retry_initial, config_.retry_max, ++state->reclaim_failures);
        ++partitions_epoch_;
      }
      return false;
    }
    state->resync = false;
  } else if (message.offset < state->cursor) {
    return false;  // batched already
  }
  *continues_from = state->cursor;
  state->cursor = message.offset + 1;
  return true;
}

bool IngestLoop::Submit(Lane& lane, FlushReason reason) {
  if (lane.in_flight && !Finish(lane, /*retry=*/true)) return false;
  if (lane.batcher.empty()) return true;
  Batch batch = lane.batcher.Take(reason);
  if (paused_) {
    // Nothing more is written after a permanent error; these stay unacknowledged.
    deps_.metrics->MessagesDiscarded(batch.messages.size());
    return true;
  }
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence_.Plan(batch);
  if (!plan.ok()) {
    // A bug upstream let a message through that does not continue its partition:
    // writing would lose or repeat data. Drop it all and start again from PostgreSQL.
    LOG(ERROR) << "refusing a batch of " << batch.messages.size()
               << " messages: " << plan.status().message();
    deps_.metrics->BatchFenced();
    ScheduleReclaim(PartitionsOf(batch), absl::ZeroDuration());
    return true;
  }
  lane.flying = std::move(batch);
  lane.plan = std::move(*plan);
  lane.started = deps_.clock->Now();
  lane.backoff.Reset();
  lane.writer->Start(lane.flying, lane.plan);
  lane.in_flight = true;
  return true;
}

void IngestLoop::DropOpenBatchContinuing(Lane& lane, const Batch& unwritten, absl::Duration delay) {
  if (lane.OpenHoldsAny(unwritten.next_offsets)) DropOpenBatch(lane, delay);
}

void IngestLoop::DropOpenBatch(Lane& lane, absl::Duration delay) {
  if (lane.batcher.empty()) return;
  const Batch dropped = lane.batcher.Take(::sluice::v1::FLUSH_REASON_UNSPECIFIED);
  deps_.metrics->MessagesDiscarded(dropped.messages.size());
  ScheduleReclaim(PartitionsOf(dropped), delay);
}

void IngestLoop::CollectFinished() {
  for (Lane& lane : lanes_) {
    if (lane.in_flight && lane.writer->Done()) Finish(lane, /*retry=*/true);
  }
}

bool IngestLoop::FlushAll(FlushReason reason) {
  bool all = true;
  for (Lane& lane : lanes_) {
    if (!Submit(lane, reason)) {
      // Gave up on the batch before it: this one is read again by the next owner
      // too, rather than written after the deadline (by the revoke in Close()).
      DropOpenBatch(lane, absl::ZeroDuration());
      all = false;
    }
  }
  for (Lane& lane : lanes_) {
    if (lane.in_flight && !Finish(lane, /*retry=*/true)) all = false;
  }
  return all;
}

bool IngestLoop::Finish(Lane& lane, bool retry) {
  while (true) {
    const bool blocks = !lane.writer->Done();
    const absl::Time waiting_since = deps_.clock->Now();
    WriteOutcome outcome = lane.writer->Wait();
    if (blocks) deps_.metrics->WriterWaited(deps_.clock->Now() - waiting_since);
    lane.in_flight = false;
    const Batch& batch = lane.flying;
    const absl::StatusOr<WriteResult>& result = outcome.result;
    // Whatever ends here, the lane holds no batch in flight afterwards.
    auto done = [&lane](bool ok) {
      lane.flying = Batch();
      lane.plan.clear();
      return ok;
    };
    if (result.ok() && result->fenced.empty()) {
      fence_.Advance(lane.plan);
      NoteSuccess();
      for (const OffsetUpdate& u : lane.plan) {
        auto it = partitions_.find(u.partition);
        if (it == partitions_.end()) continue;
        it->second.reclaim_failures = 0;
        // Stalled while this batch was in flight: the stored offset it stalled at
        // is the one this commit wrote, not an operator's move.
        if (!it->second.stalled.empty()) it->second.stalled_at_stored = u.next;
      }
      const absl::Duration took = outcome.finished_at - lane.started;
      lane.write_estimate = lane.write_estimate == absl::ZeroDuration()
                                ? took
                                : lane.write_estimate * 0.8 + took * 0.2;
      lane.batcher.set_write_allowance(lane.write_estimate);
      deps_.metrics->BatchWritten(batch, *result, took, outcome.finished_at);
      // One pass: the batch's oldest timestamp (for the adaptive timeout) and each
      // partition's newest committed one (for the lag in seconds). Messages come
      // in runs per partition: look each run's partition up once.
      std::optional<absl::Time> oldest;
      const Message* run = nullptr;
      PartitionState* state = nullptr;
      for (const Message& m : batch.messages) {
        if (!m.timestamp) continue;
        if (!oldest || *m.timestamp < *oldest) oldest = m.timestamp;
        if (run == nullptr || m.partition != run->partition || m.topic != run->topic) {
          auto p = partitions_.find(m.topic_partition());
          state = p == partitions_.end() ? nullptr : &p->second;
          run = &m;
        }
        if (state != nullptr &&
            (!state->last_committed_at || *state->last_committed_at < *m.timestamp)) {
          state->last_committed_at = m.timestamp;
        }
      }
      if (adaptive_ && oldest) {
        const absl::Duration before = adaptive_->timeout();
        if (adaptive_->Observe(outcome.finished_at, outcome.finished_at - *oldest,
                               batch.opened_at) != before) {
          UseConsumerTimeout(adaptive_->timeout());
        }
      }
      if (deps_.stats != nullptr) {
        deps_.stats->BatchCommitted(batch, *result, took, outcome.finished_at);
      }
      deps_.source->CommitAsync(batch.next_offsets);
      if (std::optional<std::string> over = dead_letter_rate_.Record(
              outcome.finished_at, result->rows_written + result->dead_letters,
              result->dead_letters)) {
        PauseForever(*over);
      }
      return done(true);
    }
    if (result.ok()) {
      NoteSuccess();
      LOG(WARNING) << "dropping a batch of " << batch.messages.size()
                   << " messages: the stored offsets of " << Describe(result->fenced)
                   << " moved since this worker read them (another worker wrote them); "
                      "claiming its partitions again";
      deps_.metrics->BatchFenced();
      int refusals = 0;
      for (const TopicPartition& tp : result->fenced) {
        auto it = partitions_.find(tp);
        if (it != partitions_.end()) refusals = std::max(refusals, ++it->second.reclaim_failures);
      }
      // A zombie keeps being fenced until the group takes the partition away:
      // space its attempts out.
      const absl::Duration delay =
          refusals <= 1 ? absl::ZeroDuration()
                        : DoublingDelay(config_.retry_initial, config_.retry_max, refusals);
      ScheduleReclaim(PartitionsOf(batch), delay);
      // An open batch continuing the fenced one could only be refused too.
      DropOpenBatchContinuing(lane, batch, delay);
      return done(true);
    }
    const absl::Status& error = result.status();
    if (!IsTransient(error)) {
      PauseForever(absl::StrCat("writing a batch of ", batch.messages.size(),
                                " messages failed and retrying cannot help: ", error.message()));
      return done(true);
    }
    NoteFailure(error);
    if (!retry) {
      LOG(WARNING) << "not retrying a batch of " << batch.messages.size()
                   << " messages whose partitions were lost (" << error.message()
                   << "); the rest of them are read again from their stored offsets";
      ScheduleReclaim(PartitionsOf(batch), absl::ZeroDuration());
      DropOpenBatchContinuing(lane, batch, absl::ZeroDuration());
      return done(true);
    }
    if (StopDeadlinePassed()) {
      LOG(ERROR) << "giving up on a batch of " << batch.messages.size()
                 << " messages at shutdown: " << error.message();
      abandoned_ = true;
      DropOpenBatchContinuing(lane, batch, absl::ZeroDuration());
      return done(false);
    }
    // While PostgreSQL refuses, the lag goes on growing: say so.
    if (deps_.clock->Now() >= next_lag_update_) UpdateLag(deps_.clock->Now());
    deps_.metrics->WriteRetried(RetryReason(error));
    if (deps_.stats != nullptr) deps_.stats->Retried();
    const absl::Duration delay = lane.backoff.NextDelay();
    LOG(WARNING) << "writing batch of " << batch.messages.size() << " messages failed ("
                 << error.message() << "); retry " << lane.backoff.attempts() << " in "
                 << absl::FormatDuration(delay);
    SleepUnlessStopping(delay);
    lane.writer->Start(lane.flying, lane.plan);
    lane.in_flight = true;
  }
}

void IngestLoop::UpdateLag(absl::Time now) {
  std::vector<PartitionLag> lag = deps_.source->Lag();
  CompleteLag(&lag, now);
  deps_.metrics->SetLag(lag);
  deps_.metrics->SetClientView(deps_.source->Client());
  if (deps_.stats != nullptr) deps_.stats->SetLag(lag);
  next_lag_update_ = now + kLagUpdateInterval;
}

void IngestLoop::CompleteLag(std::vector<PartitionLag>* lag, absl::Time now) {
  // What the loop holds read and not yet committed, per partition: the oldest
  // timestamp and the offset after the newest. The batch in flight (or being
  // retried) comes before the open one, and each holds a partition's messages in
  // offset order, so the first timestamp met is the oldest.
  struct Held {
    std::optional<absl::Time> oldest;
    int64_t end = 0;
  };
  std::map<TopicPartition, Held> held;
  for (const Lane& lane : lanes_) {
    for (const Batch* b : {&lane.flying, &lane.batcher.open()}) {
      const Message* run = nullptr;  // messages come in runs per partition
      Held* h = nullptr;
      for (const Message& m : b->messages) {
        if (run == nullptr || m.partition != run->partition || m.topic != run->topic) {
          h = &held[m.topic_partition()];
          run = &m;
        }
        if (!h->oldest && m.timestamp) h->oldest = m.timestamp;
        h->end = std::max(h->end, m.offset + 1);
      }
    }
  }
  std::set<TopicPartition> seen;
  for (PartitionLag& l : *lag) {
    const std::optional<int64_t> position = fence_.Position(l.partition);
    auto h = held.find(l.partition);
    // The client's statistics come every few seconds; what the loop read since
    // is newer.
    const int64_t end = std::max(l.high_watermark, h != held.end() ? h->second.end : int64_t{-1});
    if (end >= 0 && position && !IsSymbolicOffset(*position)) {
      l.lag = std::max<int64_t>(0, end - *position);
    }
    if (h != held.end() && h->second.oldest) {
      l.lag_time = std::max(absl::ZeroDuration(), now - *h->second.oldest);
    } else if (l.lag == 0) {
      l.lag_time = absl::ZeroDuration();
    } else if (l.lag > 0) {
      if (auto p = partitions_.find(l.partition);
          p != partitions_.end() && p->second.last_committed_at) {
        // Waiting messages not read yet: they were produced after the newest
        // committed one, so this bounds their wait from above.
        l.lag_time = std::max(absl::ZeroDuration(), now - *p->second.last_committed_at);
      }
    }
    auto state = partitions_.find(l.partition);
    const bool blocked = paused_ || (state != partitions_.end() && !state->second.stalled.empty() &&
                                     state->second.stall_kind == StallKind::kNeedsOperator);
    l.status = lag_status_.Sample(l.partition, now, l.lag, position, blocked);
    seen.insert(l.partition);
  }
  lag_status_.Retain(seen);
}

void IngestLoop::ScheduleReclaim(const std::vector<TopicPartition>& partitions,
                                 absl::Duration delay) {
  const absl::Time at = deps_.clock->Now() + delay;
  for (const TopicPartition& tp : partitions) {
    auto it = partitions_.find(tp);
    if (it == partitions_.end()) continue;  // revoked meanwhile
    it->second.needs_reclaim = true;
    // A stalled partition keeps its recheck time: reading its stored offset
    // sooner cannot unstall it, only an operator's move can.
    if (it->second.stalled.empty()) it->second.reclaim_at = at;
  }
  ++partitions_epoch_;
}

void IngestLoop::ReclaimDue() {
  if (paused_) return;  // a seek would resume what PauseForever paused
  auto due_now = [this] {
    const absl::Time at = deps_.clock->Now();
    std::vector<TopicPartition> due;
    for (const auto& [tp, state] : partitions_) {
      if (state.needs_reclaim && state.reclaim_at <= at) due.push_back(tp);
    }
    return due;
  };
  std::vector<TopicPartition> due = due_now();
  if (due.empty()) return;
  // A batch in flight holding one of them ends first: its stored offset is final
  // only then (and a commit moves the offset a stalled partition stalled at).
  for (Lane& lane : lanes_) {
    if (!paused_ && lane.FlyingHoldsAny(due)) Finish(lane, /*retry=*/true);
  }
  if (paused_) return;
  // Those writes may have rescheduled some (a fence spaces its reclaims out).
  const absl::Time now = deps_.clock->Now();
  due.erase(std::remove_if(due.begin(), due.end(),
                           [&](const TopicPartition& tp) {
                             auto it = partitions_.find(tp);
                             return it == partitions_.end() || !it->second.needs_reclaim ||
                                    it->second.reclaim_at > now;
                           }),
            due.end());
  if (due.empty()) return;
  ++partitions_epoch_;
  auto retry_later = [&](const std::vector<TopicPartition>& tps) {
    for (const TopicPartition& tp : tps) {
      PartitionState& state = partitions_[tp];
      ++state.reclaim_failures;
      state.reclaim_at =
          now + DoublingDelay(config_.retry_initial, config_.retry_max, state.reclaim_failures);
    }
  };
  absl::StatusOr<OffsetMap> stored = deps_.sink->ReadOffsets(due);
  if (!stored.ok()) {
    NoteFailure(stored.status());
    LOG(WARNING) << "reading the stored offsets of " << Describe(due)
                 << " failed: " << stored.status().message();
    retry_later(due);
    return;
  }
  OffsetMap seek;
  for (const TopicPartition& tp : due) {
    PartitionState& state = partitions_[tp];
    const std::optional<int64_t> row = StoredRow(*stored, tp);
    if (!state.stalled.empty() && state.stall_kind == StallKind::kNeedsOperator &&
        row == state.stalled_at_stored) {
      state.reclaim_at = now + config_.stall_recheck_interval;  // nobody fixed it yet
      continue;
    }
    // A symbolic start is sought as such, not pinned: the partition's leader is
    // known by now (no back-off), and a reclaim may follow a fence, where this
    // worker may be a zombie whose pin would move the real owner's position.
    const int64_t start = row.value_or(config_.unstored_start);
    fence_.Claim(tp, row, start);
    seek[tp] = start;
  }
  if (seek.empty()) return;
  // An open batch holding one of them would hold its messages twice once they
  // are read again: it goes (its other partitions are claimed again next).
  for (Lane& lane : lanes_) {
    if (lane.OpenHoldsAny(seek)) DropOpenBatch(lane, absl::ZeroDuration());
  }
  absl::Status sought = deps_.source->Seek(seek);
  if (!sought.ok()) {
    NoteFailure(sought);
    LOG(WARNING) << "moving the source back to the stored offsets failed (" << sought.message()
                 << "); trying again";
    std::vector<TopicPartition> tps;
    for (const auto& [tp, offset] : seek) tps.push_back(tp);
    retry_later(tps);
    return;
  }
  NoteSuccess();
  absl::MutexLock lock(&status_mu_);
  for (const auto& [tp, start] : seek) {
    PartitionState& state = partitions_[tp];
    const int failures = state.reclaim_failures;
    const size_t lane = state.lane;
    // A hold ends with the seek; its limit runs on from when it began.
    const std::optional<absl::Time> held_since = state.held_since;
    if (state.held_at) --held_count_;
    state = PartitionState{};
    state.cursor = start;
    state.reclaim_failures = failures;
    state.lane = lane;
    state.held_since = held_since;
    stalled_.erase(tp);
    held_.erase(tp);
    LOG(INFO) << "reading " << tp.ToString() << " again from its stored offset "
              << DescribeOffset(start);
  }
  deps_.metrics->SetStalledPartitions(static_cast<int>(stalled_.size()));
  deps_.metrics->SetPartitionsHeldForSchedule(static_cast<int>(held_.size()));
}

std::string IngestLoop::BeyondScheduleReason(const Message& message, bool too_far_ahead) const {
  return absl::StrCat(
      "timestamp beyond the known schedule: ", Utc(*message.timestamp), " is later than ",
      Utc(deps_.router->known_until()), ", up to which the flag's schedule was known, ",
      too_far_ahead
          ? absl::StrCat("and too far ahead of this worker's clock to become known within the "
                         "hold limit (",
                         absl::FormatDuration(deps_.router->hold_limit()), ")")
          : absl::StrCat("after holding the partition for the hold limit (",
                         absl::FormatDuration(deps_.router->hold_limit()), ")"));
}

void IngestLoop::HoldForSchedule(const TopicPartition& tp, const Message& message,
                                 int64_t continues_from, PartitionState* state) {
  // Back to where the stream stood before this item: the seek to it continues
  // the stream exactly (Accept() in resync takes an item at or past the cursor
  // that starts the new stream).
  state->cursor = continues_from;
  state->resync = true;
  state->held_at = message.offset;
  state->held_item_time = *message.timestamp;
  const absl::Time now = deps_.clock->Now();
  if (!state->held_since) state->held_since = now;
  ++held_count_;
  ++partitions_epoch_;
  deps_.source->Pause({tp});
  deps_.metrics->ScheduleHoldStarted();
  const std::string reason =
      absl::StrCat("item at offset ", message.offset, " has timestamp ", Utc(*message.timestamp),
                   ", later than the flag schedule this worker knows (",
                   deps_.router->known_until() == absl::InfinitePast()
                       ? std::string("none yet")
                       : absl::StrCat("until ", Utc(deps_.router->known_until())),
                   "); waiting for the controller, at most until ",
                   Utc(*state->held_since + deps_.router->hold_limit()));
  LOG_EVERY_N(WARNING, 100) << "holding " << tp.ToString() << ": " << reason;
  absl::MutexLock lock(&status_mu_);
  held_[tp] = reason;
  deps_.metrics->SetPartitionsHeldForSchedule(static_cast<int>(held_.size()));
}

void IngestLoop::ReleaseHolds() {
  if (paused_) return;  // a seek would resume what PauseForever paused
  const absl::Time now = deps_.clock->Now();
  if (now < next_release_at_) return;  // a failed seek backs off
  const absl::Time known_until = deps_.router->known_until();
  const absl::Duration limit = deps_.router->hold_limit();
  OffsetMap seek;
  for (const auto& [tp, state] : partitions_) {
    if (!state.held_at) continue;
    if (state.held_item_time <= known_until || now - *state.held_since >= limit) {
      seek[tp] = *state.held_at;
    }
  }
  if (seek.empty()) return;
  if (absl::Status sought = deps_.source->Seek(seek); !sought.ok()) {
    NoteFailure(sought);
    const absl::Duration delay =
        DoublingDelay(config_.retry_initial, config_.retry_max, ++release_failures_);
    next_release_at_ = now + delay;
    LOG(WARNING) << "resuming held partitions failed (" << sought.message() << "); trying again in "
                 << absl::FormatDuration(delay);
    return;
  }
  release_failures_ = 0;
  ++partitions_epoch_;
  absl::MutexLock lock(&status_mu_);
  for (const auto& [tp, offset] : seek) {
    partitions_[tp].held_at.reset();
    --held_count_;
    held_.erase(tp);
  }
  deps_.metrics->SetPartitionsHeldForSchedule(static_cast<int>(held_.size()));
}

void IngestLoop::PauseForever(const std::string& reason) {
  LOG(ERROR) << "pausing the pipeline: " << reason;
  paused_ = true;
  {
    absl::MutexLock lock(&status_mu_);
    paused_reason_ = reason;
  }
  deps_.metrics->SetPaused(true);
  deps_.source->Pause(Assigned());
}

OffsetMap IngestLoop::OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) {
  if (paused_) return {};  // not read: the pipeline is paused
  ExponentialBackoff backoff(config_.retry_initial, config_.retry_max);
  absl::StatusOr<OffsetMap> stored;
  while (true) {
    stored = deps_.sink->ReadOffsets(partitions);
    if (stored.ok()) break;
    NoteFailure(stored.status());
    if (StopDeadlinePassed() || (stop_ != nullptr && stop_->load())) {
      // Without the stored offsets these partitions cannot be read safely: the
      // loop is stopping anyway, so leave them unread rather than guess.
      return {};
    }
    const absl::Duration delay = backoff.NextDelay();
    LOG(WARNING) << "reading stored offsets failed (" << stored.status().message() << "); retry in "
                 << absl::FormatDuration(delay);
    SleepUnlessStopping(delay);
  }
  NoteSuccess();
  PinSymbolicStarts(partitions, &*stored);
  OffsetMap start;
  for (const TopicPartition& tp : partitions) {
    const std::optional<int64_t> row = StoredRow(*stored, tp);
    const int64_t from = row.value_or(config_.unstored_start);
    fence_.Claim(tp, row, from);
    PartitionState state;
    state.cursor = from;
    state.lane = LaneOf(tp);
    if (auto it = partitions_.find(tp); it != partitions_.end() && it->second.held_at) {
      --held_count_;
      absl::MutexLock lock(&status_mu_);
      held_.erase(tp);
    }
    partitions_[tp] = state;
    start[tp] = from;
  }
  ++partitions_epoch_;
  return start;
}

void IngestLoop::PinSymbolicStarts(const std::vector<TopicPartition>& partitions,
                                   OffsetMap* stored) {
  // A symbolic start is resolved here and stored before anything is read.
  // "latest" must mean one offset for every owner, so that a next owner (after a
  // crash before the first commit) does not resolve it again later and skip what
  // came between. "earliest" too, so that librdkafka is given an explicit
  // position: librdkafka 2.0.2 looks a logical one up only after a fixed 500 ms
  // back-off when the partition's leader is not known yet at the assignment
  // (rd_kafka_toppar_offset_request), which delayed a new group's first fetch.
  OffsetMap symbolic;
  for (const TopicPartition& tp : partitions) {
    const int64_t start = StoredRow(*stored, tp).value_or(config_.unstored_start);
    if (IsSymbolicOffset(start)) symbolic[tp] = start;
  }
  if (symbolic.empty()) return;
  const OffsetMap resolved = deps_.source->ResolveOffsets(symbolic);
  std::vector<OffsetUpdate> pins;
  for (const auto& [tp, start] : symbolic) {
    auto at = resolved.find(tp);
    if (at == resolved.end()) {
      LOG(WARNING) << "cannot pin the " << DescribeOffset(start) << " offset of " << tp.ToString()
                   << ": the broker did not resolve it; librdkafka resolves it instead";
      deps_.metrics->StartPositionsUnpinned(1);
      continue;
    }
    pins.push_back({tp, StoredRow(*stored, tp), at->second});
  }
  if (pins.empty()) return;
  absl::StatusOr<std::vector<TopicPartition>> fenced = deps_.sink->MoveOffsets(pins);
  if (!fenced.ok() || !fenced->empty()) {
    // Someone else moved them meanwhile: their value stands (read again on the
    // next claim); or PostgreSQL failed: the symbolic start stays.
    LOG(WARNING) << "pinning the symbolic start positions failed: "
                 << (fenced.ok() ? "another writer moved them" : fenced.status().message());
    deps_.metrics->StartPositionsUnpinned(pins.size());
    return;
  }
  std::vector<std::string> pinned;
  for (const OffsetUpdate& pin : pins) {
    pinned.push_back(absl::StrCat(pin.partition.ToString(), " ",
                                  DescribeOffset(symbolic.at(pin.partition)), "=", pin.next));
    (*stored)[pin.partition] = pin.next;
  }
  LOG(INFO) << "pinned start positions: " << absl::StrJoin(pinned, ", ");
}

void IngestLoop::OnPartitionsRevoked(const std::vector<TopicPartition>& partitions, bool lost) {
  // Nothing may be written for these partitions once this returns: the batches in
  // flight end first. Lost partitions belong to another worker already, so a batch
  // holding them gets its one attempt (the fence decides) and no retries, which
  // would hold up the group.
  for (Lane& lane : lanes_) {
    if (lane.FlyingHoldsAny(partitions)) Finish(lane, /*retry=*/!lost);
  }
  for (Lane& lane : lanes_) {
    if (!lane.OpenHoldsAny(partitions)) continue;
    if (lost || lane.in_flight) {
      // Lost: writing them could only be fenced. In flight (a batch of other
      // partitions, still being written): writing this one would mean waiting
      // for that one, holding up the group. Either way the batch goes: the new
      // owner reads the revoked partitions from their stored offsets, this worker
      // the others.
      DropOpenBatch(lane, absl::ZeroDuration());
    } else {
      // The whole open batch goes: simpler than splitting it, and the rest of it
      // is still ours to write.
      if (Submit(lane, ::sluice::v1::FLUSH_REASON_REVOKE) && lane.in_flight) {
        Finish(lane, /*retry=*/true);
      }
    }
  }
  absl::MutexLock lock(&status_mu_);
  for (const TopicPartition& tp : partitions) {
    fence_.Release(tp);
    auto it = partitions_.find(tp);
    if (it != partitions_.end() && it->second.held_at) --held_count_;
    partitions_.erase(tp);
    stalled_.erase(tp);
    held_.erase(tp);
  }
  ++partitions_epoch_;
  deps_.metrics->SetStalledPartitions(static_cast<int>(stalled_.size()));
  deps_.metrics->SetPartitionsHeldForSchedule(static_cast<int>(held_.size()));
}

void IngestLoop::OnPartitionStalled(const TopicPartition& partition, const std::string& reason,
                                    StallKind kind) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  LOG(ERROR) << "partition " << partition.ToString() << " stalled: " << reason;
  PartitionState& state = it->second;
  state.stalled = reason;
  state.stall_kind = kind;
  state.stalled_at_stored = fence_.Position(partition);
  state.needs_reclaim = true;
  state.reclaim_at = deps_.clock->Now() + config_.stall_recheck_interval;
  ++partitions_epoch_;
  absl::MutexLock lock(&status_mu_);
  stalled_[partition] = reason;
  deps_.metrics->SetStalledPartitions(static_cast<int>(stalled_.size()));
}

void IngestLoop::OnMessagesExpired(const TopicPartition& partition, int64_t from, int64_t to) {
  LOG(WARNING) << "retention deleted offsets " << from << ".." << to - 1 << " of "
               << partition.ToString() << " before they were read; continuing at " << to;
  if (from >= 0 && to > from) deps_.metrics->MessagesExpired(to - from);
}

}  // namespace sluice::worker
