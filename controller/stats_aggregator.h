// Keeps the workers' StatsReports for a while and aggregates them on demand.
#ifndef SLUICE_CONTROLLER_STATS_AGGREGATOR_H_
#define SLUICE_CONTROLLER_STATS_AGGREGATOR_H_

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "sluice/v1/admin.pb.h"
#include "sluice/v1/stats.pb.h"

namespace sluice::controller {

// Thread-safe. Reports are deltas; each (worker, incarnation, sequence) is counted
// once, so a report re-sent after a reconnect is not double-counted, and a
// restarted or duplicate process (another incarnation) cannot make another's
// reports look already counted.
class StatsAggregator {
 public:
  StatsAggregator(const Clock& clock, absl::Duration retention);

  // Returns false (and keeps nothing) for a report already counted.
  bool Add(const std::string& worker_id, const std::string& build_version,
           const v1::StatsReport& report);

  // One row per worker, pipeline or build version over the last `window`.
  std::vector<v1::StatsRow> Query(v1::StatsGroupBy group_by, absl::Duration window) const;

  // What the ramp guards look at: the Kafka path of `pipelines` over `window`.
  struct PathHealth {
    uint64_t kafka_items = 0;
    uint64_t dead_letters = 0;
    uint64_t retries = 0;
    uint64_t batches = 0;
    double freshness_p99_ms = 0;  // the largest reported
  };
  PathHealth Health(const std::set<std::string>& pipelines, absl::Duration window) const;

  // rows/s over `window` by (pipeline, build version), for the controller's metrics.
  std::map<std::pair<std::string, std::string>, double> RowsPerSecond(absl::Duration window) const;

 private:
  struct Sample {
    absl::Time at;
    std::string worker_id;
    std::string build_version;
    v1::PipelineStats stats;
  };
  void TrimLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const absl::Duration retention_;
  mutable absl::Mutex mu_;
  std::deque<Sample> samples_ ABSL_GUARDED_BY(mu_);
  struct LastReport {
    uint64_t sequence = 0;
    absl::Time at;
  };
  // (worker id, incarnation) → its latest report; forgotten after the retention.
  std::map<std::pair<std::string, uint64_t>, LastReport> last_report_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_STATS_AGGREGATOR_H_
