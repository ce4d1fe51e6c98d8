// sluicectl stats [--by worker|pipeline|version] [--window 5m]
#include <google/protobuf/util/time_util.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cli_context.h"
#include "cli/table_printer.h"
#include "cli/top_frame.h"

namespace sluice::cli {

int RunStats(const CliContext& ctx) {
  if (ctx.args().positional.size() != 1) return ctx.Usage("stats takes no operands");
  v1::GetStatsRequest req;
  const std::string& by = ctx.args().by;
  if (by == "worker") {
    req.set_group_by(v1::STATS_GROUP_BY_WORKER);
  } else if (by == "pipeline") {
    req.set_group_by(v1::STATS_GROUP_BY_PIPELINE);
  } else if (by == "version") {
    req.set_group_by(v1::STATS_GROUP_BY_VERSION);
  } else if (by == "path") {
    req.set_group_by(v1::STATS_GROUP_BY_PATH);
  } else {
    return ctx.Usage(absl::StrCat("--by: '", by, "' is not worker, pipeline, version or path"));
  }
  *req.mutable_window() = google::protobuf::util::TimeUtil::MillisecondsToDuration(
      absl::ToInt64Milliseconds(ctx.args().window));
  v1::GetStatsResponse resp;
  grpc::Status s = ctx.Read(&v1::Admin::Stub::GetStats, req, &resp);
  if (!s.ok()) return ctx.Refused(s);
  if (ctx.args().json) {
    ctx.PrintJson(resp);
    return kExitOk;
  }
  std::string header = by;
  for (char& c : header) c = static_cast<char>(toupper(c));
  if (by == "path") {
    TablePrinter t({"PATH", "ITEMS/S", "ITEMS", "DEAD LETTERS", "P99 WRITE MS",
                    "P99 FRESHNESS MS"});
    for (const v1::StatsRow& r : resp.rows()) {
      t.AddRow({r.key(), absl::StrFormat("%.1f", r.rows_per_second()), absl::StrCat(r.rows()),
                absl::StrCat(r.dead_letters()), absl::StrFormat("%.1f", r.write_latency_p99_ms()),
                absl::StrFormat("%.1f", r.freshness_p99_ms())});
    }
    t.Print(ctx.out());
    return kExitOk;
  }
  // By pipeline, its dead letters now: pending (to replay or discard) and replayed.
  const bool dead_letters = by == "pipeline";
  std::vector<std::string> columns = {header,       "ROWS/S",       "ROWS",
                                      "BYTES",      "DEAD LETTERS", "RETRIES",
                                      "BATCHES",    "P99 WRITE MS", "P99 FRESHNESS MS",
                                      "LAG",        "LAG S",        "STATUS",
                                      "KAFKA PATH", "LEGACY PATH"};
  if (dead_letters) {
    columns.push_back("DL PENDING");
    columns.push_back("DL REPLAYED");
  }
  TablePrinter t(columns);
  for (const v1::StatsRow& r : resp.rows()) {
    std::vector<std::string> cells = {
        r.key(),
        absl::StrFormat("%.1f", r.rows_per_second()),
        absl::StrCat(r.rows()),
        absl::StrCat(r.bytes()),
        absl::StrCat(r.dead_letters()),
        absl::StrCat(r.retries()),
        absl::StrCat(r.batches()),
        absl::StrFormat("%.1f", r.write_latency_p99_ms()),
        absl::StrFormat("%.1f", r.freshness_p99_ms()),
        absl::StrCat(r.consumer_lag()),
        r.consumer_lag_seconds() < 0 ? "-" : absl::StrFormat("%.1f", r.consumer_lag_seconds()),
        LagStatusName(r.lag_status()),
        absl::StrCat(r.kafka_path_items()),
        absl::StrCat(r.legacy_path_items())};
    if (dead_letters) {
      cells.push_back(absl::StrCat(r.dead_letters_pending()));
      cells.push_back(absl::StrCat(r.dead_letters_replayed()));
    }
    t.AddRow(cells);
  }
  t.Print(ctx.out());
  return kExitOk;
}

}  // namespace sluice::cli
