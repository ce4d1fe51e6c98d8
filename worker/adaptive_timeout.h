// Tunes a pipeline's consumer timeout toward a freshness target: a local feedback
// loop on how old each committed batch's oldest message was at its commit. Longer
// batches mean fewer, larger transactions (less database load); shorter ones
// fresher data. While the window's p99 freshness is well under the target the
// timeout grows; as it nears the target the timeout is cut at once.
#ifndef SLUICE_WORKER_ADAPTIVE_TIMEOUT_H_
#define SLUICE_WORKER_ADAPTIVE_TIMEOUT_H_

#include <deque>
#include <utility>

#include "absl/time/time.h"

namespace sluice::worker {

// Not thread-safe: the ingest loop observes its committed batches.
class AdaptiveTimeout {
 public:
  struct Options {
    // The p99 freshness (Kafka timestamp of a batch's oldest message to its
    // commit) to stay under.
    absl::Duration target;
    // The timeout stays within [floor, ceiling].
    absl::Duration floor;
    absl::Duration ceiling;
    // Freshness samples older than this are forgotten.
    absl::Duration window = absl::Seconds(10);
    // At most one change this often (a change needs batches of its own to judge).
    absl::Duration adjust_every = absl::Seconds(1);
  };
  // Cut when the window's p99 passes kCutAt × target; grow below kGrowBelow ×
  // target: the timeout settles where freshness sits between the two.
  static constexpr double kCutAt = 0.8;
  static constexpr double kGrowBelow = 0.6;
  static constexpr double kCutFactor = 0.5;
  static constexpr double kGrowFactor = 1.25;

  // The floor (target / 20, within 10..100 ms) and ceiling (0.6 × target) for a
  // target: the freshness of a batch is at least its timeout.
  static Options ForTarget(absl::Duration target);

  // Starts at `start`, clamped to [floor, ceiling].
  AdaptiveTimeout(Options options, absl::Duration start);

  // A batch opened at `opened_at` and committed at `now`, whose oldest message was
  // `freshness` old then. Returns the timeout to use from now on. A batch opened
  // before the last change was made under the old timeout: it does not count.
  // The timeout is not cut while freshness beyond it (write time, fetch delay, a
  // backlog) is what misses the target: a shorter timeout would only add
  // transactions.
  absl::Duration Observe(absl::Time now, absl::Duration freshness,
                         absl::Time opened_at = absl::InfiniteFuture());

  absl::Duration timeout() const { return timeout_; }
  const Options& options() const { return options_; }

 private:
  const Options options_;
  absl::Duration timeout_;
  std::deque<std::pair<absl::Time, absl::Duration>> samples_;
  absl::Time last_change_ = absl::InfinitePast();
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_ADAPTIVE_TIMEOUT_H_
