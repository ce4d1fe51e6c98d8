#include "common/proto_time.h"
#include "flags/flag_schedule.h"

#include <algorithm>

#include "flags/bucketing.h"

namespace sluice::flags {

FlagSchedule::FlagSchedule(const v1::Flag& flag)
    : name_(flag.name()), salt_(flag.salt()), version_(flag.version()) {
  if (flag.has_schedule_kept_since()) kept_since_ = ToAbslTime(flag.schedule_kept_since());
  for (const v1::PercentageChange& c : flag.schedule()) {
    changes_.emplace_back(ToAbslTime(c.effective_time()), std::min(c.basis_points(), kFullRollout));
  }
  // Stable: of two changes at the same instant, the later one in the list wins.
  std::stable_sort(changes_.begin(), changes_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

uint32_t FlagSchedule::BasisPointsAt(absl::Time t) const {
  auto after = std::upper_bound(changes_.begin(), changes_.end(), t,
                                [](absl::Time t, const auto& c) { return t < c.first; });
  if (after == changes_.begin()) return 0;
  return std::prev(after)->second;
}

Evaluation FlagSchedule::Evaluate(absl::string_view key, absl::Time t) const {
  Evaluation e;
  e.bucket = RolloutBucket(salt_, key);
  e.basis_points = BasisPointsAt(t);
  e.in_rollout = InRollout(e.bucket, e.basis_points);
  return e;
}

absl::Time CompactedScheduleStart() { return absl::FromUnixSeconds(-62135596800); }

int CompactSchedule(absl::Time cutoff, v1::Flag* flag) {
  auto* schedule = flag->mutable_schedule();
  std::stable_sort(schedule->begin(), schedule->end(),
                   [](const v1::PercentageChange& a, const v1::PercentageChange& b) {
                     return ToAbslTime(a.effective_time()) < ToAbslTime(b.effective_time());
                   });
  // K: the last change at or before the cutoff.
  int k = -1;
  for (int i = 0; i < schedule->size(); ++i) {
    if (ToAbslTime(schedule->Get(i).effective_time()) <= cutoff) k = i;
  }
  // Changes 0..k-2 go (P = k-1 becomes the first change); nothing to gain below 2.
  if (k < 2) return 0;
  const v1::PercentageChange previous = schedule->Get(k - 1);
  schedule->DeleteSubrange(0, k);
  v1::PercentageChange* start = schedule->Add();
  *start->mutable_effective_time() = ToProtoTimestamp(CompactedScheduleStart());
  start->set_basis_points(previous.basis_points());
  // Move it to the front (Add appends).
  for (int i = schedule->size() - 1; i > 0; --i) schedule->SwapElements(i, i - 1);
  *flag->mutable_schedule_kept_since() = previous.effective_time();
  return k - 1;
}

}  // namespace sluice::flags
