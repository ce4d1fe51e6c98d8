#include "cli/top_frame.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
#include "flags/flag_schedule.h"

namespace sluice::cli {
namespace {

// The byte length of the UTF-8 sequence `lead` starts.
size_t SequenceLength(unsigned char lead) {
  return lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
}

// `text` padded, or cut with a final "~", to exactly `n` columns (a column per
// code point: what the terminals `top` runs in show for its text).
std::string Fit(const std::string& text, size_t n) {
  std::vector<size_t> starts;  // where each code point starts
  for (size_t i = 0; i < text.size(); i += SequenceLength(static_cast<unsigned char>(text[i]))) {
    starts.push_back(i);
  }
  if (starts.size() <= n) return text + std::string(n - starts.size(), ' ');
  if (n == 0) return "";
  return text.substr(0, starts[n - 1]) + "~";
}

std::string Rate(double r) {
  return r >= 10000 ? absl::StrFormat("%.0fk", r / 1000) : absl::StrFormat("%.0f", r);
}

}  // namespace

std::string LagStatusName(v1::LagStatus s) {
  switch (s) {
    case v1::LAG_STATUS_OK:
      return "OK";
    case v1::LAG_STATUS_WARN:
      return "WARN";
    case v1::LAG_STATUS_STALL:
      return "STALL";
    case v1::LAG_STATUS_STOP:
      return "STOP";
    default:
      return "-";
  }
}

std::vector<std::string> RenderTopFrame(const TopSnapshot& s, int width) {
  const size_t w = static_cast<size_t>(std::max(width, 40));
  std::vector<std::string> lines;
  auto line = [&](const std::string& text) { lines.push_back(Fit(text, w)); };
  line(absl::StrCat("sluicectl top - ", s.controller, " - ",
                    absl::FormatTime("%H:%M:%S", s.at, absl::UTCTimeZone()), " UTC - q quits"));
  if (!s.error.empty()) {
    line("");
    line(s.error);
    return lines;
  }
  std::map<std::string, const v1::StatsRow*> worker_stats;
  for (const v1::StatsRow& r : s.by_worker.rows()) worker_stats[r.key()] = &r;
  std::map<std::string, const v1::StatsRow*> pipeline_stats;
  for (const v1::StatsRow& r : s.by_pipeline.rows()) pipeline_stats[r.key()] = &r;

  line("");
  line(absl::StrFormat("WORKERS (%d)", s.workers.workers_size()));
  line(absl::StrFormat("%-20s %-12s %5s %8s %9s %-6s %-10s", "ID", "VERSION", "PIPES", "ROWS/S",
                       "LAG", "STATE", "CONFIG"));
  for (const v1::WorkerInfo& wi : s.workers.workers()) {
    const v1::StatsRow* st =
        worker_stats.count(wi.worker_id()) ? worker_stats[wi.worker_id()] : nullptr;
    const std::string state = !wi.connected() ? "gone" : wi.draining() ? "drain" : "up";
    line(absl::StrCat(
        Fit(wi.worker_id(), 20), " ", Fit(wi.build_version(), 12), " ",
        absl::StrFormat("%5d %8s %9d", wi.pipelines_size(), st ? Rate(st->rows_per_second()) : "-",
                        st ? st->consumer_lag() : 0),
        " ", Fit(state, 6), " ",
        Fit(wi.last_nack().empty() ? wi.applied_config_version()
                                   : "NACK " + wi.applied_config_version(),
            10)));
  }

  std::map<std::string, const v1::Flag*> flags;
  for (const v1::Flag& f : s.flags.flags()) flags[f.name()] = &f;
  line("");
  line(absl::StrFormat("PIPELINES (%d)", s.pipelines.pipelines_size()));
  line(absl::StrFormat("%-16s %7s %7s %6s %-5s %5s %7s %8s %8s", "NAME", "ROWS/S", "FRESH99",
                       "LAG S", "STAT", "DL", "ROLLOUT", "KAFKA", "LEGACY"));
  for (const v1::Pipeline& p : s.pipelines.pipelines()) {
    const v1::PipelineConfig& c = p.config();
    const v1::StatsRow* st = pipeline_stats.count(c.name()) ? pipeline_stats[c.name()] : nullptr;
    std::string rollout = "-";
    if (c.has_rollout()) {
      auto f = flags.find(c.rollout().flag());
      rollout = f == flags.end()
                    ? "?"
                    : absl::StrFormat("%.2f%%",
                                      flags::FlagSchedule(*f->second).BasisPointsAt(s.at) / 100.0);
    }
    const std::string status = p.paused() ? "PAUSE" : st ? LagStatusName(st->lag_status()) : "-";
    line(absl::StrCat(
        Fit(c.name(), 16), " ",
        absl::StrFormat("%7s %7s %6s %-5s %5d %7s %8d %8d", st ? Rate(st->rows_per_second()) : "-",
                        st ? absl::StrFormat("%.2fs", st->freshness_p99_ms() / 1000) : "-",
                        st && st->consumer_lag_seconds() >= 0
                            ? absl::StrFormat("%.1f", st->consumer_lag_seconds())
                            : "-",
                        status, st ? st->dead_letters_pending() : 0, rollout,
                        st ? st->kafka_path_items() : 0, st ? st->legacy_path_items() : 0)));
  }
  return lines;
}

}  // namespace sluice::cli
