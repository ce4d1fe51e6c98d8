#include "common/proto_time.h"
#include "controller/flag_scheduler.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "flags/bucketing.h"
#include "flags/flag_schedule.h"

namespace sluice::controller {
namespace {

using google::protobuf::util::TimeUtil;

// The changes of `flag` effective at or before `horizon` (what evaluators may
// already hold and so must never change), in time order.
v1::Flag KeepChangesUpTo(const v1::Flag& flag, absl::Time horizon) {
  v1::Flag out = flag;
  out.clear_schedule();
  for (const v1::PercentageChange& c : flag.schedule()) {
    if (ToAbslTime(c.effective_time()) <= horizon) *out.add_schedule() = c;
  }
  return out;
}

void SortSchedule(v1::Flag* flag) {
  std::stable_sort(flag->mutable_schedule()->begin(), flag->mutable_schedule()->end(),
                   [](const v1::PercentageChange& a, const v1::PercentageChange& b) {
                     return ToAbslTime(a.effective_time()) < ToAbslTime(b.effective_time());
                   });
}

}  // namespace

absl::StatusOr<v1::Flag> ScheduleChange(const v1::Flag& flag, uint32_t basis_points,
                                        absl::Time effective, absl::Time now,
                                        absl::Duration lead) {
  if (basis_points > flags::kFullRollout) {
    return absl::InvalidArgumentError(absl::StrCat(
        "basis_points: ", basis_points, " is more than 10000 (100%)"));
  }
  if (effective < now + lead) {
    return absl::InvalidArgumentError(absl::StrCat(
        "effective_time: must be at least ", absl::FormatDuration(lead),
        " from now (the propagation lead), got ", absl::FormatDuration(effective - now)));
  }
  if (effective > now + kMaxScheduleAhead) {
    return absl::InvalidArgumentError(absl::StrCat(
        "effective_time: must be at most 10 years from now, got ",
        absl::FormatTime(absl::RFC3339_full, effective, absl::UTCTimeZone())));
  }
  v1::Flag out = flag;
  v1::PercentageChange* c = out.add_schedule();
  *c->mutable_effective_time() = ToProtoTimestamp(effective);
  c->set_basis_points(basis_points);
  SortSchedule(&out);
  return out;
}

namespace {

// The percentages a rollback can go back to: the schedule (time order) replayed as
// a stack. A set pushes its percentage; a rollback pops the changes it undid (at
// least one, then down to its own percentage); a kill, and the start of a
// compacted schedule, leave only themselves, which cannot be undone. The top is
// always the percentage the schedule ends at.
std::vector<uint32_t> RollbackStack(const v1::Flag& flag) {
  std::vector<uint32_t> stack = {0};  // before the first change, 0%; stack[0] stays
  for (const v1::PercentageChange& c : flag.schedule()) {
    const bool compacted_start = &c == &flag.schedule(0) && flag.has_schedule_kept_since() &&
                                 ToAbslTime(c.effective_time()) == flags::CompactedScheduleStart();
    // A kill, a compacted start and a change of unknown kind (stored before kinds
    // were recorded: perhaps a rollback) cannot be gone back past.
    if (compacted_start || c.kind() == v1::PercentageChange::KIND_KILL ||
        c.kind() == v1::PercentageChange::KIND_UNKNOWN) {
      stack = {c.basis_points()};
    } else if (c.kind() == v1::PercentageChange::KIND_ROLLBACK) {
      if (stack.size() > 1) stack.pop_back();
      while (stack.size() > 1 && stack.back() != c.basis_points()) stack.pop_back();
      // Only a history cut by compaction lacks the target: nothing before it is known.
      if (stack.back() != c.basis_points()) stack = {c.basis_points()};
    } else {
      stack.push_back(c.basis_points());
    }
  }
  return stack;
}

}  // namespace

absl::StatusOr<v1::Flag> ScheduleRollback(const v1::Flag& flag, absl::Time now,
                                          absl::Duration lead) {
  const absl::Time horizon = now + lead;
  v1::Flag out = KeepChangesUpTo(flag, horizon);
  SortSchedule(&out);
  const std::vector<uint32_t> stack = RollbackStack(out);
  if (stack.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "flag ", flag.name(),
        " has no change to roll back (rollbacks only go back: every "
        "change since the last kill or the start of its schedule retention is rolled back)"));
  }
  v1::PercentageChange* c = out.add_schedule();
  *c->mutable_effective_time() = ToProtoTimestamp(horizon);
  c->set_basis_points(stack[stack.size() - 2]);
  c->set_kind(v1::PercentageChange::KIND_ROLLBACK);
  return out;
}

