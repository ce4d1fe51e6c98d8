#include "worker/adaptive_timeout.h"

#include <algorithm>
#include <vector>

namespace sluice::worker {

AdaptiveTimeout::Options AdaptiveTimeout::ForTarget(absl::Duration target) {
  Options o;
  o.target = target;
  o.floor = std::clamp(target / 20, absl::Milliseconds(10), absl::Milliseconds(100));
  o.ceiling = std::max(o.floor, target * 0.6);
  return o;
}

AdaptiveTimeout::AdaptiveTimeout(Options options, absl::Duration start)
    : options_(options), timeout_(std::clamp(start, options.floor, options.ceiling)) {}

absl::Duration AdaptiveTimeout::Observe(absl::Time now, absl::Duration freshness,
                                        absl::Time opened_at) {
  if (opened_at != absl::InfiniteFuture() && opened_at < last_change_) return timeout_;
  samples_.emplace_back(now, freshness);
  while (!samples_.empty() && samples_.front().first < now - options_.window) {
    samples_.pop_front();
  }
  if (now - last_change_ < options_.adjust_every) return timeout_;
  std::vector<absl::Duration> values;
  values.reserve(samples_.size());
  for (const auto& [at, f] : samples_) values.push_back(f);
  // Nearest rank: with few batches in the window this is their largest.
  const size_t rank = (values.size() * 99 + 99) / 100 - 1;
  std::nth_element(values.begin(), values.begin() + rank, values.end());
  const absl::Duration p99 = values[rank];
  absl::Duration next = timeout_;
  if (p99 > options_.target * kCutAt) {
    // Cut only what the timeout can win back.
    if (p99 - timeout_ < options_.target * kCutAt) {
      next = std::max(options_.floor, timeout_ * kCutFactor);
    }
  } else if (p99 < options_.target * kGrowBelow) {
    next = std::min(options_.ceiling, timeout_ * kGrowFactor);
  }
  if (next != timeout_) {
    timeout_ = next;
    last_change_ = now;
    // What was measured under the old timeout says nothing about the new one.
    samples_.clear();
  }
  return timeout_;
}

}  // namespace sluice::worker
