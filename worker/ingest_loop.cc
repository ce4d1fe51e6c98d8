#include "worker/ingest_loop.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace sluice::worker {
namespace {

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

constexpr absl::Duration kMaxPollWait = absl::Milliseconds(100);
constexpr absl::Duration kLagUpdateInterval = absl::Seconds(1);
constexpr size_t kMaxPollMessages = 5000;

}  // namespace

IngestLoop::IngestLoop(IngestLoopDeps deps, IngestLoopConfig config)
    : deps_(deps),
      config_(std::move(config)),
      batcher_(*deps.clock, config_.limits),
      backoff_(config_.retry_initial, config_.retry_max) {}

absl::Status IngestLoop::Ready() const {
  if (!db_ok_.load()) return absl::UnavailableError("PostgreSQL is not reachable");
  if (deps_.source->AssignedPartitionCount() == 0) {
    return absl::UnavailableError("no Kafka partitions assigned");
  }
  return absl::OkStatus();
}

void IngestLoop::UpdateLimits(const BatchLimits& limits) {
  absl::MutexLock lock(&limits_mu_);
  new_limits_ = limits;
}

bool IngestLoop::GiveUp() const { return deps_.clock->Now() >= stop_deadline_; }

absl::Status IngestLoop::Run(const std::atomic<bool>& stop) {
  stop_ = &stop;
  db_ok_ = true;  // The sink connected when it was created.
  absl::Status status = deps_.source->Subscribe(config_.topics, this);
  if (!status.ok()) return status;
  while (!stop.load()) {
    {
      absl::MutexLock lock(&limits_mu_);
      if (new_limits_) {
        batcher_.set_limits(*new_limits_);
        new_limits_.reset();
      }
    }
    const absl::Time now = deps_.clock->Now();
    const absl::Duration wait = std::clamp(batcher_.deadline() - now, absl::ZeroDuration(),
                                           kMaxPollWait);
    const size_t room = static_cast<size_t>(
        std::max<int64_t>(1, batcher_.limits().max_rows - static_cast<int64_t>(batcher_.size())));
    absl::StatusOr<std::vector<Message>> polled =
        deps_.source->Poll(std::min(room, kMaxPollMessages), wait);
    if (!polled.ok()) {
      status = polled.status();
      break;
    }
    if (!polled->empty()) deps_.metrics->MessagesConsumed(polled->size());
    skip_rest_of_poll_.clear();
    // Messages come in runs per partition: decide Keep() once per run.
    // (The topic is copied once per run: the message itself moves into the batcher.)
    std::string run_topic;
    int32_t run_partition = -1;
    uint64_t run_epoch = 0;
    bool run_keep = false;
    for (Message& m : *polled) {
      if (m.partition != run_partition || m.topic != run_topic || run_epoch != skip_epoch_) {
        run_keep = Keep(m);
        run_topic = m.topic;
        run_partition = m.partition;
        run_epoch = skip_epoch_;
      }
      if (!run_keep) continue;
      if (deps_.router != nullptr) deps_.router->Route(&m, now);
      if (std::optional<FlushReason> full = batcher_.Add(std::move(m))) Flush(*full);
    }
    if (std::optional<FlushReason> due = batcher_.CheckTimeout()) Flush(*due);
    if (now >= next_lag_update_) {
      const std::vector<PartitionLag> lag = deps_.source->Lag();
      deps_.metrics->SetLag(lag);
      if (deps_.stats != nullptr) deps_.stats->SetLag(lag);
      next_lag_update_ = now + kLagUpdateInterval;
    }
  }
  // Shutting down: write what is open, then leave the group (which revokes).
  stop_deadline_ = deps_.clock->Now() + config_.shutdown_timeout;
  bool flushed = Flush(::sluice::v1::FLUSH_REASON_SHUTDOWN);
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

bool IngestLoop::Flush(FlushReason reason) {
  if (batcher_.empty()) return true;
  Batch batch = batcher_.Take(reason);
  const absl::Time start = deps_.clock->Now();
  backoff_.Reset();
  while (true) {
    absl::StatusOr<WriteResult> result = deps_.sink->Write(batch);
    if (result.ok()) {
      db_ok_ = true;
      const absl::Time now = deps_.clock->Now();
      deps_.metrics->BatchWritten(batch, *result, now - start);
      if (deps_.stats != nullptr) deps_.stats->BatchCommitted(batch, *result, now - start, now);
      deps_.source->CommitAsync(batch.next_offsets);
      return true;
    }
    if (absl::IsAborted(result.status())) {
      LOG(WARNING) << "dropping batch of " << batch.messages.size()
                   << " messages: " << result.status().message();
      deps_.metrics->BatchFenced();
      RewindAfterFence(batch);
      return true;
    }
    db_ok_ = !absl::IsUnavailable(result.status());
    deps_.metrics->WriteRetried(RetryReason(result.status()));
    if (deps_.stats != nullptr) deps_.stats->Retried();
    if (GiveUp()) {
      LOG(ERROR) << "giving up on a batch of " << batch.messages.size()
                 << " messages at shutdown: " << result.status().message();
      return false;
    }
    const absl::Duration delay = backoff_.NextDelay();
    LOG(WARNING) << "writing batch of " << batch.messages.size() << " messages failed ("
                 << result.status().message() << "); retry " << backoff_.attempts() << " in "
                 << absl::FormatDuration(delay);
    absl::SleepFor(std::min(delay, std::max(absl::ZeroDuration(),
                                            stop_deadline_ - deps_.clock->Now())));
  }
}

bool IngestLoop::Keep(const Message& message) const {
  const TopicPartition tp = message.topic_partition();
  return skip_rest_of_poll_.count(tp) == 0 && deps_.sink->IsClaimed(tp);
}

void IngestLoop::RewindAfterFence(const Batch& batch) {
  const std::vector<TopicPartition> fenced = deps_.sink->LastFencedPartitions();
  if (!fenced.empty()) deps_.source->Pause(fenced);
  OffsetMap rewind;
  for (const Message& m : batch.messages) {
    const TopicPartition tp = m.topic_partition();
    if (skip_rest_of_poll_.insert(tp).second) ++skip_epoch_;
    if (std::find(fenced.begin(), fenced.end(), tp) != fenced.end()) continue;
    auto [it, inserted] = rewind.emplace(tp, m.offset);
    if (!inserted) it->second = std::min(it->second, m.offset);
  }
  absl::Status s = deps_.source->Seek(rewind);
  if (!s.ok()) LOG(ERROR) << "rewinding after a fenced batch: " << s.message();
}

OffsetMap IngestLoop::OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) {
  ExponentialBackoff backoff(config_.retry_initial, config_.retry_max);
  while (true) {
    absl::StatusOr<OffsetMap> stored = deps_.sink->ClaimPartitions(partitions);
    if (stored.ok()) {
      db_ok_ = true;
      return *stored;
    }
    db_ok_ = false;
    if (stop_ != nullptr && stop_->load()) {
      // Without the stored offsets these partitions cannot be read safely: the
      // loop is stopping anyway, so pause them rather than guess.
      deps_.source->Pause(partitions);
      return {};
    }
    const absl::Duration delay = backoff.NextDelay();
    LOG(WARNING) << "reading stored offsets failed (" << stored.status().message()
                 << "); retry in " << absl::FormatDuration(delay);
    absl::SleepFor(delay);
  }
}

void IngestLoop::OnPartitionsRevoked(const std::vector<TopicPartition>& partitions, bool lost) {
  // The whole open batch goes: simpler than splitting it, and the rest of it is
  // still ours to write.
  Flush(::sluice::v1::FLUSH_REASON_REVOKE);
  deps_.sink->ReleasePartitions(partitions);
}

}  // namespace sluice::worker
