// Moves guarded ramps forward and halts them when the Kafka path's health breaks
// a guard.
#ifndef SLUICE_CONTROLLER_RAMP_SCHEDULER_H_
#define SLUICE_CONTROLLER_RAMP_SCHEDULER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"
#include "controller/flag_scheduler.h"
#include "controller/fleet.h"
#include "controller/state_store.h"
#include "controller/stats_aggregator.h"

namespace sluice::controller {

// Why the guards of `ramp` break given `health`, or nullopt if they hold (or there
// is no data yet to judge).
std::optional<std::string> BrokenGuard(const v1::RampGuards& guards,
                                       const StatsAggregator::PathHealth& health,
                                       absl::Duration window);

// What a tick does to one flag's ramp.
struct RampChange {
  v1::Flag flag;
  std::string action;  // the audit action: flag.ramp.step, .done, .wait or .halt
};

// The change a tick makes to `flag`, whose ramp is running, given the Kafka path's
// `health` over the ramp's guard window; nullopt when nothing changes. A broken
// guard halts at once. A due step advances only on a sufficient sample (the
// guards' min_items and min_batches); without one the ramp waits, and says so once
// (waiting_reason), not at every tick.
std::optional<RampChange> NextRampChange(const v1::Flag& flag,
                                         const StatsAggregator::PathHealth& health, absl::Time now,
                                         absl::Duration lead);

// Called once a second from the controller's main loop. Not thread-safe.
class RampScheduler {
 public:
  // `reload` makes the fleet see the stored flags after a change.
  RampScheduler(StateStore* store, Fleet* fleet, StatsAggregator* stats, const Clock& clock,
                FlagTiming timing, std::function<absl::Status()> reload)
      : store_(store),
        fleet_(fleet),
        stats_(stats),
        clock_(clock),
        timing_(timing),
        reload_(std::move(reload)) {}

  // For every running ramp: halt on a broken guard, else schedule the next step
  // when it is due. Changes go through the store with the flag's current version
  // (a concurrent admin write wins; the ramp is looked at again next tick).
  void Tick();

 private:
  StateStore* store_;
  Fleet* fleet_;
  StatsAggregator* stats_;
  const Clock& clock_;
  const FlagTiming timing_;
  std::function<absl::Status()> reload_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_RAMP_SCHEDULER_H_
