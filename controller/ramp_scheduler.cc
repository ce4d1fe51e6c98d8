#include "controller/ramp_scheduler.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
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

std::optional<RampChange> NextRampChange(const v1::Flag& flag,
                                         const StatsAggregator::PathHealth& health, absl::Time now,
                                         absl::Duration lead) {
  const v1::Ramp& ramp = flag.ramp();
  const absl::Duration window = GuardWindow(ramp.guards(), ToAbslDuration(ramp.every()));
  if (std::optional<std::string> broken = BrokenGuard(ramp.guards(), health, window)) {
    return RampChange{HaltRamp(flag, *broken, now, lead), "flag.ramp.halt"};
  }
  if (now < ToAbslTime(ramp.next_step_time())) return std::nullopt;
  const uint64_t min_items =
      ramp.guards().min_items() > 0 ? ramp.guards().min_items() : kDefaultMinRampItems;
  const uint64_t min_batches =
      ramp.guards().min_batches() > 0 ? ramp.guards().min_batches() : kDefaultMinRampBatches;
  if (health.kafka_items < min_items || health.batches < min_batches) {
    if (!ramp.waiting_reason().empty()) return std::nullopt;
    v1::Flag waiting = flag;
    waiting.mutable_ramp()->set_waiting_reason(absl::StrFormat(
        "waiting for data: fewer than %d items or %d batches on the Kafka path over the last "
        "%s (the guards cannot judge the step without them)",
        min_items, min_batches, absl::FormatDuration(window)));
    return RampChange{std::move(waiting), "flag.ramp.wait"};
  }
  v1::Flag advanced = AdvanceRamp(flag, now, lead);
  const bool done = advanced.ramp().state() == v1::Ramp::STATE_DONE;
  return RampChange{std::move(advanced), done ? "flag.ramp.done" : "flag.ramp.step"};
}

void RampScheduler::Tick() {
  const v1::FlagSnapshot snapshot = fleet_->FlagSnapshot();  // flags() refers into it
  for (const v1::Flag& flag : snapshot.flags()) {
    const v1::Ramp& ramp = flag.ramp();
    if (ramp.state() != v1::Ramp::STATE_RUNNING) continue;
    const absl::Duration window = GuardWindow(ramp.guards(), ToAbslDuration(ramp.every()));
    const StatsAggregator::PathHealth health =
        stats_->Health(fleet_->PipelinesUsingFlag(flag.name()), window);
    // Per flag and after the health query: each write must reach the database
    // within the write allowance of the time its schedule was computed from.
    const absl::Time now = clock_.Now();
    std::optional<RampChange> change = NextRampChange(flag, health, now, timing_.lead);
    if (!change) continue;
    if (change->action == "flag.ramp.halt") {
      LOG(WARNING) << "ramp of flag " << flag.name()
                   << " halted: " << change->flag.ramp().halt_reason();
    } else if (change->action == "flag.ramp.wait") {
      LOG(INFO) << "ramp of flag " << flag.name() << ": " << change->flag.ramp().waiting_reason();
    }
    if (absl::Status s = CompactAndBoundSchedule(now, timing_.schedule_retention, &change->flag);
        !s.ok()) {
      // A step beyond the bound is not stored: the ramp halts there, saying why
      // (a halt adds no change beyond a rollback's one).
      LOG(WARNING) << "ramp of flag " << flag.name() << " halted: " << s.message();
      change->flag = HaltRamp(flag, std::string(s.message()), now, timing_.lead);
      change->action = "flag.ramp.halt";
      flags::CompactSchedule(now - timing_.schedule_retention, &change->flag);
    }
    absl::StatusOr<v1::Flag> stored =
        store_->UpdateFlag(change->flag, flag.version(), change->action, "sluice-controller (ramp)",
                           timing_.WriteDeadline(now));
    if (!stored.ok()) {
      LOG(WARNING) << "ramp of flag " << flag.name() << ": " << stored.status().message();
      continue;
    }
    if (absl::Status s = reload_(); !s.ok()) LOG(ERROR) << "reloading flags: " << s.message();
  }
}

}  // namespace sluice::controller
