// What `sluicectl top` draws: one screen of workers and pipelines, from the
// controller's answers, cut to the terminal's width. No terminal I/O here.
#ifndef SLUICE_CLI_TOP_FRAME_H_
#define SLUICE_CLI_TOP_FRAME_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sluice/v1/admin.pb.h"

namespace sluice::cli {

// A lag status as `stats` and `top` print it: OK, WARN, STALL, STOP; "-" unknown.
std::string LagStatusName(v1::LagStatus status);

// One refresh of everything `top` shows.
struct TopSnapshot {
  absl::Time at;
  std::string controller;
  v1::ListWorkersResponse workers;
  v1::GetStatsResponse by_worker;
  v1::GetStatsResponse by_pipeline;
  v1::ListPipelinesResponse pipelines;
  v1::ListFlagsResponse flags;
  // Set when a call failed: shown instead of the tables it would have filled.
  std::string error;
};

// The screen's lines, none wider than `width` columns (at least 40). Rows/s are
// over the last minute; lag, status and freshness as the stats report them.
std::vector<std::string> RenderTopFrame(const TopSnapshot& s, int width);

}  // namespace sluice::cli

#endif  // SLUICE_CLI_TOP_FRAME_H_
