// Edits of a flag's schedule, checked against the propagation lead: a change may
// only take effect once every evaluator can hold it, and nothing already inside
// the lead is ever altered.
#ifndef SLUICE_CONTROLLER_FLAG_SCHEDULER_H_
#define SLUICE_CONTROLLER_FLAG_SCHEDULER_H_

#include <algorithm>
#include <string>

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

// What a ramp step needs in its guard window before the next (RampGuards.min_items
// and min_batches when 0): without a sample the guards cannot judge.
inline constexpr uint64_t kDefaultMinRampItems = 1000;
inline constexpr uint64_t kDefaultMinRampBatches = 10;

// The controller's timing rules for flag edits.
struct FlagTiming {
  // How far in the future a change must take effect (--flag-lead).
  absl::Duration lead = absl::Seconds(30);
  // How long schedule changes are kept once past (--schedule-retention): at least
  // as long as the longest retention of the topics the flag's pipelines read, so a
  // replayed or lagging item is routed as it was the first time.
  absl::Duration schedule_retention = absl::Hours(24 * 30);
  // The shortest guard window a ramp may have: two stats intervals
  // (--stats-interval), so that the window always holds reports.
  absl::Duration min_guard_window = absl::Seconds(10);

  // How long a flag write may take from computing its schedule to reaching the
  // database (StateStore::UpdateFlag refuses it after that). The workers' horizon
  // is the last schedule barrier + lead - this.
  absl::Duration write_allowance() const { return std::min(lead / 4, absl::Seconds(1)); }
  // A write whose schedule was computed at `decided_at` must reach the database by this.
  absl::Time WriteDeadline(absl::Time decided_at) const { return decided_at + write_allowance(); }
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

// Cancels changes scheduled after now + lead, then schedules at now + lead (kind
// ROLLBACK) the percentage before the latest remaining change not yet rolled back.
// Repeated rollbacks keep going back (a rollback undoes changes, it is never itself
// undone) until the start of the schedule (0%), its compacted start or a kill;
// then FAILED_PRECONDITION. Does not touch a ramp (see StopRamp).
absl::StatusOr<v1::Flag> ScheduleRollback(const v1::Flag& flag, absl::Time now,
                                          absl::Duration lead);

// The kill switch: cancels changes scheduled after now + lead, schedules 0% (kind
// KILL) at now + lead, and halts a running ramp ("killed by <actor>").
v1::Flag ScheduleKill(const v1::Flag& flag, const std::string& actor, absl::Time now,
                      absl::Duration lead);

// An operator's change (set, rollback) halts a running ramp with `reason` ("stopped
// by <actor>"), so its next tick does not override the operator. Other states
// are kept.
v1::Flag StopRamp(const v1::Flag& flag, const std::string& reason);

// Starts a ramp towards `target` in steps of `step` every `every`: schedules the
// first step at now + lead. INVALID_ARGUMENT names the field (target above 100% or
// not above the last scheduled percentage, step outside 1..10000 or above the
// target, every shorter than the lead or longer than kMaxScheduleAhead, negative
// guards, a guard window that is negative or shorter than `min_guard_window`).
// Guards' min_items and min_batches of 0 are stored as the defaults.
absl::StatusOr<v1::Flag> StartRamp(const v1::Flag& flag, uint32_t target, uint32_t step,
                                   absl::Duration every, const v1::RampGuards& guards,
                                   absl::Time now, absl::Duration lead,
                                   absl::Duration min_guard_window);

// How far back a ramp's guards look: their window, or `every` when it is 0.
absl::Duration GuardWindow(const v1::RampGuards& guards, absl::Duration every);

// A running ramp's due step whose guards held on a sufficient sample: records the
// percentage in effect now as the last good one and schedules the next step at
// now + lead. Once the target itself has been scheduled and held, the ramp is DONE
// and nothing is scheduled.
v1::Flag AdvanceRamp(const v1::Flag& flag, absl::Time now, absl::Duration lead);

// A guard broke: HALTED with `reason`; with rollback_on_breach, changes beyond
// now + lead are cancelled and the last good percentage is scheduled at now + lead
// (kind ROLLBACK).
v1::Flag HaltRamp(const v1::Flag& flag, const std::string& reason, absl::Time now,
                  absl::Duration lead);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_FLAG_SCHEDULER_H_
