#include "tools/fleetsim/fleetsim_run.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace sluice::fleetsim {
namespace {

// After the last expected ACK the controller still records each ACK (and wakes
// every stream for it): a change's CPU is counted this much longer.
constexpr absl::Duration kSettle = absl::Seconds(1);
// The controller's bound on desired_workers (controller/pipeline_validator.cc).
constexpr int kMaxDesiredWorkers = 256;

// Index of the per-stream sample vectors kept over every change.
enum { kReceiveAfterReturn, kAckAfterReturn, kReceiveAfterSend, kAckAfterSend };

}  // namespace

FleetsimRun::FleetsimRun(const FleetsimConfig& config, std::ostream* progress)
    : config_(config), progress_(progress) {
  if (config_.controller_pid > 0) controller_.emplace(config_.controller_pid);
}

bool FleetsimRun::SleepUntil(absl::Time t, const std::atomic<bool>& stop) {
  while (!stop && absl::Now() < t) {
    absl::SleepFor(std::min(absl::Milliseconds(100), t - absl::Now()));
  }
  return !stop;
}

std::optional<ProcessSample> FleetsimRun::SampleController(FleetsimReport* report) {
  if (!controller_) return std::nullopt;
  absl::StatusOr<ProcessSample> s = controller_->Sample();
  if (!s.ok()) {
    report->warnings.push_back(absl::StrCat("controller sample: ", s.status().message()));
    return std::nullopt;
  }
  return *s;
}

absl::StatusOr<FleetsimReport> FleetsimRun::Run(const std::atomic<bool>& stop) {
  FleetsimReport report;
  const SimulatedFleetConfig& fc = config_.fleet;
  report.workers = fc.workers;
  report.streams_per_connection = fc.streams_per_connection;
  report.connect_rate = fc.connect_rate;
  report.flag = config_.flag;
  if (absl::StatusOr<ProcessSample> s = self_.Sample(); s.ok()) report.self_start = *s;
  if (controller_) {
    absl::StatusOr<ProcessSample> s = controller_->Sample();
    if (!s.ok()) {
      return absl::NotFoundError(absl::StrCat("--controller-pid: ", s.status().message()));
    }
    report.controller_start = *s;
  }

  absl::StatusOr<std::unique_ptr<FleetAdmin>> admin = FleetAdmin::Open(config_.admin);
  if (!admin.ok()) return admin.status();
  if (config_.setup_pipelines > 0) {
    const int desired = config_.setup_desired_workers > 0
                            ? config_.setup_desired_workers
                            : std::min(fc.workers, kMaxDesiredWorkers);
    *progress_ << "setup: flag " << config_.setup_flag << ", " << config_.setup_pipelines
               << " pipelines " << config_.pipeline_prefix << "* for " << desired << " workers each"
               << std::endl;
    if (absl::Status s = (*admin)->EnsureFlag(config_.setup_flag); !s.ok()) return s;
    if (absl::Status s = (*admin)->EnsurePipelines(config_.pipeline_prefix, config_.setup_pipelines,
                                                   config_.setup_flag, desired);
        !s.ok()) {
      return s;
    }
  }

  SimulatedFleet fleet(fc);
  const absl::Time opened = absl::Now();
  if (absl::Status s = fleet.Open(); !s.ok()) return s;
  const absl::Duration connect_timeout =
      config_.connect_timeout > absl::ZeroDuration()
          ? config_.connect_timeout
          : absl::Seconds(fc.workers / std::max(fc.connect_rate, 1.0)) + absl::Seconds(60);
  *progress_ << "connecting " << fc.workers << " streams at " << fc.connect_rate << "/s"
             << std::endl;
  const absl::Time connect_deadline = opened + connect_timeout;
  while (!stop && absl::Now() < connect_deadline) {
    if (fleet.WaitForFirstAcks(std::min(connect_deadline, absl::Now() + absl::Seconds(5)))) break;
    const FleetCounts c = fleet.Counts();
    *progress_ << absl::StrFormat("  %d opened, %d accepted, %d ACKed, %d ended", c.opened,
                                  c.accepted, c.first_acked, c.ended)
               << std::endl;
    if (c.ended > 0 && c.first_acked + c.ended >= fc.workers) break;
  }
  report.connect_seconds = absl::ToDoubleSeconds(absl::Now() - opened);
  report.all_connected = fleet.Counts().first_acked >= fc.workers;
  if (!report.all_connected) {
    report.warnings.push_back(absl::StrFormat(
        "only %d of %d streams ACKed a first assignment within %s", fleet.Counts().first_acked,
        fc.workers, absl::FormatDuration(connect_timeout)));
  }
  report.first_assignment_ms = Summarize(fleet.FirstAssignmentMs());
  report.first_ack_ms = Summarize(fleet.FirstAckMs());
  *progress_ << "connected in " << absl::StrFormat("%.1f", report.connect_seconds) << " s"
             << std::endl;
  report.controller_connected = SampleController(&report);

  // Idle: only stats flow. Its CPU rate is the baseline each flag change is
  // measured against.
  std::optional<double> idle_cpu_rate;
  if (config_.idle_window > absl::ZeroDuration() && !stop) {
    *progress_ << "idle for " << absl::FormatDuration(config_.idle_window) << std::endl;
    std::optional<ProcessSample> before = SampleController(&report);
    SleepUntil(absl::Now() + config_.idle_window, stop);
    report.controller_idle_end = SampleController(&report);
    if (before && report.controller_idle_end) {
      const double span = absl::ToDoubleSeconds(report.controller_idle_end->at - before->at);
      report.idle_window_seconds = span;
      if (span > 0) {
        idle_cpu_rate = (report.controller_idle_end->cpu_seconds - before->cpu_seconds) / span;
        report.controller_idle_cpu_percent = 100 * *idle_cpu_rate;
      }
    }
  }

  if (!config_.flag.empty() && config_.flag_changes > 0 && !stop) {
    const int carrying = fleet.CountCarrying(config_.flag);
    if (carrying == 0) {
      report.warnings.push_back(absl::StrCat(
          "no stream's assignment carries flag ", config_.flag,
          ": create pipelines with a rollout on it (--setup-pipelines, --setup-flag)"));
    } else if (carrying < fleet.Counts().first_acked) {
      report.warnings.push_back(absl::StrFormat(
          "only %d of %d streams carry flag %s (add pipelines or raise desired_workers)", carrying,
          fleet.Counts().first_acked, config_.flag));
    }
    std::vector<double> samples[4];
    const absl::Time first = absl::Now();
    for (int k = 0; k < config_.flag_changes && !stop; ++k) {
      if (!SleepUntil(first + k * config_.flag_change_every, stop)) break;
      if (absl::Status s =
              ChangeFlagOnce(**admin, fleet, carrying, idle_cpu_rate, stop, &report, samples);
          !s.ok()) {
        return s;
      }
    }
    report.receive_after_return_ms = Summarize(samples[kReceiveAfterReturn]);
    report.ack_after_return_ms = Summarize(samples[kAckAfterReturn]);
    report.receive_after_send_ms = Summarize(samples[kReceiveAfterSend]);
    report.ack_after_send_ms = Summarize(samples[kAckAfterSend]);
  }

  if (config_.duration > absl::ZeroDuration() && absl::Now() < opened + config_.duration) {
    *progress_ << "holding the streams until " << absl::FormatDuration(config_.duration)
               << " after opening" << std::endl;
    SleepUntil(opened + config_.duration, stop);
  }
  report.stats_reports_sent = fleet.StatsReportsSent();
  report.counts = fleet.Counts();
  report.controller_end = SampleController(&report);
  if (absl::StatusOr<ProcessSample> s = self_.Sample(); s.ok()) report.self_end = *s;
  report.run_seconds = absl::ToDoubleSeconds(absl::Now() - opened);
  fleet.Close();
  return report;
}

