// What one fleetsim run does; main.cc fills it from the command line.
#ifndef SLUICE_TOOLS_FLEETSIM_FLEETSIM_CONFIG_H_
#define SLUICE_TOOLS_FLEETSIM_FLEETSIM_CONFIG_H_

#include <string>

#include "absl/time/time.h"
#include "tools/fleetsim/simulated_fleet.h"

namespace sluice::fleetsim {

struct FleetsimConfig {
  // The streams: controller, count, connect rate, stats shape.
  SimulatedFleetConfig fleet;
  // For the Admin calls (setup and flag changes): the same controller, with a
  // token of the admin role (the streams need only the worker role).
  ControllerConnection admin;
  // The run lasts at least this long from the first stream opened (holding the
  // streams once the measurements are done); 0: it ends after them.
  absl::Duration duration = absl::ZeroDuration();
  // How long the streams may take to connect and ACK their first assignment;
  // 0: workers / connect rate + 60 s.
  absl::Duration connect_timeout = absl::ZeroDuration();
  // After connecting, the fleet only reports stats for this long while the
  // controller's idle CPU is measured.
  absl::Duration idle_window = absl::Seconds(20);

  // The flag to change (empty: no changes), how often, and how long each change
  // may take to reach every stream that carries the flag.
  std::string flag;
  int flag_changes = 0;
  absl::Duration flag_change_every = absl::Seconds(10);
  absl::Duration flag_change_timeout = absl::Seconds(30);

  // Before connecting: create `setup_pipelines` pipelines named
  // <pipeline_prefix>0.. with a rollout on `setup_flag` (created too), each for
  // `setup_desired_workers` workers (0: min(workers, 256), the controller's bound).
  int setup_pipelines = 0;
  std::string setup_flag;
  int setup_desired_workers = 0;
  std::string pipeline_prefix = "fleetsim-";

  // The controller's pid, to sample its RSS, CPU and threads (0: not sampled).
  int controller_pid = 0;
};

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_FLEETSIM_CONFIG_H_