v1::Flag ScheduleKill(const v1::Flag& flag, const std::string& actor, absl::Time now,
                      absl::Duration lead) {
  const absl::Time horizon = now + lead;
  v1::Flag out = StopRamp(KeepChangesUpTo(flag, horizon), absl::StrCat("killed by ", actor));
  SortSchedule(&out);
  v1::PercentageChange* c = out.add_schedule();
  *c->mutable_effective_time() = ToProtoTimestamp(horizon);
  c->set_basis_points(0);
  c->set_kind(v1::PercentageChange::KIND_KILL);
  return out;
}

v1::Flag StopRamp(const v1::Flag& flag, const std::string& reason) {
  v1::Flag out = flag;
  if (!out.has_ramp() || out.ramp().state() != v1::Ramp::STATE_RUNNING) return out;
  v1::Ramp* ramp = out.mutable_ramp();
  ramp->set_state(v1::Ramp::STATE_HALTED);
  ramp->set_halt_reason(reason);
  ramp->clear_next_step_time();
  ramp->clear_waiting_reason();
  return out;
}

namespace {

// The percentage the schedule ends at (its last change), 0 if empty.
uint32_t LastScheduled(const v1::Flag& flag) {
  return flag.schedule().empty() ? 0 : flag.schedule(flag.schedule_size() - 1).basis_points();
}

// Schedules the ramp's next step at `at` and updates its bookkeeping.
void ScheduleStep(v1::Flag* flag, absl::Time at) {
  v1::Ramp* ramp = flag->mutable_ramp();
  // In 64 bits: a stored step near 2^32 must not wrap the sum below the target.
  const uint32_t next = static_cast<uint32_t>(
      std::min<uint64_t>(uint64_t{LastScheduled(*flag)} + ramp->step_basis_points(),
                         ramp->target_basis_points()));
  v1::PercentageChange* c = flag->add_schedule();
  *c->mutable_effective_time() = ToProtoTimestamp(at);
  c->set_basis_points(next);
  SortSchedule(flag);
  const absl::Duration every = ToAbslDuration(ramp->every());
  *ramp->mutable_next_step_time() = ToProtoTimestamp(at + every);
  // Still running when the target is scheduled: the last (often the largest) step
  // is done only once its window has passed with the guards holding (AdvanceRamp).
  ramp->set_state(v1::Ramp::STATE_RUNNING);
  ramp->clear_waiting_reason();
}

}  // namespace