absl::Status FleetsimRun::ChangeFlagOnce(FleetAdmin& admin, SimulatedFleet& fleet, int carrying,
                                         std::optional<double> idle_cpu_rate,
                                         const std::atomic<bool>& stop, FleetsimReport* report,
                                         std::vector<double> (&samples)[4]) {
  absl::StatusOr<v1::Flag> current = admin.GetFlag(config_.flag);
  if (!current.ok()) return current.status();
  // Counted from any newer version: the push can come before SetFlag answers.
  fleet.ExpectFlag(config_.flag, current->version() + 1);
  std::optional<ProcessSample> before = SampleController(report);
  absl::StatusOr<FlagChange> change = admin.SetNextPercentage(*current);
  if (!change.ok()) return change.status();
  const absl::Time deadline = change->returned + config_.flag_change_timeout;
  int acked = fleet.WaitForFlagAcks(carrying, deadline);
  while (acked < carrying && !stop && absl::Now() < deadline) {
    acked = fleet.WaitForFlagAcks(carrying, std::min(deadline, absl::Now() + absl::Seconds(1)));
  }
  SleepUntil(absl::Now() + kSettle, stop);
  std::optional<ProcessSample> after = SampleController(report);

  FlagChangeFigures f;
  f.version = change->new_version;
  f.basis_points = change->basis_points;
  f.set_call_ms = absl::ToDoubleMilliseconds(change->returned - change->sent);
  f.expected = carrying;
  std::vector<double> receive, ack;
  for (const FlagSighting& s : fleet.Sightings(config_.flag, change->old_version + 1)) {
    ++f.received;
    receive.push_back(absl::ToDoubleMilliseconds(s.received - change->returned));
    samples[kReceiveAfterReturn].push_back(receive.back());
    samples[kReceiveAfterSend].push_back(absl::ToDoubleMilliseconds(s.received - change->sent));
    if (s.ack_written == absl::InfinitePast()) continue;
    ++f.acked;
    ack.push_back(absl::ToDoubleMilliseconds(s.ack_written - change->returned));
    samples[kAckAfterReturn].push_back(ack.back());
    samples[kAckAfterSend].push_back(absl::ToDoubleMilliseconds(s.ack_written - change->sent));
  }
  f.receive_ms = Summarize(std::move(receive));
  f.ack_ms = Summarize(std::move(ack));
  if (before && after) {
    f.controller_cpu_seconds = after->cpu_seconds - before->cpu_seconds;
    f.controller_cpu_seconds_above_idle =
        *f.controller_cpu_seconds -
        idle_cpu_rate.value_or(0) * absl::ToDoubleSeconds(after->at - before->at);
  }
  *progress_ << absl::StrFormat("flag %s -> v%d (%.2f%%): %d/%d ACKed, ACK p99 %.1f ms",
                                config_.flag, f.version, f.basis_points / 100.0, f.acked,
                                f.expected, f.ack_ms.p99_ms)
             << std::endl;
  report->changes.push_back(std::move(f));
  return absl::OkStatus();
}

}  // namespace sluice::fleetsim
