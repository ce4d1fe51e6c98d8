#include "common/proto_time.h"
#include "flags/flag_schedule.h"

#include <algorithm>

#include "flags/bucketing.h"

namespace sluice::flags {

FlagSchedule::FlagSchedule(const v1::Flag& flag)
    : name_(flag.name()), salt_(flag.salt()), version_(flag.version()) {
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

}  // namespace sluice::flags
