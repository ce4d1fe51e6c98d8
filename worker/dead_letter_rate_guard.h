// A pipeline's bad-row tolerance as a rate (BadRowTolerance MODE_RATE): the share
// of dead letters among the items committed over a sliding window.
#ifndef SLUICE_WORKER_DEAD_LETTER_RATE_GUARD_H_
#define SLUICE_WORKER_DEAD_LETTER_RATE_GUARD_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace sluice::worker {

// Not thread-safe; the ingest loop's.
class DeadLetterRateGuard {
 public:
  // The window needs at least this many items before its rate counts.
  static constexpr int64_t kMinItems = 100;

  // `max_rate` 0: never trips.
  DeadLetterRateGuard(double max_rate, absl::Duration window)
      : max_rate_(max_rate), window_(window) {}

  // Adds a committed batch of `items` (dead letters included) at `now`; returns
  // why the pipeline must pause when the window's rate is now above max_rate.
  std::optional<std::string> Record(absl::Time now, int64_t items, int64_t dead_letters);

 private:
  struct Entry {
    absl::Time at;
    int64_t items;
    int64_t dead_letters;
  };
  const double max_rate_;
  const absl::Duration window_;
  std::deque<Entry> entries_;
  int64_t items_ = 0;
  int64_t dead_letters_ = 0;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_DEAD_LETTER_RATE_GUARD_H_
