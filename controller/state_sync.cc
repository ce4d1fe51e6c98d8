#include "controller/state_sync.h"

#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "controller/assigner.h"
#include "glog/logging.h"

namespace sluice::controller {

StateSync::StateSync(StateSource* source, Fleet* fleet, const Clock& clock, StateSyncConfig config)
    : source_(source), fleet_(fleet), clock_(clock), config_(config) {}

absl::Status StateSync::Reload() {
  absl::MutexLock load(&load_mu_);
  absl::StatusOr<StateSnapshot> snapshot = source_->LoadState();
  if (!snapshot.ok()) {
    Failed(snapshot.status());
    return snapshot.status();
  }
  for (const v1::Pipeline& p : snapshot->pipelines) {
    if (absl::Status s = CheckAssignable(p.config()); !s.ok()) {
      LOG(WARNING) << "pipeline " << p.config().name() << " v" << p.version() << " " << s.message();
    }
  }
  const uint64_t revision = snapshot->revision;
  if (!fleet_->ApplyState(std::move(*snapshot))) {
    LOG(INFO) << "state revision " << revision << " is older than the one applied; dropped";
  }
  absl::MutexLock lock(&mu_);
  if (!failure_.empty()) {
    LOG(INFO) << "state loaded again (revision " << revision << ") after failing since "
              << absl::FormatTime(failing_since_) << ": " << failure_;
  }
  loaded_ = true;
  failure_.clear();
  failed_attempts_ = 0;
  next_attempt_ = clock_.Now() + config_.poll_interval;
  return absl::OkStatus();
}

void StateSync::Failed(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  if (failure_.empty()) {
    failing_since_ = now;
    LOG(ERROR) << "controller state may be stale: " << status.message()
               << "; retrying until it loads";
  }
  failure_ = std::string(status.message());
  next_attempt_ = now + DoublingDelay(config_.retry_initial, config_.retry_max, failed_attempts_);
  ++failed_attempts_;
}

void StateSync::Tick() {
  bool retry;
  {
    absl::MutexLock lock(&mu_);
    if (clock_.Now() < next_attempt_) return;
    retry = !failure_.empty() || !loaded_;
  }
  if (retry) {
    Reload().IgnoreError();  // kept in failure_ and logged
    return;
  }
  absl::StatusOr<uint64_t> revision = source_->Revision();
  if (!revision.ok()) {
    Failed(revision.status());
    return;
  }
  bool moved;
  {
    absl::MutexLock lock(&mu_);
    moved = *revision != fleet_->applied_revision();
    next_attempt_ = clock_.Now() + config_.poll_interval;
  }
  if (moved) Reload().IgnoreError();
}

absl::Status StateSync::ReadyWithin(absl::Duration grace) const {
  {
    absl::MutexLock lock(&mu_);
    if (loaded_ && (failure_.empty() || clock_.Now() - failing_since_ < grace)) {
      return absl::OkStatus();
    }
  }
  return Ready();
}

absl::Status StateSync::Ready() const {
  absl::MutexLock lock(&mu_);
  if (!failure_.empty()) {
    return absl::UnavailableError(
        absl::StrCat("controller state may be stale since ",
                     absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", failing_since_, absl::UTCTimeZone()),
                     " (retrying): ", failure_));
  }
  if (!loaded_) return absl::UnavailableError("controller state not loaded yet");
  return absl::OkStatus();
}

}  // namespace sluice::controller
