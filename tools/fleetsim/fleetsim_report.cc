#include "tools/fleetsim/fleetsim_report.h"

#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/json_string.h"

namespace sluice::fleetsim {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string JsonNumber(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.4f", *v) : "null";
}

std::string SampleJson(const std::optional<ProcessSample>& s) {
  if (!s) return "null";
  return absl::StrFormat(R"({"rss_bytes":%d,"peak_rss_bytes":%d,"cpu_seconds":%.2f,"threads":%d})",
                         s->rss_bytes, s->peak_rss_bytes, s->cpu_seconds, s->threads);
}

std::string SampleLine(const ProcessSample& s) {
  return absl::StrFormat("RSS %.1f MiB (peak %.1f MiB), %d threads, %.2f CPU s", s.rss_bytes / kMiB,
                         s.peak_rss_bytes / kMiB, s.threads, s.cpu_seconds);
}

// Mean and max of the changes' values that are set.
std::pair<std::optional<double>, std::optional<double>> MeanMax(
    const std::vector<FlagChangeFigures>& changes,
    std::optional<double> FlagChangeFigures::*field) {
  std::vector<double> v;
  for (const FlagChangeFigures& c : changes) {
    if (c.*field) v.push_back(*(c.*field));
  }
  if (v.empty()) return {std::nullopt, std::nullopt};
  return {std::accumulate(v.begin(), v.end(), 0.0) / v.size(),
          *std::max_element(v.begin(), v.end())};
}

}  // namespace

void PrintReport(const FleetsimReport& r, std::ostream& out) {
  out << absl::StrFormat("fleetsim: %d streams (%d per connection) opened at %.0f/s\n", r.workers,
                         r.streams_per_connection, r.connect_rate);
  out << absl::StrFormat("connect: %d/%d ACKed their first assignment in %.1f s%s\n",
                         r.counts.first_acked, r.workers, r.connect_seconds,
                         r.all_connected ? "" : " (NOT ALL)");
  out << "  open -> first assignment: " << FormatSummary(r.first_assignment_ms) << "\n";
  out << "  open -> first ACK written: " << FormatSummary(r.first_ack_ms) << "\n";
  if (!r.flag.empty()) {
    int expected = 0, received = 0, acked = 0;
    for (const FlagChangeFigures& c : r.changes) {
      expected += c.expected;
      received += c.received;
      acked += c.acked;
      out << absl::StrFormat(
          "flag %s v%d (%.2f%%): SetFlag %.1f ms; %d/%d streams got it, %d ACKed; receive %s; "
          "ACK %s",
          r.flag, c.version, c.basis_points / 100.0, c.set_call_ms, c.received, c.expected, c.acked,
          FormatSummary(c.receive_ms), FormatSummary(c.ack_ms));
      if (c.controller_cpu_seconds) {
        out << absl::StrFormat("; controller CPU %.2f s (%.2f s above idle)",
                               *c.controller_cpu_seconds, *c.controller_cpu_seconds_above_idle);
      }
      out << "\n";
    }
    out << absl::StrFormat("flag changes: %d; streams reached %d/%d, ACKed %d/%d\n",
                           r.changes.size(), received, expected, acked, expected);
    out << "  SetFlag returned -> assignment read: " << FormatSummary(r.receive_after_return_ms)
        << "\n";
    out << "  SetFlag returned -> ACK written:     " << FormatSummary(r.ack_after_return_ms)
        << "\n";
    out << "  SetFlag sent -> ACK written:         " << FormatSummary(r.ack_after_send_ms) << "\n";
  }
  if (r.controller_start) {
    out << "controller at start:     " << SampleLine(*r.controller_start) << "\n";
  }
  if (r.controller_connected) {
    out << "controller connected:    " << SampleLine(*r.controller_connected) << "\n";
  }
  if (r.controller_idle_end) {
    out << "controller after idle:   " << SampleLine(*r.controller_idle_end) << "\n";
  }
  if (r.controller_end) out << "controller at end:       " << SampleLine(*r.controller_end) << "\n";
  if (r.controller_idle_cpu_percent) {
    out << absl::StrFormat("controller idle CPU (stats only, %.0f s): %.1f%% of one core\n",
                           r.idle_window_seconds, *r.controller_idle_cpu_percent);
  }
  const auto [cpu_mean, cpu_max] = MeanMax(r.changes, &FlagChangeFigures::controller_cpu_seconds);
  const auto [above_mean, above_max] =
      MeanMax(r.changes, &FlagChangeFigures::controller_cpu_seconds_above_idle);
  if (cpu_mean) {
    out << absl::StrFormat(
        "controller CPU per flag change: mean %.2f s, max %.2f s (above idle: mean %.2f s, max "
        "%.2f s)\n",
        *cpu_mean, *cpu_max, *above_mean, *above_max);
  }
  if (r.self_start && r.self_end) {
    const double cpu = r.self_end->cpu_seconds - r.self_start->cpu_seconds;
    out << absl::StrFormat(
        "fleetsim itself: %.2f CPU s over %.1f s (%.1f%% of one core), RSS %.1f MiB\n", cpu,
        r.run_seconds, r.run_seconds > 0 ? 100 * cpu / r.run_seconds : 0,
        r.self_end->rss_bytes / kMiB);
  }
  out << absl::StrFormat("stats reports sent: %d; streams ended before the end: %d",
                         r.stats_reports_sent, r.counts.ended);
  if (!r.counts.first_error.empty()) out << " (first: " << r.counts.first_error << ")";
  out << "\n";
  for (const std::string& w : r.warnings) out << "warning: " << w << "\n";
}

