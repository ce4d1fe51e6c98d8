// Edits of a flag's schedule, checked against the propagation lead: a change may
// only take effect once every evaluator can hold it, and nothing already inside
// the lead is ever altered.
#ifndef SLUICE_CONTROLLER_FLAG_SCHEDULER_H_
#define SLUICE_CONTROLLER_FLAG_SCHEDULER_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sluice/v1/flags.pb.h"

namespace sluice::controller {

// Adds "basis_points from `effective` on". INVALID_ARGUMENT (field named) if the
// percentage is above 100% or `effective` is earlier than now + lead.
absl::StatusOr<v1::Flag> ScheduleChange(const v1::Flag& flag, uint32_t basis_points,
                                        absl::Time effective, absl::Time now,
                                        absl::Duration lead);

// Cancels changes scheduled after now + lead, then schedules, at now + lead, the
// percentage that was in effect before the latest remaining change.
// FAILED_PRECONDITION if there is nothing to roll back.
absl::StatusOr<v1::Flag> ScheduleRollback(const v1::Flag& flag, absl::Time now,
                                          absl::Duration lead);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_FLAG_SCHEDULER_H_
