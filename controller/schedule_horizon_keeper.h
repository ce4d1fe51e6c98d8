// Moves the flag schedules' horizon forward: how far every evaluator holding the
// controller's flags knows them to be complete.
#ifndef SLUICE_CONTROLLER_SCHEDULE_HORIZON_KEEPER_H_
#define SLUICE_CONTROLLER_SCHEDULE_HORIZON_KEEPER_H_

#include <atomic>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/controller_metrics.h"
#include "controller/fleet.h"
#include "controller/leadership.h"
#include "controller/state_source.h"
#include "controller/state_sync.h"

namespace sluice::controller {

struct ScheduleHorizonConfig {
  // The propagation lead (--flag-lead): no change takes effect sooner after it is made.
  absl::Duration lead = absl::Seconds(30);
  // How long a flag write may take from computing its schedule to taking the
  // schedule lock (FlagTiming::write_allowance()).
  absl::Duration write_allowance = absl::Seconds(1);
};

// Why the horizon holds. Every flag write computes its schedule from the clock at
// some T, makes its changes effective at T + lead or later, and takes the schedule
// lock (shared) by T + write_allowance, holding it until it commits. A round here
// takes the lock exclusively (StateSource::ScheduleBarrier) at B: every write that
// had it committed before B, so the state read after B holds it; every other write
// takes it after B, so its T > B - write_allowance and its changes take effect
// after B + lead - write_allowance. That time is the horizon: no change effective
// at or before it can be missing from the state read after B, nor from any later
// state. The Fleet passes it to the workers (after their assignment) and to
// Flags.Watch clients; a worker routes only items at or before it.
//
// Thread-safe; Run() on its own thread.
class ScheduleHorizonKeeper {
 public:
  ScheduleHorizonKeeper(StateSource* source, StateSync* sync, Fleet* fleet, const Clock& clock,
                        ControllerMetrics* metrics, ScheduleHorizonConfig config);

  // One round: the barrier, the revision read after it, a reload if the applied
  // state is older, and the Fleet's horizon moved to barrier + lead - allowance.
  // UNAVAILABLE (and the horizon stays) when the database does not answer.
  absl::Status Advance();
  // Advance() every interval() while this replica leads, until `stop`. (A
  // follower's horizon would reach no one; the leader's takeover advances it
  // before serving.)
  void Run(const std::atomic<bool>& stop, const Leadership& leadership);
  // A quarter of (lead - allowance), within [100 ms, 5 s]: an item stamped now is
  // inside the horizon as long as rounds keep succeeding.
  absl::Duration interval() const;

 private:
  StateSource* const source_;
  StateSync* const sync_;
  Fleet* const fleet_;
  const Clock& clock_;
  ControllerMetrics* const metrics_;
  const ScheduleHorizonConfig config_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_SCHEDULE_HORIZON_KEEPER_H_
