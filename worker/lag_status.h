// Judges each partition's lag over a sliding window, in the spirit of Burrow's
// evaluation: OK, WARN (growing), STALL (no progress), STOP (nothing will commit
// until someone acts). The rule is in docs/METRICS.md, "Lag status".
#ifndef SLUICE_WORKER_LAG_STATUS_H_
#define SLUICE_WORKER_LAG_STATUS_H_

#include <deque>
#include <map>
#include <optional>
#include <set>

#include "absl/time/time.h"
#include "sluice/v1/stats.pb.h"
#include "worker/message.h"

namespace sluice::worker {

inline constexpr absl::Duration kLagStatusWindow = absl::Seconds(30);

// Not thread-safe: the ingest loop samples once a second.
class LagStatusTracker {
 public:
  explicit LagStatusTracker(absl::Duration window = kLagStatusWindow) : window_(window) {}

  // Records a sample of `partition` at `now` and returns its status: `lag` in
  // messages not yet committed (-1 unknown), `committed` the next offset committed
  // to PostgreSQL (unset unknown), `blocked` when nothing will commit until an
  // operator acts (the pipeline paused by a permanent error, the partition stalled
  // at a position outside its log).
  v1::LagStatus Sample(const TopicPartition& partition, absl::Time now, int64_t lag,
                       std::optional<int64_t> committed, bool blocked);

  // Forgets the partitions not in `held`.
  void Retain(const std::set<TopicPartition>& held);

 private:
  struct Point {
    absl::Time at;
    int64_t lag;
    std::optional<int64_t> committed;
  };
  const absl::Duration window_;
  std::map<TopicPartition, std::deque<Point>> points_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_LAG_STATUS_H_
