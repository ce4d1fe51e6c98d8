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
  // An item without a timestamp (InfinitePast) stays at 0%: only finite times
  // older than the kept schedule move up to it.
  e.basis_points = BasisPointsAt(BeforeKeptSchedule(t) ? kept_since_ : t);
  e.in_rollout = InRollout(e.bucket, e.basis_points);
  return e;
}

int CompactSchedule(absl::Time cutoff, v1::Flag* flag) {
  auto* schedule = flag->mutable_schedule();
  std::stable_sort(schedule->begin(), schedule->end(),
                   [](const v1::PercentageChange& a, const v1::PercentageChange& b) {
                     return ToAbslTime(a.effective_time()) < ToAbslTime(b.effective_time());
                   });
  // The last change at or before the cutoff is kept; everything before it goes.
  int keep_from = -1;
  for (int i = 0; i < schedule->size(); ++i) {
    if (ToAbslTime(schedule->Get(i).effective_time()) <= cutoff) keep_from = i;
  }
  // One change before it stays too: a rollback of the kept change goes back to it.
  // (Evaluation never reads it: earlier times are evaluated as of kept_since.)
  if (keep_from <= 1) return 0;
  const google::protobuf::Timestamp kept_since = schedule->Get(keep_from).effective_time();
  schedule->DeleteSubrange(0, keep_from - 1);
  *flag->mutable_schedule_kept_since() = kept_since;
  return keep_from - 1;
}

}  // namespace sluice::flags