absl::StatusOr<v1::Flag> StartRamp(const v1::Flag& flag, uint32_t target, uint32_t step,
                                   absl::Duration every, const v1::RampGuards& guards,
                                   absl::Time now, absl::Duration lead,
                                   absl::Duration min_guard_window) {
  if (target > flags::kFullRollout) {
    return absl::InvalidArgumentError(
        absl::StrCat("target_basis_points: ", target, " is more than 10000 (100%)"));
  }
  if (target <= LastScheduled(flag)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target_basis_points: ", target, " is not above the last scheduled ",
        LastScheduled(flag), " (a ramp only raises; use set or rollback to lower)"));
  }
  if (step == 0) return absl::InvalidArgumentError("step_basis_points: must be greater than 0");
  if (step > flags::kFullRollout) {
    return absl::InvalidArgumentError(
        absl::StrCat("step_basis_points: ", step, " is more than 10000 (100%)"));
  }
  if (step > target) {
    return absl::InvalidArgumentError(absl::StrCat(
        "step_basis_points: ", step, " is more than target_basis_points ", target));
  }
  if (every < lead) {
    return absl::InvalidArgumentError(absl::StrCat(
        "every: must be at least the propagation lead (", absl::FormatDuration(lead), ")"));
  }
  if (every > kMaxScheduleAhead) {
    return absl::InvalidArgumentError("every: must be at most 10 years");
  }
  if (guards.max_dead_letter_rate() < 0 || guards.max_write_error_rate() < 0 ||
      guards.max_freshness_p99_ms() < 0) {
    return absl::InvalidArgumentError("guards: limits must not be negative");
  }
  if (guards.has_window()) {
    const absl::Duration window = ToAbslDuration(guards.window());
    if (window < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("guards.window: must not be negative");
    }
    // 0 means `every`, checked below.
    if (window > absl::ZeroDuration() && window < min_guard_window) {
      return absl::InvalidArgumentError(absl::StrCat(
          "guards.window: must be at least two stats intervals (",
          absl::FormatDuration(min_guard_window), "), got ", absl::FormatDuration(window),
          ": a shorter window holds no report and would switch the guards off"));
    }
    if (window > kMaxScheduleAhead) {
      return absl::InvalidArgumentError("guards.window: must be at most 10 years");
    }
  }
  if (GuardWindow(guards, every) < min_guard_window) {
    return absl::InvalidArgumentError(absl::StrCat(
        "every: the guards look back over it (no --guard-window), so it must be at least "
        "two stats intervals (",
        absl::FormatDuration(min_guard_window), ")"));
  }
  v1::Flag out = flag;
  v1::Ramp* ramp = out.mutable_ramp();
  ramp->Clear();
  ramp->set_target_basis_points(target);
  ramp->set_step_basis_points(step);
  *ramp->mutable_every() = ToProtoDuration(every);
  *ramp->mutable_guards() = guards;
  if (guards.min_items() == 0) ramp->mutable_guards()->set_min_items(kDefaultMinRampItems);
  if (guards.min_batches() == 0) ramp->mutable_guards()->set_min_batches(kDefaultMinRampBatches);
  ramp->set_last_good_basis_points(flags::FlagSchedule(flag).BasisPointsAt(now));
  ScheduleStep(&out, now + lead);
  return out;
}

v1::Flag AdvanceRamp(const v1::Flag& flag, absl::Time now, absl::Duration lead) {
  v1::Flag out = flag;
  v1::Ramp* ramp = out.mutable_ramp();
  ramp->set_last_good_basis_points(flags::FlagSchedule(flag).BasisPointsAt(now));
  if (LastScheduled(flag) >= ramp->target_basis_points()) {
    // The target's own window passed with the guards holding.
    ramp->set_state(v1::Ramp::STATE_DONE);
    ramp->clear_next_step_time();
    ramp->clear_waiting_reason();
    return out;
  }
  ScheduleStep(&out, now + lead);
  return out;
}

absl::Duration GuardWindow(const v1::RampGuards& guards, absl::Duration every) {
  const absl::Duration window =
      guards.has_window() ? ToAbslDuration(guards.window()) : absl::ZeroDuration();
  return window > absl::ZeroDuration() ? window : every;
}

v1::Flag HaltRamp(const v1::Flag& flag, const std::string& reason, absl::Time now,
                  absl::Duration lead) {
  v1::Flag out = flag;
  v1::Ramp* ramp = out.mutable_ramp();
  ramp->set_state(v1::Ramp::STATE_HALTED);
  ramp->set_halt_reason(reason);
  ramp->clear_next_step_time();
  ramp->clear_waiting_reason();
  if (ramp->guards().rollback_on_breach()) {
    const absl::Time horizon = now + lead;
    out = KeepChangesUpTo(out, horizon);  // keeps the halted ramp
    ramp = out.mutable_ramp();
    v1::PercentageChange* c = out.add_schedule();
    *c->mutable_effective_time() = ToProtoTimestamp(horizon);
    c->set_basis_points(ramp->last_good_basis_points());
    c->set_kind(v1::PercentageChange::KIND_ROLLBACK);
    SortSchedule(&out);
  }
  return out;
}

absl::Status CompactAndBoundSchedule(absl::Time now, absl::Duration retention, v1::Flag* flag) {
  flags::CompactSchedule(now - retention, flag);
  if (flag->schedule_size() > kMaxScheduleChanges) {
    return absl::FailedPreconditionError(absl::StrCat(
        "flag ", flag->name(), " would keep ", flag->schedule_size(),
        " schedule changes within its retention; at most ", kMaxScheduleChanges));
  }
  return absl::OkStatus();
}

}  // namespace sluice::controller
