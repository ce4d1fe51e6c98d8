#include "worker/lag_status.h"

#include <algorithm>

namespace sluice::worker {

v1::LagStatus LagStatusTracker::Sample(const TopicPartition& partition, absl::Time now, int64_t lag,
                                       std::optional<int64_t> committed, bool blocked) {
  std::deque<Point>& points = points_[partition];
  if (lag < 0) {
    points.clear();  // a window with holes says nothing
    return v1::LAG_STATUS_UNSPECIFIED;
  }
  points.push_back({now, lag, committed});
  // Keep the last point at or before the window's start as its baseline.
  while (points.size() >= 2 && points[1].at <= now - window_) points.pop_front();
  if (lag == 0) return v1::LAG_STATUS_OK;
  if (blocked) return v1::LAG_STATUS_STOP;
  const bool caught_up =
      std::any_of(points.begin(), points.end(), [](const Point& p) { return p.lag == 0; });
  if (caught_up) return v1::LAG_STATUS_OK;
  const Point& first = points.front();
  if (first.at > now - window_) return v1::LAG_STATUS_UNSPECIFIED;  // less than a window
  if (first.committed.has_value() && first.committed == committed) return v1::LAG_STATUS_STALL;
  if (lag > first.lag) return v1::LAG_STATUS_WARN;
  return v1::LAG_STATUS_OK;
}

void LagStatusTracker::Retain(const std::set<TopicPartition>& held) {
  for (auto it = points_.begin(); it != points_.end();) {
    it = held.count(it->first) > 0 ? std::next(it) : points_.erase(it);
  }
}

}  // namespace sluice::worker
