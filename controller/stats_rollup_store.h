// Where the leader keeps the stats' 1 min rollups, so that a new leader (after a
// failover or a restart) starts with the history `sluicectl stats` and the ramp
// guards read, not from nothing (issue 10, "Stats that scale").
#ifndef SLUICE_CONTROLLER_STATS_ROLLUP_STORE_H_
#define SLUICE_CONTROLLER_STATS_ROLLUP_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sluice::controller {

// The counters of one rollup path (kafka or legacy).
struct PathCounters {
  uint64_t items = 0;
  uint64_t dead_letters = 0;
  double write_latency_p99_ms = 0;  // the largest reported
  double freshness_p99_ms = 0;
};

// What the stats sum over a bucket for one (worker, pipeline, build version).
struct StatsCounters {
  uint64_t rows = 0;
  uint64_t bytes = 0;
  uint64_t dead_letters = 0;
  uint64_t retries = 0;
  uint64_t batches = 0;
  uint64_t kafka_path_items = 0;
  uint64_t legacy_path_items = 0;
  double write_latency_p99_ms = 0;  // the largest reported
  double freshness_p99_ms = 0;
  PathCounters kafka;
  PathCounters legacy;
  // Sums the counts, keeps the larger p99s.
  void Merge(const StatsCounters& o);
};

// One minute of one (worker, pipeline, build version): the whole minute as the
// leader holds it, which replaces what was stored for it before.
struct MinuteRollup {
  absl::Time minute;  // the minute's start
  std::string worker;
  std::string pipeline;
  std::string version;
  StatsCounters counters;
};

// Implemented by StateStore; a fake in tests.
class StatsRollupStore {
 public:
  virtual ~StatsRollupStore() = default;
  // Inserts or replaces each rollup, and forgets those older than
  // `forget_before`, in one transaction.
  virtual absl::Status SaveStatsRollups(const std::vector<MinuteRollup>& rollups,
                                        absl::Time forget_before) = 0;
  // The rollups of minutes starting at `since` or later.
  virtual absl::StatusOr<std::vector<MinuteRollup>> LoadStatsRollups(absl::Time since) = 0;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_STATS_ROLLUP_STORE_H_
