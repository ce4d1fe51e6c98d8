// Edits of a flag's schedule, checked against the propagation lead: a change may
// only take effect once every evaluator can hold it, and nothing already inside
// the lead is ever altered.
#ifndef SLUICE_CONTROLLER_FLAG_SCHEDULER_H_
#define SLUICE_CONTROLLER_FLAG_SCHEDULER_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sluice/v1/flags.pb.h"

namespace sluice::controller {

// How far ahead a change or a ramp's period may reach: 10 years. Later times are
// refused (INVALID_ARGUMENT) rather than stored; a google.protobuf.Timestamp ends
// at year 9999, and nobody schedules a rollout a decade out on purpose.
inline constexpr absl::Duration kMaxScheduleAhead = absl::Hours(24 * 3650);

// How many changes a flag may keep within its schedule retention. A ramp adds at
// most 10000 (its smallest step is 0.01%); this bounds what an assignment carries.
inline constexpr int kMaxScheduleChanges = 20000;

// The controller's timing rules for flag edits.
struct FlagTiming {
  // How far in the future a change must take effect (--flag-lead).
  absl::Duration lead = absl::Seconds(30);
  // How long schedule changes are kept once past (--schedule-retention): at least
  // as long as the longest retention of the topics the flag's pipelines read, so a
  // replayed or lagging item is routed as it was the first time.
  absl::Duration schedule_retention = absl::Hours(24 * 30);
};

// Compacts the schedule past the retention (flags::CompactSchedule at now −
// retention) and bounds what is left: FAILED_PRECONDITION when more than
// kMaxScheduleChanges remain.
absl::Status CompactAndBoundSchedule(absl::Time now, absl::Duration retention, v1::Flag* flag);

// Adds "basis_points from `effective` on". INVALID_ARGUMENT (field named) if the
// percentage is above 100%, or `effective` is earlier than now + lead or later
// than now + kMaxScheduleAhead.
absl::StatusOr<v1::Flag> ScheduleChange(const v1::Flag& flag, uint32_t basis_points,
                                        absl::Time effective, absl::Time now,
                                        absl::Duration lead);

// Cancels changes scheduled after now + lead, then schedules, at now + lead, the
// percentage that was in effect before the latest remaining change.
// FAILED_PRECONDITION if there is nothing to roll back.
absl::StatusOr<v1::Flag> ScheduleRollback(const v1::Flag& flag, absl::Time now,
                                          absl::Duration lead);

// Starts a ramp towards `target` in steps of `step` every `every`: schedules the
// first step at now + lead. INVALID_ARGUMENT names the field (target above 100% or
// not above the last scheduled percentage, step outside 1..10000 or above the
// target, every shorter than the lead or longer than kMaxScheduleAhead, negative
// guards).
absl::StatusOr<v1::Flag> StartRamp(const v1::Flag& flag, uint32_t target, uint32_t step,
                                   absl::Duration every, const v1::RampGuards& guards,
                                   absl::Time now, absl::Duration lead);

// The next step of a running ramp whose guards held: records the percentage in
// effect now as the last good one and schedules the next at now + lead (DONE when
// that reaches the target).
v1::Flag AdvanceRamp(const v1::Flag& flag, absl::Time now, absl::Duration lead);

// A guard broke: HALTED with `reason`; with rollback_on_breach, changes beyond
// now + lead are cancelled and the last good percentage is scheduled at now + lead.
v1::Flag HaltRamp(const v1::Flag& flag, const std::string& reason, absl::Time now,
                  absl::Duration lead);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_FLAG_SCHEDULER_H_
