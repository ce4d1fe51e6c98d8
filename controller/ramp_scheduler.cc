#include "common/proto_time.h"
#include "controller/ramp_scheduler.h"

#include "absl/strings/str_format.h"
#include "controller/flag_scheduler.h"
#include "flags/flag_schedule.h"
#include "glog/logging.h"

namespace sluice::controller {

std::optional<std::string> BrokenGuard(const v1::RampGuards& guards,
                                       const StatsAggregator::PathHealth& h,
                                       absl::Duration window) {
  const std::string over = absl::StrCat(" over the last ", absl::FormatDuration(window));
  if (guards.max_dead_letter_rate() > 0 && h.kafka_items > 0) {
    const double rate = static_cast<double>(h.dead_letters) / static_cast<double>(h.kafka_items);
    if (rate > guards.max_dead_letter_rate()) {
      return absl::StrFormat("dead-letter rate %.4f > %.4f (%d of %d items)%s", rate,
                             guards.max_dead_letter_rate(), h.dead_letters, h.kafka_items, over);
    }
  }
  if (guards.max_write_error_rate() > 0 && h.batches > 0) {
    const double rate = static_cast<double>(h.retries) / static_cast<double>(h.batches);
    if (rate > guards.max_write_error_rate()) {
      return absl::StrFormat("write error rate %.4f > %.4f (%d retries, %d batches)%s", rate,
                             guards.max_write_error_rate(), h.retries, h.batches, over);
    }
  }
  if (guards.max_freshness_p99_ms() > 0 && h.freshness_p99_ms > guards.max_freshness_p99_ms()) {
    return absl::StrFormat("p99 freshness %.0fms > %.0fms%s", h.freshness_p99_ms,
                           guards.max_freshness_p99_ms(), over);
  }
  return std::nullopt;
}

void RampScheduler::Tick() {
  const absl::Time now = clock_.Now();
  const v1::FlagSnapshot snapshot = fleet_->FlagSnapshot();  // flags() refers into it
  for (const v1::Flag& flag : snapshot.flags()) {
    const v1::Ramp& ramp = flag.ramp();
    if (ramp.state() != v1::Ramp::STATE_RUNNING) continue;
    const absl::Duration window = ToAbslDuration(
        ramp.guards().has_window() ? ramp.guards().window() : ramp.every());
    const StatsAggregator::PathHealth health =
        stats_->Health(fleet_->PipelinesUsingFlag(flag.name()), window);
    std::optional<v1::Flag> changed;
    std::string action;
    if (std::optional<std::string> broken = BrokenGuard(ramp.guards(), health, window)) {
      LOG(WARNING) << "ramp of flag " << flag.name() << " halted: " << *broken;
      changed = HaltRamp(flag, *broken, now, timing_.lead);
      action = "flag.ramp.halt";
    } else if (now >= ToAbslTime(ramp.next_step_time())) {
      changed = AdvanceRamp(flag, now, timing_.lead);
      action = "flag.ramp.step";
    }
    if (!changed) continue;
    if (absl::Status s = CompactAndBoundSchedule(now, timing_.schedule_retention, &*changed);
        !s.ok()) {
      // A step beyond the bound is not stored: the ramp halts there, saying why
      // (a halt adds no change beyond a rollback's one).
      LOG(WARNING) << "ramp of flag " << flag.name() << " halted: " << s.message();
      changed = HaltRamp(flag, std::string(s.message()), now, timing_.lead);
      action = "flag.ramp.halt";
      flags::CompactSchedule(now - timing_.schedule_retention, &*changed);
    }
    absl::StatusOr<v1::Flag> stored =
        store_->UpdateFlag(*changed, flag.version(), action, "sluice-controller (ramp)");
    if (!stored.ok()) {
      LOG(WARNING) << "ramp of flag " << flag.name() << ": " << stored.status().message();
      continue;
    }
    if (absl::Status s = reload_(); !s.ok()) LOG(ERROR) << "reloading flags: " << s.message();
  }
}

}  // namespace sluice::controller
