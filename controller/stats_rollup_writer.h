// Stores the stats' changed 1 min rollups while this replica leads, so the next
// leader starts with the history (StatsRollupStore).
#ifndef SLUICE_CONTROLLER_STATS_ROLLUP_WRITER_H_
#define SLUICE_CONTROLLER_STATS_ROLLUP_WRITER_H_

#include <atomic>
#include <map>
#include <string>
#include <tuple>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/leadership.h"
#include "controller/stats_aggregator.h"
#include "controller/stats_rollup_store.h"

namespace sluice::controller {

// Thread-safe: Run() on its own thread, Flush() from tests.
class StatsRollupWriter {
 public:
  // Rollups older than `retention` are forgotten as new ones are stored.
  StatsRollupWriter(StatsAggregator* stats, StatsRollupStore* store, const Clock& clock,
                    absl::Duration retention, absl::Duration interval = absl::Seconds(15));

  // Takes the minutes changed since the last round and stores them, with those a
  // failed round kept (a newer take of the same minute replaces them).
  absl::Status Flush();
  // Drops what a failed round kept (a leadership change: it may be older than
  // what the other leader stored since).
  void DropPending();
  // Flush() every interval while this replica leads, until `stop`. A failure is
  // logged once per streak and retried next round; what the rollups miss is at
  // most the rounds since the last success, should this replica die meanwhile.
  void Run(const std::atomic<bool>& stop, const Leadership& leadership);

 private:
  using RollupKey = std::tuple<absl::Time, std::string, std::string, std::string>;

  StatsAggregator* const stats_;
  StatsRollupStore* const store_;
  const Clock& clock_;
  const absl::Duration retention_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  // Taken and not stored yet.
  std::map<RollupKey, MinuteRollup> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_STATS_ROLLUP_WRITER_H_
