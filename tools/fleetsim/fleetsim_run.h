// One fleetsim run, phase by phase: set up pipelines, connect the fleet, measure
// the controller idle, change the flag K times and time each change's way to
// every stream, hold the streams for the rest of the duration, close.
#ifndef SLUICE_TOOLS_FLEETSIM_FLEETSIM_RUN_H_
#define SLUICE_TOOLS_FLEETSIM_FLEETSIM_RUN_H_

#include <atomic>
#include <optional>
#include <ostream>

#include "absl/status/statusor.h"
#include "tools/fleetsim/fleet_admin.h"
#include "tools/fleetsim/fleetsim_config.h"
#include "tools/fleetsim/fleetsim_report.h"
#include "tools/fleetsim/process_sampler.h"
#include "tools/fleetsim/simulated_fleet.h"

namespace sluice::fleetsim {

class FleetsimRun {
 public:
  // `progress` gets a line per phase (stderr in main).
  FleetsimRun(const FleetsimConfig& config, std::ostream* progress);

  // Runs every phase; `stop` (a signal) cuts the current phase short and
  // reports what was measured. Errors: the Admin calls' (setup, flag changes),
  // INVALID_ARGUMENT for a connection the channel refuses, NOT_FOUND when the
  // controller's pid is gone at the start.
  absl::StatusOr<FleetsimReport> Run(const std::atomic<bool>& stop);

 private:
  std::optional<ProcessSample> SampleController(FleetsimReport* report);
  // Sleeps until `t` or `stop`; false if stopped.
  static bool SleepUntil(absl::Time t, const std::atomic<bool>& stop);
  absl::Status ChangeFlagOnce(FleetAdmin& admin, SimulatedFleet& fleet, int carrying,
                              std::optional<double> idle_cpu_rate, const std::atomic<bool>& stop,
                              FleetsimReport* report, std::vector<double> (&samples)[4]);

  const FleetsimConfig& config_;
  std::ostream* progress_;
  std::optional<ProcessSampler> controller_;
  ProcessSampler self_{0};
};

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_FLEETSIM_RUN_H_
