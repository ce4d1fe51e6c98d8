// Exponential backoff with full jitter, for retrying against Kafka, PostgreSQL or the controller.
#ifndef SLUICE_COMMON_BACKOFF_H_
#define SLUICE_COMMON_BACKOFF_H_

#include <algorithm>

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace sluice {

// Computes successive retry delays: attempt n waits a uniformly random time in
// [initial * multiplier^n / 2, initial * multiplier^n], capped at `max`.
// Half-jitter keeps retries of many workers from synchronising while bounding the
// shortest wait. Not thread-safe; one instance per retry loop.
class ExponentialBackoff {
 public:
  ExponentialBackoff(absl::Duration initial, absl::Duration max, double multiplier = 2.0);

  // The delay before the next attempt; advances the attempt counter.
  absl::Duration NextDelay();
  // Starts over after a success.
  void Reset() { attempt_ = 0; }
  // Attempts since the last Reset().
  int attempts() const { return attempt_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  const double multiplier_;
  int attempt_ = 0;
  absl::BitGen rng_;
};

// `initial` doubled `attempt` times, capped at `max`, without jitter: for delays
// kept per item (a partition, a pipeline) rather than in a retry loop.
inline absl::Duration DoublingDelay(absl::Duration initial, absl::Duration max, int attempt) {
  return std::min(max, initial * (1 << std::min(std::max(attempt, 0), 16)));
}

}  // namespace sluice

#endif  // SLUICE_COMMON_BACKOFF_H_
