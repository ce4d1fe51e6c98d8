// Keeps the workers' StatsReports pre-aggregated in time buckets and answers
// queries from them.
#ifndef SLUICE_CONTROLLER_STATS_AGGREGATOR_H_
#define SLUICE_CONTROLLER_STATS_AGGREGATOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/stats_rollup_store.h"
#include "sluice/v1/admin.pb.h"
#include "sluice/v1/stats.pb.h"

namespace sluice::controller {

// Thread-safe. Reports are deltas; each (worker, incarnation, sequence) is counted
// once, so a report re-sent after a reconnect is not double-counted, and a
// restarted or duplicate process (another incarnation) cannot make another's
// reports look already counted.
//
// Memory and query cost are bounded by buckets, not by reports (issue 10: keeping
// every report for an hour took 4.1 GiB for 1,000 workers × 3 pipelines × 8
// partitions, and a query walked all of them under the lock every stream needs).
// Each report is added to a 1 s bucket, kept kFineSpan, and to a 1 min bucket,
// kept for the retention, under its (worker, pipeline, build version) key, summed
// over partitions; windows up to kFineSpan are answered from 1 s buckets, longer
// ones from 1 min buckets (to the minute). Lag is a gauge: the latest per
// partition, from the worker that reported it last (after a rebalance the old
// owner's figure no longer counts).
//
// STOP is judged here too, for what a worker cannot say itself: the partitions of
// a worker silent for `silent_after` (crashed, hung, cut off) that no other worker
// reports since commit nothing, so they show STOP in every window, with the
// silence added to their lag in seconds, until another worker reports them or the
// retention forgets them. A worker that still reports but no longer holds a
// partition let it go: the partition is not shown once its window passes.
class StatsAggregator {
 public:
  static constexpr absl::Duration kFineWidth = absl::Seconds(1);
  static constexpr absl::Duration kFineSpan = absl::Minutes(5);
  static constexpr absl::Duration kCoarseWidth = absl::Minutes(1);

  // A worker that has not reported for `silent_after` (the controller passes 3 ×
  // the stats interval) is silent: its partitions show STOP.
  StatsAggregator(const Clock& clock, absl::Duration retention,
                  absl::Duration silent_after = absl::Seconds(15));

  // Returns false (and keeps nothing) for a report already counted.
  bool Add(const std::string& worker_id, const std::string& build_version,
           const v1::StatsReport& report);

  // One row per worker, pipeline, build version or path over the last `window`.
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

  // Rows reported since this aggregator was made, by (pipeline, build version):
  // only ever grows (Clear() keeps it), for a Prometheus counter.
  std::map<std::pair<std::string, std::string>, uint64_t> RowsReported() const;

  // Buckets' entries held now (for the memory benchmark and tests).
  size_t entries() const;

  // The 1 min buckets that received reports since the last call, whole (the
  // leader stores them: StatsRollupWriter).
  std::vector<MinuteRollup> TakeChangedMinutes();
  // A new leader's history: each rollup whose minute and key this aggregator
  // holds nothing for is added (what it holds is its own count, at least as
  // recent as what it stored). If any was added, a window that reaches back
  // before this call is answered from the 1 min buckets from then on (the 1 s
  // ones hold only what came since).
  void RestoreMinutes(const std::vector<MinuteRollup>& rollups);
  // Forgets every report (another replica led since this one last did: what it
  // holds is stale, and the stored rollups replace it).
  void Clear();

 private:
  // Interned names: a key is three small numbers, not three strings.
  using NameId = uint32_t;
  struct Key {
    NameId worker;
    NameId pipeline;
    NameId version;
    bool operator==(const Key& o) const {
      return worker == o.worker && pipeline == o.pipeline && version == o.version;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.worker, k.pipeline, k.version);
    }
  };
  using Counters = StatsCounters;
  struct Bucket {
    absl::Time start;
    absl::flat_hash_map<Key, Counters> entries;
    // Received reports since TakeChangedMinutes() (1 min buckets).
    bool changed = false;
  };
  struct LagKey {
    NameId worker;
    NameId pipeline;
    NameId topic;
    int32_t partition;
    bool operator==(const LagKey& o) const {
      return std::tie(worker, pipeline, topic, partition) ==
             std::tie(o.worker, o.pipeline, o.topic, o.partition);
    }
    template <typename H>
    friend H AbslHashValue(H h, const LagKey& k) {
      return H::combine(std::move(h), k.worker, k.pipeline, k.topic, k.partition);
    }
  };
  struct Lag {
    int64_t lag;
    absl::Time at;
    NameId version;
    double seconds;  // -1 while unknown
    v1::LagStatus status;
  };

  NameId Intern(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void AddTo(std::deque<Bucket>* buckets, absl::Time start, const Key& key,
                    const Counters& c);
  void TrimLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls f(key, counters) for every entry of the buckets covering `window`;
  // returns the time they cover (the window, widened to whole buckets), which
  // rates divide by.
  template <typename F>
  absl::Duration ForEachInWindow(absl::Duration window, F f) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const absl::Duration retention_;
  const absl::Duration silent_after_;
  mutable absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, NameId> name_ids_ ABSL_GUARDED_BY(mu_);
  std::deque<Bucket> fine_ ABSL_GUARDED_BY(mu_);
  std::deque<Bucket> coarse_ ABSL_GUARDED_BY(mu_);
  // Since a RestoreMinutes(): windows reaching back before it use the 1 min buckets.
  absl::Time fine_complete_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Hash maps, not trees: with 5,000 workers they hold 120,000 partitions, walked
  // whole once a second to forget what is older than the retention.
  absl::flat_hash_map<LagKey, Lag> lag_ ABSL_GUARDED_BY(mu_);
  // RowsReported(): (pipeline, version) → rows.
  absl::flat_hash_map<std::pair<NameId, NameId>, uint64_t> rows_reported_ ABSL_GUARDED_BY(mu_);
  // Each worker's latest report (any incarnation), for silence.
  absl::flat_hash_map<NameId, absl::Time> worker_seen_ ABSL_GUARDED_BY(mu_);
  absl::Time next_map_trim_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  struct LastReport {
    uint64_t sequence = 0;
    absl::Time at;
  };
  // (worker id, incarnation) → its latest report; forgotten after the retention.
  absl::flat_hash_map<std::pair<std::string, uint64_t>, LastReport> last_report_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_STATS_AGGREGATOR_H_