std::string ReportJson(const FleetsimReport& r) {
  std::vector<std::string> changes;
  for (const FlagChangeFigures& c : r.changes) {
    changes.push_back(absl::StrCat(
        "{\"version\":", c.version, ",\"basis_points\":", c.basis_points,
        ",\"set_call_ms\":", absl::StrFormat("%.3f", c.set_call_ms), ",\"expected\":", c.expected,
        ",\"received\":", c.received, ",\"acked\":", c.acked,
        ",\"receive_ms\":", SummaryJson(c.receive_ms), ",\"ack_ms\":", SummaryJson(c.ack_ms),
        ",\"controller_cpu_seconds\":", JsonNumber(c.controller_cpu_seconds),
        ",\"controller_cpu_seconds_above_idle\":", JsonNumber(c.controller_cpu_seconds_above_idle),
        "}"));
  }
  std::vector<std::string> ended;
  for (const auto& [code, n] : r.counts.ended_by_code) {
    ended.push_back(absl::StrCat(JsonString(code), ":", n));
  }
  std::vector<std::string> warnings;
  for (const std::string& w : r.warnings) warnings.push_back(JsonString(w));
  const auto [cpu_mean, cpu_max] = MeanMax(r.changes, &FlagChangeFigures::controller_cpu_seconds);
  const auto [above_mean, above_max] =
      MeanMax(r.changes, &FlagChangeFigures::controller_cpu_seconds_above_idle);
  std::optional<double> self_cpu;
  if (r.self_start && r.self_end) self_cpu = r.self_end->cpu_seconds - r.self_start->cpu_seconds;
  return absl::StrCat(
      "{\"tool\":\"fleetsim\",\"workers\":", r.workers,
      ",\"streams_per_connection\":", r.streams_per_connection,
      ",\"connect_rate\":", absl::StrFormat("%.1f", r.connect_rate),
      ",\"connect\":{\"seconds\":", absl::StrFormat("%.3f", r.connect_seconds),
      ",\"all_connected\":", r.all_connected ? "true" : "false", ",\"opened\":", r.counts.opened,
      ",\"accepted\":", r.counts.accepted, ",\"first_acked\":", r.counts.first_acked,
      ",\"first_assignment_ms\":", SummaryJson(r.first_assignment_ms),
      ",\"first_ack_ms\":", SummaryJson(r.first_ack_ms), "}",
      ",\"flag\":", r.flag.empty() ? "null" : JsonString(r.flag), ",\"flag_changes\":[",
      absl::StrJoin(changes, ","), "]",
      ",\"flag_propagation\":{\"receive_after_return_ms\":", SummaryJson(r.receive_after_return_ms),
      ",\"ack_after_return_ms\":", SummaryJson(r.ack_after_return_ms),
      ",\"receive_after_send_ms\":", SummaryJson(r.receive_after_send_ms),
      ",\"ack_after_send_ms\":", SummaryJson(r.ack_after_send_ms), "}",
      ",\"controller\":{\"start\":", SampleJson(r.controller_start),
      ",\"connected\":", SampleJson(r.controller_connected),
      ",\"idle_end\":", SampleJson(r.controller_idle_end),
      ",\"end\":", SampleJson(r.controller_end),
      ",\"idle_window_seconds\":", absl::StrFormat("%.1f", r.idle_window_seconds),
      ",\"idle_cpu_percent_of_core\":", JsonNumber(r.controller_idle_cpu_percent),
      ",\"cpu_seconds_per_flag_change_mean\":", JsonNumber(cpu_mean),
      ",\"cpu_seconds_per_flag_change_max\":", JsonNumber(cpu_max),
      ",\"cpu_seconds_per_flag_change_above_idle_mean\":", JsonNumber(above_mean),
      ",\"cpu_seconds_per_flag_change_above_idle_max\":", JsonNumber(above_max), "}",
      ",\"self\":{\"cpu_seconds\":", JsonNumber(self_cpu), ",\"end\":", SampleJson(r.self_end), "}",
      ",\"stats_reports_sent\":", r.stats_reports_sent, ",\"streams_ended_early\":", r.counts.ended,
      ",\"ended_by_code\":{", absl::StrJoin(ended, ","), "}",
      ",\"first_error\":", JsonString(r.counts.first_error),
      ",\"run_seconds\":", absl::StrFormat("%.1f", r.run_seconds), ",\"warnings\":[",
      absl::StrJoin(warnings, ","), "]}");
}

}  // namespace sluice::fleetsim
