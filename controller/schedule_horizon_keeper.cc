#include "controller/schedule_horizon_keeper.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace sluice::controller {

ScheduleHorizonKeeper::ScheduleHorizonKeeper(StateSource* source, StateSync* sync, Fleet* fleet,
                                             const Clock& clock, ControllerMetrics* metrics,
                                             ScheduleHorizonConfig config)
    : source_(source),
      sync_(sync),
      fleet_(fleet),
      clock_(clock),
      metrics_(metrics),
      config_(config) {}

absl::Duration ScheduleHorizonKeeper::interval() const {
  return std::clamp((config_.lead - config_.write_allowance) / 4, absl::Milliseconds(100),
                    absl::Seconds(5));
}

absl::Status ScheduleHorizonKeeper::Advance() {
  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<absl::Time> barrier = source_->ScheduleBarrier();
    if (!barrier.ok()) return barrier.status();
    // Read after the barrier: it counts every write that committed before it.
    absl::StatusOr<uint64_t> revision = source_->Revision();
    if (!revision.ok()) return revision.status();
    if (fleet_->applied_revision() < *revision) {
      if (absl::Status s = sync_->Reload(); !s.ok()) return s;
    }
    const absl::Time known_until = *barrier + config_.lead - config_.write_allowance;
    // False when another round got further meanwhile, or a concurrent reload has
    // not applied the revision yet: the next round tries again.
    if (fleet_->AdvanceScheduleHorizon(known_until, *revision) && metrics_ != nullptr) {
      metrics_->SetScheduleKnownUntil(known_until);
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    if (metrics_ != nullptr) metrics_->ScheduleHorizonFailed();
    LOG_EVERY_N(WARNING, 20) << "the flag schedule horizon did not advance (workers hold items "
                                "later than "
                             << absl::FormatTime(fleet_->schedule_known_until())
                             << "): " << status.message();
  }
  return status;
}

void ScheduleHorizonKeeper::Run(const std::atomic<bool>& stop, const Leadership& leadership) {
  while (!stop.load()) {
    if (leadership.IsLeader()) Advance().IgnoreError();  // counted and logged
    clock_.SleepFor(interval());
  }
}

}  // namespace sluice::controller
