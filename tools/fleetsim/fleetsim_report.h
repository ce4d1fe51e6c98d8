// The figures of one fleetsim run, printed for people and as one JSON line.
#ifndef SLUICE_TOOLS_FLEETSIM_FLEETSIM_REPORT_H_
#define SLUICE_TOOLS_FLEETSIM_FLEETSIM_REPORT_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tools/fleetsim/latency_summary.h"
#include "tools/fleetsim/process_sampler.h"
#include "tools/fleetsim/simulated_fleet.h"

namespace sluice::fleetsim {

// One flag change as the fleet saw it.
struct FlagChangeFigures {
  uint64_t version = 0;
  uint32_t basis_points = 0;
  // How long SetFlag took, at the caller.
  double set_call_ms = 0;
  // Streams whose assignment carried the flag when it changed, and of those how
  // many read the new version and wrote their ACK within the timeout.
  int expected = 0;
  int received = 0;
  int acked = 0;
  // Per stream, from SetFlag returning (negative: the push arrived before the
  // answer; the controller pushes as soon as the change is stored).
  LatencySummary receive_ms;
  LatencySummary ack_ms;
  // The controller's CPU from just before SetFlag until every ACK was in and
  // 1 s more (it handles each ACK), and that less its idle rate over the span.
  std::optional<double> controller_cpu_seconds;
  std::optional<double> controller_cpu_seconds_above_idle;
};

struct FleetsimReport {
  int workers = 0;
  int streams_per_connection = 1;
  double connect_rate = 0;
  // Until every stream ACKed its first assignment (or the timeout).
  double connect_seconds = 0;
  bool all_connected = false;
  // Per stream, from opening it.
  LatencySummary first_assignment_ms;
  LatencySummary first_ack_ms;

  std::string flag;
  std::vector<FlagChangeFigures> changes;
  // Over every change: per stream, from SetFlag returning, and from it being sent.
  LatencySummary receive_after_return_ms;
  LatencySummary ack_after_return_ms;
  LatencySummary receive_after_send_ms;
  LatencySummary ack_after_send_ms;

  // Controller samples (when its pid was given).
  std::optional<ProcessSample> controller_start;
  std::optional<ProcessSample> controller_connected;
  std::optional<ProcessSample> controller_idle_end;
  std::optional<ProcessSample> controller_end;
  // CPU over the idle window, in % of one core.
  std::optional<double> controller_idle_cpu_percent;
  double idle_window_seconds = 0;

  // fleetsim's own cost, to tell whether the tool kept up.
  std::optional<ProcessSample> self_start;
  std::optional<ProcessSample> self_end;

  uint64_t stats_reports_sent = 0;
  // At the end, before the streams were closed.
  FleetCounts counts;
  double run_seconds = 0;
  // What went wrong without stopping the run.
  std::vector<std::string> warnings;
};

// Human-readable lines.
void PrintReport(const FleetsimReport& report, std::ostream& out);
// One line of JSON with every figure (no trailing newline).
std::string ReportJson(const FleetsimReport& report);

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_FLEETSIM_REPORT_H_
