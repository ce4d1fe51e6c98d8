#include "controller/flag_scheduler.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "flags/bucketing.h"

namespace sluice::controller {
namespace {

using google::protobuf::util::TimeUtil;

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

void SortSchedule(v1::Flag* flag) {
  std::stable_sort(flag->mutable_schedule()->begin(), flag->mutable_schedule()->end(),
                   [](const v1::PercentageChange& a, const v1::PercentageChange& b) {
                     return ToTime(a.effective_time()) < ToTime(b.effective_time());
                   });
}

}  // namespace

absl::StatusOr<v1::Flag> ScheduleChange(const v1::Flag& flag, uint32_t basis_points,
                                        absl::Time effective, absl::Time now,
                                        absl::Duration lead) {
  if (basis_points > flags::kFullRollout) {
    return absl::InvalidArgumentError(absl::StrCat(
        "basis_points: ", basis_points, " is more than 10000 (100%)"));
  }
  if (effective < now + lead) {
    return absl::InvalidArgumentError(absl::StrCat(
        "effective_time: must be at least ", absl::FormatDuration(lead),
        " from now (the propagation lead), got ", absl::FormatDuration(effective - now)));
  }
  v1::Flag out = flag;
  v1::PercentageChange* c = out.add_schedule();
  *c->mutable_effective_time() = ToProto(effective);
  c->set_basis_points(basis_points);
  SortSchedule(&out);
  return out;
}

absl::StatusOr<v1::Flag> ScheduleRollback(const v1::Flag& flag, absl::Time now,
                                          absl::Duration lead) {
  const absl::Time horizon = now + lead;
  v1::Flag out = flag;
  out.clear_schedule();
  for (const v1::PercentageChange& c : flag.schedule()) {
    if (ToTime(c.effective_time()) <= horizon) *out.add_schedule() = c;
  }
  SortSchedule(&out);
  if (out.schedule().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("flag ", flag.name(), " has no change to roll back"));
  }
  const int n = out.schedule_size();
  const uint32_t previous = n >= 2 ? out.schedule(n - 2).basis_points() : 0;
  v1::PercentageChange* c = out.add_schedule();
  *c->mutable_effective_time() = ToProto(horizon);
  c->set_basis_points(previous);
  return out;
}

}  // namespace sluice::controller
